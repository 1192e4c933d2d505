"""A lookup that lost a race with the engine's cache collector: asked again, not reported.

While the engine's garbage collector deletes cache records, it first marks them dead; a lookup
of such a record in that window fails with ``failed to get dead record <id>: not found``.
Dagger's HTTP source (v0.19) loads its downloads' records by id (the file a later step mounts,
a cached download whose ETag the server confirmed) without first checking that the record is
alive, so a download is where the race shows: a CI run here failed on two locked .deb files
while the collector freed 5.9 GB. The collector runs on its own, when the cache outgrows its
policy, so any build or lock may meet it. Nothing is wrong with the input, but the session
keeps the dead record as the answer to that download: only a download asked afresh (or a new
session) succeeds.

:func:`retrying_cache_races` runs an evaluation again, after a pause and with fresh downloads,
when it failed on that and only that; every other failure passes through at once. The smoke
checks let such a failure through instead of reporting it as a failed check, so a build
retries it too.
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

DELAYS = (2.0, 10.0, 30.0)
"""Seconds to wait before each new attempt: a collection still running may race again."""


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
    evaluate: Callable[[int], Awaitable[T]], delays: Sequence[float] = DELAYS
) -> T:
    """``await evaluate(0)``; while it fails on a cache race, ``evaluate(1)``, ``evaluate(2)``...
    after each delay.

    The session keeps answering a query from the record the collector deleted (the same
    query asked again in the same session fails the same way, measured), so each attempt
    passes its number on: a build gives it to :meth:`BuildContext.again`, whose downloads are
    then asked afresh. When the last attempt fails on a race too, its first query error is
    raised (a task group's races are not raised as a group); any other error as is.
    """
    for attempt, delay in enumerate(delays):
        try:
            return await evaluate(attempt)
        except Exception as exc:
            if not is_cache_race(exc):
                raise
        await anyio.sleep(delay)
    try:
        return await evaluate(len(delays))
    except BaseExceptionGroup as group:
        if not is_cache_race(group):
            raise
        raise _leaves(group)[0] from group
