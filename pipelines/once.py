"""Values computed at most once per key, however many tasks ask for them at the same time."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

import anyio

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Once(Generic[K, V]):
    """A memo for concurrent tasks: the first to ask for a key computes its value, the others
    wait for it; a computation that raises leaves the key to the next one to ask."""

    def __init__(self) -> None:
        self.found: dict[K, V] = {}  # in the order the computations finished
        self._locks: dict[K, anyio.Lock] = {}

    async def get(self, key: K, compute: Callable[[], Awaitable[V]]) -> V:
        """The value of ``key``, computed by ``compute`` the first time."""
        async with self._locks.setdefault(key, anyio.Lock()):
            if key not in self.found:
                self.found[key] = await compute()
            return self.found[key]
