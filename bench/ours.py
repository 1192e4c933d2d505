"""The pipeline's half: the lock step, then timed ``build-all`` sessions, with reproducible
image digests.

Each run is one Dagger session, as one ``scripts/build-all`` invocation is: connecting, then
the image set's plans (one for the default matrix) built and smoke-tested concurrently. After
the timed session, a second one makes every variant's reproducible OCI tarball (what
``export-all`` writes), exports it under the run's directory and reads it: its per-platform
manifest digests are the image digests the bench compares (two cold runs, warm against
rebuild).
"""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import anyio
import dagger
from dagger import dag

from bench.inputs import Inputs
from bench.layers import ImageDigest, image_digests
from bench.matrix import LEGACY, ImageSet, debian_based, package_sets
from pipelines.catalog.loader import load_family
from pipelines.oci.reproducible import reproducible_tarball
from pipelines.pins import lock_packages
from pipelines.plan import BuildPlan, plan
from pipelines.results import BuildResult, TargetResult
from pipelines.run import build_and_test, build_target
from tests.engine.family import LEGACY_RELEASE, TOOLS_IMAGE, mirrors

# An exec that took at least this long really ran (cache hits resolve in ~0.0 s).
RAN_THRESHOLD_SECONDS = 0.5
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_EXEC_START = re.compile(r"^(\d+)\s*:[\s┆]*withExec (.*)$")
_EXEC_END = re.compile(
    r"^(\d+)\s*:[\s┆]*Container\.withExec (DONE|CACHED|ERROR) \[([0-9.]+)(m?s)\]"
)


@dataclass(frozen=True)
class OursTarget:
    """One image of one run."""

    variant: str
    platform: str
    seconds: float
    passed: bool
    debian_based: bool  # built on a Debian image (apt, dpkg), not distroless
    uncompressed: int | None
    compressed: int | None
    digest: str | None = None  # manifest digest in the reproducible tarball
    content: str | None = None  # digest of the layers' diff_ids: the files alone
    error: str | None = None


@dataclass(frozen=True)
class ExecSteps:
    """What the engine's progress log says about the run's ``withExec`` steps."""

    ran: tuple[str, ...] = ()  # commands (first line, shortened) that really executed
    cached: int = 0


@dataclass(frozen=True)
class OursRun:
    """One timed ``build-all`` session."""

    label: str
    image_set: str  # "full" or "subset"
    seconds: float  # the whole session: connect, build, smoke tests, sizes
    targets: tuple[OursTarget, ...]
    steps: ExecSteps = field(default_factory=ExecSteps)
    log: str = ""
    tarballs: str | None = None  # directory of the reproducible tarballs (<variant>.tar)
    epoch: int = 0  # the times in those tarballs (the package lock's date)
    digest_seconds: float | None = None  # making and reading them (not timed as build-all)

    @property
    def passed(self) -> bool:
        """Every image built and passed its smoke tests."""
        return bool(self.targets) and all(t.passed for t in self.targets)

    def digests(self) -> dict[tuple[str, str], str | None]:
        """Image digest per (variant, platform)."""
        return {(t.variant, t.platform): t.digest for t in self.targets}

    def target(self, variant: str, platform: str) -> OursTarget | None:
        """The result of one image, if the run has it."""
        found = [t for t in self.targets if (t.variant, t.platform) == (variant, platform)]
        return found[0] if found else None


@dataclass(frozen=True)
class LockRun:
    """The lock step: every Debian package set of the image set resolved against the mirror."""

    seconds: float
    sets: int  # package sets resolved (variant, base, platform)
    date: str  # the lock's date: the reproducible tarballs' times
    pruned: bool  # run on an emptied engine cache
    log: str = ""


def plans(catalog: Path, version: str, base_url: str, image_set: ImageSet) -> list[BuildPlan]:
    """One build plan per group of ``image_set``, reading the catalog's current lock files;
    the legacy loader on :data:`LEGACY_RELEASE`."""
    family = load_family(catalog)
    urls = mirrors(base_url)
    return [
        plan(
            family,
            variants=list(group.variants) if group.variants is not None else None,
            platforms=list(group.platforms),
            params=[f"release={LEGACY_RELEASE}"] if group.has(LEGACY) else [],
            version=version,
            mirrors=urls,
        )
        for group in image_set.groups
    ]


