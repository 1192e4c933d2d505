"""Model of ``artifacts.lock.toml``: sha256 pins of downloaded artifacts."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Annotated

from pydantic import AfterValidator, Field, field_validator

from pipelines.catalog.family import ArtifactName, ArtifactVersionStr, PlatformStr
from pipelines.catalog.fields import CatalogModel
from pipelines.errors import InputError

LOCK_FILE_NAME = "artifacts.lock.toml"

LOCK_HEADER = """\
# sha256 pins of the artifacts downloaded by the pipeline, one [[artifact]] per
# name, version and platform. Refresh it with the pipeline's `lock` function.
# An artifact without a pin here is accepted only if its OpenPGP signature is
# valid and made by the family's signing key (family.toml [signing_key]).
"""


def _sha256(value: str) -> str:
    if not re.fullmatch(r"[0-9a-f]{64}", value):
        raise ValueError(f"{value!r} is not a sha256 digest: expected 64 lowercase hex digits")
    return value


Sha256 = Annotated[str, AfterValidator(_sha256)]


class LockEntry(CatalogModel):
    """The sha256 of one artifact, for one version and platform."""

    name: ArtifactName = Field(description="Artifact name, as in family.toml [artifacts].")
    version: ArtifactVersionStr = Field(
        description="Version of the artifact (its own pinned one, or the release)."
    )
    platform: PlatformStr = Field(description="Platform, e.g. 'linux/amd64'.")
    sha256: Sha256 = Field(description="sha256 of the downloaded file, 64 lowercase hex digits.")

    @property
    def key(self) -> tuple[str, str, str]:
        """``(name, version, platform)``: what the entry pins."""
        return (self.name, self.version, self.platform)


class LockFile(CatalogModel):
    """All pins of a family; absent file or no entries means nothing is pinned."""

    artifact: list[LockEntry] = Field(
        default_factory=list, description="Pinned artifacts ([[artifact]] tables)."
    )

    @field_validator("artifact")
    @classmethod
    def _unique(cls, entries: list[LockEntry]) -> list[LockEntry]:
        seen: set[tuple[str, str, str]] = set()
        for entry in entries:
            if entry.key in seen:
                name, version, platform = entry.key
                raise ValueError(f"{name} {version} {platform} is pinned more than once")
            seen.add(entry.key)
        return entries


def lookup(lock: LockFile, name: str, version: str, platform: str) -> str | None:
    """The pinned sha256 of artifact ``name`` at ``version`` for ``platform``, if any."""
    for entry in lock.artifact:
        if entry.key == (name, version, platform):
            return entry.sha256
    return None


def update_lock(lock: LockFile, entries: Iterable[LockEntry]) -> LockFile:
    """``lock`` with ``entries`` added, replacing existing pins of the same key."""
    merged = {entry.key: entry for entry in lock.artifact}
    for entry in entries:
        merged[entry.key] = entry
    return LockFile(artifact=list(merged.values()))


def render_lock(entries: Iterable[LockEntry]) -> str:
    """The text of an ``artifacts.lock.toml`` holding ``entries``, sorted, with a header.

    Raises :class:`InputError` if two entries pin the same artifact differently.
    """
    unique: dict[tuple[str, str, str], LockEntry] = {}
    for entry in entries:
        previous = unique.setdefault(entry.key, entry)
        if previous.sha256 != entry.sha256:
            raise InputError(
                f"conflicting sha256 pins for {' '.join(entry.key)}: "
                f"{previous.sha256} and {entry.sha256}"
            )
    blocks = [LOCK_HEADER]
    for key in sorted(unique):
        entry = unique[key]
        blocks.append(
            "[[artifact]]\n"
            + "".join(
                f"{field} = {json.dumps(value)}\n"
                for field, value in (
                    ("name", entry.name),
                    ("version", entry.version),
                    ("platform", entry.platform),
                    ("sha256", entry.sha256),
                )
            )
        )
    return "\n".join(blocks)
