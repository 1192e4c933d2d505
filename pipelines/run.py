"""Build and smoke-test every target of a plan concurrently: the library's main entry point.

Plain async functions over dagger-io, importable from any repository with its own catalog::

    async with dagger.connection():
        family = load_family(Path("images/falco"))
        result = await build_and_test(plan(family, version="0.44.0"),
                                      dag.host().directory("images/falco"))
        print(result.render())
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import anyio
import dagger
from dagger import dag

from pipelines.assembly.artifacts import ArtifactStore
from pipelines.assembly.assemble import BuildContext, build_container
from pipelines.assembly.fetch import SigningKeyRef
from pipelines.errors import PipelineError
from pipelines.plan import BuildPlan, BuildTarget
from pipelines.results import BuildFailed, BuildResult, TargetResult
from pipelines.smoke.checks import SmokeReport, run_smoke_tests

DEFAULT_TOOLS_IMAGE = "debian:12-slim"


def signing_key(build_plan: BuildPlan) -> SigningKeyRef | None:
    """The plan's signing key (URL with mirrors applied, pinned fingerprint), if any."""
    if build_plan.signing_key_url is None or build_plan.signing_key_fingerprint is None:
        return None
    return SigningKeyRef(build_plan.signing_key_url, build_plan.signing_key_fingerprint)


async def named_files(files: Sequence[dagger.File]) -> dict[str, dagger.File]:
    """Local artifacts by file name (what a download of the same name is replaced with)."""
    return {await f.name(): f for f in files}


async def build_target(
    build_plan: BuildPlan,
    target: BuildTarget,
    catalog: dagger.Directory,
    *,
    tools_image: str = DEFAULT_TOOLS_IMAGE,
    local_artifacts: Sequence[dagger.File] = (),
) -> dagger.Container:
    """The container of one target of ``build_plan``, built but not smoke-tested."""
    store = ArtifactStore(signing_key(build_plan), tools_image, await named_files(local_artifacts))
    ctx = BuildContext(catalog=catalog, artifacts=store, tools_image=tools_image)
    return await build_container(ctx, target)


async def build_and_test(
    build_plan: BuildPlan,
    catalog: dagger.Directory,
    *,
    tools_image: str = DEFAULT_TOOLS_IMAGE,
    local_artifacts: Sequence[dagger.File] = (),
) -> BuildResult:
    """Build every target of ``build_plan`` concurrently and run its smoke tests.

    ``catalog`` is the family directory the plan was made from (files are copied from it).
    ``local_artifacts`` replace downloads whose file name matches; they are verified all the
    same. Never raises for a failed target: the result says what failed and why.
    """
    started = time.monotonic()
    store = ArtifactStore(signing_key(build_plan), tools_image, await named_files(local_artifacts))
    ctx = BuildContext(catalog=catalog, artifacts=store, tools_image=tools_image)
    slots: list[TargetResult | None] = [None] * len(build_plan.targets)

    async def one(index: int, target: BuildTarget) -> None:
        t0 = time.monotonic()
        container: dagger.Container | None = None
        report: SmokeReport | None = None
        error: str | None = None
        try:
            container = await (await build_container(ctx, target)).sync()
            report = await run_smoke_tests(target, container, tools_image)
        except PipelineError as exc:
            error = str(exc)
        except dagger.ExecError as exc:
            error = f"{exc.message}: {' '.join(exc.command)[:200]}\n{exc.stderr.strip()[-1500:]}"
        except dagger.QueryError as exc:
            error = str(exc)
        slots[index] = TargetResult(target, container, report, error, time.monotonic() - t0)

    async with anyio.create_task_group() as group:
        for index, target in enumerate(build_plan.targets):
            group.start_soon(one, index, target)
    return BuildResult(
        plan=build_plan,
        targets=tuple(s for s in slots if s is not None),
        artifacts=tuple(store.verified()),
        seconds=time.monotonic() - started,
    )


async def build_all(
    build_plan: BuildPlan,
    catalog: dagger.Directory,
    *,
    tools_image: str = DEFAULT_TOOLS_IMAGE,
    local_artifacts: Sequence[dagger.File] = (),
) -> BuildResult:
    """:func:`build_and_test`, raising :class:`BuildFailed` unless every target passed."""
    result = await build_and_test(
        build_plan, catalog, tools_image=tools_image, local_artifacts=local_artifacts
    )
    if not result.passed:
        raise BuildFailed(result)
    return result


def oci_tarballs(result: BuildResult) -> dagger.Directory:
    """One multi-platform OCI tarball per variant (``<variant>.tar``) plus ``report.txt``."""
    out = dag.directory().with_new_file("report.txt", result.render())
    for variant in result.plan.variants:
        containers = result.containers(variant)
        if containers:
            first, *rest = containers
            out = out.with_file(f"{variant}.tar", first.as_tarball(platform_variants=rest))
    return out
