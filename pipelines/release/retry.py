"""Retrying registry operations: which failures may pass, and a bounded backoff.

Every registry write of a release (a push by digest, a signature, a tag) goes through
:func:`with_retries`. A failure is retried when its message looks transient: HTTP 408, 429 or
5xx, a refused, reset or closed connection, a timeout. Anything else (401, 404, a digest that
does not match) fails at once. Delays grow by ``factor`` from ``first_delay`` up to
``max_delay``, for at most ``attempts`` tries.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

import anyio
import dagger

from pipelines.errors import PipelineError
from pipelines.release.errors import ReleaseToolFailed

T = TypeVar("T")

TRANSIENT = re.compile(
    r"\b(?:408|429|50[0-9])\b(?!\.\d)|too many requests|request timeout|timed? ?out|"
    r"connection refused|connection reset|reset by peer|broken pipe|unexpected EOF|\bEOF\b|"
    r"service unavailable|bad gateway|gateway timeout|internal server error|"
    r"server misbehaving|no route to host|network is unreachable|server closed idle connection",
    re.IGNORECASE,
)
"""What a transient registry failure says (HTTP status, or a connection that failed)."""


class PublishFailed(PipelineError):
    """A registry operation of a release failed for good (after its retries)."""


@dataclass(frozen=True)
class Retry:
    """Backoff policy for registry operations: at most ``attempts`` tries, delays growing by
    ``factor`` from ``first_delay`` to at most ``max_delay`` seconds."""

    attempts: int = 6
    first_delay: float = 1.0
    factor: float = 2.0
    max_delay: float = 15.0

    def delays(self) -> list[float]:
        """The waits between the tries (one fewer than ``attempts``)."""
        out, delay = [], self.first_delay
        for _ in range(self.attempts - 1):
            out.append(min(delay, self.max_delay))
            delay *= self.factor
        return out


@dataclass
class PublishLog:
    """What a publication did, as it happens: attempts (retries included), retried failures,
    and events (phases, tags). ``listener``, if set, is awaited with every event, e.g. to
    report progress."""

    attempts: int = 0
    retries: list[str] = field(default_factory=list)
    events: list[str] = field(default_factory=list)
    listener: Callable[[str], Awaitable[None]] | None = None

    async def event(self, text: str) -> None:
        """Record ``text`` (``phase: tags``, ``tag: repo:tag created``...)."""
        self.events.append(text)
        if self.listener is not None:
            await self.listener(text)


def is_transient(message: str) -> bool:
    """Whether a failure with this message may pass when tried again."""
    return TRANSIENT.search(message) is not None


def failure_message(exc: Exception) -> str:
    """The part of a failure that says what went wrong (a tool's stderr, an engine error)."""
    if isinstance(exc, ReleaseToolFailed):
        return f"{exc.tool} exited {exc.exit_code}: {exc.stderr.strip()}"
    if isinstance(exc, dagger.ExecError):
        return f"{exc}: {exc.stderr.strip()}"
    return str(exc)


def last_line(message: str) -> str:
    """The last non-blank line of ``message`` (where tools say why they failed)."""
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    return lines[-1] if lines else message


async def with_retries(
    action: Callable[[], Awaitable[T]], what: str, retry: Retry, log: PublishLog
) -> T:
    """Run ``action``; retry with backoff while it fails transiently. Raises
    :class:`PublishFailed` naming ``what`` when it fails for good."""
    delays = retry.delays()
    for attempt in range(1, retry.attempts + 1):
        log.attempts += 1
        try:
            return await action()
        except (dagger.QueryError, ReleaseToolFailed) as exc:
            message = failure_message(exc)
            if attempt == retry.attempts or not is_transient(message):
                tries = f" (after {attempt} tries)" if attempt > 1 else ""
                raise PublishFailed(f"{what}{tries}: {last_line(message)[:500]}") from exc
            log.retries.append(f"{what}: attempt {attempt}: {last_line(message)[:200]}")
            await anyio.sleep(delays[attempt - 1])
    raise AssertionError("unreachable")
