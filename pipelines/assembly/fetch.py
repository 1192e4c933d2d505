"""Verified downloads: a release artifact is used only after its integrity is proven.

Integrity, in order of strength: the sha256 pinned in the catalog's lock file; the detached
OpenPGP signature checked against the key whose fingerprint the catalog pins; a checksums file
published next to the artifact. An artifact with none of the three is refused. The
checks run in a tools container (gnupg, coreutils), never on the caller's machine.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import dagger
from dagger import dag

from pipelines.catalog.artifacts import ArtifactRef
from pipelines.errors import PipelineError
from pipelines.tools import tools_container


class FetchError(PipelineError):
    """An artifact could not be downloaded, or failed its integrity checks."""


@dataclass(frozen=True)
class SigningKeyRef:
    """Where the family's signing key comes from, and the fingerprint it must have."""

    url: str
    fingerprint: str


@dataclass(frozen=True)
class VerifiedArtifact:
    """An artifact that passed its checks, with what was checked."""

    ref: ArtifactRef
    file: dagger.File
    sha256: str
    checks: tuple[str, ...]


_VERIFY = r"""
set -u
cd /in
sum=$(sha256sum "$ARTIFACT" | cut -d' ' -f1) || exit 10
echo "sha256=$sum"
if [ -n "${SIGNATURE:-}" ]; then
  export GNUPGHOME=$(mktemp -d)
  gpg --batch --quiet --import key.asc 2>/dev/null || echo "key_error=not an OpenPGP key"
  fprs=$(gpg --batch --with-colons --fingerprint | awk -F: '$1=="fpr"{print $10}')
  echo "key_fingerprints=$(echo $fprs | tr ' ' ',')"
  gpg --batch --export > keyring.gpg
  if gpgv --keyring ./keyring.gpg "$SIGNATURE" "$ARTIFACT" 2>gpgv.err; then
    echo "signature=good"
  else
    echo "signature=bad"; sed 's/^/gpgv: /' gpgv.err
  fi
fi
if [ -n "${CHECKSUMS:-}" ]; then
  want=$(awk -v f="$ARTIFACT" '$2==f || $2=="*"f {print $1}' "$CHECKSUMS")
  echo "checksums_entry=${want:-missing}"
fi
"""


def _fields(output: str) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in output.splitlines():
        key, sep, value = line.partition("=")
        if sep and re.fullmatch(r"[a-z0-9_]+", key):
            values[key] = value
    return values


def _describe(ref: ArtifactRef) -> str:
    return f"{ref.name} {ref.version} for {ref.platform} ({ref.url})"


async def fetch_verified(
    ref: ArtifactRef,
    key: SigningKeyRef | None,
    *,
    local: dagger.File | None = None,
    tools_image: str = "debian:12-slim",
) -> VerifiedArtifact:
    """Download ``ref`` (or take ``local``) and prove its integrity, or raise FetchError."""
    signed = ref.signature_url is not None and key is not None
    if ref.sha256_pin is None and not signed and ref.checksums_url is None:
        raise FetchError(
            f"{_describe(ref)}: nothing to verify it with (no sha256 in the lock file, no "
            "signature, no checksums file); pin it with the `lock` function"
        )
    file = local if local is not None else dag.http(ref.url)
    ctr = (
        tools_container(tools_image)
        .with_mounted_file(f"/in/{ref.filename}", file)
        .with_env_variable("ARTIFACT", ref.filename)
    )
    if signed and ref.signature_url is not None and key is not None:
        ctr = (
            ctr.with_mounted_file("/in/artifact.asc", dag.http(ref.signature_url))
            .with_mounted_file("/in/key.asc", dag.http(key.url))
            .with_env_variable("SIGNATURE", "artifact.asc")
        )
    if ref.checksums_url is not None:
        checksums = dag.http(ref.checksums_url)
        ctr = ctr.with_mounted_file("/in/checksums.txt", checksums)
        ctr = ctr.with_env_variable("CHECKSUMS", "checksums.txt")
    try:
        out = await ctr.with_exec(["sh", "-c", _VERIFY]).stdout()
    except dagger.ExecError as exc:
        detail = f"{exc.stdout}{exc.stderr}".strip()
        raise FetchError(f"{_describe(ref)}: verification failed: {detail}") from exc
    except dagger.QueryError as exc:
        raise FetchError(f"{_describe(ref)}: download failed: {_first_line(exc)}") from exc
    return _judge(ref, key, file, _fields(out), out)


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _judge(
    ref: ArtifactRef,
    key: SigningKeyRef | None,
    file: dagger.File,
    fields: dict[str, str],
    output: str,
) -> VerifiedArtifact:
    got = fields.get("sha256", "")
    checks: list[str] = []
    if ref.sha256_pin is not None:
        if got != ref.sha256_pin:
            raise FetchError(
                f"{_describe(ref)}: sha256 mismatch: the lock file pins {ref.sha256_pin}, "
                f"the download has {got}"
            )
        checks.append("sha256 pinned")
    if "signature" in fields and key is not None:
        fingerprints = [f for f in fields.get("key_fingerprints", "").split(",") if f]
        if fingerprints != [key.fingerprint]:
            raise FetchError(
                f"{_describe(ref)}: the signing key at {key.url} has fingerprint(s) "
                f"{', '.join(fingerprints) or 'none'}, the catalog pins {key.fingerprint}"
            )
        if fields["signature"] != "good":
            detail = " ".join(line for line in output.splitlines() if line.startswith("gpgv:"))
            raise FetchError(
                f"{_describe(ref)}: bad OpenPGP signature ({ref.signature_url}): {detail}"
            )
        checks.append(f"signature by {key.fingerprint}")
    if "checksums_entry" in fields:
        entry = fields["checksums_entry"]
        if entry != got:
            raise FetchError(
                f"{_describe(ref)}: {ref.checksums_url} lists {entry} for {ref.filename}, "
                f"the download has {got}"
            )
        checks.append("published checksums")
    return VerifiedArtifact(ref=ref, file=file, sha256=got, checks=tuple(checks))
