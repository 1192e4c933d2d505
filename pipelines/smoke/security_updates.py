"""Smoke check and release gate: no pending security updates, without a CVE database.

Installed packages come from the image's dpkg records; the candidates from the Packages index of
the release's security suite for the image's architecture, fetched by apt in the native tools
container (so the index's signature is checked against Debian's archive keys) when the check
runs: the fetch is cached for the current UTC hour only, so a release never judges an image by a
stale index. A package older than the suite's version is a pending fix.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import anyio
import dagger

from pipelines.cache_race import is_cache_race
from pipelines.catalog.variant import SecurityUpdatesTest
from pipelines.smoke.apt_sources import (
    AptSource,
    codename,
    deb822_sources,
    is_security_suite,
    one_line_sources,
)
from pipelines.smoke.check_result import CheckResult
from pipelines.smoke.debian_version import compare_versions
from pipelines.smoke.dpkg_status import (
    STATUS_DIRECTORY,
    STATUS_FILE,
    InstalledPackage,
    installed_packages,
    main_architecture,
)
from pipelines.tools import tools_container

CHECK = "pending security updates"

# Prints "<package> <version>" for every entry of the suite's Packages indexes (apt-helper
# decompresses whatever apt stored).
_FETCH_INDEX = r"""
set -eu
mkdir -p /w/lists/partial
printf '%s\n' "$SOURCES" > /w/sources.list
dpkg --add-architecture "$ARCH"
APT="-o Dir::Etc::SourceList=/w/sources.list -o Dir::Etc::SourceParts=/dev/null \
 -o Dir::State::Lists=/w/lists -o Acquire::Languages=none -qq"
apt-get $APT --error-on=any update >&2
files=$(apt-get $APT indextargets --format '$(FILENAME)' "Created-By: Packages" \
  "Architecture: $ARCH")
[ -n "$files" ] || { echo "error: no Packages index for $ARCH in: $SOURCES" >&2; exit 1; }
for f in $files; do
  [ -e "$f" ] || { echo "error: apt did not fetch $f" >&2; exit 1; }
  /usr/lib/apt/apt-helper cat-file "$f"
done | awk '/^Package:/ {p = $2} /^Version:/ {print p, $2}'
"""


class SecurityCheckError(Exception):
    """The check could not be run (no dpkg records, no security suite, no index)."""


@dataclass(frozen=True)
class PendingUpdate:
    """An installed package older than the security suite's version."""

    package: str
    installed: str
    fixed: str

    def __str__(self) -> str:
        return f"{self.package} {self.installed} < {self.fixed}"


def newest_versions(index_lines: Iterable[str]) -> dict[str, str]:
    """Package -> its newest version, from ``<package> <version>`` lines."""
    newest: dict[str, str] = {}
    for line in index_lines:
        parts = line.split()
        if len(parts) != 2:
            continue
        name, version = parts
        if name not in newest or compare_versions(version, newest[name]) > 0:
            newest[name] = version
    return newest


def pending_updates(
    installed: Iterable[InstalledPackage], candidates: Mapping[str, str], architecture: str
) -> list[PendingUpdate]:
    """Installed packages of ``architecture`` (or ``all``) older than their candidate."""
    pending = [
        PendingUpdate(p.name, p.version, candidates[p.name])
        for p in installed
        if p.architecture in (architecture, "all", "")
        and p.name in candidates
        and compare_versions(p.version, candidates[p.name]) < 0
    ]
    return sorted(pending, key=lambda u: u.package)


async def _read(ctr: dagger.Container, path: str) -> str:
    return await ctr.file(path).contents()


async def dpkg_records(ctr: dagger.Container) -> list[str]:
    """The texts of the image's dpkg records: the status file and every status.d file."""
    records: list[str] = []
    if await ctr.exists(STATUS_FILE):
        records.append(await _read(ctr, STATUS_FILE))
    if await ctr.exists(STATUS_DIRECTORY):
        names = sorted(await ctr.directory(STATUS_DIRECTORY).entries())
        texts = [""] * len(names)

        async def one(index: int, name: str) -> None:
            texts[index] = await _read(ctr, f"{STATUS_DIRECTORY}/{name}")

        async with anyio.create_task_group() as group:
            for index, name in enumerate(names):
                group.start_soon(one, index, name)
        records += texts
    if not records:
        raise SecurityCheckError(f"no dpkg records: neither {STATUS_FILE} nor {STATUS_DIRECTORY}")
    return records


