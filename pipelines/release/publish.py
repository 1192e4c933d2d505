"""Publishing a built family as a release that appears all at once, or not at all.

Phases, each finished for every variant before the next starts:

1. **check**: every variant passed on every platform, credentials and tags are well formed;
2. **stage** (engine only): each platform image becomes its OCI tarball, the variant's tarballs
   one OCI layout with an image index written in the family's platform order (see
   :mod:`pipelines.release.staging`): every digest is known, and the same images always give
   the same index digest;
3. **gate** (engine only, with ``steps``): every platform tarball is scanned (trivy) and, when
   signing, described (syft); a gate failure stops the release before anything is pushed;
4. **survey** (read only): what the floating tags name now, and its version, so that they never
   move backwards (see :mod:`pipelines.release.floating`);
5. **content**: every platform manifest, then every index, pushed *by digest* (no tag);
6. **sign**: cosign signs every index and platform digest and attests each platform's SBOM
   (stored under ``sha256-<hex>.sig``/``.att``, references no user pulls);
7. **tags**: every tag, registry side, in :func:`pipelines.release.tag_plan.tag_phase_order`
   (arch and exact tags, then floating). Until this phase no new tag exists; a failure in it
   leaves tags that all name fully pushed, signed content, and a re-run finishes the set.

Every registry operation is retried on transient failures (:mod:`pipelines.release.retry`).
A re-run of the same images pushes the same digests, writes no tag that is already right and
keeps every signature valid; the report says which tags were created, moved or unchanged.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import TypeVar

import anyio
import dagger

from pipelines.errors import PipelineError
from pipelines.release.floating import (
    VERSION_LABEL,
    FloatingDecision,
    MoveFloatingTags,
    decide,
    floating_policy,
)
from pipelines.release.oci_index import OCI_INDEX
from pipelines.release.references import DigestReference
from pipelines.release.registry_access import RegistryAccess, RegistryAuth, check_access
from pipelines.release.registry_client import ABSENT, Manifest, RegistryClient
from pipelines.release.report import (
    PublishedImage,
    TagResult,
    TagStatus,
    digests_json,
    order_tags,
    render_tag_changes,
)
from pipelines.release.retry import PublishFailed, PublishLog, Retry, with_retries
from pipelines.release.sbom import attest_sbom, sbom_of_archive
from pipelines.release.scan import scan_archive
from pipelines.release.scan_report import GateSeverity
from pipelines.release.signing import sign
from pipelines.release.staging import StagedImage, stage
from pipelines.release.tag_plan import TagAssignment, VariantTags, tag_phase_order
from pipelines.release.tool_images import ToolImages
from pipelines.results import BuildResult
from pipelines.versions import Version, parse_version

__all__ = [
    "NothingPublished",
    "PublishFailed",
    "PublishLog",
    "PublishedImage",
    "ReleaseSteps",
    "Retry",
    "digests_json",
    "publish_release",
    "render_tag_changes",
    "repository_ref",
]

T = TypeVar("T")

CONCURRENCY = 4
"""How many engine steps (scans, SBOMs, signatures) a phase runs at once."""


class NothingPublished(PipelineError):
    """The build did not pass: nothing was pushed."""


@dataclass(frozen=True)
class ReleaseSteps:
    """What a release does besides pushing: the scan gate, signatures, SBOM attestations."""

    tools: ToolImages = field(default_factory=ToolImages)
    scan: bool = True
    fail_on: GateSeverity | None = "CRITICAL"
    scan_db_repository: str | None = None
    scan_db: dagger.Directory | None = None
    signing_key: dagger.Secret | None = None
    signing_password: dagger.Secret | None = None
    sbom: bool = True


def repository_ref(registry: str, namespace: str, repository: str) -> str:
    """``registry/namespace/repository`` (namespace optional)."""
    parts = [registry.rstrip("/"), namespace.strip("/"), repository]
    return "/".join(p for p in parts if p)


async def run_all(tasks: Sequence[Callable[[], Awaitable[object]]], limit: int) -> None:
    """Run ``tasks``, at most ``limit`` at once; when some fail, raise the first failure in
    task order (not an exception group), once all have finished."""
    limiter = anyio.CapacityLimiter(limit)
    failures: dict[int, BaseException] = {}

    async def one(i: int, task: Callable[[], Awaitable[object]]) -> None:
        async with limiter:
            try:
                await task()
            except Exception as exc:
                failures[i] = exc

    async with anyio.create_task_group() as group:
        for i, task in enumerate(tasks):
            group.start_soon(one, i, task)
    if failures:
        raise failures[min(failures)]


@dataclass
class _Release:
    """The state of one publication, phase after phase."""

    staged: list[StagedImage]
    images: list[PublishedImage]
    tags: list[TagAssignment]
    client: RegistryClient
    access: RegistryAccess
    retry: Retry
    log: PublishLog
    sboms: dict[str, dagger.File] = field(default_factory=dict)
    floating: dict[str, FloatingDecision] = field(default_factory=dict)

    def image(self, variant: str) -> PublishedImage:
        return next(i for i in self.images if i.variant == variant)

    async def retried(self, action: Callable[[], Awaitable[T]], what: str) -> T:
        return await with_retries(action, what, self.retry, self.log)


async def publish_release(
    result: BuildResult,
    registry: str,
    *,
    namespace: str = "",
    username: str | None = None,
    password: dagger.Secret | None = None,
    retry: Retry | None = None,
    log: PublishLog | None = None,
    tools_image: str = "debian:12-slim",
    steps: ReleaseSteps | None = None,
    move_floating: MoveFloatingTags | str = MoveFloatingTags.IF_NEWER,
) -> list[PublishedImage]:
    """Publish every variant of ``result`` to ``registry`` (see the module docstring).

    Without ``steps`` nothing is scanned or signed. ``move_floating`` decides whether floating
    tags move (default: only forwards). Raises :class:`NothingPublished` when the build did
    not pass, :class:`~pipelines.release.errors.ScanGateFailed` when the gate fails (both
    before any push) and :class:`PublishFailed` when a registry operation fails for good.
    """
    policy = floating_policy(move_floating)
    if not result.passed:
        raise NothingPublished(
            "nothing was published: not every variant passed on every platform\n" + result.render()
        )
    access = (
        RegistryAccess(auth=(RegistryAuth(registry, username, password),))
        if username and password is not None
        else RegistryAccess()
    )
    check_access(access)
    log = log if log is not None else PublishLog()
    staged = await _stage(result, registry, namespace, tools_image, log)
    release = _Release(
        staged,
        [_image(s) for s in staged],
        tag_phase_order([_variant_tags(result, s) for s in staged]),
        RegistryClient(tools_image, access),
        access,
        retry or Retry(),
        log,
    )
    if steps is not None:
        await log.event("phase: gate")
        await _gate(release, steps)
    await log.event("phase: survey")
    await _survey(release, policy, parse_version(result.plan.version))
    await log.event("phase: content")
    await _push_content(release)
    if steps is not None and steps.signing_key is not None:
        await log.event("phase: sign")
        await _sign(release, steps, steps.signing_key)
    await log.event("phase: tags")
    await _tag(release)
    return release.images


async def _stage(
    result: BuildResult, registry: str, namespace: str, tools_image: str, log: PublishLog
) -> list[StagedImage]:
    await log.event("phase: stage")
    staged: dict[str, StagedImage] = {}

    async def one(variant: str) -> None:
        targets = [t for t in result.targets if t.target.variant == variant]
        platforms = [t.target.platform for t in targets]
        if sorted(platforms) != sorted(result.plan.platforms) or any(
            t.container is None for t in targets
        ):
            raise NothingPublished(f"nothing was published: {variant} lacks a platform image")
        by_platform = {t.target.platform: t.container for t in targets if t.container}
        containers = [(p, by_platform[p]) for p in result.plan.platforms]
        repository = repository_ref(registry, namespace, targets[0].target.repository)
        staged[variant] = await stage(
            variant, repository, containers, tools_image, result.plan.source_date_epoch
        )

    await run_all([partial(one, v) for v in result.plan.variants], CONCURRENCY)
    return [staged[v] for v in result.plan.variants]


def _image(staged: StagedImage) -> PublishedImage:
    return PublishedImage(
        variant=staged.variant,
        repository=staged.repository,
        index_digest=staged.index_digest,
        platforms=staged.platform_digests(),
    )


def _variant_tags(result: BuildResult, staged: StagedImage) -> VariantTags:
    target = next(t.target for t in result.targets if t.target.variant == staged.variant)
    return VariantTags(
        staged.variant,
        staged.repository,
        staged.index_digest,
        staged.platform_digests(),
        target.tags,
    )


async def _gate(release: _Release, steps: ReleaseSteps) -> None:
    """Scan (and describe, when signing) every platform tarball; raise before any push."""
    tasks: list[Callable[[], Awaitable[None]]] = []
    for staged in release.staged:
        image = release.image(staged.variant)
        for platform in staged.platforms:
            name = f"{staged.repository}@{platform.digest}"
            if steps.scan:
                tasks.append(
                    partial(
                        _scan,
                        image,
                        platform.platform,
                        platform.tarball,
                        name,
                        steps,
                        release.access,
                    )
                )
            if steps.signing_key is not None and steps.sbom:
                tasks.append(
                    partial(
                        _describe,
                        release,
                        staged.repository,
                        platform.digest,
                        platform.tarball,
                        steps,
                    )
                )
    await run_all(tasks, CONCURRENCY)


async def _scan(
    image: PublishedImage,
    platform: str,
    tarball: dagger.File,
    name: str,
    steps: ReleaseSteps,
    access: RegistryAccess,
) -> None:
    report = await scan_archive(
        tarball,
        name,
        scanner_image=steps.tools.trivy,
        db=steps.scan_db,
        db_repository=steps.scan_db_repository,
        fail_on=steps.fail_on,
        registry=access,
    )
    image.scans[platform] = report.summary()


async def _describe(
    release: _Release, repository: str, digest: str, tarball: dagger.File, steps: ReleaseSteps
) -> None:
    document = await sbom_of_archive(tarball, repository, syft_image=steps.tools.syft)
    release.sboms[digest] = document


async def _survey(release: _Release, policy: MoveFloatingTags, version: Version) -> None:
    """Decide, for every floating tag, whether it moves (read only)."""
    floating = [a for a in release.tags if a.kind == "floating"]
    if not floating:
        return
    read = partial(release.client.manifests, [a.ref for a in floating])
    manifests = await release.retried(read, "read the floating tags")
    for assignment, manifest in zip(floating, manifests, strict=True):
        if manifest.digest == assignment.target.digest:
            release.floating[assignment.ref] = FloatingDecision(True, "already right")
            continue
        label = None
        if manifest.raw is not None and policy is MoveFloatingTags.IF_NEWER:
            label = await _version_label(release, assignment.repository, manifest)
        release.floating[assignment.ref] = decide(
            policy, version, label, exists=manifest.raw is not None
        )


async def _version_label(release: _Release, repository: str, manifest: Manifest) -> str | None:
    """The version label of the image ``manifest`` names (an index's first platform)."""
    document = manifest.document()
    digest = manifest.digest
    if document.get("mediaType") == OCI_INDEX or "manifests" in document:
        entries = document.get("manifests") or []
        if not entries:
            return None
        digest = str(entries[0]["digest"])
    read = partial(release.client.config, f"{repository}@{digest}")
    config = await release.retried(read, f"read the version of {manifest.ref}")
    image_config = config.get("config")
    labels = image_config.get("Labels") if isinstance(image_config, dict) else None
    value = labels.get(VERSION_LABEL) if isinstance(labels, dict) else None
    return value if isinstance(value, str) else None


async def _push_content(release: _Release) -> None:
    """Every platform manifest, then every index, by digest (each phase concurrently)."""
    platforms: list[Callable[[], Awaitable[object]]] = []
    indexes: list[Callable[[], Awaitable[object]]] = []
    for staged in release.staged:
        for platform in staged.platforms:
            dest = DigestReference(staged.repository, platform.digest)
            name = platform.manifest.ref_name
            push = partial(release.client.push, staged.layout, name, dest, all_=False)
            platforms.append(partial(release.retried, push, f"push {dest}"))
        dest = DigestReference(staged.repository, staged.index_digest)
        push = partial(release.client.push, staged.layout, staged.index_ref_name, dest, all_=True)
        indexes.append(partial(release.retried, push, f"push {dest}"))
    await run_all(platforms, CONCURRENCY)
    await release.log.event("phase: indexes")
    await run_all(indexes, CONCURRENCY)


async def _sign(release: _Release, steps: ReleaseSteps, key: dagger.Secret) -> None:
    """Sign every index and platform digest; attest each platform's SBOM."""
    tasks: list[Callable[[], Awaitable[object]]] = []
    for staged in release.staged:
        image = release.image(staged.variant)
        for digest in [staged.index_digest, *staged.platform_digests().values()]:
            ref = f"{staged.repository}@{digest}"
            image.signed.append(ref)
            action = partial(
                sign,
                ref,
                key,
                steps.signing_password,
                cosign_image=steps.tools.cosign,
                registry=release.access,
            )
            tasks.append(partial(release.retried, action, f"sign {ref}"))
        for digest in staged.platform_digests().values():
            document = release.sboms.get(digest)
            if document is None:
                continue
            ref = f"{staged.repository}@{digest}"
            image.sboms.append(ref)
            action = partial(
                attest_sbom,
                ref,
                document,
                key,
                steps.signing_password,
                cosign_image=steps.tools.cosign,
                registry=release.access,
            )
            tasks.append(partial(release.retried, action, f"attest an SBOM to {ref}"))
    await run_all(tasks, CONCURRENCY)


async def _tag(release: _Release) -> None:
    """Write every tag, registry side, in tag-phase order; record what each was."""
    for assignment in release.tags:
        image = release.image(assignment.variant)
        decision = release.floating.get(assignment.ref)
        if decision is not None and not decision.move:
            result = TagResult(
                assignment.tag,
                assignment.kind,
                "kept",
                assignment.target.digest,
                reason=decision.reason,
            )
        else:
            write = partial(
                release.client.tag, assignment.target, assignment.tag, all_=assignment.is_index
            )
            previous = await release.retried(write, f"push {assignment.ref}")
            status = tag_status(previous, assignment.target.digest)
            moved_why = decision.reason if decision is not None and status == "moved" else ""
            result = TagResult(
                assignment.tag,
                assignment.kind,
                status,
                assignment.target.digest,
                previous=None if previous == ABSENT else previous,
                reason=moved_why,
            )
        image.tag_results.append(result)
        image.tags = [r.tag for r in order_tags(image.tag_results) if r.status != "kept"]
        await release.log.event(f"tag: {assignment.ref} {result.status}")


def tag_status(previous: str, digest: str) -> TagStatus:
    """What writing a tag did, from what it named before (:data:`ABSENT`: nothing)."""
    if previous == ABSENT:
        return "created"
    return "unchanged" if previous == digest else "moved"
