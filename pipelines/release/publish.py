"""All-or-nothing publication of a built family as multi-platform images.

Order of operations, so that a failure leaves the previous release where it was:

1. nothing is pushed unless every variant passed its smoke tests on every platform;
2. every platform image is pushed under its arch tag (``<exact tag>-<arch>``, as the upstream
   CI does) and its manifest digest recorded;
3. every variant's multi-platform index is pushed under its exact version tag (a new tag), so
   every index exists by digest before any floating tag moves;
4. only then do the floating tags (``latest``, ``latest-debian``...) move, registry side, to
   that index digest (see :mod:`pipelines.release.retag`).

Pushes are retried with exponential backoff on registry errors that may pass (408, 429, 5xx,
resets), since Dagger's publish does not retry. Credentials are Dagger secrets only.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from typing import TypeVar

import anyio
import dagger

from pipelines.errors import PipelineError
from pipelines.release.registry_access import RegistryAccess, RegistryAuth
from pipelines.release.retag import move_tag
from pipelines.release.sbom import attest_sbom, sbom
from pipelines.release.scan import scan
from pipelines.release.scan_report import GateSeverity
from pipelines.release.signing import sign
from pipelines.release.tool_images import ToolImages
from pipelines.results import BuildResult

T = TypeVar("T")

RETRYABLE = re.compile(
    r"\b(408|429|500|502|503|504)\b|too many requests|timeout|connection reset|"
    r"unexpected EOF|service unavailable|bad gateway",
    re.IGNORECASE,
)
_DIGEST = re.compile(r"@(sha256:[0-9a-f]{64})$")


class PublishFailed(PipelineError):
    """A push failed for good; says what was already pushed and that floating tags did not move
    (unless the failure happened while moving them)."""


class NothingPublished(PipelineError):
    """The build did not pass: nothing was pushed."""


@dataclass(frozen=True)
class Retry:
    """Backoff policy for registry pushes."""

    attempts: int = 5
    first_delay: float = 1.0
    factor: float = 2.0


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


@dataclass
class PublishedImage:
    """One variant as published: its index, the platform manifests, and the tags."""

    variant: str
    repository: str
    index_digest: str
    platforms: dict[str, str]
    tags: list[str] = field(default_factory=list)
    scans: dict[str, str] = field(default_factory=dict)
    signed: list[str] = field(default_factory=list)
    sboms: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        """A JSON-able dict (what later steps read)."""
        return {
            "variant": self.variant,
            "repository": self.repository,
            "index": f"{self.repository}@{self.index_digest}",
            "index_digest": self.index_digest,
            "platforms": self.platforms,
            "tags": self.tags,
            "scans": self.scans,
            "signed": self.signed,
            "sbom_attestations": self.sboms,
        }


@dataclass
class PublishLog:
    """What a publication did, for the report and the tests (attempts include retries)."""

    attempts: int = 0
    retries: list[str] = field(default_factory=list)


def digest_of(published: str) -> str:
    """The digest of a ``repo:tag@sha256:...`` reference returned by Dagger's publish."""
    match = _DIGEST.search(published)
    if match is None:
        raise PublishFailed(f"the registry returned no digest for {published!r}")
    return match.group(1)


async def with_retries(
    action: Callable[[], Awaitable[T]], what: str, retry: Retry, log: PublishLog
) -> T:
    """Run ``action``; retry with backoff while the error looks transient."""
    delay = retry.first_delay
    for attempt in range(1, retry.attempts + 1):
        log.attempts += 1
        try:
            return await action()
        except dagger.QueryError as exc:
            message = str(exc)
            if isinstance(exc, dagger.ExecError):
                message = f"{message}: {exc.stderr.strip()}"
            if attempt == retry.attempts or not RETRYABLE.search(message):
                raise PublishFailed(f"{what}: {message.splitlines()[0]}") from exc
            log.retries.append(f"{what}: attempt {attempt}: {message.splitlines()[0][:200]}")
            await anyio.sleep(delay)
            delay *= retry.factor
    raise AssertionError("unreachable")


def repository_ref(registry: str, namespace: str, repository: str) -> str:
    """``registry/namespace/repository`` (namespace optional)."""
    parts = [registry.rstrip("/"), namespace.strip("/"), repository]
    return "/".join(p for p in parts if p)


def _arch(platform: str) -> str:
    return platform.split("/", 1)[1].replace("/", "")


