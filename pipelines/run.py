"""Build and smoke-test every target of a plan concurrently: the library's main entry point.

Plain async functions over dagger-io, importable from any repository with its own catalog::

    async with dagger.connection():
        family = load_family(Path("images/hello"))
        result = await build_and_test(plan(family, version="1.2.3"),
                                      dag.host().directory("images/hello"))
        print(result.render())

The whole graph of each target is built lazily; its leaves (the smoke checks, the digests of
the verified artifacts) are awaited concurrently, and the engine runs each distinct step once.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import anyio
import dagger
from dagger import dag

from pipelines.assembly.assemble import BuildContext, build_container, loaded_container
from pipelines.assembly.verify import failed_download
from pipelines.cache_race import retrying_cache_races
from pipelines.catalog.artifacts import ArtifactRef
from pipelines.catalog.mirrors import parse_mirrors
from pipelines.debian.fetch import failed_package
from pipelines.errors import PipelineError
from pipelines.oci.reproducible import reproducible_tarball
from pipelines.plan import BuildPlan, BuildTarget, check_packages_locked
from pipelines.results import ArtifactDigest, BuildFailed, BuildResult, TargetResult
from pipelines.smoke.checks import SmokeReport, run_smoke_tests
from pipelines.tools import tools_loaded

DEFAULT_TOOLS_IMAGE = "debian:12-slim"


async def named_files(files: Sequence[dagger.File]) -> dict[str, dagger.File]:
    """Local artifacts by file name (what a download of the same name is replaced with)."""
    return {await f.name(): f for f in files}


async def build_context(
    build_plan: BuildPlan,
    catalog: dagger.Directory,
    tools_image: str = DEFAULT_TOOLS_IMAGE,
    local_artifacts: Sequence[dagger.File] = (),
) -> BuildContext:
    """What every target of ``build_plan`` shares."""
    return BuildContext(
        catalog=catalog,
        tools_image=tools_image,
        signing_key=build_plan.signing_key,
        local_artifacts=await named_files(local_artifacts),
        mirrors=parse_mirrors(build_plan.mirrors),
    )


async def build_target(
    build_plan: BuildPlan,
    target: BuildTarget,
    catalog: dagger.Directory,
    *,
    tools_image: str = DEFAULT_TOOLS_IMAGE,
    local_artifacts: Sequence[dagger.File] = (),
) -> dagger.Container:
    """The container of one target of ``build_plan``, built lazily, not smoke-tested."""
    check_packages_locked(build_plan)
    ctx = await build_context(build_plan, catalog, tools_image, local_artifacts)
    return build_container(ctx, target)


def _step_errors(stderr: str) -> str | None:
    """The ``error: ...`` lines a pipeline step printed before failing, if any."""
    lines = [line.removeprefix("error: ") for line in stderr.splitlines()]
    found = [line for line, raw in zip(lines, stderr.splitlines(), strict=True) if raw != line]
    return "\n".join(found) or None


async def _failure(exc: Exception, target: BuildTarget, ctx: BuildContext) -> str:
    """What stopped ``target``, in words a user can act on."""
    if isinstance(exc, PipelineError):
        return str(exc)
    if isinstance(exc, dagger.ExecError):
        own = _step_errors(exc.stderr)
        if own is not None:
            return own
        return f"{exc.message}: {' '.join(exc.command)[:200]}\n{exc.stderr.strip()[-1500:]}"
    download = await failed_download(target.artifacts, ctx.signing_key)
    packages = [p for layer in target.layers if layer.packages for p in layer.packages.packages]
    return download or await failed_package(packages, ctx.mirrors) or str(exc)


async def _digests(ctx: BuildContext, targets: Sequence[TargetResult]) -> list[ArtifactDigest]:
    """The sha256 of every artifact of the targets that built, by name, version and platform."""
    refs = {ref.key: ref for t in targets if t.container is not None for ref in t.target.artifacts}
    digests: dict[tuple[str, str, str], ArtifactDigest] = {}

    async def one(ref: ArtifactRef) -> None:
        async def sha256(attempt: int) -> str:
            return await ctx.again(attempt).verified(ref).sha256.contents()

        checks = ctx.verified(ref).checks
        digests[ref.key] = ArtifactDigest(ref, await retrying_cache_races(sha256), checks)

    async with anyio.create_task_group() as group:
        for ref in refs.values():
            group.start_soon(one, ref)
    return [digests[key] for key in sorted(digests)]


async def build_and_test(
    build_plan: BuildPlan,
    catalog: dagger.Directory,
    *,
    tools_image: str = DEFAULT_TOOLS_IMAGE,
    local_artifacts: Sequence[dagger.File] = (),
    gzip_sizes: bool = False,
) -> BuildResult:
    """Build every target of ``build_plan`` concurrently and run its smoke tests.

    ``catalog`` is the family directory the plan was made from (files are copied from it).
    ``local_artifacts`` replace downloads whose file name matches; they are verified all the
    same. ``gzip_sizes`` measures every image's gzip size too (one gzip export per image; by
    default only an image whose size budget has a compressed limit is compressed). Never
    raises for a failed target: the result says what failed and why; raises InputError before
    any work when the package lock lacks a layer's Debian packages.
    """
    check_packages_locked(build_plan)
    async with tools_loaded(tools_image):
        return await _build_and_test(
            build_plan, catalog, tools_image, local_artifacts, gzip_sizes=gzip_sizes
        )


async def _build_and_test(
    build_plan: BuildPlan,
    catalog: dagger.Directory,
    tools_image: str,
    local_artifacts: Sequence[dagger.File],
    *,
    gzip_sizes: bool,
) -> BuildResult:
    started = time.monotonic()
    ctx = await build_context(build_plan, catalog, tools_image, local_artifacts)
    slots: list[TargetResult | None] = [None] * len(build_plan.targets)

    async def one(index: int, target: BuildTarget) -> None:
        t0 = time.monotonic()
        container: dagger.Container | None = None
        report: SmokeReport | None = None
        error: str | None = None

        async def build_and_smoke_test(attempt: int) -> tuple[dagger.Container, SmokeReport]:
            built = await (await loaded_container(ctx.again(attempt), target)).sync()
            report = await run_smoke_tests(target, built, tools_image, gzip_sizes=gzip_sizes)
            return built, report

        try:
            container, report = await retrying_cache_races(build_and_smoke_test)
        except (PipelineError, dagger.ExecError, dagger.QueryError) as exc:
            container, error = None, await _failure(exc, target, ctx)
        slots[index] = TargetResult(target, container, report, error, time.monotonic() - t0)

    async with anyio.create_task_group() as group:
        for index, target in enumerate(build_plan.targets):
            group.start_soon(one, index, target)
    targets = tuple(s for s in slots if s is not None)
    return BuildResult(
        plan=build_plan,
        targets=targets,
        artifacts=tuple(await _digests(ctx, targets)),
        seconds=time.monotonic() - started,
    )


async def build_all(
    build_plan: BuildPlan,
    catalog: dagger.Directory,
    *,
    tools_image: str = DEFAULT_TOOLS_IMAGE,
    local_artifacts: Sequence[dagger.File] = (),
    gzip_sizes: bool = False,
) -> BuildResult:
    """:func:`build_and_test`, raising :class:`BuildFailed` unless every target passed."""
    result = await build_and_test(
        build_plan,
        catalog,
        tools_image=tools_image,
        local_artifacts=local_artifacts,
        gzip_sizes=gzip_sizes,
    )
    if not result.passed:
        raise BuildFailed(result)
    return result


def oci_tarballs(result: BuildResult, tools_image: str = DEFAULT_TOOLS_IMAGE) -> dagger.Directory:
    """One multi-platform OCI tarball per variant (``<variant>.tar``, platforms in the family's
    order, reproducible: see :mod:`pipelines.oci.reproducible`) plus ``report.txt``."""
    out = dag.directory().with_new_file("report.txt", result.render())
    epoch = result.plan.source_date_epoch
    for variant in result.plan.variants:
        containers = result.containers(variant)
        if containers:
            out = out.with_file(
                f"{variant}.tar",
                reproducible_tarball(containers, epoch, tools_image, result.plan.platforms),
            )
    return out
