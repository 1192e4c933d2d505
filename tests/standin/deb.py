"""Build the stand-in ``falco`` Debian package with ``dpkg-deb``."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

from ._util import SOURCE_DATE_EPOCH, run
from .content import CONFFILES, Entry
from .platforms import Platform

# Unversioned so that the package installs on debian:12-slim as well as on
# bullseye images (the stand-in binaries only need glibc 2.17 / 2.2.5 symbols).
DEPENDS = "libc6, libstdc++6"

POSTINST = """\
#!/bin/sh
# Stand-in for Falco's post-installation script. Like Falco's, it reads the
# driver choice from FALCO_DRIVER_CHOICE; unlike Falco's it never touches the
# kernel, systemd or the network.
set -e

case "$1" in
  configure) ;;
  *) exit 0 ;;
esac

choice="${FALCO_DRIVER_CHOICE:-}"
case "$choice" in
  none)
    echo "[POST-INSTALL] FALCO_DRIVER_CHOICE=none: no driver is configured."
    ;;
  "")
    echo "[POST-INSTALL] No FALCO_DRIVER_CHOICE given: would configure the default driver" \\
      "(modern_ebpf); stand-in, nothing done."
    ;;
  *)
    echo "[POST-INSTALL] Would configure the '$choice' driver; stand-in, nothing done."
    ;;
esac
exit 0
"""


def control_text(version: str, platform: Platform, installed_size_kib: int) -> str:
    """Return the ``DEBIAN/control`` paragraph of the stand-in package."""
    return (
        "Package: falco\n"
        f"Version: {version}\n"
        f"Architecture: {platform.debarch}\n"
        "Maintainer: Falco stand-in <standin@falco.invalid>\n"
        f"Installed-Size: {installed_size_kib}\n"
        f"Depends: {DEPENDS}\n"
        "Section: utils\n"
        "Priority: optional\n"
        "Homepage: https://falco.org\n"
        "Description: Falco runtime security (test stand-in)\n"
        " Stand-in package with the layout of Falco's .deb, built for pipeline\n"
        " tests that cannot reach download.falco.org. It is not Falco.\n"
    )


def _installed_size_kib(entries: Sequence[Entry]) -> int:
    """Approximate dpkg-gencontrol: 1 KiB per directory, file sizes rounded up to KiB."""
    total = 0
    for entry in entries:
        total += 1 if entry.data is None else max(1, -(-len(entry.data) // 1024))
    return total


def _stage(path: Path, data: bytes | None, mode: int) -> None:
    if data is None:
        path.mkdir(exist_ok=True)
    else:
        path.write_bytes(data)
    os.chmod(path, mode)


def build_deb(entries: Sequence[Entry], version: str, platform: Platform, work_dir: Path) -> bytes:
    """Return the bytes of a reproducible ``falco_{version}_{debarch}`` package.

    ``entries`` (from :func:`content.falco_tree`) are installed relative to ``/``.
    Members are owned by root (``--root-owner-group``) and clamped to a fixed
    ``SOURCE_DATE_EPOCH``; gzip compression keeps the result independent of
    the number of CPUs.
    """
    work_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=work_dir, prefix=".deb-") as tmp:
        stage = Path(tmp) / "root"
        _stage(stage, None, 0o755)
        for entry in entries:
            _stage(stage / entry.path, entry.data, entry.mode)
        control = stage / "DEBIAN"
        _stage(control, None, 0o755)
        size = _installed_size_kib(entries)
        _stage(control / "control", control_text(version, platform, size).encode(), 0o644)
        conffiles = "".join(f"/{path}\n" for path in CONFFILES)
        _stage(control / "conffiles", conffiles.encode(), 0o644)
        _stage(control / "postinst", POSTINST.encode(), 0o755)
        for dirpath, dirnames, filenames in os.walk(stage):
            for name in [*dirnames, *filenames]:
                os.utime(Path(dirpath) / name, (SOURCE_DATE_EPOCH, SOURCE_DATE_EPOCH))
        os.utime(stage, (SOURCE_DATE_EPOCH, SOURCE_DATE_EPOCH))

        output = Path(tmp) / "falco.deb"
        env = {**os.environ, "SOURCE_DATE_EPOCH": str(SOURCE_DATE_EPOCH)}
        run(
            ["dpkg-deb", "--root-owner-group", "-Zgzip", "-z6", "--build", stage, output],
            env=env,
        )
        return output.read_bytes()
