"""Scanning an image for vulnerabilities with Trivy, against a DB that can be kept offline.

The image is read from its registry (:func:`scan`) or, before anything is pushed, from its OCI
tarball in the engine (:func:`scan_archive`, what a release's gate does).

The vulnerability DB comes from one of:

- ``db``: a directory holding ``trivy.db`` and ``metadata.json`` (an unpacked Trivy DB); the
  scan then makes no network call at all;
- ``db_repository``: an OCI repository Trivy downloads its DB from (a mirror of
  ``ghcr.io/aquasecurity/trivy-db:2``, e.g. in a private registry);
- neither: Trivy's default repositories (needs the internet).

The scan itself never fails the pipeline: the gate does, in Python, from the JSON report.
"""

from __future__ import annotations

import dagger
from dagger import dag

from pipelines.errors import InputError
from pipelines.release.errors import ScanGateFailed
from pipelines.release.references import is_pinned
from pipelines.release.registry_access import RegistryAccess
from pipelines.release.scan_report import (
    GateSeverity,
    ScanReport,
    check_gate_severity,
    parse_trivy_report,
)
from pipelines.release.tool_container import OUTPUT_DIR, WORK_DIR, ToolContainer, tool_container
from pipelines.release.tool_images import DEFAULT_TRIVY_IMAGE

CACHE_DIR = "/run/release-tools/trivy-cache"
DB_FILES = ("trivy.db", "metadata.json")
REPORT_PATH = f"{OUTPUT_DIR}/trivy.json"
ARCHIVE_PATH = f"{WORK_DIR}/image.tar"


async def check_db_directory(db: dagger.Directory) -> None:
    """Raise :class:`InputError` unless ``db`` holds an unpacked Trivy DB."""
    entries = set(await db.entries())
    missing = [name for name in DB_FILES if name not in entries]
    if missing:
        raise InputError(
            f"the vulnerability DB directory lacks {', '.join(missing)}: it must hold an "
            f"unpacked Trivy DB ({' and '.join(DB_FILES)}); it has: {', '.join(sorted(entries))}"
        )


def db_flags(
    trivy: ToolContainer, db: dagger.Directory | None, db_repository: str | None
) -> tuple[ToolContainer, list[str]]:
    """Mount or point at the vulnerability DB; return the container and Trivy's flags for it."""
    cache = trivy.container.with_mounted_directory(CACHE_DIR, dag.directory(), owner=trivy.owner)
    trivy = trivy.replace(cache)
    if db is not None:
        trivy = trivy.replace(
            trivy.container.with_mounted_directory(f"{CACHE_DIR}/db", db, owner=trivy.owner)
        )
        return trivy, ["--skip-db-update", "--skip-java-db-update", "--offline-scan"]
    flags = ["--skip-java-db-update"]
    if db_repository is not None:
        flags += ["--db-repository", trivy.ref(db_repository)]
    return trivy.uncached(), flags  # the repository's DB changes: never reuse an old scan


async def scan(
    image_ref: str,
    *,
    scanner_image: str = DEFAULT_TRIVY_IMAGE,
    db: dagger.Directory | None = None,
    db_repository: str | None = None,
    fail_on: GateSeverity | None = "CRITICAL",
    platform: str | None = None,
    timeout: str = "10m",
    registry: RegistryAccess | None = None,
) -> ScanReport:
    """Scan ``image_ref`` (read from its registry) for vulnerable OS and language packages.

    ``fail_on`` is the gate: LOW, MEDIUM, HIGH or CRITICAL (findings at or above it fail the
    scan with :class:`ScanGateFailed`, which carries the report), or None to only report.
    ``db`` and ``db_repository`` choose the vulnerability DB (see the module's docstring);
    JAR files are not checked against Trivy's separate Java DB. ``platform`` picks an image
    of an index. Raises :class:`InputError` for a bad threshold or DB before running anything.
    """
    gate = await _check_inputs(fail_on, db, db_repository)
    access = registry or RegistryAccess()
    refs = [image_ref, *([db_repository] if db_repository else [])]
    trivy = await tool_container("trivy", scanner_image, refs, access)
    if not is_pinned(image_ref):
        trivy = trivy.uncached()  # a tag may point elsewhere by now
    source = [
        "--image-src",
        "remote",
        *(["--insecure"] if trivy.insecure else []),
        *(["--platform", platform] if platform else []),
        trivy.ref(image_ref),
    ]
    return await _run_trivy(trivy, source, image_ref, gate, db, db_repository, timeout)


async def scan_archive(
    tarball: dagger.File,
    name: str,
    *,
    scanner_image: str = DEFAULT_TRIVY_IMAGE,
    db: dagger.Directory | None = None,
    db_repository: str | None = None,
    fail_on: GateSeverity | None = "CRITICAL",
    timeout: str = "10m",
    registry: RegistryAccess | None = None,
) -> ScanReport:
    """Scan one platform image from its OCI tarball (``Container.as_tarball()``): no registry
    holds it yet. ``name`` names it in the report (e.g. the ``repo@digest`` it will have);
    the other arguments are :func:`scan`'s (``registry``: to reach ``db_repository``)."""
    gate = await _check_inputs(fail_on, db, db_repository)
    access = registry or RegistryAccess()
    refs = [db_repository] if db_repository else []
    trivy = await tool_container("trivy", scanner_image, refs, access)
    trivy = trivy.with_file(ARCHIVE_PATH, tarball)
    source = [*(["--insecure"] if trivy.insecure else []), "--input", ARCHIVE_PATH]
    return await _run_trivy(trivy, source, name, gate, db, db_repository, timeout)


async def _check_inputs(
    fail_on: GateSeverity | None, db: dagger.Directory | None, db_repository: str | None
) -> GateSeverity | None:
    gate = check_gate_severity(fail_on)
    if db is not None and db_repository is not None:
        raise InputError("give the vulnerability DB as a directory or a repository, not both")
    if db is not None:
        await check_db_directory(db)
    return gate


async def _run_trivy(
    trivy: ToolContainer,
    source: list[str],
    name: str,
    gate: GateSeverity | None,
    db: dagger.Directory | None,
    db_repository: str | None,
    timeout: str,
) -> ScanReport:
    trivy, flags = db_flags(trivy.with_output_dir(), db, db_repository)
    args = [
        "image",
        "--scanners",
        "vuln",
        "--format",
        "json",
        "--output",
        REPORT_PATH,
        "--exit-code",
        "0",
        "--cache-dir",
        CACHE_DIR,
        "--disable-telemetry",
        "--skip-version-check",
        "--no-progress",
        "--timeout",
        timeout,
        *flags,
        *source,
    ]
    ran = await trivy.run(args, action="scan", subject=name)
    report = parse_trivy_report(name, await ran.file(REPORT_PATH).contents(), gate)
    if not report.passed:
        raise ScanGateFailed(report)
    return report
