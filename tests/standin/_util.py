"""Small helpers shared by the stand-in builders."""

from __future__ import annotations

import hashlib
import os
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

# Fixed timestamp for every archive member (2024-01-01T00:00:00Z) so that the
# same inputs always give byte-identical artifacts.
SOURCE_DATE_EPOCH = 1704067200


class StandinError(RuntimeError):
    """A tool needed to build the stand-in release is missing or failed."""


def run(
    argv: Sequence[str | os.PathLike[str]],
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    input_bytes: bytes | None = None,
) -> subprocess.CompletedProcess[bytes]:
    """Run ``argv`` to completion, raising :class:`StandinError` with its output on failure."""
    args = [os.fspath(a) for a in argv]
    try:
        proc = subprocess.run(
            args,
            cwd=cwd,
            env=None if env is None else dict(env),
            input=input_bytes,
            capture_output=True,
            check=False,
            timeout=300,
        )
    except FileNotFoundError as exc:
        raise StandinError(f"{args[0]} is not installed (needed for the stand-in release)") from exc
    if proc.returncode != 0:
        stderr = proc.stderr.decode(errors="replace").strip()
        raise StandinError(f"{' '.join(args)} exited with {proc.returncode}: {stderr}")
    return proc


def sha256_bytes(data: bytes) -> str:
    """Return the lowercase hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    """Return the lowercase hex SHA-256 of the file at ``path``."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def write_if_changed(path: Path, data: bytes, mode: int = 0o644) -> bool:
    """Atomically write ``data`` to ``path`` unless it already holds exactly that.

    Returns True when the file was (re)written.
    """
    if path.is_file() and path.read_bytes() == data:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp_name, mode)
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return True
