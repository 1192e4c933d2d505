"""Once: concurrent askers of a key share one computation; a failed one is not kept."""

from __future__ import annotations

import anyio
import pytest

from pipelines.once import Once


async def test_concurrent_askers_share_one_computation() -> None:
    once: Once[str, int] = Once()
    calls: list[str] = []

    async def compute(key: str) -> int:
        calls.append(key)
        await anyio.sleep(0.01)  # the other askers arrive meanwhile
        return len(calls)

    got: list[int] = []

    async def ask(key: str) -> None:
        got.append(await once.get(key, lambda: compute(key)))

    async with anyio.create_task_group() as group:
        for key in ("a", "a", "b", "a"):
            group.start_soon(ask, key)
    assert sorted(calls) == ["a", "b"]
    assert sorted(got) == sorted([once.found["a"]] * 3 + [once.found["b"]])


async def test_a_computation_that_raises_is_asked_again() -> None:
    once: Once[str, int] = Once()

    async def fails() -> int:
        raise RuntimeError("no")

    async def works() -> int:
        return 7

    with pytest.raises(RuntimeError):
        await once.get("k", fails)
    assert "k" not in once.found
    assert await once.get("k", works) == 7
    assert once.found == {"k": 7}
