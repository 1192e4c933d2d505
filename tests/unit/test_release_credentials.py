"""The credentials wrapper: a Docker config.json written from mounted secret files, run here
with the host's POSIX shell in place of the containers' static busybox."""

from __future__ import annotations

import base64
import json
import subprocess
from pathlib import Path
from typing import cast

import dagger
import pytest

from pipelines.errors import InputError
from pipelines.release.registry_access import (
    AUTH_FILE,
    BUSYBOX,
    CREDENTIALS_SCRIPT,
    SECRETS_DIR,
    RegistryAccess,
    RegistryAuth,
    check_access,
)

NO_SECRET = cast(dagger.Secret, object())


def run_wrapper(tmp_path: Path, entries: list[tuple[str, str, str]]) -> dict[str, object]:
    """Run the wrapper with ``(address, user, password file content)`` entries; return the
    config.json it wrote (read by the command it runs, as a tool would)."""
    secrets, auth = tmp_path / "secrets", tmp_path / "auth"
    secrets.mkdir()
    auth.mkdir()
    busybox = tmp_path / "busybox"
    busybox.write_text('#!/bin/sh\nexec "$@"\n')  # `busybox tr ...` -> `tr ...`
    busybox.chmod(0o755)
    script = (
        CREDENTIALS_SCRIPT.replace(BUSYBOX, str(busybox))
        .replace(SECRETS_DIR, str(secrets))
        .replace(AUTH_FILE, str(auth / "config.json"))
    )
    env = {"PATH": "/usr/bin:/bin", "RELEASE_AUTH_COUNT": str(len(entries))}
    for i, (address, user, password) in enumerate(entries):
        (secrets / f"registry-{i}").write_text(password)
        env[f"RELEASE_AUTH_ADDRESS_{i}"] = address
        env[f"RELEASE_AUTH_USERNAME_{i}"] = user
    done = subprocess.run(
        ["sh", "-c", script, "credentials", "cat", str(auth / "config.json")],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    config: dict[str, object] = json.loads(done.stdout)
    assert (auth / "config.json").stat().st_mode & 0o077 == 0  # umask 077
    return config


def test_the_wrapper_writes_every_registry_then_runs_the_tool(tmp_path: Path) -> None:
    long_token = "t" * 120  # longer than one line of base64
    config = run_wrapper(
        tmp_path,
        [
            ("ghcr.io", "bot", long_token + "\n"),
            ("loopback-registry-127-0-0-1-5000:5000", "me", "pw"),
        ],
    )
    auths = config["auths"]
    assert isinstance(auths, dict)
    assert base64.b64decode(auths["ghcr.io"]["auth"]).decode() == f"bot:{long_token}"
    assert base64.b64decode(auths["loopback-registry-127-0-0-1-5000:5000"]["auth"]) == b"me:pw"


def test_no_credentials_no_entries(tmp_path: Path) -> None:
    assert run_wrapper(tmp_path, []) == {"auths": {}}


@pytest.mark.parametrize(
    ("address", "user"), [("ghcr.io", 'a"b'), ("ghcr.io", "a b"), ('ghcr.io"', "bot")]
)
def test_values_the_config_cannot_hold_are_refused(address: str, user: str) -> None:
    access = RegistryAccess(auth=(RegistryAuth(address, user, NO_SECRET),))
    with pytest.raises(InputError, match=r"invalid (registry|user name)"):
        check_access(access)
    check_access(RegistryAccess(auth=(RegistryAuth("ghcr.io", "bot", NO_SECRET),)))
