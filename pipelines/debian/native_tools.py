"""Native builds of the file and text tools that maintainer scripts call, for configuring an
image of a foreign architecture.

Configuring runs in the image, so for a foreign image every program a maintainer script starts
runs emulated. Most of them are arch-independent work done by small tools: ca-certificates'
postinst runs ``update-ca-certificates``, which starts ``basename``, ``sed``, ``readlink`` and
``ln`` for each of some 140 certificates, and ``openssl rehash``. Measured on an arm64 bookworm
image with ca-certificates (2-CPU amd64 engine): ca-certificates took 39 of the configure
step's 45 s emulated, 9 of 14 s with these tools native.

So the engine platform's builds of those tools are offered to the scripts first in ``PATH``,
each only when the engine platform's package holds **the same version** as the image's: the same
source, built for another architecture, does the same file and text work. What must run as the
image's architecture stays the image's own: the shell, dpkg and apt, ``ldconfig``,
``update-alternatives``, interpreters (Perl, Python), ``uname``, and any tool whose version
differs.

The native programs cannot use the image's loader and libraries, so each is copied with its
loader and libraries into one directory, ``/run/native`` in the configure step, and patched
(``patchelf``) to find them there. The directory is mounted, never part of a layer.
"""

from __future__ import annotations

from collections.abc import Mapping

import dagger

from pipelines.tools import tools_container, with_apt_packages

# Where the configure step mounts the tools; a binary's loader path is baked in (patchelf).
MOUNT = "/run/native"

# Debian package -> the programs of it that scripts may run natively. Arch-independent work
# only: nothing that reports or depends on the architecture (uname, arch, nproc, stdbuf's
# preload), runs other programs as another user or root (chroot, runcon, nohup), or reads a
# terminal.
NATIVE_TOOLS: Mapping[str, tuple[str, ...]] = {
    "coreutils": (
        "basename",
        "cat",
        "chgrp",
        "chmod",
        "chown",
        "cp",
        "cut",
        "dirname",
        "head",
        "ln",
        "ls",
        "md5sum",
        "mkdir",
        "mktemp",
        "mv",
        "readlink",
        "realpath",
        "rm",
        "rmdir",
        "sha1sum",
        "sha256sum",
        "sort",
        "stat",
        "tail",
        "tee",
        "touch",
        "tr",
        "uniq",
        "wc",
    ),
    "sed": ("sed",),
    "grep": ("grep",),
    "findutils": ("find", "xargs"),
    "openssl": ("openssl",),
}

# Builds /native: <package>/<program> patched, lib/ (loader and libraries), versions
# ("<package> <version>" per line). Run in the tools container.
_BUILD = rf"""
set -eu
out=/native
mkdir -p "$out/lib"
touch "$out/versions"
loader=""
for entry in $NATIVE_TOOLS; do
  package=${{entry%%=*}} programs=$(echo "${{entry#*=}}" | tr , ' ')
  # a package or program the tools image lacks is left out: the image's own then runs
  version=$(dpkg-query -W -f '${{Version}}' "$package" 2>/dev/null) || continue
  echo "$package $version" >> "$out/versions"
  mkdir -p "$out/$package"
  for program in $programs; do
    path=$(command -v "$program") || continue
    cp "$path" "$out/$package/$program"
    [ -n "$loader" ] || loader=$(patchelf --print-interpreter "$path")
    ldd "$path" | awk '$2 == "=>" && $3 ~ /^\// {{ print $3 }}' | while read -r lib; do
      cp -L -n "$lib" "$out/lib/"
    done
    patchelf --set-interpreter {MOUNT}/lib/ld.so --force-rpath --set-rpath {MOUNT}/lib \
      "$out/$package/$program"
  done
done
[ -z "$loader" ] || cp -L "$loader" "$out/lib/ld.so"
"""

# Where the unpack step mounts :func:`native_tools` for :data:`SELECT`.
BUILT = "/run/native-tools"

# For the unpack step (native, the image's root at /target, the tools at BUILT): writes
# /meta/native (bin/ and lib/) with the programs of the packages the image holds at the same
# version; empty for an image of the engine's own architecture.
SELECT = rf"""
select_native_tools() {{
  mkdir -p /meta/native/bin
  image_arch=$(dpkg-query --admindir=/target/var/lib/dpkg -W -f '${{Architecture}}' dpkg \
    2>/dev/null) || return 0
  [ "$image_arch" != "$(dpkg --print-architecture)" ] || return 0
  while read -r package version; do
    theirs=$(dpkg-query --admindir=/target/var/lib/dpkg -W -f '${{Version}}\n' "$package" \
      2>/dev/null | head -n 1)
    [ "$theirs" = "$version" ] || continue
    cp -a "{BUILT}/$package/." /meta/native/bin/
  done < {BUILT}/versions
  [ -z "$(ls /meta/native/bin)" ] || cp -a {BUILT}/lib /meta/native/lib
}}
"""


def native_tools(tools_image: str) -> dagger.Directory:
    """The engine platform's builds of :data:`NATIVE_TOOLS`, patched to run from
    :data:`MOUNT` in any image, with their versions (a cached step)."""
    builder = with_apt_packages(
        tools_container(tools_image), ("patchelf",), f"patchelf-{tools_image}"
    )
    entries = " ".join(f"{package}={','.join(tools)}" for package, tools in NATIVE_TOOLS.items())
    return (
        builder.with_env_variable("NATIVE_TOOLS", entries)
        .with_exec(["sh", "-c", _BUILD])
        .directory("/native")
    )
