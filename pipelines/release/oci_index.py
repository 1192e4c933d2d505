"""OCI image indexes written by the release itself, byte for byte the same for the same images.

The engine's own multi-platform push orders platforms as it likes and stamps export times on
the way; the release instead reads each platform manifest's descriptor from the platform's OCI
tarball and writes the index itself: the family's platform order, descriptors reduced to
``mediaType``, ``digest``, ``size`` and ``platform``, compact JSON with a fixed key order. Same
platform manifests, same index digest.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pipelines.errors import PipelineError

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
REF_NAME = "org.opencontainers.image.ref.name"
INDEX_REF_NAME = "index"
OCI_LAYOUT_FILE = '{"imageLayoutVersion":"1.0.0"}'


class StagingFailed(PipelineError):
    """A platform image's OCI tarball is not what the release expects."""


@dataclass(frozen=True)
class PlatformManifest:
    """One platform image's manifest descriptor, as its OCI tarball lists it."""

    platform: str
    media_type: str
    digest: str
    size: int

    @property
    def ref_name(self) -> str:
        """Its name in the staged OCI layout (``linux-arm64``)."""
        return self.platform.replace("/", "-")

    def descriptor(self) -> dict[str, Any]:
        """The index entry: media type, digest, size, platform (``os``, ``architecture``,
        ``variant`` when there is one), always in this order."""
        os_name, arch, *variant = self.platform.split("/")
        platform: dict[str, str] = {"architecture": arch, "os": os_name}
        if variant:
            platform["variant"] = variant[0]
        return {
            "mediaType": self.media_type,
            "digest": self.digest,
            "size": self.size,
            "platform": platform,
        }


def canonical_json(document: dict[str, Any]) -> str:
    """Compact JSON, keys in insertion order: the bytes the digest is taken of."""
    return json.dumps(document, separators=(",", ":"), ensure_ascii=True)


def platform_manifest(platform: str, tarball_index: str) -> PlatformManifest:
    """The manifest descriptor in a one-platform OCI tarball's ``index.json``; raises
    :class:`StagingFailed` unless it lists exactly one image manifest, for ``platform``."""
    try:
        index = json.loads(tarball_index)
        [entry] = index["manifests"]
        media_type, digest, size = entry["mediaType"], entry["digest"], entry["size"]
        found = entry.get("platform") or {}
    except (ValueError, KeyError, TypeError) as exc:
        raise StagingFailed(
            f"the OCI tarball of the {platform} image does not list exactly one manifest: "
            f"{tarball_index[:300]!r}"
        ) from exc
    if media_type != OCI_MANIFEST:
        raise StagingFailed(
            f"the {platform} image's manifest has media type {media_type!r}, not {OCI_MANIFEST}"
        )
    listed = "/".join(
        str(found[key]) for key in ("os", "architecture", "variant") if found.get(key)
    )
    if listed and listed != platform:
        raise StagingFailed(f"the image built for {platform} is a {listed} image")
    return PlatformManifest(platform, str(media_type), str(digest), int(size))


def image_index(manifests: Sequence[PlatformManifest]) -> str:
    """The image index of ``manifests``, in the order given (the family's platform order)."""
    if not manifests:
        raise StagingFailed("an image index needs at least one platform manifest")
    platforms = [m.platform for m in manifests]
    if len(set(platforms)) != len(platforms):
        raise StagingFailed(f"a platform appears twice: {', '.join(platforms)}")
    return canonical_json(
        {
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": [m.descriptor() for m in manifests],
        }
    )


def digest_of(text: str) -> str:
    """``sha256:<hex>`` of ``text``'s UTF-8 bytes."""
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def layout_index(manifests: Sequence[PlatformManifest], index: str) -> str:
    """The staged layout's ``index.json``: every platform manifest under its
    :attr:`~PlatformManifest.ref_name` and the image index under :data:`INDEX_REF_NAME`."""
    entries: list[dict[str, Any]] = [
        {
            "mediaType": m.media_type,
            "digest": m.digest,
            "size": m.size,
            "annotations": {REF_NAME: m.ref_name},
        }
        for m in manifests
    ]
    entries.append(
        {
            "mediaType": OCI_INDEX,
            "digest": digest_of(index),
            "size": len(index.encode()),
            "annotations": {REF_NAME: INDEX_REF_NAME},
        }
    )
    return canonical_json({"schemaVersion": 2, "manifests": entries})
