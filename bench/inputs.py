"""The benchmark's inputs: a stand-in Falco release, a pinned catalog copy, an apt repository.

Both halves read the same stand-in release served on loopback: the pipeline through the
catalog's download URLs rewritten by mirrors, the Dockerfiles through build arguments. Falco's
Dockerfiles install the ``falco`` package from Falco's signed apt repository, so the stand-in
gets one too (``dists/stable`` next to the served ``.deb`` files, signed with the stand-in key).
"""

from __future__ import annotations

import email.utils
import hashlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tests.engine.family import pins_of, standin_catalog
from tests.standin import StandinRelease, build_standin_release

# Where build_standin_release keeps the stand-in signing key (``<out>/cache/signing``).
_SECRET_KEY = Path("cache") / "signing" / "secret.asc"
_DEB_REPO = Path("download.falco.org") / "packages" / "deb"
_NO_PASSPHRASE = ("--pinentry-mode", "loopback", "--passphrase", "")


@dataclass(frozen=True)
class Inputs:
    """What one benchmark run builds from."""

    release: StandinRelease
    catalog: Path  # pinned copy of images/falco trusting the stand-in key

    @property
    def version(self) -> str:
        """The stand-in Falco version."""
        return self.release.falco_version


def prepare(work: Path) -> Inputs:
    """Build (or reuse) the stand-in release under ``work`` and lay out a fresh catalog copy.

    The catalog copy is rewritten on every call, so a change made by an earlier run's rebuild
    step never leaks into the next run.
    """
    release = build_standin_release(work / "standin")
    catalog = standin_catalog(work / "catalog" / "falco", release, pins=pins_of(release))
    write_apt_repository(release)
    return Inputs(release=release, catalog=catalog)


def _control(deb: Path) -> str:
    out = subprocess.run(["dpkg-deb", "-f", str(deb)], check=True, capture_output=True, text=True)
    return out.stdout.strip()


def _field(control: str, name: str) -> str:
    for line in control.splitlines():
        key, sep, value = line.partition(":")
        if sep and key == name:
            return value.strip()
    raise ValueError(f"no {name} field in control data")


def packages_index(repo: Path, debs: Sequence[Path]) -> dict[str, str]:
    """``Packages`` text per Debian architecture for ``debs`` (paths relative to ``repo``)."""
    by_arch: dict[str, list[str]] = {}
    for deb in sorted(debs):
        data = deb.read_bytes()
        control = _control(deb)
        stanza = (
            f"{control}\n"
            f"Filename: {deb.relative_to(repo).as_posix()}\n"
            f"Size: {len(data)}\n"
            f"MD5sum: {hashlib.md5(data).hexdigest()}\n"
            f"SHA256: {hashlib.sha256(data).hexdigest()}\n"
        )
        by_arch.setdefault(_field(control, "Architecture"), []).append(stanza)
    return {arch: "\n".join(stanzas) for arch, stanzas in sorted(by_arch.items())}


def release_file(indexes: dict[str, str]) -> str:
    """The ``Release`` file of a one-component (``main``) ``stable`` suite."""
    files = {f"main/binary-{arch}/Packages": text.encode() for arch, text in indexes.items()}
    lines = [
        "Origin: Falco stand-in",
        "Label: Falco stand-in",
        "Suite: stable",
        "Codename: stable",
        f"Date: {email.utils.formatdate(usegmt=True)}",
        f"Architectures: {' '.join(sorted(indexes))}",
        "Components: main",
        "Description: stand-in of Falco's package repository for the benchmark",
        "MD5Sum:",
        *(f" {hashlib.md5(b).hexdigest()} {len(b)} {p}" for p, b in sorted(files.items())),
        "SHA256:",
        *(f" {hashlib.sha256(b).hexdigest()} {len(b)} {p}" for p, b in sorted(files.items())),
    ]
    return "\n".join(lines) + "\n"


def _gpg_sign(secret_key: Path, release: Path, out_dir: Path) -> None:
    """Write ``InRelease`` (clear-signed) and ``Release.gpg`` (detached) next to ``release``."""
    home = Path(tempfile.mkdtemp(prefix="bench-gnupg-"))  # short path: gpg-agent sockets
    os.chmod(home, 0o700)
    env = {**os.environ, "GNUPGHOME": str(home)}
    gpg = ["gpg", "--batch", "--no-tty", "--quiet", *_NO_PASSPHRASE]
    try:
        subprocess.run([*gpg, "--import", str(secret_key)], check=True, env=env)
        for args in (
            ["--clearsign", "-o", str(out_dir / "InRelease")],
            ["--armor", "--detach-sign", "-o", str(out_dir / "Release.gpg")],
        ):
            subprocess.run([*gpg, "--yes", *args, str(release)], check=True, env=env)
    finally:
        subprocess.run(["gpgconf", "--kill", "all"], check=False, env=env)
        shutil.rmtree(home, ignore_errors=True)


def write_apt_repository(release: StandinRelease) -> Path:
    """Publish the stand-in ``.deb`` files as Falco's apt repository (``deb`` bucket, suite
    ``stable``, component ``main``) signed with the stand-in key; returns the repository root.

    ``deb <server>/download.falco.org/packages/deb stable main`` then works as Falco's
    Dockerfiles expect, with the key served at ``<server>/falco.org/repo/...``.
    """
    repo = release.root / _DEB_REPO
    debs = sorted((repo / "stable").glob("*.deb"))
    if not debs:
        raise FileNotFoundError(f"no .deb files under {repo / 'stable'}")
    dists = repo / "dists" / "stable"
    indexes = packages_index(repo, debs)
    for arch, text in indexes.items():
        target = dists / "main" / f"binary-{arch}" / "Packages"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    (dists / "Release").write_text(release_file(indexes))
    _gpg_sign(release.root.parent / _SECRET_KEY, dists / "Release", dists)
    return repo
