"""A command check judges the exit code and what the command wrote on stdout and stderr
together (one combined read), on a real engine."""

from __future__ import annotations

import pytest

from pipelines.catalog.variant import CommandTest
from pipelines.smoke.checks import _command
from pipelines.tools import tools_container
from tests.engine.family import TOOLS_IMAGE

pytestmark = [pytest.mark.engine, pytest.mark.usefixtures("engine")]

# a line on stdout, a line on stderr, then exit 3
SCRIPT = ["sh", "-c", "echo out-line; echo err-line >&2; exit 3"]


@pytest.mark.parametrize(
    ("expected", "excluded", "code", "passes", "problem"),
    [
        (["(?m)^out-line$", "(?m)^err-line$"], [], 3, True, ""),
        (["missing"], [], 3, False, "output does not match 'missing'"),
        ([], ["err-line"], 3, False, "output matches excluded 'err-line'"),
        ([], [], 0, False, "exit code 3, expected 0"),
    ],
)
async def test_command_check_reads_stdout_and_stderr(
    expected: list[str], excluded: list[str], code: int, passes: bool, problem: str
) -> None:
    test = CommandTest(
        name="both streams",
        command=SCRIPT,
        exit_code=code,
        expected_output=expected,
        excluded_output=excluded,
    )
    result = await _command(tools_container(TOOLS_IMAGE), test)
    assert result.passed is passes, result.detail
    assert problem in result.detail
    if not passes:
        assert "out-line" in result.detail and "err-line" in result.detail  # the output shown
