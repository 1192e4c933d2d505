"""Build a complete stand-in Falco release (tarballs, .debs, falcoctl, key, signatures)."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from . import layout
from ._util import sha256_bytes, write_if_changed
from .content import DRIVER_VERSION, Entry, falco_tree
from .deb import build_deb
from .dependencies import build_dependencies
from .elf import build_falco, build_falcoctl, build_plugin
from .platforms import Platform, get_platform
from .signing import ensure_signing_key, sign_files
from .tarball import build_targz

ARTIFACTS = ("tarball", "deb", "falcoctl")
DEFAULT_PLATFORMS = ("linux/amd64", "linux/arm64")

# Versions end up in file names, URLs, C string literals and the deb control file.
_VERSION_RE = re.compile(r"[0-9][0-9A-Za-z.~+-]{0,63}")

FALCOCTL_README = """\
# falcoctl (stand-in)

Test stand-in for the falcoctl release archive. It is not falcoctl: the
`falcoctl` program in this archive only answers `falcoctl version`.
"""

FALCOCTL_LICENSE = """\
Stand-in license notice.

The real falcoctl is distributed under the Apache License, Version 2.0. This
archive is a test fixture with the same layout and contains none of its code.
"""


def is_dev_version(version: str) -> bool:
    """True for a development build: a pre-release ``-`` part or ``+`` build metadata."""
    return "-" in version or "+" in version


def _check_version(kind: str, version: str) -> None:
    if not _VERSION_RE.fullmatch(version):
        raise ValueError(f"invalid {kind} version {version!r}")


@dataclass(frozen=True)
class StandinRelease:
    """A stand-in release on disk, laid out under ``root`` as the real sites serve it."""

    root: Path
    falco_version: str
    falcoctl_version: str
    key_fingerprint: str
    sha256: dict[str, str]  # "<artifact>/<platform>" -> hex sha256 of the served file
    dev: bool = False
    platforms: tuple[str, ...] = DEFAULT_PLATFORMS
    public_key: bytes = field(default=b"", repr=False)  # the armoured key that was served
    # the dependencies area's packages, "<catalog artifact>/<platform>" -> sha256
    dependency_sha256: dict[str, str] = field(default_factory=dict, repr=False)

    def relpath(self, artifact: str, platform: str, *, signature: bool = False) -> str:
        """Raw path (relative to ``root``) of ``artifact`` for ``platform``, or of its ``.asc``."""
        plat = get_platform(platform)
        if artifact == "tarball":
            path = layout.tarball_relpath(self.falco_version, plat, self.dev)
        elif artifact == "deb":
            path = layout.deb_relpath(self.falco_version, plat, self.dev)
        elif artifact == "falcoctl":
            if signature:
                raise ValueError("falcoctl archives are not signed (use checksums.txt)")
            path = layout.falcoctl_relpath(self.falcoctl_version, plat)
        else:
            raise ValueError(f"unknown artifact {artifact!r} (expected one of {ARTIFACTS})")
        return f"{path}.asc" if signature else path

    def path(self, artifact: str, platform: str, *, signature: bool = False) -> Path:
        """Local file of ``artifact`` for ``platform`` (or of its signature)."""
        return self.root / self.relpath(artifact, platform, signature=signature)

    def url(self, base_url: str, artifact: str, platform: str, *, signature: bool = False) -> str:
        """Percent-encoded URL of ``artifact`` for ``platform`` on the server at ``base_url``."""
        return layout.url_for(base_url, self.relpath(artifact, platform, signature=signature))

    @property
    def key_path(self) -> Path:
        """Local file of the armoured public key (``falco.org/repo/falcosecurity-packages.asc``)."""
        return self.root / layout.KEY_RELPATH

    def key_url(self, base_url: str) -> str:
        """URL of the armoured public signing key on the server at ``base_url``."""
        return layout.url_for(base_url, layout.KEY_RELPATH)

    @property
    def checksums_path(self) -> Path:
        """Local file of falcoctl's goreleaser ``checksums.txt``."""
        return self.root / layout.falcoctl_checksums_relpath(self.falcoctl_version)

    def checksums_url(self, base_url: str) -> str:
        """URL of falcoctl's ``checksums.txt`` on the server at ``base_url``."""
        return layout.url_for(base_url, layout.falcoctl_checksums_relpath(self.falcoctl_version))


@dataclass(frozen=True)
class _Built:
    tarball: bytes
    deb: bytes
    falcoctl_archive: bytes


