"""Which failures are a lost race with the engine's cache collector, and how they are retried."""

from __future__ import annotations

import anyio
import dagger
import gql
import pytest
from dagger._exceptions import QueryErrorValue

from pipelines.cache_race import is_cache_race, retrying_cache_races

RACE = "failed to get dead record t2x8f9k9t5ibwq875iqrrflyn: not found"


def query_error(message: str, **extensions: object) -> dagger.QueryError:
    request = gql.GraphQLRequest(gql.gql("query { container { id } }"))
    return dagger.QueryError([QueryErrorValue(message, extensions=dict(extensions))], request)


async def group_of(*errors: Exception) -> None:
    """Raise ``errors`` the way a task group does: one group holding each child's error."""

    async def fail(exc: Exception) -> None:
        raise exc

    async with anyio.create_task_group() as group:
        for exc in errors:
            group.start_soon(fail, exc)


def test_the_engine_message_of_a_dead_record_is_a_race() -> None:
    assert is_cache_race(query_error(f"http url download: {RACE}"))


def test_other_query_errors_are_not_races() -> None:
    assert not is_cache_race(query_error("invalid response status 404 Not Found"))
    assert not is_cache_race(ValueError(RACE))


def test_a_failed_exec_is_never_a_race_whatever_it_printed() -> None:
    exc = query_error(RACE, _type="EXEC_ERROR", cmd=["true"], exitCode=1, stdout="", stderr=RACE)
    assert isinstance(exc, dagger.ExecError)
    assert not is_cache_race(exc)


async def test_a_group_is_a_race_only_when_every_error_in_it_is() -> None:
    with pytest.raises(BaseExceptionGroup) as races:
        await group_of(query_error(RACE), query_error(RACE))
    assert is_cache_race(races.value)
    with pytest.raises(BaseExceptionGroup) as mixed:
        await group_of(query_error(RACE), query_error("invalid response status 500"))
    assert not is_cache_race(mixed.value)


async def test_a_race_is_asked_again_until_it_succeeds() -> None:
    calls: list[int] = []

    async def evaluate(attempt: int) -> str:
        calls.append(attempt)
        if len(calls) < 3:
            raise query_error(RACE)
        return "sha256"

    assert await retrying_cache_races(evaluate, delays=(0, 0, 0)) == "sha256"
    assert calls == [0, 1, 2]  # each attempt knows its number: downloads are asked afresh


async def test_any_other_failure_is_raised_at_once() -> None:
    calls: list[int] = []

    async def evaluate(attempt: int) -> str:
        calls.append(attempt)
        raise query_error("invalid response status 404 Not Found")

    with pytest.raises(dagger.QueryError, match="404"):
        await retrying_cache_races(evaluate, delays=(0, 0))
    assert len(calls) == 1


async def test_races_past_the_last_delay_raise_one_query_error_not_a_group() -> None:
    calls: list[int] = []

    async def evaluate(attempt: int) -> None:
        calls.append(attempt)
        await group_of(query_error(RACE), query_error(RACE))

    with pytest.raises(dagger.QueryError, match="dead record"):
        await retrying_cache_races(evaluate, delays=(0, 0))
    assert len(calls) == 3
