"""A layer's apt sources and Debian packages, installed the way mmdebstrap does for a foreign
architecture.

A round of packages is two steps, whatever the image's platform:

1. **Unpack, natively.** The tools container (the engine's own platform) mounts the image's
   root filesystem and runs its own ``dpkg --root`` on it: the packages are unpacked into the
   image's root and its dpkg database, with the image's own dpkg configuration (path
   excludes). dpkg chroots into the image to run the preinst scripts, so only they run as the
   image's architecture (emulated for a foreign one); archive extraction and file writes are
   native. The output is a layer on top of the base image's layers.
2. **Configure, in the image.** ``dpkg --configure -a`` runs in the image itself, with the
   image's dpkg and its view of architectures (an ``all`` package's dependencies are the
   image's packages): postinst scripts and triggers in dependency order, dependencies checked.
   Then the packages nobody asked for are marked automatic and those asked for manual, as
   apt from a mirror marks them, and the Python bytecode the scripts compiled is made
   reproducible (:mod:`pipelines.debian.bytecode`). For a foreign image, the scripts find the
   engine platform's builds of the file and text tools first in ``PATH``, where the versions
   are the image's (:mod:`pipelines.debian.native_tools`): the rest runs emulated.

The native dpkg is told to accept the image's architecture and to leave dependencies to the
second step (``--force-architecture --force-depends``): the lock already resolved them for the
image's architecture, and the second step's dpkg checks them as the image sees them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import dagger

from pipelines.debian.bytecode import FIXED_BYTECODE
from pipelines.debian.native_tools import BUILT, MOUNT, SELECT, native_tools
from pipelines.tools import tools_container

# Files the package manager writes for itself: never part of a layer.
_LEFTOVERS = (
    "var/log/dpkg.log",
    "var/log/alternatives.log",
    "var/log/apt/*",
    "var/cache/debconf/*-old",
    "var/cache/ldconfig/aux-cache",
    "var/cache/apt/*.bin",
)
_IN_TARGET = " ".join(f"/target/{path}" for path in _LEFTOVERS)
_IN_IMAGE = " ".join(f"/{path}" for path in _LEFTOVERS)

_UNPACK = rf"""
set -eu
codename=$(. /target/etc/os-release && echo "${{VERSION_CODENAME:-}}")
if layer_sources; then rm -f /target/etc/apt/sources.list.d/*; fi
# dpkg reads its configuration from its own /etc: make it the image's (path excludes, ...)
rm -rf /etc/dpkg/dpkg.cfg /etc/dpkg/dpkg.cfg.d
mkdir -p /etc/dpkg/dpkg.cfg.d
[ ! -f /target/etc/dpkg/dpkg.cfg ] || cp /target/etc/dpkg/dpkg.cfg /etc/dpkg/dpkg.cfg
[ ! -d /target/etc/dpkg/dpkg.cfg.d ] || cp -a /target/etc/dpkg/dpkg.cfg.d/. /etc/dpkg/dpkg.cfg.d/
unpack() {{
  dpkg --root=/target --force-architecture --force-depends --force-unsafe-io --unpack "$@"
}}
# what nobody asked for and the image did not hold is a dependency: marked automatic later
mkdir -p /meta
before=" $(dpkg-query --admindir=/target/var/lib/dpkg -W -f '${{Package}} ') "
for name in $LOCKED; do
  case " $REQUESTED $before " in *" $name "*) ;; *) echo "$name";; esac
done > /meta/auto
# what was asked for is manual, as apt makes it, even if the image had it as a dependency
states=/target/var/lib/apt/extended_states
for name in $REQUESTED; do
  [ ! -f "$states" ] || awk -v name="$name" '
    /^Package:/ {{ package = $2 }}
    /^Auto-Installed: 1/ && package == name {{ print name }}' "$states"
done > /meta/manual
set --
for deb in /run/debs/*.deb $DEBS; do [ ! -e "$deb" ] || set -- "$@" "$deb"; done
# shellcheck disable=SC2086 # a word list by design
[ $# = 0 ] || unpack $DPKG_OPTIONS "$@"
rm -rf {_IN_TARGET}
select_native_tools
"""

_CONFIGURE = (
    FIXED_BYTECODE
    + rf"""
set -eu
export DEBIAN_FRONTEND=noninteractive
# native builds of the file and text tools, for a foreign image (pipelines.debian.native_tools)
export PATH="{MOUNT}/bin:$PATH"
bytecode_mark
# shellcheck disable=SC2086 # word list by design
dpkg $DPKG_OPTIONS --configure -a
bytecode_fixed
auto=$(cat /run/layer/auto) manual=$(cat /run/layer/manual)
# shellcheck disable=SC2086
[ -z "$auto" ] || apt-mark auto $auto >/dev/null
# shellcheck disable=SC2086
[ -z "$manual" ] || apt-mark manual $manual >/dev/null
rm -rf {_IN_IMAGE}
"""
)


@dataclass(frozen=True)
class PackageRound:
    """Packages unpacked together, then configured together."""

    files: Mapping[str, dagger.File]  # file name -> verified .deb
    directory: dagger.Directory | None = None  # more verified .deb files (a locked set)
    dpkg_options: Sequence[str] = ()  # e.g. --force-breaks, for unpacking and configuring
    locked: Sequence[str] = ()  # every package of the locked set
    requested: Sequence[str] = ()  # those the variant asked for: the others become automatic


_NO_SOURCES = "layer_sources() { return 1; }\n"


def install_packages(
    ctr: dagger.Container,
    packages: PackageRound,
    *,
    tools_image: str,
    env: Mapping[str, str],
    sources: str = _NO_SOURCES,
) -> dagger.Container:
    """``ctr`` with ``packages`` unpacked by the native dpkg, then configured in ``ctr``.

    ``env`` is the layer's environment (the maintainer scripts read it). ``sources`` defines
    the shell function ``layer_sources``, which writes the layer's apt sources for
    ``$codename`` under ``/target`` (:func:`pipelines.debian.sources.sources_script`).
    """
    lists = {
        "DEBS": " ".join(f"/run/artifacts/{name}" for name in packages.files),
        "DPKG_OPTIONS": " ".join(packages.dpkg_options),
        "LOCKED": " ".join(packages.locked),
        "REQUESTED": " ".join(packages.requested),
    }
    unpacker = (
        tools_container(tools_image)
        .with_mounted_directory("/target", ctr.rootfs())
        .with_mounted_directory(BUILT, native_tools(tools_image))
    )
    for name, file in packages.files.items():
        unpacker = unpacker.with_mounted_file(f"/run/artifacts/{name}", file)
    if packages.directory is not None:
        unpacker = unpacker.with_mounted_directory("/run/debs", packages.directory)
    for name, value in {**env, **lists}.items():
        unpacker = unpacker.with_env_variable(name, value)
    unpacked = unpacker.with_exec(["sh", "-c", sources + SELECT + _UNPACK])
    return (
        ctr.with_rootfs(unpacked.directory("/target"))
        .with_mounted_directory("/run/layer", unpacked.directory("/meta"))
        .with_mounted_directory(MOUNT, unpacked.directory("/meta/native"))
        .with_env_variable("DPKG_OPTIONS", lists["DPKG_OPTIONS"])
        .with_exec(["sh", "-c", _CONFIGURE])
        .without_env_variable("DPKG_OPTIONS")
        .without_mount(MOUNT)
        .without_mount("/run/layer")
    )
