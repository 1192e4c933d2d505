"""Model of ``family.toml``: what a family of images has in common."""

from __future__ import annotations

import json
import re
from typing import Annotated

from pydantic import AfterValidator, Field, field_validator, model_validator

from pipelines.catalog.fields import CatalogModel, HttpUrl, Identifier, NonEmptyStr, Slug
from pipelines.catalog.templates import placeholders
from pipelines.errors import InputError
from pipelines.platforms import check_platform
from pipelines.versions import Version, parse_version

ArtifactName = Identifier
"""An artifact's name in ``family.toml`` (also its ``{<name>_version}`` placeholder)."""

URL_PLACEHOLDERS = ("version", "raw_version", "arch", "bucket")
"""Placeholders of an artifact's ``url`` template."""

DERIVED_URL_PLACEHOLDERS = (*URL_PLACEHOLDERS, "url")
"""Placeholders of the ``signature`` and ``checksums`` templates (``{url}``: the artifact URL)."""


def _fingerprint(value: str) -> str:
    if not re.fullmatch(r"[0-9A-F]{40}", value):
        raise ValueError(
            f"{value!r} is not an OpenPGP v4 fingerprint: expected 40 uppercase "
            "hexadecimal digits without spaces, e.g. 478B2FBBC75F4237B731DA4365106822B35B1B1F"
        )
    return value


def _version(value: str) -> str:
    try:
        parse_version(value)
    except InputError as error:
        raise ValueError(str(error)) from None
    return value


def _platform(value: str) -> str:
    try:
        return check_platform(value)
    except InputError as error:
        raise ValueError(str(error)) from None


Fingerprint = Annotated[str, AfterValidator(_fingerprint)]
VersionStr = Annotated[str, AfterValidator(_version)]


def _artifact_version(value: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9.+~:_-]*", value):
        raise ValueError(
            f"{value!r} is not a version: letters, digits and '.+~:_-', e.g. 0.13.0 or 2.30-22"
        )
    return value


ArtifactVersionStr = Annotated[str, AfterValidator(_artifact_version)]
"""An artifact's own version: semantic (``0.13.0``) or another scheme, e.g. Debian's
``2.30-22``; one that is not semantic counts as a final release."""


def _series(value: str) -> str:
    if not re.fullmatch(r"(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)", value):
        raise ValueError(f"{value!r} is not a release series: MAJOR.MINOR, e.g. 0.44")
    return value


SeriesKey = Annotated[str, AfterValidator(_series)]


def series_key(version: Version) -> str:
    """``MAJOR.MINOR`` of ``version``: its key in ``[series]``."""
    return f"{version.major}.{version.minor}"


PlatformStr = Annotated[str, AfterValidator(_platform)]


def _check_placeholders(template: str, allowed: tuple[str, ...]) -> str:
    unknown = [name for name in placeholders(template) if name not in allowed]
    if unknown:
        known = ", ".join(f"{{{name}}}" for name in allowed)
        raise ValueError(f"unknown placeholder {{{unknown[0]}}}; allowed here: {known}")
    return template


class SigningKey(CatalogModel):
    """The OpenPGP key that signs the family's release artifacts."""

    url: HttpUrl = Field(description="Where to download the ASCII-armored public key.")
    fingerprint: Fingerprint = Field(
        description="Full fingerprint (40 uppercase hex digits) the downloaded key must have; "
        "a key with another fingerprint is rejected."
    )


class Buckets(CatalogModel):
    """Bucket names substituted for ``{bucket}``: one for releases, one for development builds."""

    final: NonEmptyStr = Field(description="Bucket of final releases (e.g. 'bin', 'deb').")
    dev: NonEmptyStr = Field(
        description="Bucket of pre-releases and builds with metadata (e.g. 'bin-dev', 'deb-dev')."
    )