def _package(
    plat: Platform,
    falco_version: str,
    falco: Path,
    falcoctl: Path,
    plugin: Path,
    work_dir: Path,
) -> _Built:
    tree = falco_tree(falco.read_bytes(), falcoctl.read_bytes(), plugin.read_bytes())
    falcoctl_tree = [
        Entry("LICENSE", FALCOCTL_LICENSE.encode(), 0o644),
        Entry("README.md", FALCOCTL_README.encode(), 0o644),
        Entry("falcoctl", falcoctl.read_bytes(), 0o755),
    ]
    return _Built(
        tarball=build_targz(tree, top_dir=f"falco-{falco_version}-{plat.arch}"),
        deb=build_deb(tree, falco_version, plat, work_dir),
        falcoctl_archive=build_targz(falcoctl_tree),
    )


def build_standin_release(
    out: Path,
    falco_version: str = "0.44.0",
    falcoctl_version: str = "0.13.0",
    platforms: Sequence[str] = DEFAULT_PLATFORMS,
    dev: bool | None = None,
) -> StandinRelease:
    """Build (or refresh) a stand-in Falco release under ``out`` and return its description.

    ``out/root`` is the directory to serve (see :func:`serve`); ``out/cache``
    keeps the signing key, compiled programs and scratch space, so calling this
    again with the same ``out`` reuses them and rewrites nothing that is
    unchanged. Several versions may be built into the same ``out``; they share
    one signing key. ``dev`` None means "dev when the version has a pre-release
    ``-`` part or ``+`` build metadata" (which selects the ``bin-dev``/``deb-dev``
    buckets).

    Artifacts are reproducible: the same inputs give the same sha256 in any
    directory. Signatures (``.asc``) are not (they carry a timestamp and the
    key is per ``out``).
    """
    _check_version("falco", falco_version)
    _check_version("falcoctl", falcoctl_version)
    plats = [get_platform(name) for name in dict.fromkeys(platforms)]
    if not plats:
        raise ValueError("at least one platform is required")
    is_dev = is_dev_version(falco_version) if dev is None else dev

    out = Path(out).resolve()
    root = out / "root"
    cache = out / "cache"
    cache.mkdir(parents=True, exist_ok=True)

    with ThreadPoolExecutor(max_workers=8) as pool:
        key_future = pool.submit(ensure_signing_key, cache / "signing")
        programs: dict[str, tuple[Future[Path], Future[Path], Future[Path]]] = {
            plat.name: (
                pool.submit(build_falco, plat, falco_version, DRIVER_VERSION, cache),
                pool.submit(build_falcoctl, plat, falcoctl_version, cache),
                pool.submit(build_plugin, plat, cache),
            )
            for plat in plats
        }
        packaged = {
            plat.name: pool.submit(
                _package,
                plat,
                falco_version,
                programs[plat.name][0].result(),
                programs[plat.name][1].result(),
                programs[plat.name][2].result(),
                cache / "deb",
            )
            for plat in plats
        }
        built = {name: future.result() for name, future in packaged.items()}
        key = key_future.result()

    layout_only = StandinRelease(
        root=root,
        falco_version=falco_version,
        falcoctl_version=falcoctl_version,
        key_fingerprint=key.fingerprint,
        sha256={},
        dev=is_dev,
        platforms=tuple(plat.name for plat in plats),
        public_key=key.public_armored,
    )
    digests: dict[str, str] = {}
    checksum_lines: dict[str, str] = {}
    to_sign: list[Path] = []
    for plat in plats:
        artifacts = built[plat.name]
        for artifact, data in (
            ("tarball", artifacts.tarball),
            ("deb", artifacts.deb),
            ("falcoctl", artifacts.falcoctl_archive),
        ):
            target = layout_only.path(artifact, plat.name)
            write_if_changed(target, data)
            digest = sha256_bytes(data)
            digests[f"{artifact}/{plat.name}"] = digest
            if artifact == "falcoctl":
                checksum_lines[target.name] = digest
            else:
                to_sign.append(target)

    checksums = "".join(f"{checksum_lines[name]}  {name}\n" for name in sorted(checksum_lines))
    write_if_changed(layout_only.checksums_path, checksums.encode())
    write_if_changed(layout_only.key_path, key.public_armored)
    sign_files(key, to_sign)
    # the legacy loader's old toolchain, from Falco's dependencies area (version independent)
    dependencies = build_dependencies(root, cache / "dependencies")
    return dataclasses.replace(layout_only, sha256=digests, dependency_sha256=dependencies)
