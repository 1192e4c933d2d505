"""The pipeline's half: ``build-all`` of the engine tests' target set, timed, with digests.

Each run is one Dagger session, as one ``scripts/build-all`` invocation is: connecting, then
the amd64 plan (every variant, legacy on bullseye) and the arm64 plan (``falco``,
``falco-debian``) built and smoke-tested concurrently. The image digests are read afterwards,
outside the timed part, from the OCI tarballs the smoke tests already measured.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import dagger
from dagger import dag

from bench.inputs import Inputs
from pipelines.catalog.loader import load_family
from pipelines.plan import BuildPlan, plan
from pipelines.results import BuildResult, TargetResult
from pipelines.run import build_and_test
from tests.engine.family import LEGACY_RELEASE, TOOLS_IMAGE, mirrors

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
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
    digest: str | None
    uncompressed: int | None
    compressed: int | None
    error: str | None = None
    created: str | None = None  # the image config's creation time
    layers: str | None = None  # digest of the layer diff_ids (content, without timestamps)


@dataclass(frozen=True)
class ExecSteps:
    """What the engine's progress log says about the run's ``withExec`` steps."""

    ran: tuple[str, ...] = ()  # commands (first line, shortened) that really executed
    cached: int = 0


@dataclass(frozen=True)
class OursRun:
    """One timed ``build-all``."""

    label: str
    seconds: float  # the whole session: connect, build, smoke tests, sizes
    targets: tuple[OursTarget, ...]
    steps: ExecSteps = field(default_factory=ExecSteps)
    log: str = ""

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


def plans(inputs: Inputs, base_url: str) -> list[BuildPlan]:
    """The engine tests' target set: every variant for amd64 (legacy with ``release=bullseye``),
    ``falco`` and ``falco-debian`` for arm64."""
    family = load_family(inputs.catalog)
    urls = mirrors(base_url)
    amd64 = plan(
        family,
        platforms=["linux/amd64"],
        params=[f"release={LEGACY_RELEASE}"],
        version=inputs.version,
        mirrors=urls,
    )
    arm64 = plan(
        family,
        variants=["falco", "falco-debian"],
        platforms=["linux/arm64"],
        version=inputs.version,
        mirrors=urls,
    )
    return [amd64, arm64]


@dataclass(frozen=True)
class ImageId:
    """How an image is identified: its manifest digest, and what the digest is made of."""

    digest: str  # the manifest's digest (what a registry would report)
    created: str | None  # the config's ``created`` time
    layers: str  # sha256 of the config's diff_ids: the content alone, timestamps aside


async def image_id(ctr: dagger.Container) -> ImageId:
    """The manifest digest of ``ctr``'s OCI tarball (gzip layers, as the smoke tests measure
    it), read without a registry, with the config's ``created`` time and layer diff_ids."""
    tarball = ctr.as_tarball(forced_compression=dagger.ImageLayerCompression.Gzip)
    reader = dag.container().from_(TOOLS_IMAGE).with_mounted_file("/image.tar", tarball)

    async def member(name: str) -> dict[str, Any]:
        text = await reader.with_exec(["tar", "-xOf", "/image.tar", name]).stdout()
        loaded: dict[str, Any] = json.loads(text)
        return loaded

    def blob(digest: str) -> str:
        return "blobs/sha256/" + digest.removeprefix("sha256:")

    [manifest] = (await member("index.json"))["manifests"]
    if manifest.get("mediaType") == OCI_INDEX:  # a nested index: take its only manifest
        [manifest] = (await member(blob(manifest["digest"])))["manifests"]
    config = await member(blob((await member(blob(manifest["digest"])))["config"]["digest"]))
    diff_ids = "\n".join(config.get("rootfs", {}).get("diff_ids", []))
    return ImageId(
        digest=str(manifest["digest"]),
        created=config.get("created"),
        layers="sha256:" + hashlib.sha256(diff_ids.encode()).hexdigest(),
    )


async def _target(result: TargetResult) -> OursTarget:
    size = result.report.size if result.report is not None else None
    ident = None
    if result.container is not None and result.error is None:
        ident = await image_id(result.container)
    return OursTarget(
        variant=result.target.variant,
        platform=result.target.platform,
        seconds=round(result.seconds, 2),
        passed=result.passed,
        digest=ident.digest if ident else None,
        created=ident.created if ident else None,
        layers=ident.layers if ident else None,
        uncompressed=size.uncompressed if size is not None else None,
        compressed=size.compressed if size is not None else None,
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


async def build_all(label: str, inputs: Inputs, base_url: str, logs: Path) -> OursRun:
    """One timed session: ``build-all`` of :func:`plans`, then the digests (untimed)."""
    logs.mkdir(parents=True, exist_ok=True)
    log_path = logs / f"ours-{label}.log"
    build_plans = plans(inputs, base_url)
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
            targets = [await _target(t) for r in results if r is not None for t in r.targets]
    return OursRun(
        label=label,
        seconds=round(seconds, 2),
        targets=tuple(targets),
        steps=exec_steps(log_path.read_text(errors="replace")),
        log=str(log_path),
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


REBUILD_FILE = Path("variants") / "falco-driver-loader" / "files" / "docker-entrypoint.sh"
# Every variant whose image holds REBUILD_FILE (the legacy loaders copy the same file).
REBUILD_DEPENDENTS = frozenset({"falco-driver-loader", "falco-driver-loader-legacy"})


def change_one_file(inputs: Inputs) -> str:
    """Append a unique comment to the loader's entrypoint in the catalog copy; returns the
    file's path relative to the catalog (unique, so the rebuild never hits an old cache)."""
    path = inputs.catalog / REBUILD_FILE
    with path.open("a") as script:
        script.write(f"# bench rebuild marker {time.time_ns()}\n")
    return REBUILD_FILE.as_posix()
