"""Model of ``packages.lock.toml``: the Debian packages each variant installs, exactly.

rules_distroless style: the ``lock`` function resolves every variant's Debian package set once
per base and platform against the mirror's signed indexes (release, -updates, -security) and
writes name, version, architecture, URL and sha256 of each package; builds then download and
install exactly those files, verified, and nothing else. Re-running ``lock`` picks up updates,
and the file's diff shows them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, Field, field_validator

from pipelines.catalog.family import PlatformStr
from pipelines.catalog.fields import CatalogModel, HttpUrl, NonEmptyStr, Slug
from pipelines.catalog.lock import Sha256

PACKAGES_LOCK_FILE_NAME = "packages.lock.toml"

HEADER = """\
# The Debian packages each variant installs, resolved by the pipeline's `lock` function
# against the Debian mirror (release, -updates and -security suites) for every base image and
# platform: builds install exactly these files, verified by sha256, and fail without an entry.
# Re-run `lock` to pick up updates (the diff shows them). Do not edit by hand.
"""


def _debian_version(value: str) -> str:
    if not re.fullmatch(r"([0-9]+:)?[0-9A-Za-z.+~-]+", value):
        raise ValueError(f"{value!r} is not a Debian package version")
    return value


DebianVersion = Annotated[str, AfterValidator(_debian_version)]


class LockedPackage(CatalogModel):
    """One Debian package file, exactly."""

    name: NonEmptyStr = Field(description="Package name.")
    version: DebianVersion = Field(description="Exact Debian version, epoch included.")
    architecture: NonEmptyStr = Field(description="Debian architecture: amd64, arm64, all.")
    url: HttpUrl = Field(description="Where the .deb is downloaded from (mirrors apply).")
    sha256: Sha256 = Field(description="sha256 of the .deb, from the signed Packages index.")

    @property
    def filename(self) -> str:
        """The .deb's file name."""
        return self.url.rsplit("/", 1)[-1]


class PackageSet(CatalogModel):
    """Everything one variant's layer installs with apt, on one base and platform."""

    variant: Slug = Field(description="The variant whose layer installs these packages.")
    base: NonEmptyStr = Field(
        description="The chain's root: a registry image reference as rendered (e.g. "
        "'debian:bullseye'), or 'distroless:<release>'."
    )
    platform: PlatformStr = Field(description="Platform, e.g. 'linux/arm64'.")
    release: NonEmptyStr = Field(description="Debian codename the set was resolved for.")
    requested: list[NonEmptyStr] = Field(
        description="What the catalog asked for (packages, and .deb artifacts by name)."
    )
    packages: list[LockedPackage] = Field(
        description="The resolved packages, dependencies included, sorted by name."
    )

    @property
    def key(self) -> tuple[str, str, str]:
        """``(variant, base, platform)``: what the set is looked up by."""
        return (self.variant, self.base, self.platform)


class PackagesLock(CatalogModel):
    """Every resolved package set of a family (absent file: nothing locked)."""

    date: NonEmptyStr | None = Field(
        default=None,
        description="When `lock` last resolved (RFC 3339, UTC); images built from this lock "
        "carry it as their creation time.",
    )
    set: list[PackageSet] = Field(default_factory=list, description="[[set]] tables.")

    @field_validator("set")
    @classmethod
    def _unique(cls, sets: list[PackageSet]) -> list[PackageSet]:
        seen: set[tuple[str, str, str]] = set()
        for entry in sets:
            if entry.key in seen:
                raise ValueError(f"{' '.join(entry.key)} is locked more than once")
            seen.add(entry.key)
        return sets

    def lookup(self, variant: str, base: str, platform: str) -> PackageSet | None:
        """The set locked for ``variant`` built on ``base`` for ``platform``, if any."""
        return next((s for s in self.set if s.key == (variant, base, platform)), None)


def epoch_of(date: str | None) -> int:
    """SOURCE_DATE_EPOCH of a lock date (RFC 3339, UTC); 0 when nothing was locked."""
    if date is None:
        return 0
    return int(datetime.fromisoformat(date.replace("Z", "+00:00")).timestamp())


def merge(lock: PackagesLock, sets: Iterable[PackageSet], date: str) -> PackagesLock:
    """``lock`` with ``sets`` replacing those of the same key, and the new date."""
    merged = {entry.key: entry for entry in lock.set}
    for entry in sets:
        merged[entry.key] = entry
    return PackagesLock(date=date, set=[merged[key] for key in sorted(merged)])


def render_packages_lock(lock: PackagesLock) -> str:
    """The text of ``packages.lock.toml`` (sorted, one package per inline table)."""
    lines = [HEADER]
    if lock.date is not None:
        lines.append(f"date = {json.dumps(lock.date)}\n")
    for entry in sorted(lock.set, key=lambda s: s.key):
        lines.append("[[set]]")
        for field in ("variant", "base", "platform", "release"):
            lines.append(f"{field} = {json.dumps(getattr(entry, field))}")
        lines.append(f"requested = {json.dumps(entry.requested)}")
        lines.append("packages = [")
        for package in sorted(entry.packages, key=lambda p: (p.name, p.architecture)):
            fields = ", ".join(
                f"{name} = {json.dumps(getattr(package, name))}"
                for name in ("name", "version", "architecture", "url", "sha256")
            )
            lines.append(f"  {{ {fields} }},")
        lines.append("]\n")
    return "\n".join(lines)
