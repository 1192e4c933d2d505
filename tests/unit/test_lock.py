from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from pipelines.catalog.loader import LoadedFamily
from pipelines.catalog.lock import LockEntry, LockFile, lookup, render_lock, update_lock
from pipelines.errors import InputError

FALCO_DIR = Path(__file__).resolve().parents[2] / "images" / "falco"
SHA_A = "a" * 64
SHA_B = "b" * 64


def entry(name: str = "tarball", version: str = "0.44.0", platform: str = "linux/amd64",
          sha256: str = SHA_A) -> LockEntry:  # fmt: skip
    return LockEntry(name=name, version=version, platform=platform, sha256=sha256)


def test_lookup() -> None:
    lock = LockFile(artifact=[entry(), entry(platform="linux/arm64", sha256=SHA_B)])
    assert lookup(lock, "tarball", "0.44.0", "linux/amd64") == SHA_A
    assert lookup(lock, "tarball", "0.44.0", "linux/arm64") == SHA_B
    assert lookup(lock, "deb", "0.44.0", "linux/amd64") is None
    assert lookup(lock, "tarball", "0.43.0", "linux/amd64") is None


def test_render_lock_round_trips_sorted_with_header() -> None:
    entries = [
        entry(name="falcoctl", version="0.13.0", sha256=SHA_B),
        entry(platform="linux/arm64"),
        entry(),
    ]
    text = render_lock(entries)
    assert text.startswith("# sha256 pins of the artifacts downloaded by the pipeline")
    parsed = LockFile.model_validate(tomllib.loads(text))
    assert [e.key for e in parsed.artifact] == [
        ("falcoctl", "0.13.0", "linux/amd64"),
        ("tarball", "0.44.0", "linux/amd64"),
        ("tarball", "0.44.0", "linux/arm64"),
    ]
    assert lookup(parsed, "falcoctl", "0.13.0", "linux/amd64") == SHA_B
    assert render_lock(parsed.artifact) == text


def test_render_empty_lock_is_a_valid_file() -> None:
    assert LockFile.model_validate(tomllib.loads(render_lock([]))) == LockFile()


def test_render_lock_refuses_conflicting_pins() -> None:
    assert render_lock([entry(), entry()]) == render_lock([entry()])
    with pytest.raises(
        InputError, match=r"conflicting sha256 pins for tarball 0\.44\.0 linux/amd64"
    ):
        render_lock([entry(), entry(sha256=SHA_B)])


def test_update_lock_replaces_same_key() -> None:
    lock = LockFile(artifact=[entry(), entry(platform="linux/arm64")])
    updated = update_lock(lock, [entry(sha256=SHA_B), entry(version="0.45.0")])
    assert lookup(updated, "tarball", "0.44.0", "linux/amd64") == SHA_B
    assert lookup(updated, "tarball", "0.44.0", "linux/arm64") == SHA_A
    assert lookup(updated, "tarball", "0.45.0", "linux/amd64") == SHA_A


def test_falco_lock_is_empty_but_documented(falco: LoadedFamily) -> None:
    assert falco.lock == LockFile()
    text = (FALCO_DIR / "artifacts.lock.toml").read_text()
    assert "Run the pipeline's `lock` function" in text
    assert tomllib.loads(text) == {}
