"""Resolve where an artifact is downloaded from and how it is verified."""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import unquote, urlsplit

from pydantic import BaseModel, ConfigDict, Field

from pipelines.catalog.family import Family
from pipelines.catalog.lock import LockFile, lookup
from pipelines.catalog.mirrors import Mirror, apply_mirrors
from pipelines.catalog.templates import render
from pipelines.errors import InputError
from pipelines.versions import Version, parse_version, url_version

ARCHIVE_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.xz", ".txz", ".tar.zst", ".tar.bz2", ".deb")
"""File names 'unpack' and 'member' steps read: tar archives (GNU tar detects the compression)
and Debian packages (the tree they install)."""


class ArtifactRef(BaseModel):
    """One artifact for one platform: URLs (mirrors applied) and the expected digest."""

    model_config = ConfigDict(frozen=True)

    name: str = Field(description="Artifact name in family.toml, e.g. 'tarball'.")
    version: str = Field(description="Version of the artifact (its pinned one, or the release).")
    platform: str = Field(description="Platform, e.g. 'linux/amd64'.")
    url: str = Field(description="Download URL.")
    signature_url: str | None = Field(description="Detached OpenPGP signature URL, if any.")
    checksums_url: str | None = Field(description="Checksums file URL, if any.")
    filename: str = Field(description="File name of the artifact (last URL path segment).")
    sha256_pin: str | None = Field(description="sha256 from the lock file, if pinned.")

    @property
    def key(self) -> tuple[str, str, str]:
        """``(name, version, platform)``: what a lock entry pins (one URL may serve several)."""
        return (self.name, self.version, self.platform)


class KeyRef(BaseModel):
    """Where a family's signing key is downloaded from (mirrors applied), and the fingerprint
    it must have."""

    model_config = ConfigDict(frozen=True)

    url: str = Field(description="URL of the ASCII-armored public key.")
    fingerprint: str = Field(description="The 40-hex-digit fingerprint the key must have.")


def _artifact_version(text: str) -> Version | str:
    """A pinned artifact version: semantic when it parses as one, else kept as written."""
    try:
        return parse_version(text)
    except InputError:
        return text


def url_placeholders(version: Version | str, arch: str, bucket: str | None) -> dict[str, str]:
    """Values of the URL template placeholders for one artifact version and arch."""
    values = {"version": url_version(version), "raw_version": str(version), "arch": arch}
    if bucket is not None:
        values["bucket"] = bucket
    return values


def artifact_urls(
    family: Family,
    artifact_name: str,
    version: str | Version,
    platform: str,
    mirrors: Sequence[Mirror] = (),
    *,
    lock: LockFile | None = None,
) -> ArtifactRef:
    """Render the URLs of ``artifact_name`` for the release ``version`` and ``platform``.

    An artifact with its own pinned version (e.g. a helper tool) uses that version
    instead of ``version``.  Final releases use the artifact's final bucket,
    other versions its dev bucket.  ``{url}`` in the signature and checksums
    templates is the canonical artifact URL; mirrors are applied afterwards to
    every URL.  The sha256 pin comes from ``lock``.
    """
    source = next((s for n, s in family.artifacts.items() if n == artifact_name), None)
    if source is None:
        known = ", ".join(family.artifacts) or "none"
        raise InputError(
            f"family {family.name!r} has no artifact {artifact_name!r}; known artifacts: {known}"
        )
    if platform not in family.platforms:
        raise InputError(
            f"platform {platform!r} is not built by family {family.name!r}; "
            f"valid platforms: {', '.join(family.platforms)}"
        )
    release = version if isinstance(version, Version) else parse_version(version)
    artifact_version = _artifact_version(source.version) if source.version else release
    is_final = not isinstance(artifact_version, Version) or artifact_version.is_final
    bucket = None
    if source.buckets is not None:
        bucket = source.buckets.final if is_final else source.buckets.dev
    values = url_placeholders(artifact_version, source.arch_names[platform], bucket)
    url = render(source.url, values)
    derived = {**values, "url": url}
    signature = render(source.signature, derived) if source.signature else None
    checksums = render(source.checksums, derived) if source.checksums else None
    return ArtifactRef(
        name=artifact_name,
        version=str(artifact_version),
        platform=platform,
        url=apply_mirrors(url, mirrors),
        signature_url=apply_mirrors(signature, mirrors) if signature else None,
        checksums_url=apply_mirrors(checksums, mirrors) if checksums else None,
        filename=unquote(urlsplit(url).path.rsplit("/", 1)[-1]),
        sha256_pin=lookup(lock, artifact_name, str(artifact_version), platform) if lock else None,
    )