def without(build_plan: BuildPlan, images: frozenset[tuple[str, str]]) -> BuildPlan:
    """``build_plan`` less the targets whose (variant, platform) is in ``images``."""
    kept = tuple(t for t in build_plan.targets if (t.variant, t.platform) not in images)
    return (
        build_plan
        if len(kept) == len(build_plan.targets)
        else build_plan.model_copy(update={"targets": kept})
    )


async def lock(
    inputs: Inputs, base_url: str, image_set: ImageSet, logs: Path, *, pruned: bool
) -> LockRun:
    """Run the pipeline's lock step for every plan of ``image_set`` (one after the other, each
    merged into the catalog copy's packages.lock.toml) in one timed session."""
    logs.mkdir(parents=True, exist_ok=True)
    log_path = logs / "ours-lock.log"
    lock_plans = plans(inputs.catalog, inputs.version, base_url, image_set)
    with log_path.open("w") as log:
        started = time.monotonic()
        async with dagger.connection(dagger.Config(log_output=log, timeout=None)):
            for build_plan in lock_plans:
                current = load_family(inputs.catalog).packages_lock  # with the sets just locked
                text = await lock_packages(
                    build_plan,
                    dag.host().directory(str(inputs.catalog)),
                    current,
                    tools_image=TOOLS_IMAGE,
                )
                (inputs.catalog / "packages.lock.toml").write_text(text)
        seconds = time.monotonic() - started
    date = load_family(inputs.catalog).packages_lock.date or "-"
    sets = len(package_sets(lock_plans))
    return LockRun(round(seconds, 2), sets, date, pruned, str(log_path))


def _target(result: TargetResult, digest: ImageDigest | None) -> OursTarget:
    size = result.report.size if result.report is not None else None
    return OursTarget(
        variant=result.target.variant,
        platform=result.target.platform,
        seconds=round(result.seconds, 2),
        passed=result.passed,
        debian_based=debian_based(result.target),
        uncompressed=size.uncompressed if size is not None else None,
        # the run measures unpacked sizes only (build-all's default): the gzip size is read from
        # export-all's tarball of the same image, made after the timed run
        compressed=size.compressed
        if size is not None and size.compressed is not None
        else (digest.compressed if digest else None),
        digest=digest.digest if digest else None,
        content=digest.content if digest else None,
        error=None if result.passed else (result.error or "smoke tests failed")[-2000:],
    )


def exec_steps(log_text: str) -> ExecSteps:
    """The ``withExec`` steps that ran and how many were cache hits, from a plain progress log.

    The log reprints a span while it runs; the last status and longest duration count.
    """
    commands: dict[str, str] = {}
    status: dict[str, tuple[str, float]] = {}
    for raw in log_text.splitlines():
        line = _ANSI.sub("", raw)
        if start := _EXEC_START.match(line):
            command = start[2].replace("\\n", " ").removesuffix(" (expect: ANY)")
            commands[start[1]] = " ".join(command.split())[:90]
        elif end := _EXEC_END.match(line):
            seconds = float(end[3]) / (1000 if end[4] == "ms" else 1)
            previous = status.get(end[1], ("", 0.0))[1]
            status[end[1]] = (end[2], max(seconds, previous))
    ran = tuple(
        commands.get(span, "?")
        for span, (state, seconds) in status.items()
        if state != "CACHED" and seconds >= RAN_THRESHOLD_SECONDS
    )
    cached = sum(1 for state, _ in status.values() if state == "CACHED")
    return ExecSteps(ran=ran, cached=cached)


async def export_tarballs(
    inputs: Inputs,
    build_plans: Sequence[BuildPlan],
    passed: set[tuple[str, str]],
    out: Path,
    log_path: Path,
) -> dict[tuple[str, str], ImageDigest]:
    """Every variant's reproducible tarball (export-all's: its ``passed`` platforms, in plan
    order) exported to ``out/<variant>.tar``; returns the image digests by (variant, platform).

    A session of its own, after the timed one, so that its steps stay out of the timed run's
    log and exec counts: the containers are the same calls on the same catalog, so every
    build step is a cache hit and only the tarball steps run.
    """
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    epoch = build_plans[0].source_date_epoch
    variants: list[str] = []
    with log_path.open("w") as log:
        async with dagger.connection(dagger.Config(log_output=log, timeout=None)):
            catalog = dag.host().directory(str(inputs.catalog))
            by_variant: dict[str, list[dagger.Container]] = {}
            for build_plan in build_plans:
                for target in build_plan.targets:
                    if (target.variant, target.platform) in passed:
                        ctr = await build_target(
                            build_plan, target, catalog, tools_image=TOOLS_IMAGE
                        )
                        by_variant.setdefault(target.variant, []).append(ctr)
            variants = list(by_variant)

            async def one(variant: str, containers: list[dagger.Container]) -> None:
                tarball = reproducible_tarball(containers, epoch, TOOLS_IMAGE)
                await tarball.export(str(out / f"{variant}.tar"))

            async with anyio.create_task_group() as group:
                for variant, containers in by_variant.items():
                    group.start_soon(one, variant, containers)
    found: dict[tuple[str, str], ImageDigest] = {}
    for variant in variants:
        digests = await anyio.to_thread.run_sync(image_digests, out / f"{variant}.tar")
        for platform, digest in digests.items():
            found[(variant, platform)] = digest
    return found


