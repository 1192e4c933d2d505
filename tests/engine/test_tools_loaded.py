"""Inside ``tools_loaded``, the tools containers are loaded from their IDs once: the same
container for every step, in the tasks it starts too, working as the built one; outside it and
for an image that cannot be loaded, built as before."""

from __future__ import annotations

import anyio
import pytest

from pipelines.tools import python_tools, tools_container, tools_loaded
from tests.engine.family import TOOLS_IMAGE

pytestmark = [pytest.mark.engine, pytest.mark.usefixtures("engine")]


async def test_tools_are_loaded_once_and_work_as_built() -> None:
    assert tools_container(TOOLS_IMAGE) is not tools_container(TOOLS_IMAGE)
    async with tools_loaded(TOOLS_IMAGE):
        loaded = tools_container(TOOLS_IMAGE)
        seen = []

        async def in_a_task() -> None:
            seen.append(tools_container(TOOLS_IMAGE))

        async with anyio.create_task_group() as group:
            group.start_soon(in_a_task)
        assert seen == [loaded]
        assert python_tools(TOOLS_IMAGE) is python_tools(TOOLS_IMAGE)
        gpg = await loaded.with_exec(["gpg", "--version"]).stdout()
        python = await python_tools(TOOLS_IMAGE).with_exec(["python3", "--version"]).stdout()
        assert await loaded.id() != await python_tools(TOOLS_IMAGE).id()
    assert gpg.startswith("gpg (GnuPG)")
    assert python.startswith("Python 3.")
    assert tools_container(TOOLS_IMAGE) is not loaded


async def test_an_image_that_cannot_be_loaded_is_left_to_the_steps() -> None:
    missing = "127.0.0.1:5000/no/such-image:1"
    async with tools_loaded(missing):
        assert tools_container(missing) is not tools_container(missing)
