"""Verified downloads: an artifact is a Dagger file produced by a verification step.

Integrity, in order of strength: the sha256 pinned in the catalog's lock file; the detached
OpenPGP signature checked against the key whose fingerprint the catalog pins; a checksums file
published next to the artifact. An artifact with none of the three is refused before any work.

The step's exit code decides: it copies the artifact to its output only after every check held,
so a build that uses :attr:`VerifiedArtifact.file` cannot run on unverified bytes, and the
engine runs each verification once however many images use it. A failed check ends the step
with one ``error: <artifact>: <what failed>`` line on stderr, which the build reports as is.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath
from urllib.parse import urlsplit

import dagger
from dagger import dag

from pipelines.catalog.artifacts import ArtifactRef, KeyRef
from pipelines.errors import PipelineError
from pipelines.tools import tools_container


class FetchError(PipelineError):
    """An artifact cannot be verified (nothing to verify it with), or could not be downloaded."""


@dataclass(frozen=True)
class VerifiedArtifact:
    """An artifact as a lazily verified file, and what its verification checks."""

    ref: ArtifactRef
    file: dagger.File
    sha256: dagger.File  # the hex digest the verification computed (a file of the same step)
    checks: tuple[str, ...]


_VERIFY = r"""
set -u
fail() { echo "error: $DESCRIPTION: $*" >&2; exit 1; }
cd /in
got=$(sha256sum "$ARTIFACT" | cut -d' ' -f1)
if [ -n "${PIN:-}" ] && [ "$got" != "$PIN" ]; then
  fail "sha256 mismatch: the lock file pins $PIN, the download has $got"
fi
if [ -n "${SIGNATURE_URL:-}" ]; then
  export GNUPGHOME=$(mktemp -d)
  gpg --batch --quiet --import key.asc 2>/dev/null || fail "$KEY_URL is not an OpenPGP key"
  fprs=$(gpg --batch --with-colons --fingerprint | awk -F: '$1=="fpr"{print $10}' | paste -sd,)
  [ "$fprs" = "$FINGERPRINT" ] || fail "the signing key at $KEY_URL has fingerprint(s)" \
    "${fprs:-none}, the catalog pins $FINGERPRINT"
  gpg --batch --export > keyring.gpg
  gpgv --keyring ./keyring.gpg artifact.asc "$ARTIFACT" 2>gpgv.err ||
    fail "bad OpenPGP signature ($SIGNATURE_URL): $(sed 's/^/gpgv: /' gpgv.err | paste -sd' ')"
fi
if [ -n "${CHECKSUMS_URL:-}" ]; then
  want=$(awk -v f="$ARTIFACT" '$2==f || $2=="*"f {print $1}' checksums.txt)
  [ "$want" = "$got" ] || fail "$CHECKSUMS_URL lists ${want:-missing} for $ARTIFACT," \
    "the download has $got"
fi
mkdir -p /out && cp "$ARTIFACT" "/out/$ARTIFACT" && printf '%s' "$got" > /out/sha256
"""


def describe(ref: ArtifactRef) -> str:
    """``<name> <version> for <platform> (<url>)``: how messages name an artifact."""
    return f"{ref.name} {ref.version} for {ref.platform} ({ref.url})"


TRUSTED_ON_FIRST_USE = "trusted on first use: nothing else vouches for it (lock --trust-unverified)"


def planned_checks(
    ref: ArtifactRef, key: KeyRef | None, *, trust_unverified: bool = False
) -> tuple[str, ...]:
    """What verifying ``ref`` will check; FetchError when nothing can vouch for it, unless
    ``trust_unverified`` (only the ``lock`` step does that, to pin such an artifact once)."""
    checks = []
    if ref.sha256_pin is not None:
        checks.append("sha256 pinned")
    if ref.signature_url is not None and key is not None:
        checks.append(f"signature by {key.fingerprint}")
    if ref.checksums_url is not None:
        checks.append("published checksums")
    if not checks and trust_unverified:
        checks.append(TRUSTED_ON_FIRST_USE)
    if not checks:
        raise FetchError(
            f"{describe(ref)}: nothing to verify it with (no sha256 in the lock file, no "
            "signature, no checksums file); pin it with the `lock` function"
        )
    return tuple(checks)


def download(url: str, attempt: int = 0) -> dagger.File:
    """``url`` as a Dagger file. A later ``attempt`` names the file afresh: the engine then
    downloads it again instead of answering from this session's record of an earlier attempt,
    which its cache collector may have deleted (see :mod:`pipelines.cache_race`)."""
    if attempt == 0:
        return dag.http(url)
    name = PurePosixPath(urlsplit(url).path).name or "download"
    return dag.http(url, name=f"attempt-{attempt}-{name}")


def verified_artifact(
    ref: ArtifactRef,
    key: KeyRef | None,
    *,
    local: dagger.File | None = None,
    tools_image: str = "debian:12-slim",
    trust_unverified: bool = False,
    attempt: int = 0,
) -> VerifiedArtifact:
    """``ref`` downloaded (or ``local``) as a file that exists only if it verified; lazy.
    ``attempt``: see :func:`download`."""
    checks = planned_checks(ref, key, trust_unverified=trust_unverified)
    step = (
        tools_container(tools_image)
        .with_mounted_file(f"/in/{ref.filename}", local or download(ref.url, attempt))
        .with_env_variable("ARTIFACT", ref.filename)
        .with_env_variable("DESCRIPTION", describe(ref))
    )
    if ref.sha256_pin is not None:
        step = step.with_env_variable("PIN", ref.sha256_pin)
    if ref.signature_url is not None and key is not None:
        step = (
            step.with_mounted_file("/in/artifact.asc", download(ref.signature_url, attempt))
            .with_mounted_file("/in/key.asc", download(key.url, attempt))
            .with_env_variable("SIGNATURE_URL", ref.signature_url)
            .with_env_variable("KEY_URL", key.url)
            .with_env_variable("FINGERPRINT", key.fingerprint)
        )
    if ref.checksums_url is not None:
        step = step.with_mounted_file("/in/checksums.txt", download(ref.checksums_url, attempt))
        step = step.with_env_variable("CHECKSUMS_URL", ref.checksums_url)
    out = step.with_exec(["sh", "-c", _VERIFY]).directory("/out")
    return VerifiedArtifact(ref, out.file(ref.filename), out.file("sha256"), checks)


async def failed_download(refs: tuple[ArtifactRef, ...], key: KeyRef | None) -> str | None:
    """After a build failed on a download, which one: ``<artifact>: download failed: <why>``.

    The engine's HTTP error names no URL, so each download of the target is asked again (the
    ones that succeeded are cached); None when they all answer.
    """
    for ref in refs:
        urls = [ref.url, ref.signature_url, ref.checksums_url]
        if ref.signature_url is not None and key is not None:
            urls.append(key.url)
        for url in urls:
            if url is None:
                continue
            try:
                await dag.http(url).size()
            except dagger.QueryError as exc:
                lines = str(exc).strip().splitlines()
                why = lines[0] if lines else type(exc).__name__
                return f"{describe(ref)}: download failed: {url}: {why}"
    return None
