"""Signing image digests with cosign, and verifying their signatures.

Signatures are attached to a digest (``repo@sha256:…``): sign the index digest of a
multi-platform image and, so that a pull of one platform can be verified too, each platform
digest (or pass ``recursive=True``). With cosign v2 they are stored in the same repository
under the tag ``sha256-<hex>.sig``.
"""

from __future__ import annotations

from collections.abc import Mapping

import dagger
from dagger import dag

from pipelines.errors import InputError
from pipelines.release.cosign import (
    PRIVATE_KEY_PATH,
    cosign_container,
    key_verification,
    registry_flags,
    with_private_key,
)
from pipelines.release.errors import SignatureVerificationFailed
from pipelines.release.references import DigestReference, parse_digest_reference
from pipelines.release.registry_access import HELPER_IMAGE, RegistryAccess
from pipelines.release.tool_container import WORK_DIR, ToolContainer
from pipelines.release.tool_images import DEFAULT_COSIGN_IMAGE

SIGSTORE_FULCIO_URL = "https://fulcio.sigstore.dev"
SIGSTORE_REKOR_URL = "https://rekor.sigstore.dev"
IDENTITY_TOKEN_PATH = f"{WORK_DIR}/oidc-token"


def annotation_flags(annotations: Mapping[str, str]) -> list[str]:
    """``-a key=value`` for each annotation (signed along with the digest)."""
    return [flag for key, value in sorted(annotations.items()) for flag in ("-a", f"{key}={value}")]


def sign_flags(cosign: ToolContainer, ref: DigestReference, recursive: bool) -> list[str]:
    """Flags common to key and keyless signing of ``ref``."""
    flags = ["--yes", *registry_flags(cosign)]
    if cosign.ref(str(ref)) != str(ref):
        # Inside the container the registry has another name: sign the name the caller uses.
        flags += ["--sign-container-identity", ref.repository]
    if recursive:
        flags.append("--recursive")
    return flags


async def sign(
    image_digest_ref: str,
    key: dagger.Secret,
    password: dagger.Secret | None,
    *,
    cosign_image: str = DEFAULT_COSIGN_IMAGE,
    tlog_upload: bool = False,
    annotations: Mapping[str, str] | None = None,
    recursive: bool = False,
    registry: RegistryAccess | None = None,
) -> str:
    """Sign ``image_digest_ref`` (``repo@sha256:…``) with a cosign private key; return it.

    ``key`` is the PEM private key (encrypted with ``password``; None means an empty password).
    ``tlog_upload=False`` (the default) records nothing in a Rekor transparency log, so signing
    needs only the registry; verify such signatures with :func:`verify`. ``recursive`` also
    signs every manifest an index lists. Raises :class:`InputError` for a reference that is not
    pinned by digest and :class:`ReleaseToolFailed` when cosign fails.
    """
    ref = parse_digest_reference(image_digest_ref)
    access = registry or RegistryAccess()
    cosign = with_private_key(
        await cosign_container(cosign_image, [str(ref)], access), key, password
    ).uncached()
    args = [
        "sign",
        "--key",
        PRIVATE_KEY_PATH,
        f"--tlog-upload={str(tlog_upload).lower()}",
        *sign_flags(cosign, ref, recursive),
        *annotation_flags(annotations or {}),
        cosign.ref(str(ref)),
    ]
    await cosign.run(args, action="sign", subject=str(ref))
    return str(ref)


async def sign_keyless(
    image_digest_ref: str,
    identity_token: dagger.Secret | None,
    *,
    cosign_image: str = DEFAULT_COSIGN_IMAGE,
    fulcio_url: str = SIGSTORE_FULCIO_URL,
    rekor_url: str = SIGSTORE_REKOR_URL,
    annotations: Mapping[str, str] | None = None,
    recursive: bool = False,
    registry: RegistryAccess | None = None,
) -> str:
    """Sign ``image_digest_ref`` keylessly with an OIDC identity token; return the reference.

    Fulcio issues a short-lived certificate for the token's identity (e.g. the CI workflow) and
    the signature is recorded in Rekor, so both services must be reachable. ``identity_token``
    is the raw token (in GitHub Actions: requested with the ``id-token: write`` permission for
    audience ``sigstore``). Verification then names the expected identity and issuer
    (``cosign verify --certificate-identity … --certificate-oidc-issuer …``).

    Raises :class:`InputError`, before running anything, when the token is missing or empty.
    """
    ref = parse_digest_reference(image_digest_ref)
    if identity_token is None:
        raise InputError(
            f"keyless signing of {ref} needs an OIDC identity token: none was given "
            "(in CI, request one for audience 'sigstore', or sign with a key)"
        )
    if not await _has_content(identity_token):
        raise InputError(f"keyless signing of {ref} needs an OIDC identity token: it is empty")
    access = registry or RegistryAccess()
    cosign = await cosign_container(cosign_image, [str(ref)], access)
    cosign = cosign.with_secret_file(IDENTITY_TOKEN_PATH, identity_token).uncached()
    args = [
        "sign",
        "--identity-token",
        IDENTITY_TOKEN_PATH,
        "--oidc-disable-ambient-providers",
        "--fulcio-url",
        fulcio_url,
        "--rekor-url",
        rekor_url,
        *sign_flags(cosign, ref, recursive),
        *annotation_flags(annotations or {}),
        cosign.ref(str(ref)),
    ]
    await cosign.run(args, action="sign (keyless)", subject=str(ref))
    return str(ref)


async def _has_content(secret: dagger.Secret) -> bool:
    """Whether ``secret`` holds more than white space, judged in a container (the value never
    comes into this process)."""
    ctr = dag.container().from_(HELPER_IMAGE).with_mounted_secret(IDENTITY_TOKEN_PATH, secret)
    check = ctr.with_exec(
        ["sh", "-c", 'tr -d " \\t\\r\\n" < "$0" | grep -q .', IDENTITY_TOKEN_PATH],
        expect=dagger.ReturnType.ANY,
    )
    return await check.exit_code() == 0


async def verify(
    image_digest_ref: str,
    public_key: dagger.File,
    *,
    cosign_image: str = DEFAULT_COSIGN_IMAGE,
    annotations: Mapping[str, str] | None = None,
    registry: RegistryAccess | None = None,
) -> str:
    """Check that ``image_digest_ref`` has a valid signature by ``public_key``'s private key.

    Returns cosign's output: the JSON list of verified signature payloads. Raises
    :class:`SignatureVerificationFailed` (naming the reference) when no signature verifies,
    and :class:`InputError` for a reference that is not pinned by digest. With
    ``annotations``, a signature only counts when it carries them.
    """
    ref = parse_digest_reference(image_digest_ref)
    access = registry or RegistryAccess()
    cosign = await cosign_container(cosign_image, [str(ref)], access)
    cosign, flags = key_verification(cosign.uncached(), public_key)
    args = [
        "verify",
        *flags,
        *registry_flags(cosign),
        *annotation_flags(annotations or {}),
        "--output",
        "json",
        cosign.ref(str(ref)),
    ]
    ran = await cosign.run(
        args,
        action="verify a signature of",
        subject=str(ref),
        failure=SignatureVerificationFailed,
    )
    return await ran.stdout()
