"""Locked Debian packages as a directory of verified .deb files.

One step downloads every package of a set (from the list of URLs the lock gives, mirrors
applied), checks each sha256 against the lock and writes the files to its output only if all
of them match: one cached step per set, so a warm build asks the engine one question per set,
not one per package.
"""

from __future__ import annotations

from collections.abc import Sequence

import dagger
from dagger import dag

from pipelines.catalog.mirrors import Mirror, apply_mirrors
from pipelines.catalog.packages_lock import LockedPackage
from pipelines.tools import tools_container

_VERIFY = r"""
set -u
mkdir -p /in && cd /in
# "url file" lines: four downloads at a time, each retried; a missing one is named
fetch='curl -fsSL --retry 3 --retry-delay 2 -o "$2" "$1" ||
  { echo "error: $1: download failed" >&2; exit 255; }'
if ! awk '{print $1; print $2}' /lock.urls | xargs -n2 -P4 sh -c "$fetch" fetch; then
  echo "error: a locked package cannot be downloaded (the mirror dropped it): run lock again" >&2
  exit 1
fi
if ! sha256sum --quiet -c /lock.sha256 > /tmp/check 2>&1; then
  sed -n 's/: FAILED.*$//p' /tmp/check | while read -r file; do
    echo "error: $file: sha256 differs from packages.lock.toml (the mirror changed it): run lock"
  done >&2
  exit 1
fi
mkdir -p /out && cp ./*.deb /out/
"""


def verified_debs(
    packages: Sequence[LockedPackage],
    *,
    tools_image: str,
    mirrors: Sequence[Mirror] = (),
) -> dagger.Directory:
    """The .deb files of ``packages``, each checked against its locked sha256 (lazy)."""
    urls = "".join(f"{apply_mirrors(p.url, mirrors)} {p.filename}\n" for p in packages)
    sums = "".join(f"{p.sha256}  {p.filename}\n" for p in packages)
    return (
        tools_container(tools_image)
        .with_new_file("/lock.urls", urls)
        .with_new_file("/lock.sha256", sums)
        .with_exec(["sh", "-c", _VERIFY])
        .directory("/out")
    )


async def failed_package(
    packages: Sequence[LockedPackage], mirrors: Sequence[Mirror] = ()
) -> str | None:
    """After a build failed on a download, the locked package that cannot be downloaded (the
    mirror dropped a superseded version: the lock is stale), or None."""
    for package in packages:
        url = apply_mirrors(package.url, mirrors)
        try:
            await dag.http(url).size()
        except dagger.QueryError as exc:
            lines = str(exc).strip().splitlines()
            why = lines[0] if lines else type(exc).__name__
            return (
                f"{package.name} {package.version} ({package.architecture}): download failed: "
                f"{url}: {why}; the mirror no longer serves the locked version: run lock again"
            )
    return None
