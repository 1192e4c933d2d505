"""A lookup that lost a race with the engine's cache collector: asked again, not reported.

While the engine's garbage collector deletes cache records, it first marks them dead; a lookup
of such a record in that window fails with ``failed to get dead record <id>: not found``.
Dagger's HTTP source (v0.19) loads its downloads' records by id (the file a later step mounts,
a cached download whose ETag the server confirmed) without first checking that the record is
alive, so a download is where the race shows: a CI run here failed on two locked .deb files
while the collector freed 5.9 GB. The collector runs on its own, when the cache outgrows its
policy, so any build or lock may meet it. Nothing is wrong with the input: once the collection
has moved on, the same query downloads afresh and succeeds.

:func:`retrying_cache_races` runs an evaluation again, after a pause, when it failed on that
and only that; every other failure passes through at once. The smoke checks let such a failure
through instead of reporting it as a failed check, so a build retries it too.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

import anyio
import dagger

T = TypeVar("T")

CACHE_RACE = re.compile(r"failed to get dead record \w+")
"""What the engine says when a lookup met a record its collector is deleting."""

DELAYS = (3.0, 10.0, 30.0, 60.0)
"""Seconds to wait before each new attempt (103 s in all): the collection that raced a CI run
here freed 5.9 GB within 21 s of the first failure."""


def _leaves(exc: BaseException) -> list[BaseException]:
    """``exc`` itself, or every error a task group gathered in it (nested groups flattened)."""
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for inner in exc.exceptions for leaf in _leaves(inner)]
    return [exc]


def _is_race(exc: BaseException) -> bool:
    return (
        isinstance(exc, dagger.QueryError)
        and not isinstance(exc, dagger.ExecError)
        and CACHE_RACE.search(str(exc)) is not None
    )


def is_cache_race(exc: BaseException) -> bool:
    """Whether ``exc`` (or every error of a task group's ``exc``) is a query that failed only
    because the collector held its record."""
    return all(_is_race(leaf) for leaf in _leaves(exc))


async def retrying_cache_races(
    evaluate: Callable[[], Awaitable[T]], delays: Sequence[float] = DELAYS
) -> T:
    """``await evaluate()``, once more after each delay while it fails on a cache race.

    The steps that succeeded before the race are cached, so another attempt re-runs only what
    the race stopped. When the last attempt fails on a race too, its first query error is
    raised (a task group's races are not raised as a group); any other error as is.
    """
    for delay in delays:
        try:
            return await evaluate()
        except Exception as exc:
            if not is_cache_race(exc):
                raise
        await anyio.sleep(delay)
    try:
        return await evaluate()
    except BaseExceptionGroup as group:
        if not is_cache_race(group):
            raise
        raise _leaves(group)[0] from group
