"""Resolve a layer's Debian packages exactly, with apt running natively whatever the target
architecture: apt reads the target root's package database and sources (copied from the base),
is told the target architecture, and answers what it would install — every package with its
version, URL and the sha256 from the release's signed Packages index. Nothing is installed.

Installed packages that have updates in the sources (e.g. the release's security suite) are
upgraded too, so the image carries no pending security update. Resolution always reads the
mirror afresh (``refresh`` keeps the engine from reusing an earlier answer).
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass

import dagger
from dagger import dag

from pipelines.catalog.packages_lock import LockedPackage
from pipelines.catalog.variant import DistrolessBase, Install
from pipelines.debian.sources import packages_for_script, sources_script
from pipelines.errors import PipelineError
from pipelines.platforms import arch_of


class ResolveError(PipelineError):
    """apt could not resolve a package set (unknown package, conflicts, unreachable mirror)."""


@dataclass(frozen=True)
class Resolved:
    """The answer of one resolution: the base's Debian release and the packages, sorted."""

    release: str
    packages: tuple[LockedPackage, ...]


# Reads candidates' Filename/SHA256 with apt-cache and full URLs from --print-uris, then prints
# one "name version architecture url sha256" line per package of $W/wanted ("name=version").
_DESCRIBE = r"""
: > "$W/resolved"
apt-get $APT download --print-uris $(cat "$W/wanted") > "$W/uris"
while read -r spec; do
  info=$(apt-cache $APT show --no-all-versions "$spec")
  field() { printf '%s\n' "$info" | sed -n "s/^$1: //p" | head -1; }
  file=$(basename "$(field Filename)")
  url=$(awk -v f="$file" '{gsub("'"'"'", "", $1); n = split($1, p, "/"); b = p[n]
    gsub(/%2[bB]/, "+", b); gsub(/%7[eE]/, "~", b)} b == f {print $1}' "$W/uris" | head -1)
  [ -n "$url" ] || { echo "error: no URL for $spec ($file)" >&2; exit 1; }
  echo "$(field Package) $(field Version) $(field Architecture) $url $(field SHA256)" \
    >> "$W/resolved"
done < "$W/wanted"
"""

_APT = (
    '-o APT::Architecture="$arch" -o APT::Architectures::="$arch" '
    '-o Dir::State::status="$W/status" -o Dir::Etc::SourceList="$W/sources.list" '
    '-o Dir::Etc::SourceParts="$W/parts" -o Dir::State::Lists="$W/lists" '
    '-o Dir::Cache="$W/cache" -o Debug::NoLocking=1 -o Acquire::Languages=none'
)

_LAYER = r"""
set -eu
W=/w; mkdir -p $W/lists/partial $W/cache/archives/partial $W/parts
cp /target/var/lib/dpkg/status "$W/status"
codename=$(. /target/etc/os-release && echo "${VERSION_CODENAME:-}")
[ -n "$codename" ] || { echo "error: the base image names no Debian release" >&2; exit 1; }
echo "$codename" > "$W/release"
if ! layer_sources; then
  cp /target/etc/apt/sources.list "$W/sources.list" 2>/dev/null || : > "$W/sources.list"
  cp /target/etc/apt/sources.list.d/* "$W/parts/" 2>/dev/null || true
fi
more=""
packages_for
APT="__APT__"
apt-get $APT update -qq
upgrades=$(apt-get $APT -s --with-new-pkgs upgrade | awk '/^Inst /{print $2}')
locals=""
set -- /debs/*.deb
[ -e "$1" ] || set --
for deb in "$@"; do locals="$locals $(dpkg-deb -f "$deb" Package)"; done
apt-get $APT install -s --no-install-recommends $PACKAGES $more $upgrades "$@" \
  > "$W/simulation" 2>&1 || { cat "$W/simulation" >&2; exit 1; }
# "Inst name [old] (new Origin:suite [arch])", possibly followed by " []" annotations
sed -n 's/^Inst \([^ ]*\) \(\[[^]]*\] \)\{0,1\}(\([^ ]*\) [^[]*\[\([^]]*\)\]).*$/\1 \3 \4/p' \
  "$W/simulation" | while read -r name version arch; do
    name=${name%%:*}
    case " $locals " in *" $name "*) continue;; esac
    echo "$name:$arch=$version"
  done > "$W/wanted"
unread=$(grep '^Inst ' "$W/simulation" \
  | grep -Ev '^Inst [^ ]+ (\[[^]]*\] )?\([^ ]+ [^[]*\[[^]]*\]\)' || true)
[ -z "$unread" ] || { echo "error: could not read apt's plan: $unread" >&2; exit 1; }
""".replace("__APT__", _APT)

