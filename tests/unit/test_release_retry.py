"""Which registry failures a release retries, and how long it waits."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from pipelines.release.errors import ReleaseToolFailed
from pipelines.release.retry import PublishFailed, PublishLog, Retry, is_transient, with_retries


@pytest.mark.parametrize(
    "message",
    [
        "writing manifest: received unexpected HTTP status: 500 Internal Server Error",
        "received unexpected HTTP status: 503 Service Unavailable",
        "unexpected status code 429 Too Many Requests",
        "408 Request Timeout",
        "dial tcp 127.0.0.1:5000: connect: connection refused",
        "read tcp 10.87.0.5:41234->10.87.0.1:5000: read: connection reset by peer",
        'Get "http://r:5000/v2/": EOF',
        "net/http: TLS handshake timeout",
        "502 Bad Gateway",
        # a restarted registry: the client's kept-alive connection was closed under it (Go)
        'pinging container registry r:5000: Get "http://r:5000/v2/": http: server closed idle '
        "connection",
    ],
)
def test_transient_failures(message: str) -> None:
    assert is_transient(message)


@pytest.mark.parametrize(
    "message",
    [
        "reading manifest latest in r/falco: manifest unknown",
        "unauthorized: authentication required",
        "401 Unauthorized",
        "404 Not Found",
        "denied: requested access to the resource is denied",
        "r/falco:latest names sha256:0500abc after the copy, not sha256:1",
    ],
)
def test_lasting_failures(message: str) -> None:
    assert not is_transient(message)


def test_backoff_is_bounded() -> None:
    assert Retry(attempts=6, first_delay=1, factor=2, max_delay=5).delays() == [1, 2, 4, 5, 5]
    assert Retry(attempts=1).delays() == []


def failing(messages: list[str]) -> Callable[[], Awaitable[str]]:
    async def action() -> str:
        if messages:
            raise ReleaseToolFailed("skopeo", "tag", "r:t", 1, messages.pop(0))
        return "done"

    return action


async def test_transient_failures_are_retried_then_succeed() -> None:
    log = PublishLog()
    action = failing(["503 Service Unavailable", "connection refused"])
    retry = Retry(attempts=3, first_delay=0.01)
    assert await with_retries(action, "push r:t", retry, log) == "done"
    assert log.attempts == 3
    assert [r.split(": ", 2)[1] for r in log.retries] == ["attempt 1", "attempt 2"]


async def test_lasting_failures_fail_at_once() -> None:
    log = PublishLog()
    action = failing(["manifest unknown"])
    with pytest.raises(PublishFailed, match=r"^push r:t: skopeo exited 1: manifest unknown$"):
        await with_retries(action, "push r:t", Retry(attempts=5, first_delay=0.01), log)
    assert log.attempts == 1 and not log.retries


async def test_failures_that_outlast_the_attempts_say_so() -> None:
    action = failing(["503"] * 5)
    with pytest.raises(PublishFailed, match=r"push r:t \(after 2 tries\): skopeo exited 1: 503"):
        await with_retries(action, "push r:t", Retry(attempts=2, first_delay=0.01), PublishLog())
