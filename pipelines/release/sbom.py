"""SBOMs of platform images (syft), attached to their digests as signed attestations (cosign).

The image is read from its registry (:func:`sbom`) or, before anything is pushed, from its OCI
tarball in the engine (:func:`sbom_of_archive`, what a release does).

An SBOM describes one platform image, so it is generated from, and attested to, a platform
digest. ``cosign attest`` stores the signed in-toto statement in the same repository under
the tag ``sha256-<hex>.att``: the image index itself is not touched, so it keeps listing only
the real platforms (no ``unknown/unknown`` entries).

For a registry on the host's loopback, which the tools reach under an alias (see
:mod:`pipelines.release.registry_access`), the SBOM keeps the caller's repository name but the
in-toto statement's subject *name* is the alias (cosign has no option to set it); verification
goes by the subject's digest, which is the platform digest either way.
"""

from __future__ import annotations

import base64
import json
from typing import Any, Literal

import dagger

from pipelines.errors import InputError
from pipelines.release.cosign import (
    PRIVATE_KEY_PATH,
    cosign_container,
    key_verification,
    registry_flags,
    with_private_key,
)
from pipelines.release.errors import SignatureVerificationFailed
from pipelines.release.references import is_pinned, parse_digest_reference, repository_of
from pipelines.release.registry_access import RegistryAccess
from pipelines.release.tool_container import OUTPUT_DIR, WORK_DIR, tool_container
from pipelines.release.tool_images import DEFAULT_COSIGN_IMAGE, DEFAULT_SYFT_IMAGE

SbomFormat = Literal["spdx-json", "cyclonedx-json", "syft-json"]
SBOM_FORMATS: tuple[SbomFormat, ...] = ("spdx-json", "cyclonedx-json", "syft-json")

PredicateType = Literal["spdxjson", "cyclonedx"]
PREDICATE_TYPES: dict[SbomFormat, PredicateType] = {
    "spdx-json": "spdxjson",
    "cyclonedx-json": "cyclonedx",
}
"""The ``cosign attest --type`` of each SBOM format that has one."""

SBOM_FILE_NAMES: dict[SbomFormat, str] = {
    "spdx-json": "sbom.spdx.json",
    "cyclonedx-json": "sbom.cdx.json",
    "syft-json": "sbom.syft.json",
}
PREDICATE_PATH = f"{WORK_DIR}/predicate.json"
ARCHIVE_PATH = f"{WORK_DIR}/image.tar"


async def sbom(
    image_ref: str,
    *,
    syft_image: str = DEFAULT_SYFT_IMAGE,
    format: SbomFormat = "spdx-json",
    platform: str | None = None,
    registry: RegistryAccess | None = None,
) -> dagger.File:
    """The SBOM of one platform image, read by syft straight from its registry.

    Pass a platform digest (``repo@sha256:…`` of a manifest); for an index or a tag, ``platform``
    (``linux/arm64``) chooses the image. The document is named after ``image_ref``'s repository.
    A digest reference's SBOM is computed once and then served from the engine's cache.
    """
    if format not in SBOM_FORMATS:
        raise InputError(f"unknown SBOM format {format!r}; choose one of {', '.join(SBOM_FORMATS)}")
    access = registry or RegistryAccess()
    syft = await tool_container("syft", syft_image, [image_ref], access)
    syft = syft.with_output_dir().with_env("SYFT_CHECK_FOR_APP_UPDATE", "false")
    if syft.insecure:
        syft = syft.with_env("SYFT_REGISTRY_INSECURE_USE_HTTP", "true").with_env(
            "SYFT_REGISTRY_INSECURE_SKIP_TLS_VERIFY", "true"
        )
    if not is_pinned(image_ref):
        syft = syft.uncached()  # a tag may point elsewhere by now
    output = f"{OUTPUT_DIR}/{SBOM_FILE_NAMES[format]}"
    args = [
        "scan",
        f"registry:{syft.ref(image_ref)}",
        "--output",
        f"{format}={output}",
        "--source-name",
        repository_of(image_ref),
        *(["--platform", platform] if platform else []),
    ]
    ran = await syft.run(args, action="generate an SBOM of", subject=image_ref)
    return ran.file(output)


