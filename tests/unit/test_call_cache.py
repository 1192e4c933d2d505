"""The command line's function cache (as `dagger call`'s): which calls it keeps, for how long,
under which key; the engine test (tests/engine/test_command_line.py) runs it for real."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines import ImageFamily
from pipelines.cli.call_cache import (
    DEFAULT_TTL_SECONDS,
    CallCache,
    Entry,
    cacheable,
    call_key,
    default_directory,
    module_digest,
    ttl_seconds,
)
from pipelines.cli.parse import Call, parse_call
from pipelines.cli.signatures import module_functions
from pipelines.errors import InputError
from pipelines.scan_gate import ScanGate

FUNCTIONS = module_functions(ImageFamily)
ENGINE = "v0.19.10"


def _call(*argv: str) -> Call:
    return parse_call(FUNCTIONS, list(argv))


def test_ttl_follows_the_functions_cache_policy() -> None:
    assert ttl_seconds(None) == ttl_seconds("") == DEFAULT_TTL_SECONDS == 7 * 24 * 3600
    assert ttl_seconds("never") is None
    assert ttl_seconds("session") is None  # each command line call is its own session
    assert ttl_seconds("10m") == 600
    assert ttl_seconds("1h30m") == 5400
    assert ttl_seconds("1.5s") == 1.5
    with pytest.raises(InputError, match="cache policy '10 minutes': expected never, session"):
        ttl_seconds("10 minutes")


def test_only_string_results_of_cached_functions_without_secrets_are_kept() -> None:
    assert cacheable(_call("build-all", "--version", "0.44.0"))
    assert cacheable(_call("plan"))
    assert not cacheable(_call("export-all", "export", "--path", "out"))  # a directory
    assert not cacheable(_call("lock", "export", "--path", "out"))  # cache="never"
    assert not cacheable(_call("publish-all", "--registry", "r.example"))  # never; secrets
    assert not cacheable(_call("test", "--variant", "falco", "--container", "alpine"))


async def test_the_key_holds_the_function_the_module_and_every_argument() -> None:
    build_all = _call("build-all")
    plan = _call("plan")
    base = {"version": "0.44.0", "platforms": ["linux/arm64"]}
    key = await call_key(build_all, base, ENGINE)
    assert key == await call_key(build_all, dict(reversed(base.items())), ENGINE)  # any order
    assert key != await call_key(plan, base, ENGINE)
    assert key != await call_key(build_all, base, "v0.19.11")  # another engine, another cache
    assert key != await call_key(build_all, {**base, "version": "0.43.0"}, ENGINE)
    assert key != await call_key(build_all, {**base, "platforms": ["linux/amd64"]}, ENGINE)
    assert key != await call_key(build_all, {**base, "params": ["release=bullseye"]}, ENGINE)
    gate = await call_key(build_all, {**base, "fail_on": ScanGate.HIGH}, ENGINE)
    assert gate != await call_key(build_all, {**base, "fail_on": ScanGate.CRITICAL}, ENGINE)
    assert len(module_digest()) == 64 and module_digest() == module_digest()


async def test_a_result_is_kept_then_served_without_running(tmp_path: Path) -> None:
    cache = CallCache(tmp_path / "calls")
    call = _call("build-all")
    runs: list[str] = []

    async def produce() -> str:
        runs.append("ran")
        return "report\n"

    first = await cache.serve(call, "k1", produce)
    second = await cache.serve(call, "k1", produce)
    assert (first.output, first.entry) == ("report\n", None)
    assert second.output == "report\n" and second.entry is not None
    assert second.entry.function == "build-all"
    assert first.notice() is None
    notice = second.notice()
    assert notice is not None and notice.startswith("build-all: the result of the same call at ")
    assert notice.endswith("IMAGE_FAMILY_CALL_CACHE=off runs it again")
    assert runs == ["ran"]
    other = await cache.serve(call, "k2", produce)  # another key runs
    assert other.entry is None and runs == ["ran", "ran"]


async def test_a_failed_call_keeps_nothing(tmp_path: Path) -> None:
    cache = CallCache(tmp_path)
    call = _call("build-all")

    async def fail() -> str:
        raise InputError("no such variant")

    for _ in range(2):
        with pytest.raises(InputError):
            await cache.serve(call, "k", fail)
    assert list(tmp_path.iterdir()) == []


def test_an_entry_expires_and_a_damaged_one_is_a_miss(tmp_path: Path) -> None:
    cache = CallCache(tmp_path)
    cache.put("k", Entry(function="build-all", created=1000.0, output="x"))
    assert cache.get("k", ttl=60, now=1059.0) is not None
    assert cache.get("k", ttl=60, now=1060.0) is None
    assert cache.get("k", ttl=60, now=999.0) is None  # from the future: the clock moved
    (tmp_path / "k.json").write_text("{not json")
    assert cache.get("k", ttl=60, now=1001.0) is None
    assert [p.name for p in tmp_path.iterdir()] == ["k.json"]  # no partial files left


def test_where_entries_live(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("IMAGE_FAMILY_CALL_CACHE", "off")
    assert default_directory() is None
    monkeypatch.setenv("IMAGE_FAMILY_CALL_CACHE", str(tmp_path / "mine"))
    assert default_directory() == tmp_path / "mine"
    monkeypatch.delenv("IMAGE_FAMILY_CALL_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_directory() == tmp_path / "xdg" / "image-family" / "calls"