async def build_all(
    label: str,
    inputs: Inputs,
    base_url: str,
    image_set: ImageSet,
    work: Path,
    *,
    digests: bool = True,
    leave_out: frozenset[tuple[str, str]] = frozenset(),
) -> OursRun:
    """One timed session: ``build-all`` of ``image_set``'s plans, less the (variant, platform)
    images of ``leave_out``; then (untimed, in a session of its own) the reproducible tarballs
    under ``work/tarballs/<label>`` and their digests."""
    logs = work / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    log_path = logs / f"ours-{label}.log"
    build_plans = [
        without(p, leave_out) for p in plans(inputs.catalog, inputs.version, base_url, image_set)
    ]
    results: list[BuildResult | None] = [None] * len(build_plans)
    with log_path.open("w") as log:
        started = time.monotonic()
        async with dagger.connection(dagger.Config(log_output=log, timeout=None)):
            catalog = dag.host().directory(str(inputs.catalog))

            async def one(index: int, build_plan: BuildPlan) -> None:
                results[index] = await build_and_test(build_plan, catalog, tools_image=TOOLS_IMAGE)

            async with anyio.create_task_group() as group:
                for index, build_plan in enumerate(build_plans):
                    group.start_soon(one, index, build_plan)
            seconds = time.monotonic() - started
    done = [t for r in results if r is not None for t in r.targets]
    tarballs = work / "tarballs" / label
    found: dict[tuple[str, str], ImageDigest] = {}
    digest_seconds = None
    if digests:
        digest_started = time.monotonic()
        passed = {(t.target.variant, t.target.platform) for t in done if t.passed}
        tarball_log = logs / f"ours-{label}-tarballs.log"
        found = await export_tarballs(inputs, build_plans, passed, tarballs, tarball_log)
        digest_seconds = round(time.monotonic() - digest_started, 2)
    return OursRun(
        label=label,
        image_set=image_set.name,
        seconds=round(seconds, 2),
        targets=tuple(_target(t, found.get((t.target.variant, t.target.platform))) for t in done),
        steps=exec_steps(log_path.read_text(errors="replace")),
        log=str(log_path),
        tarballs=str(tarballs) if digests else None,
        epoch=build_plans[0].source_date_epoch,
        digest_seconds=digest_seconds,
    )


async def engine_version(logs: Path) -> str:
    """The engine's version, as the engine reports it."""
    logs.mkdir(parents=True, exist_ok=True)
    with (logs / "ours-version.log").open("w") as log:
        async with dagger.connection(dagger.Config(log_output=log, timeout=None)):
            return await dag.version()


async def prune_engine_cache(logs: Path) -> float:
    """Empty the engine's local cache (every releasable entry); returns the seconds it took.

    Only the engine's cache: the registry, and so the base images, stay as they are.
    """
    logs.mkdir(parents=True, exist_ok=True)
    with (logs / "ours-prune.log").open("a") as log:
        started = time.monotonic()
        async with dagger.connection(dagger.Config(log_output=log, timeout=None)):
            await dag.engine().local_cache().prune()
        return round(time.monotonic() - started, 2)


# The catalog file the rebuild changes: held by both loaders (the legacy one copies it too);
# which images hold it is read from the plans (bench.matrix.holders).
REBUILD_FILE = Path("variants") / "falco-driver-loader" / "files" / "docker-entrypoint.sh"


def change_one_file(inputs: Inputs) -> str:
    """Append a unique comment to the loader's entrypoint in the catalog copy; returns the
    file's path relative to the catalog (unique, so the rebuild never hits an old cache)."""
    path = inputs.catalog / REBUILD_FILE
    with path.open("a") as script:
        script.write(f"# bench rebuild marker {time.time_ns()}\n")
    return REBUILD_FILE.as_posix()