_DISTROLESS = r"""
set -eu
W=/w; mkdir -p $W/lists/partial $W/cache/archives/partial $W/parts
: > "$W/status"
echo "$RELEASE" > "$W/release"
{
  echo "deb $MIRROR $RELEASE main"
  echo "deb $MIRROR $RELEASE-updates main"
  echo "deb $SECURITY_MIRROR $RELEASE-security main"
} > "$W/sources.list"
APT="__APT__"
apt-get $APT update -qq
: > "$W/wanted"
for p in $PACKAGES; do
  # Architecture: all packages have no candidate under the :$arch qualifier
  for spec in "$p:$arch" "$p:all"; do
    version=$(apt-cache $APT show --no-all-versions "$spec" 2>/dev/null | sed -n 's/^Version: //p')
    [ -n "$version" ] && { echo "$spec=$version" >> "$W/wanted"; break; }
  done
  grep -q "^$p:" "$W/wanted" || { echo "error: no package $p for $arch in $RELEASE" >&2; exit 1; }
done
""".replace("__APT__", _APT)


def _parse(lines: str) -> tuple[LockedPackage, ...]:
    packages = []
    for line in lines.splitlines():
        if not line.strip():
            continue
        name, version, architecture, url, sha256 = line.split()
        packages.append(
            LockedPackage(
                name=name, version=version, architecture=architecture, url=url, sha256=sha256
            )
        )
    return tuple(sorted(packages, key=lambda p: (p.name, p.architecture)))


async def _run(step: dagger.Container, what: str) -> Resolved:
    try:
        out = step.with_exec(["sh", "-c", f'W=/w; arch=$ARCH; APT="{_APT}"\n{_DESCRIBE}'])
        release = (await out.file("/w/release").contents()).strip()
        resolved = await out.file("/w/resolved").contents()
    except dagger.ExecError as exc:
        detail = "\n".join(
            line for line in f"{exc.stdout}\n{exc.stderr}".splitlines() if line.strip()
        )
        raise ResolveError(
            f"{what}: apt could not resolve the packages:\n{detail[-3000:]}"
        ) from None
    return Resolved(release, _parse(resolved))


async def resolve_layer(
    tools: dagger.Container,
    target: dagger.Directory,
    platform: str,
    install: Install,
    local_debs: Sequence[tuple[str, dagger.File]],
    *,
    what: str,
    refresh: str,
) -> Resolved:
    """The packages a Debian layer installs on ``target`` (the root filesystem it is built on):
    ``install.apt_packages``, its ``apt_packages_for`` the target's release, what the
    ``local_debs`` (file name, file) depend on, and the updates of what is installed."""
    step = tools.with_directory("/target", target).with_directory("/debs", dagger_dir(local_debs))
    script = (
        sources_script(install, '"$W/sources.list"')
        + "packages_for() {\n:\n"
        + packages_for_script(install)
        + "}\n"
        + _LAYER
    )
    step = (
        step.with_env_variable("ARCH", arch_of(platform))
        .with_env_variable("PACKAGES", " ".join(shlex.quote(p) for p in install.apt_packages))
        .with_env_variable("REFRESH", refresh)
        .with_exec(["sh", "-c", f"arch=$ARCH\n{script}"])
    )
    return await _run(step, what)


async def resolve_distroless(
    tools: dagger.Container, spec: DistrolessBase, platform: str, *, what: str, refresh: str
) -> Resolved:
    """The exact packages of a distroless root: each listed package (no dependencies are
    added), newest of the release, -updates and -security."""
    step = (
        tools.with_env_variable("ARCH", arch_of(platform))
        .with_env_variable("RELEASE", spec.release)
        .with_env_variable("MIRROR", spec.debian_mirror)
        .with_env_variable("SECURITY_MIRROR", spec.security_mirror)
        .with_env_variable("PACKAGES", " ".join(shlex.quote(p) for p in spec.packages))
        .with_env_variable("REFRESH", refresh)
        .with_exec(["sh", "-c", f"arch=$ARCH\n{_DISTROLESS}"])
    )
    return await _run(step, what)


def dagger_dir(files: Sequence[tuple[str, dagger.File]]) -> dagger.Directory:
    """A directory holding ``files`` under their names."""
    directory = dag.directory()
    for name, file in files:
        directory = directory.with_file(name, file)
    return directory