class ArtifactSource(CatalogModel):
    """Where one downloadable artifact lives and how to verify it."""

    url: HttpUrl = Field(
        description="URL template of the artifact. Placeholders: {version} (percent-encoded, "
        "'+' becomes %2B), {raw_version}, {arch} (from arch_names), {bucket} (from buckets)."
    )
    arch_names: dict[PlatformStr, NonEmptyStr] = Field(
        description="Name of each platform in URLs, e.g. {'linux/amd64' = 'x86_64'}; "
        "every platform of the family needs one."
    )
    buckets: Buckets | None = Field(
        default=None, description="Bucket names for {bucket}; required when url uses {bucket}."
    )
    signature: NonEmptyStr | None = Field(
        default=None,
        description="URL template of the detached OpenPGP signature made with signing_key "
        "(same placeholders as url, plus {url}), e.g. '{url}.asc'.",
    )
    checksums: NonEmptyStr | None = Field(
        default=None,
        description="URL template of a checksums file listing '<sha256>  <filename>' lines "
        "(same placeholders as url, plus {url}).",
    )
    version: ArtifactVersionStr | None = Field(
        default=None,
        description="The artifact's own pinned version. Absent: the artifact takes the "
        "release version being built. Available to variants as {<name>_version}.",
    )

    @field_validator("url")
    @classmethod
    def _url_placeholders(cls, value: str) -> str:
        return _check_placeholders(value, URL_PLACEHOLDERS)

    @field_validator("signature", "checksums")
    @classmethod
    def _derived_placeholders(cls, value: str | None) -> str | None:
        return None if value is None else _check_placeholders(value, DERIVED_URL_PLACEHOLDERS)

    @model_validator(mode="after")
    def _bucket_needs_buckets(self) -> ArtifactSource:
        templates = [self.url, self.signature or "", self.checksums or ""]
        if self.buckets is None and any("bucket" in placeholders(t) for t in templates):
            raise ValueError("a template uses {bucket} but no [buckets] are defined")
        return self


class Family(CatalogModel):
    """A family of images built from the same release artifacts (``family.toml``)."""

    name: Slug = Field(description="Name of the family, e.g. 'hello'.")
    description: str = Field(default="", description="One-line description of the family.")
    source: HttpUrl = Field(
        description="Source repository URL (label org.opencontainers.image.source)."
    )
    url: HttpUrl = Field(description="Home page (label org.opencontainers.image.url).")
    vendor: NonEmptyStr = Field(description="Vendor (label org.opencontainers.image.vendor).")
    licenses: NonEmptyStr = Field(
        description="SPDX license expression (label org.opencontainers.image.licenses)."
    )
    authors: NonEmptyStr = Field(description="Authors (label org.opencontainers.image.authors).")
    default_version: VersionStr = Field(
        description="Release built when the caller names none: an exact semantic version."
    )
    platforms: list[PlatformStr] = Field(
        min_length=1,
        description="Platforms every image is built for, in build order, e.g. 'linux/amd64'.",
    )
    labels: dict[NonEmptyStr, str] = Field(
        default_factory=dict, description="Extra labels set on every image of the family."
    )
    signing_key: SigningKey | None = Field(
        default=None, description="Key that signs the artifacts having a 'signature' URL."
    )
    series: dict[SeriesKey, dict[Identifier, str]] = Field(
        default_factory=dict,
        description="Values that depend on the release series, by 'MAJOR.MINOR', available to "
        'variants as placeholders (e.g. [series."1.2"] helper_version = "0.9.0": what the 1.2 '
        "releases ship). A release whose series is absent has none of them.",
    )
    artifacts: dict[ArtifactName, ArtifactSource] = Field(
        default_factory=dict,
        description="Downloadable artifacts, by name (lowercase letters, digits, '_'); "
        "variants install them with [[install.artifacts]].",
    )

    @field_validator("platforms")
    @classmethod
    def _unique_platforms(cls, value: list[str]) -> list[str]:
        duplicates = sorted({platform for platform in value if value.count(platform) > 1})
        if duplicates:
            raise ValueError(f"platforms listed more than once: {', '.join(duplicates)}")
        return value

    def series_values(self, version: Version) -> dict[str, str]:
        """The ``[series]`` placeholders of ``version``'s series (none if it has no entry)."""
        return dict(self.series.get(series_key(version), {}))

    def missing_series(self, version: Version) -> str | None:
        """Why ``version`` lacks series placeholders, or None when it has its series."""
        key = series_key(version)
        if not self.series or key in self.series:
            return None
        return (
            f"family.toml has no [series.{json.dumps(key)}] for version {version} "
            f"(series: {', '.join(sorted(self.series))})"
        )

    def series_names(self) -> set[str]:
        """Every placeholder name some series defines."""
        return {name for values in self.series.values() for name in values}

    def artifact_buckets(self, version: Version) -> dict[str, str]:
        """Placeholders ``{<name>_bucket}`` of the artifacts with buckets: the bucket a release
        of ``version``'s kind comes from (e.g. ``{deb_bucket}`` = deb or deb-dev)."""
        return {
            f"{name}_bucket": source.buckets.final if version.is_final else source.buckets.dev
            for name, source in self.artifacts.items()
            if source.buckets is not None
        }

    def artifact_versions(self) -> dict[str, str]:
        """Placeholders ``{<name>_version}`` of the artifacts with a pinned version."""
        return {
            f"{name}_version": source.version
            for name, source in self.artifacts.items()
            if source.version is not None
        }
