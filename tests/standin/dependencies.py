"""Stand-ins for the Debian packages in Falco's ``dependencies`` download area (the legacy
driver loader's gcc-5, gcc-6 and binutils 2.30), read from the Falco catalog so the two never
drift: every artifact of images/falco/family.toml whose URL is under ``/dependencies/`` gets a
small real .deb with that package name, version and architecture, served where the catalog
says. The compilers are scripts that print what the real ones print for ``--version``."""

from __future__ import annotations

import os
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from ._util import SOURCE_DATE_EPOCH, run, sha256_bytes, write_if_changed

FALCO_FAMILY = Path(__file__).resolve().parents[2] / "images" / "falco" / "family.toml"
DEPENDENCIES_PATH = "/dependencies/"
DEBIAN_ARCH = {"linux/amd64": "amd64", "linux/arm64": "arm64"}
# What `<program> --version` prints first, by package (the real packages' first lines).
PROGRAMS = {
    "gcc-5": ("usr/bin/gcc-5", "gcc-5 (Debian 5.5.0-12) 5.5.0 20171010"),
    "gcc-6": ("usr/bin/gcc-6", "gcc-6 (Debian 6.3.0-18) 6.3.0 20170516"),
    "cpp-5": ("usr/bin/cpp-5", "cpp-5 (Debian 5.5.0-12) 5.5.0 20171010"),
    "cpp-6": ("usr/bin/cpp-6", "cpp-6 (Debian 6.3.0-18) 6.3.0 20170516"),
    "binutils-x86-64-linux-gnu": ("usr/bin/x86_64-linux-gnu-ld", "GNU ld (GNU Binutils) 2.30"),
    "binutils-aarch64-linux-gnu": ("usr/bin/aarch64-linux-gnu-ld", "GNU ld (GNU Binutils) 2.30"),
}


@dataclass(frozen=True)
class Dependency:
    """One artifact of the catalog's dependencies area, for one platform."""

    artifact: str
    package: str
    version: str
    platform: str
    url_path: str  # host and path, e.g. download.falco.org/dependencies/gcc-5_5.5.0-12_amd64.deb


def catalog_dependencies(family_toml: Path = FALCO_FAMILY) -> list[Dependency]:
    """Every (artifact, platform) the catalog downloads from its dependencies area."""
    family = tomllib.loads(family_toml.read_text())
    found = []
    for name, source in family["artifacts"].items():
        if DEPENDENCIES_PATH not in source["url"]:
            continue
        for platform in family["platforms"]:
            url = (
                source["url"]
                .replace("{version}", source["version"])
                .replace("{arch}", source["arch_names"][platform])
            )
            parts = urlsplit(url)
            filename = parts.path.rsplit("/", 1)[-1]
            package, _, rest = filename.partition("_")
            arch = rest.removesuffix(".deb").rsplit("_", 1)[-1]
            if arch != DEBIAN_ARCH[platform]:
                continue  # e.g. binutils-x86-64-linux-gnu is for amd64 only
            found.append(
                Dependency(name, package, source["version"], platform, parts.netloc + parts.path)
            )
    return found


def _deb(dependency: Dependency, work: Path) -> bytes:
    with tempfile.TemporaryDirectory(dir=work, prefix=".dep-") as tmp:
        stage = Path(tmp) / "root"
        (stage / "DEBIAN").mkdir(parents=True)
        doc = stage / "usr/share/doc" / dependency.package
        doc.mkdir(parents=True)
        (doc / "README.stand-in").write_text(
            f"Stand-in for {dependency.package} {dependency.version}: not the real package.\n"
        )
        if dependency.package in PROGRAMS:
            path, first_line = PROGRAMS[dependency.package]
            program = stage / path
            program.parent.mkdir(parents=True, exist_ok=True)
            program.write_text(f"#!/bin/sh\necho '{first_line}'\n")
            program.chmod(0o755)
        (stage / "DEBIAN/control").write_text(
            f"Package: {dependency.package}\n"
            f"Version: {dependency.version}\n"
            f"Architecture: {DEBIAN_ARCH[dependency.platform]}\n"
            "Maintainer: Falco stand-in <standin@falco.invalid>\n"
            "Section: devel\nPriority: optional\n"
            f"Description: {dependency.package} (test stand-in)\n"
            " Stand-in with the real name and version, built for pipeline tests.\n"
        )
        for dirpath, dirnames, filenames in os.walk(stage):
            for entry in [*dirnames, *filenames]:
                os.utime(Path(dirpath) / entry, (SOURCE_DATE_EPOCH, SOURCE_DATE_EPOCH))
        output = Path(tmp) / "out.deb"
        env = {**os.environ, "SOURCE_DATE_EPOCH": str(SOURCE_DATE_EPOCH)}
        run(["dpkg-deb", "--root-owner-group", "-Zgzip", "--build", stage, output], env=env)
        return output.read_bytes()


def build_dependencies(root: Path, work: Path) -> dict[str, str]:
    """Write every dependency stand-in under ``root`` (served as is); return
    ``"<artifact>/<platform>" -> sha256``."""
    work.mkdir(parents=True, exist_ok=True)
    digests = {}
    for dependency in catalog_dependencies():
        data = _deb(dependency, work)
        write_if_changed(root / dependency.url_path, data)
        digests[f"{dependency.artifact}/{dependency.platform}"] = sha256_bytes(data)
    return digests
