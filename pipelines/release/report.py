"""What a release published: per variant its digests, scans, signatures, and every tag's fate.

Each tag of the release ends up ``created`` (it did not exist), ``moved`` (it named something
else: ``previous`` says what), ``unchanged`` (it already named this content: nothing written)
or ``kept`` (a floating tag left where it was: ``reason`` says why).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Literal

TagStatus = Literal["created", "moved", "unchanged", "kept"]


@dataclass(frozen=True)
class TagResult:
    """One tag after the tag phase."""

    tag: str
    kind: str
    status: TagStatus
    digest: str
    previous: str | None = None
    reason: str = ""

    def to_json(self) -> dict[str, object]:
        """A JSON-able dict."""
        return {
            "tag": self.tag,
            "kind": self.kind,
            "status": self.status,
            "digest": self.digest,
            "previous": self.previous,
            "reason": self.reason,
        }


@dataclass
class PublishedImage:
    """One variant as published: its index, the platform manifests, and the tags."""

    variant: str
    repository: str
    index_digest: str
    platforms: dict[str, str]
    tags: list[str] = field(default_factory=list)
    """The tags that name this release now: arch tags, exact tag, floating tags moved."""
    scans: dict[str, str] = field(default_factory=dict)
    signed: list[str] = field(default_factory=list)
    sboms: list[str] = field(default_factory=list)
    tag_results: list[TagResult] = field(default_factory=list)

    def tag_status(self) -> dict[str, TagStatus]:
        """tag -> what the release did to it."""
        return {result.tag: result.status for result in self.tag_results}

    def to_json(self) -> dict[str, object]:
        """A JSON-able dict (what later steps read)."""
        return {
            "variant": self.variant,
            "repository": self.repository,
            "index": f"{self.repository}@{self.index_digest}",
            "index_digest": self.index_digest,
            "platforms": self.platforms,
            "tags": self.tags,
            "tag_changes": [result.to_json() for result in self.tag_results],
            "scans": self.scans,
            "signed": self.signed,
            "sbom_attestations": self.sboms,
        }


def order_tags(results: list[TagResult]) -> list[TagResult]:
    """Arch tags, then the exact tag, then floating ones (each in the order given)."""
    rank = {"arch": 0, "exact": 1, "floating": 2}
    return sorted(results, key=lambda result: rank.get(result.kind, 3))


def digests_json(images: list[PublishedImage]) -> str:
    """The published digests and tag changes as JSON, one entry per variant."""
    return json.dumps([image.to_json() for image in images], indent=2, sort_keys=True) + "\n"


def render_tag_changes(images: list[PublishedImage]) -> str:
    """One line per tag: ``repo:tag  created|moved|unchanged|kept  digest (reason)``."""
    lines = []
    for image in images:
        for result in image.tag_results:
            note = f" ({result.reason})" if result.reason else ""
            lines.append(f"{image.repository}:{result.tag}  {result.status}  {result.digest}{note}")
    return "\n".join(lines) + "\n"
