"""The Dockerfile half: the same image set built by Docker/BuildKit from ``bench/dockerfiles``.

One ``docker build --no-cache`` per variant and platform, after the bench's images, the base
images and the builder cache were removed, so nothing is shared with an earlier run. Builds
run concurrently (as the pipeline builds its targets), except that a loader starts once
``falco-debian`` for its platform exists: Falco's loader Dockerfile starts from that image.
arm64 builds run under the machine's qemu binfmt handlers (``--platform linux/arm64``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import anyio

DOCKERFILES = Path(__file__).resolve().parent / "dockerfiles"
DOCKER = os.environ.get("BENCH_DOCKER", "/usr/bin/docker")
IMAGE_PREFIX = "bench-dockerfile"
REGISTRY = os.environ.get("DEV_REGISTRY", "127.0.0.1:5000")
BASE_IMAGES = (f"{REGISTRY}/library/debian:12-slim", f"{REGISTRY}/library/debian:bullseye")
CONFIG_FILE = Path("variants") / "falco" / "files" / "falco.iso8601_timeformat.yaml"
ENTRYPOINT = Path("variants") / "falco-driver-loader" / "files" / "docker-entrypoint.sh"


@dataclass(frozen=True)
class DockerSpec:
    """One ``docker build``: a variant for one platform."""

    variant: str
    platform: str
    build_args: tuple[tuple[str, str], ...]
    after: str | None = None  # tag of the image this build starts FROM, built first

    @property
    def tag(self) -> str:
        """The local tag of the image, e.g. ``bench-dockerfile/falco:amd64``."""
        return f"{IMAGE_PREFIX}/{self.variant}:{self.platform.split('/')[1]}"


@dataclass(frozen=True)
class DockerResult:
    """One finished build, with its sizes (measured after every build finished)."""

    variant: str
    platform: str
    seconds: float
    ok: bool
    image_id: str | None = None
    uncompressed: int | None = None  # bytes of `docker save` (a tar of uncompressed layers)
    compressed: int | None = None  # the same tar through gzip -6
    inspect_size: int | None = None  # `docker image inspect` .Size
    error: str | None = None
    log: str = ""


def specs(version: str, base_url: str, images: Sequence[tuple[str, str]]) -> list[DockerSpec]:
    """One build per (variant, platform) of ``images``, in that order, downloading from the
    stand-in server; a loader also gets the ``falco-debian`` build of its platform it starts
    FROM, when ``images`` lacks it."""
    common = (
        ("FALCO_VERSION", version),
        ("DOWNLOAD_BASE", f"{base_url}/download.falco.org"),
        ("KEY_URL", f"{base_url}/falco.org/repo/falcosecurity-packages.asc"),
    )
    wanted = list(images)
    for variant, platform in images:
        base = ("falco-debian", platform)
        if variant == "falco-driver-loader" and base not in wanted:
            wanted.insert(wanted.index((variant, platform)), base)
    out = []
    for variant, platform in wanted:
        if variant == "falco-driver-loader":
            base_tag = DockerSpec("falco-debian", platform, ()).tag
            loader_args = (("FALCO_VERSION", version), ("FALCO_DEBIAN_IMAGE", base_tag))
            out.append(DockerSpec(variant, platform, loader_args, after=base_tag))
        else:
            out.append(DockerSpec(variant, platform, common))
    return out


def docker(*args: str, check: bool = True) -> str:
    """Run the docker CLI (BuildKit on) and return its stdout."""
    env = {**os.environ, "DOCKER_BUILDKIT": "1"}
    done = subprocess.run(
        [DOCKER, *args], env=env, check=False, capture_output=True, text=True, timeout=600
    )
    if check and done.returncode != 0:
        raise RuntimeError(f"docker {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout.strip()


def version() -> str:
    """The daemon's version, e.g. ``20.10.24+dfsg1``."""
    return docker("version", "--format", "{{.Server.Version}}")


def reset() -> None:
    """Remove the bench's images, the base images and the whole builder cache."""
    images = docker("image", "ls", "--format", "{{.Repository}}:{{.Tag}}", check=False)
    ours = [ref for ref in images.splitlines() if ref.startswith(f"{IMAGE_PREFIX}/")]
    for ref in [*ours, *BASE_IMAGES]:
        docker("image", "rm", "-f", ref, check=False)
    docker("builder", "prune", "-af")


def stage_context(spec: DockerSpec, catalog: Path, root: Path) -> Path:
    """A build context for ``spec``: its Dockerfile plus the catalog files it copies in."""
    context = root / f"{spec.variant}-{spec.platform.split('/')[1]}"
    shutil.rmtree(context, ignore_errors=True)
    shutil.copytree(DOCKERFILES / spec.variant, context)
    (context / "config").mkdir(exist_ok=True)
    shutil.copy2(catalog / CONFIG_FILE, context / "config" / CONFIG_FILE.name)
    shutil.copy2(catalog / ENTRYPOINT, context / ENTRYPOINT.name)
    return context


