"""Shared pytest set-up: the Dagger engine session and the engine-test gate."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import dagger
import pytest

pytest_plugins = ["tests.standin.fixtures"]


def engine_unreachable_reason() -> str | None:
    """Why no Dagger engine can be used here, or None when one can."""
    cli = os.environ.get("_EXPERIMENTAL_DAGGER_CLI_BIN")
    runner = os.environ.get("_EXPERIMENTAL_DAGGER_RUNNER_HOST", "")
    if not cli or not Path(cli).is_file():
        return 'no dagger CLI: run `eval "$(scripts/dev-engine env)"` after `scripts/dev-engine up`'
    if not runner.startswith("unix://"):
        return "_EXPERIMENTAL_DAGGER_RUNNER_HOST is not a unix socket: run scripts/dev-engine up"
    if not Path(runner.removeprefix("unix://")).is_socket():
        return f"no engine listens on {runner}: run scripts/dev-engine up"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip engine tests without an engine, or fail the run when the engine is required (CI)."""
    reason = engine_unreachable_reason()
    if reason is None:
        return
    engine_items = [i for i in items if i.get_closest_marker("engine")]
    if engine_items and os.environ.get("REQUIRE_ENGINE") == "1":
        raise pytest.UsageError(f"REQUIRE_ENGINE=1 but {reason}")
    for item in engine_items:
        item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="session")
def registry() -> str:
    """host:port of the local OCI registry that scripts/dev-engine runs."""
    return os.environ.get("DEV_REGISTRY", "127.0.0.1:5000")


@pytest.fixture(scope="session")
async def engine() -> AsyncIterator[None]:
    """One Dagger session for the whole test run; `dagger.dag` is usable inside it."""
    log = open(os.environ.get("DAGGER_TEST_LOG", os.devnull), "w")  # noqa: SIM115
    try:
        async with dagger.connection(dagger.Config(log_output=log, timeout=None)):
            yield
    finally:
        log.close()
