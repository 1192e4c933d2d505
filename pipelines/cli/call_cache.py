"""Function caching for the command line, as `dagger call` has it (Dagger's function cache).

`dagger call build-all` with the same inputs as a recent call returns that call's result
without running anything: the engine keys a function's result by the module's source and the
call's arguments (a directory or file argument by its content) and keeps it for the function's
cache policy (7 days unless the function says otherwise; ``cache="never"`` functions such as
``lock`` and ``publish-all`` always run). The command line (`scripts/call`), which calls the
same functions in-process, keeps the same record on the host, so a no-op re-run costs one
digest of each directory and file argument instead of the engine re-deriving every image.

Only calls whose whole result is the printed string are kept, only when they succeed, and only
when every object argument is a directory or file: a secret's or container's content cannot be
keyed here. Like Dagger's, the key holds the arguments as given: a tag or URL whose content
moved is picked up when the entry expires, when any argument or the module changes, or with
``IMAGE_FAMILY_CALL_CACHE=off``.
"""

from __future__ import annotations

import enum
import hashlib
import json
import os
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from importlib.metadata import version
from pathlib import Path
from typing import Any

import dagger
from pydantic import BaseModel, ConfigDict, ValidationError

from pipelines.cli.parse import Call
from pipelines.errors import InputError

ENV = "IMAGE_FAMILY_CALL_CACHE"  # a directory, or "off"
DEFAULT_TTL_SECONDS = 7 * 24 * 3600  # Dagger's default for a function without a cache policy
UNKEYED_OBJECTS = frozenset({"Secret", "Container"})  # no content digest to key them by
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(h|ms|m|s)")
_UNIT_SECONDS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
PACKAGE = Path(__file__).resolve().parent.parent  # the pipelines package: the module's source


def ttl_seconds(cache_policy: str | None) -> float | None:
    """How long a result of a function with ``cache_policy`` is kept across calls; None when
    never (``never``, or ``session``: each command line call is a session of its own)."""
    if cache_policy in (None, ""):
        return DEFAULT_TTL_SECONDS
    if cache_policy in ("never", "session"):
        return None
    parts = _DURATION.findall(cache_policy)
    if not parts or "".join(n + u for n, u in parts) != cache_policy:
        raise InputError(
            f"cache policy {cache_policy!r}: expected never, session, or a duration such as "
            "10m or 1h30m"
        )
    return sum(float(n) * _UNIT_SECONDS[u] for n, u in parts)


def default_directory() -> Path | None:
    """Where entries live: ``$IMAGE_FAMILY_CALL_CACHE``, else the user's cache directory;
    None when the variable is ``off``."""
    configured = os.environ.get(ENV, "")
    if configured == "off":
        return None
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "image-family" / "calls"


@cache
def module_digest() -> str:
    """sha256 of the module's source (every file of the pipelines package, by relative path)
    and of the dagger-io version: a changed pipeline is a different function."""
    digest = hashlib.sha256(f"dagger-io {version('dagger-io')}\n".encode())
    for path in sorted(PACKAGE.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
            digest.update(f"{path.relative_to(PACKAGE).as_posix()}\n".encode())
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def cacheable(call: Call) -> bool:
    """Whether ``call``'s result may be kept: a printed string (no chained call), a function
    cached across sessions, and no argument a secret or container."""
    spec = call.function
    return (
        call.chain is None
        and spec.returns == "String"
        and ttl_seconds(spec.cache_policy) is not None
        and not any(a.kind in UNKEYED_OBJECTS for a in spec.args)
    )


async def _keyed(value: object) -> object:
    """An argument as it enters the key: directories and files by content digest."""
    if isinstance(value, list):
        return [await _keyed(item) for item in value]
    if isinstance(value, dagger.Directory | dagger.File):
        return {"digest": await value.digest()}
    if isinstance(value, enum.Enum):
        return value.name
    return value


async def call_key(call: Call, kwargs: Mapping[str, Any], engine: str) -> str:
    """The key of ``call`` with its Python arguments ``kwargs`` on the engine of version
    ``engine`` (Dagger's cache is the engine's own): the function, the module's digest, and
    every argument given or loaded from its default path (defaults are the module's)."""
    keyed = {name: await _keyed(value) for name, value in sorted(kwargs.items())}
    material = {
        "function": call.function.command,
        "module": module_digest(),
        "engine": engine,
        "args": keyed,
    }
    return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()


class Entry(BaseModel):
    """One kept result."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    function: str
    created: float  # seconds since the epoch
    output: str


# What stderr says when a call was answered from the cache (the bench looks for it).
SERVED_PHRASE = "the result of the same call at"


@dataclass(frozen=True)
class Served:
    """A result and, when it came from the cache, the entry it came from."""

    output: str
    entry: Entry | None = None

    def notice(self) -> str | None:
        """The line for stderr when the result came from the cache, else None."""
        if self.entry is None:
            return None
        when = datetime.fromtimestamp(self.entry.created, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        return (
            f"{self.entry.function}: {SERVED_PHRASE} {when} (same module, same arguments, same "
            f"directory and file contents), as Dagger's function cache serves it; {ENV}=off "
            "runs it again"
        )


@dataclass(frozen=True)
class CallCache:
    """Results of successful calls, one JSON file per key under ``directory``."""

    directory: Path

    def _path(self, key: str) -> Path:
        return self.directory / f"{key}.json"

    def get(self, key: str, ttl: float, now: float | None = None) -> Entry | None:
        """The entry of ``key`` if it exists and is younger than ``ttl`` seconds."""
        try:
            entry = Entry.model_validate_json(self._path(key).read_text())
        except (OSError, ValidationError):
            return None
        age = (time.time() if now is None else now) - entry.created
        return entry if 0 <= age < ttl else None

    def put(self, key: str, entry: Entry) -> None:
        """Keep ``entry`` (written whole, then renamed: a reader never sees half of it)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        partial = self.directory / f".{key}.{os.getpid()}.tmp"
        partial.write_text(entry.model_dump_json())
        partial.replace(self._path(key))

    async def serve(self, call: Call, key: str, produce: Callable[[], Awaitable[str]]) -> Served:
        """The kept output of ``key``, else ``produce()``'s, kept when it returns (an
        exception propagates and keeps nothing)."""
        ttl = ttl_seconds(call.function.cache_policy)
        assert ttl is not None, "serve() is for cacheable calls"
        kept = self.get(key, ttl)
        if kept is not None:
            return Served(kept.output, kept)
        output = await produce()
        self.put(key, Entry(function=call.function.command, created=time.time(), output=output))
        return Served(output)