def _authed(
    ctr: dagger.Container, registry: str, username: str | None, password: dagger.Secret | None
) -> dagger.Container:
    if username and password is not None:
        return ctr.with_registry_auth(registry, username, password)
    return ctr


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
) -> list[PublishedImage]:
    """Publish every variant of ``result`` to ``registry`` (see the module docstring).

    With ``steps`` (default: none of them), the platform images are scanned once pushed under
    their arch tags, before any index is pushed (a gate failure moves no multi-platform tag);
    with a signing key, the index and platform digests are signed and each platform gets its
    SBOM as a signed attestation, before the floating tags move.
    """
    retry = retry or Retry()
    access = (
        RegistryAccess(auth=(RegistryAuth(registry, username, password),))
        if username and password is not None
        else RegistryAccess()
    )
    log = log if log is not None else PublishLog()
    if not result.passed:
        raise NothingPublished(
            "nothing was published: not every variant passed on every platform\n" + result.render()
        )
    images: list[PublishedImage] = []
    pending: list[tuple[PublishedImage, list[dagger.Container], list[str]]] = []
    for variant in result.plan.variants:
        targets = [t for t in result.targets if t.target.variant == variant]
        first = targets[0].target
        repo = repository_ref(registry, namespace, first.repository)
        exact, *floating = first.tags
        containers = [
            _authed(t.container, registry, username, password) for t in targets if t.container
        ]
        image = PublishedImage(variant=variant, repository=repo, index_digest="", platforms={})
        for t, ctr in zip(targets, containers, strict=True):
            ref = f"{repo}:{exact}-{_arch(t.target.platform)}"
            published = await with_retries(partial(ctr.publish, ref), f"push {ref}", retry, log)
            image.platforms[t.target.platform] = digest_of(published)
            image.tags.append(f"{exact}-{_arch(t.target.platform)}")
        images.append(image)
        pending.append((image, containers, [exact, *floating]))

    if steps is not None and steps.scan:
        for image in images:
            for platform, digest in image.platforms.items():
                report = await scan(
                    f"{image.repository}@{digest}",
                    scanner_image=steps.tools.trivy,
                    db=steps.scan_db,
                    db_repository=steps.scan_db_repository,
                    fail_on=steps.fail_on,
                    platform=platform,
                    registry=access,
                )
                image.scans[platform] = report.summary()

    for image, containers, tags in pending:
        head, *rest = containers
        ref = f"{image.repository}:{tags[0]}"
        push = partial(head.publish, ref, platform_variants=rest)
        published = await with_retries(push, f"push {ref}", retry, log)
        image.index_digest = digest_of(published)
        image.tags.append(tags[0])

    if steps is not None and steps.signing_key is not None:
        for image in images:
            await _sign_and_attest(image, steps, steps.signing_key, access)

    for image, _containers, tags in pending:
        for tag in tags[1:]:
            ref = f"{image.repository}:{tag}"
            move = partial(
                move_tag,
                f"{image.repository}@{image.index_digest}",
                ref,
                username=username,
                password=password,
                tools_image=tools_image,
            )
            moved = await with_retries(move, f"move {ref}", retry, log)
            if moved != image.index_digest:
                raise PublishFailed(f"{ref} names {moved}, expected {image.index_digest}")
            image.tags.append(tag)
    return images


async def _sign_and_attest(
    image: PublishedImage, steps: ReleaseSteps, key: dagger.Secret, access: RegistryAccess
) -> None:
    """Sign the index and platform digests; attach each platform's SBOM as an attestation."""
    for digest in [image.index_digest, *image.platforms.values()]:
        ref = f"{image.repository}@{digest}"
        await sign(
            ref, key, steps.signing_password, cosign_image=steps.tools.cosign, registry=access
        )
        image.signed.append(ref)
    if not steps.sbom:
        return
    for platform, digest in image.platforms.items():
        ref = f"{image.repository}@{digest}"
        document = await sbom(ref, syft_image=steps.tools.syft, platform=platform, registry=access)
        await attest_sbom(
            ref,
            document,
            key,
            steps.signing_password,
            cosign_image=steps.tools.cosign,
            registry=access,
        )
        image.sboms.append(ref)


def digests_json(images: list[PublishedImage]) -> str:
    """The published digests as JSON, one entry per variant."""
    return json.dumps([image.to_json() for image in images], indent=2, sort_keys=True) + "\n"