async def _build(spec: DockerSpec, context: Path, log: Path) -> tuple[float, bool, str | None]:
    command = [
        DOCKER,
        "build",
        "--no-cache",
        "--network",
        "host",
        "--platform",
        spec.platform,
        "--progress",
        "plain",
        "-t",
        spec.tag,
        *(f"--build-arg={name}={value}" for name, value in spec.build_args),
        str(context),
    ]
    env = {**os.environ, "DOCKER_BUILDKIT": "1"}
    started = time.monotonic()
    with log.open("w") as out:
        done = await anyio.run_process(
            command, stdout=out, stderr=subprocess.STDOUT, env=env, check=False
        )
    seconds = round(time.monotonic() - started, 2)
    if done.returncode != 0:
        tail = log.read_text(errors="replace").strip().splitlines()[-15:]
        return seconds, False, "\n".join(tail)
    return seconds, True, None


def save_sizes(tag: str) -> tuple[int, int]:
    """(bytes of ``docker save``, bytes of the same through gzip level 6), in one pass."""
    env = {**os.environ, "DOCKER_BUILDKIT": "1"}
    gzip = zlib.compressobj(6, zlib.DEFLATED, 31)
    raw = packed = 0
    with subprocess.Popen([DOCKER, "save", tag], stdout=subprocess.PIPE, env=env) as proc:
        assert proc.stdout is not None
        while chunk := proc.stdout.read(1 << 20):
            raw += len(chunk)
            packed += len(gzip.compress(chunk))
        packed += len(gzip.flush())
    if proc.returncode != 0:
        raise RuntimeError(f"docker save {tag} failed")
    return raw, packed


def _measured(spec: DockerSpec, seconds: float, log: Path) -> DockerResult:
    image_id, size = docker("image", "inspect", "--format", "{{.Id}} {{.Size}}", spec.tag).split()
    uncompressed, compressed = save_sizes(spec.tag)
    return DockerResult(
        variant=spec.variant,
        platform=spec.platform,
        seconds=seconds,
        ok=True,
        image_id=image_id,
        uncompressed=uncompressed,
        compressed=compressed,
        inspect_size=int(size),
        log=str(log),
    )


async def build_all(
    build_specs: list[DockerSpec],
    catalog: Path,
    work: Path,
    jobs: int | None = None,
    *,
    keep: bool = False,
    label: str = "docker",
) -> tuple[float, list[DockerResult]]:
    """Reset Docker, run every build (``jobs`` at once), then measure the images.

    ``jobs`` None: every build at once. Returns the wall-clock seconds of the builds and one
    result per spec, in order. The images and the builder cache are removed again afterwards
    (several GB) unless ``keep``. Logs are ``work/logs/<label>-<variant>-<arch>.log``.
    """
    contexts = work / "docker-contexts" / label
    logs = work / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    await anyio.to_thread.run_sync(reset)
    built = {spec.tag: anyio.Event() for spec in build_specs}
    failed: set[str] = set()
    timings: dict[str, tuple[float, bool, str | None]] = {}
    limiter = anyio.CapacityLimiter(len(build_specs) if jobs is None else max(1, jobs))

    async def one(spec: DockerSpec) -> None:
        try:
            if spec.after is not None:
                await built[spec.after].wait()
                if spec.after in failed:
                    timings[spec.tag] = (0.0, False, f"not built: {spec.after} failed")
                    failed.add(spec.tag)
                    return
            context = stage_context(spec, catalog, contexts)
            async with limiter:
                timings[spec.tag] = await _build(spec, context, logs / _log_name(label, spec))
            if not timings[spec.tag][1]:
                failed.add(spec.tag)
        finally:
            built[spec.tag].set()

    started = time.monotonic()
    async with anyio.create_task_group() as group:
        for spec in build_specs:
            group.start_soon(one, spec)
    wall = round(time.monotonic() - started, 2)
    results = []
    for spec in build_specs:
        seconds, ok, error = timings[spec.tag]
        log = logs / _log_name(label, spec)
        if ok:
            results.append(await anyio.to_thread.run_sync(_measured, spec, seconds, log))
        else:
            results.append(
                DockerResult(spec.variant, spec.platform, seconds, False, error=error, log=str(log))
            )
    if not keep:
        await anyio.to_thread.run_sync(reset)
    return wall, results


def _log_name(label: str, spec: DockerSpec) -> str:
    return f"{label}-{spec.variant}-{spec.platform.split('/')[1]}.log"