async def image_security_sources(ctr: dagger.Container) -> list[AptSource]:
    """The security entries of the image's apt sources."""
    found: list[AptSource] = []
    if await ctr.exists("/etc/apt/sources.list"):
        found += one_line_sources(await _read(ctr, "/etc/apt/sources.list"))
    if await ctr.exists("/etc/apt/sources.list.d"):
        for name in sorted(await ctr.directory("/etc/apt/sources.list.d").entries()):
            path = f"/etc/apt/sources.list.d/{name}"
            if name.endswith(".list"):
                found += one_line_sources(await _read(ctr, path))
            elif name.endswith(".sources"):
                found += deb822_sources(await _read(ctr, path))
    security = [s for s in found if is_security_suite(s.suite)]
    if not security:
        raise SecurityCheckError(
            "the image's apt sources have no security suite ('-security' or '/updates')"
        )
    return security


async def security_sources(ctr: dagger.Container, test: SecurityUpdatesTest) -> list[AptSource]:
    """Where the check takes its candidates from, as the catalog says."""
    if test.from_image_sources:
        return await image_security_sources(ctr)
    suite = test.suite
    if suite is None:
        release = (
            codename(await _read(ctr, "/etc/os-release"))
            if await ctr.exists("/etc/os-release")
            else None
        )
        if release is None:
            raise SecurityCheckError(
                "no VERSION_CODENAME in /etc/os-release: set tests.security_updates.suite"
            )
        suite = f"{release}-security"
    return [AptSource(test.mirror, suite, tuple(test.components))]


def index_freshness() -> str:
    """The current UTC hour: the index fetch is a cached step keyed by it."""
    return time.strftime("%Y-%m-%dT%H", time.gmtime())


async def security_candidates(
    sources: list[AptSource], architecture: str, tools_image: str
) -> dict[str, str]:
    """Package -> newest version in the security suites, fetched (and verified) by apt."""
    listing = "\n".join(source.line(architecture) for source in sources)
    try:
        out = await (
            tools_container(tools_image)
            .with_env_variable("SOURCES", listing)
            .with_env_variable("ARCH", architecture)
            .with_env_variable("INDEX_FRESHNESS", index_freshness())
            .with_exec(["sh", "-c", _FETCH_INDEX])
            .stdout()
        )
    except dagger.ExecError as exc:
        raise SecurityCheckError(
            f"cannot fetch the security index ({listing}): {exc.stderr.strip()[-600:]}"
        ) from None
    return newest_versions(out.splitlines())


async def check_security_updates(
    ctr: dagger.Container, test: SecurityUpdatesTest, platform: str, tools_image: str
) -> CheckResult:
    """Fails naming every installed package older than its security suite's version; also fails
    (closed) when the records or the index cannot be read."""
    try:
        installed = installed_packages(await dpkg_records(ctr))
        architecture = main_architecture(installed) or platform.split("/")[1]
        sources = await security_sources(ctr, test)
        candidates = await security_candidates(sources, architecture, tools_image)
    except (SecurityCheckError, dagger.QueryError) as exc:
        if is_cache_race(exc):
            raise
        return CheckResult(CHECK, False, f"cannot check: {exc}")
    suites = ", ".join(sorted({s.suite for s in sources}))
    pending = pending_updates(installed, candidates, architecture)
    if pending:
        listed = "; ".join(str(update) for update in pending)
        return CheckResult(CHECK, False, f"{len(pending)} pending in {suites}: {listed}")
    updated = sorted(p.name for p in installed if p.name in candidates)
    detail = f"0 of {len(installed)} packages pending in {suites} ({architecture})"
    if updated:
        detail += f"; {len(updated)} at the suite's version: {' '.join(updated)}"
    return CheckResult(CHECK, True, detail[:400])