async def sbom_of_archive(
    tarball: dagger.File,
    name: str,
    *,
    syft_image: str = DEFAULT_SYFT_IMAGE,
    format: SbomFormat = "spdx-json",
) -> dagger.File:
    """The SBOM of one platform image read from its OCI tarball (``Container.as_tarball()``),
    named ``name`` (the image's repository). Computed once per tarball (a cached step)."""
    if format not in SBOM_FORMATS:
        raise InputError(f"unknown SBOM format {format!r}; choose one of {', '.join(SBOM_FORMATS)}")
    syft = await tool_container("syft", syft_image, [], RegistryAccess())
    syft = (
        syft.with_output_dir()
        .with_env("SYFT_CHECK_FOR_APP_UPDATE", "false")
        .with_file(ARCHIVE_PATH, tarball)
    )
    output = f"{OUTPUT_DIR}/{SBOM_FILE_NAMES[format]}"
    args = [
        "scan",
        f"oci-archive:{ARCHIVE_PATH}",
        "--output",
        f"{format}={output}",
        "--source-name",
        name,
    ]
    ran = await syft.run(args, action="generate an SBOM of", subject=name)
    return ran.file(output)


async def attest_sbom(
    image_digest_ref: str,
    sbom_file: dagger.File,
    key: dagger.Secret,
    password: dagger.Secret | None,
    *,
    predicate_type: PredicateType = "spdxjson",
    cosign_image: str = DEFAULT_COSIGN_IMAGE,
    tlog_upload: bool = False,
    replace: bool = True,
    registry: RegistryAccess | None = None,
) -> str:
    """Attach ``sbom_file`` to ``image_digest_ref`` as an attestation signed with ``key``.

    ``image_digest_ref`` should be the platform digest the SBOM describes. ``replace`` drops an
    earlier attestation of the same type (so re-running a release does not pile them up).
    Returns the reference. Raises :class:`InputError` for a reference not pinned by digest.
    """
    ref = parse_digest_reference(image_digest_ref)
    access = registry or RegistryAccess()
    cosign = await cosign_container(cosign_image, [str(ref)], access)
    cosign = with_private_key(cosign, key, password).with_file(PREDICATE_PATH, sbom_file).uncached()
    args = [
        "attest",
        "--key",
        PRIVATE_KEY_PATH,
        "--type",
        predicate_type,
        "--predicate",
        PREDICATE_PATH,
        f"--tlog-upload={str(tlog_upload).lower()}",
        f"--replace={str(replace).lower()}",
        "--yes",
        *registry_flags(cosign),
        cosign.ref(str(ref)),
    ]
    await cosign.run(args, action="attest an SBOM to", subject=str(ref))
    return str(ref)


async def verify_sbom_attestation(
    image_digest_ref: str,
    public_key: dagger.File,
    *,
    predicate_type: PredicateType = "spdxjson",
    cosign_image: str = DEFAULT_COSIGN_IMAGE,
    registry: RegistryAccess | None = None,
) -> list[dict[str, Any]]:
    """Verify the SBOM attestations of ``image_digest_ref`` with ``public_key``.

    Returns the verified in-toto statements (``subject``, ``predicateType``, ``predicate``: the
    SBOM). Raises :class:`SignatureVerificationFailed` (naming the reference) when none verifies.
    """
    ref = parse_digest_reference(image_digest_ref)
    access = registry or RegistryAccess()
    cosign = await cosign_container(cosign_image, [str(ref)], access)
    cosign, flags = key_verification(cosign.uncached(), public_key)
    args = [
        "verify-attestation",
        *flags,
        "--type",
        predicate_type,
        *registry_flags(cosign),
        cosign.ref(str(ref)),
    ]
    ran = await cosign.run(
        args,
        action="verify an SBOM attestation of",
        subject=str(ref),
        failure=SignatureVerificationFailed,
    )
    return attested_statements(await ran.stdout())


def attested_statements(verify_output: str) -> list[dict[str, Any]]:
    """The in-toto statements inside ``cosign verify-attestation``'s output (DSSE envelopes)."""
    statements: list[dict[str, Any]] = []
    for line in verify_output.splitlines():
        if not line.strip():
            continue
        envelope = json.loads(line)
        statement = json.loads(base64.b64decode(envelope["payload"]))
        if not isinstance(statement, dict):
            raise ValueError(f"attestation payload is not a JSON object: {statement!r}")
        statements.append(statement)
    return statements
