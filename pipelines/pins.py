"""The ``lock`` step: verify every artifact a plan downloads and pin its sha256; resolve every
Debian package set its images install and pin each package exactly."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from functools import partial

import anyio
import dagger
from dagger import dag

from pipelines.assembly.assemble import BuildContext, debian_layer
from pipelines.assembly.verify import FetchError, describe, failed_download
from pipelines.cache_race import retrying_cache_races
from pipelines.catalog.artifacts import ArtifactRef
from pipelines.catalog.lock import LockEntry, LockFile, render_lock, update_lock
from pipelines.catalog.packages_lock import PackageSet, PackagesLock, merge, render_packages_lock
from pipelines.debian.resolve import Resolved, ResolveError, resolve_distroless, resolve_layer
from pipelines.errors import PipelineError
from pipelines.once import Once
from pipelines.plan import BuildPlan, BuildTarget, Layer
from pipelines.platforms import arch_of
from pipelines.run import build_context
from pipelines.tools import tools_container


async def pin_artifacts(
    build_plan: BuildPlan,
    catalog: dagger.Directory,
    lock: LockFile,
    *,
    tools_image: str,
    local_artifacts: Sequence[dagger.File] = (),
    trust_unverified: bool = False,
) -> str:
    """The text of ``lock`` with a sha256 pin for every artifact of ``build_plan``.

    Each artifact is downloaded and verified exactly as a build would (an existing pin must
    match; otherwise its signature by the family's key or its published checksums must hold),
    so a pin is only ever written for content that proved itself. Raises FetchError naming
    every artifact that did not (and writes nothing). An artifact that nothing vouches for (no
    signature, no checksums file) is pinned as downloaded only with ``trust_unverified``: trust
    on first use, for the reviewer of the lock file's diff to accept.
    """
    ctx = await build_context(build_plan, catalog, tools_image, local_artifacts)
    entries: list[LockEntry] = []
    failures: list[str] = []

    async def pin(ref: ArtifactRef) -> None:
        async def verified_sha256(attempt: int) -> str:
            verified = ctx.again(attempt).verified(ref, trust_unverified=trust_unverified)
            return await verified.sha256.contents()

        try:
            sha256 = await retrying_cache_races(verified_sha256)
        except dagger.ExecError as exc:
            failures.append(exc.stderr.strip().removeprefix("error: "))
            return
        except FetchError as exc:
            failures.append(str(exc))
            return
        except dagger.QueryError as exc:
            failures.append(
                await failed_download((ref,), ctx.signing_key) or f"{describe(ref)}: {exc}"
            )
            return
        fields = {"name": ref.name, "version": ref.version, "platform": ref.platform}
        entries.append(LockEntry.model_validate({**fields, "sha256": sha256}))

    async with anyio.create_task_group() as group:
        for ref in build_plan.artifacts:
            group.start_soon(pin, ref)
    if failures:
        raise FetchError("nothing locked:\n" + "\n".join(sorted(failures)))
    return render_lock(update_lock(lock, entries).artifact)


def _requested(layer: Layer, release: str, platform: str) -> list[str]:
    """What a layer asks for, as the lock records it: packages (those of its release and
    architecture included) and its 'deb' artifacts."""
    install = layer.spec.install
    keys = (release, f"{release}/{arch_of(platform)}")
    more = [p for key in keys for p in install.apt_packages_for.get(key, [])]
    debs = [f"artifact:{a.ref.name}" for a in layer.artifacts if a.step.action == "deb"]
    return [*install.apt_packages, *more, *debs]


async def lock_packages(
    build_plan: BuildPlan,
    catalog: dagger.Directory,
    lock: PackagesLock,
    *,
    tools_image: str,
    local_artifacts: Sequence[dagger.File] = (),
) -> str:
    """The text of ``lock`` with every Debian package set of ``build_plan`` resolved afresh.

    A Debian layer is resolved on the root filesystem it is built on: the base image, then
    each earlier layer of its chain built from the sets just resolved; a distroless root from
    its package list. apt runs natively for every platform. Raises ResolveError naming the
    layer apt could not resolve.
    """
    ctx = await build_context(build_plan, catalog, tools_image, local_artifacts)
    tools = tools_container(tools_image)
    date = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    sets: Once[tuple[str, str, str], PackageSet] = Once()

    async def distroless(target: BuildTarget, _attempt: int) -> None:
        layer, spec = target.layers[0], target.root_base.distroless
        assert spec is not None
        key = (layer.variant, target.base_key, target.platform)
        what = f"{layer.variant} on {target.base_key} for {target.platform}"

        async def resolve() -> PackageSet:
            found = await resolve_distroless(tools, spec, target.platform, what=what, refresh=date)
            return _package_set(key, found, list(spec.packages))

        await sets.get(key, resolve)

    async def debian(target: BuildTarget, attempt: int) -> None:
        assert target.root_base.image is not None
        fresh = ctx.again(attempt)
        ctr = dag.container(platform=dagger.Platform(target.platform)).from_(target.root_base.image)
        for index, layer in enumerate(target.layers):
            if layer.installs_packages:
                key = (layer.variant, target.base_key, target.platform)
                resolve = partial(_resolve_layer, fresh, tools, target, layer, ctr, date)
                layer = layer.model_copy(update={"packages": await sets.get(key, resolve)})
            if index + 1 < len(target.layers):  # the next layer is resolved on this one
                ctr = ctr.with_(debian_layer(fresh, layer))

    failures: list[str] = []

    async def one(target: BuildTarget) -> None:
        lock_target = distroless if target.root_base.distroless else debian
        try:
            await retrying_cache_races(partial(lock_target, target))
        except PipelineError as exc:
            failures.append(str(exc))

    async with anyio.create_task_group() as group:
        for target in build_plan.targets:
            group.start_soon(one, target)
    if failures:
        raise ResolveError("nothing locked:\n" + "\n".join(sorted(set(failures))))
    return render_packages_lock(merge(lock, sets.found.values(), date))


async def _resolve_layer(
    ctx: BuildContext,
    tools: dagger.Container,
    target: BuildTarget,
    layer: Layer,
    on: dagger.Container,
    date: str,
) -> PackageSet:
    """The package set of one Debian layer of ``target``, built on ``on``."""
    local = [
        (a.ref.filename, ctx.verified(a.ref).file)
        for a in layer.artifacts
        if a.step.action == "deb"
    ]
    found = await resolve_layer(
        tools, on.rootfs(), target.platform, layer.spec.install, local,
        what=f"{layer.variant} on {target.base_key} for {target.platform}", refresh=date,
    )  # fmt: skip
    key = (layer.variant, target.base_key, target.platform)
    return _package_set(key, found, _requested(layer, found.release, target.platform))


def _package_set(key: tuple[str, str, str], found: Resolved, requested: list[str]) -> PackageSet:
    variant, base, platform = key
    return PackageSet(
        variant=variant,
        base=base,
        platform=platform,
        release=found.release,
        requested=requested,
        packages=list(found.packages),
    )
