"""Every tag a release creates, what it must name, and in which order the tag phase writes them.

Per variant: one arch tag per platform, ``<uname -m>-<exact tag>`` (``x86_64-0.44.0``,
``aarch64-0.44.0-debian``: the form upstream uses), naming that platform's manifest; the exact tag
(``0.44.0``) and the floating tags (``latest``) naming the index. The tag phase writes every
arch and exact tag of every variant first, then the floating tags: a release interrupted
there has moved no floating tag.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from pipelines.errors import InputError
from pipelines.platforms import uname_machine
from pipelines.release.references import DigestReference

TagKind = Literal["arch", "exact", "floating"]


def arch_tag(platform: str, exact_tag: str) -> str:
    """The tag of one platform's image: ``x86_64-0.44.0``, ``aarch64-0.44.0-debian``."""
    return f"{uname_machine(platform)}-{exact_tag}"


@dataclass(frozen=True)
class VariantTags:
    """One variant's content (digests) and tags, as the plan names them."""

    variant: str
    repository: str
    index_digest: str
    platform_digests: dict[str, str]
    tags: tuple[str, ...]
    """Exact tag first, then the floating ones (the catalog's order)."""


@dataclass(frozen=True)
class TagAssignment:
    """One tag of the release and the manifest it must name."""

    variant: str
    repository: str
    tag: str
    kind: TagKind
    target: DigestReference
    platform: str | None = None

    @property
    def ref(self) -> str:
        """``repository:tag``."""
        return f"{self.repository}:{self.tag}"

    @property
    def is_index(self) -> bool:
        """Whether the tag names the multi-platform index (else one platform's manifest)."""
        return self.kind != "arch"


def variant_assignments(variant: VariantTags) -> list[TagAssignment]:
    """The variant's tags: arch tags (platform order), exact, floating (catalog order)."""
    if not variant.tags:
        raise InputError(f"variant {variant.variant} has no tag to publish")
    exact, *floating = variant.tags
    index = DigestReference(variant.repository, variant.index_digest)
    out = [
        TagAssignment(
            variant.variant,
            variant.repository,
            arch_tag(platform, exact),
            "arch",
            DigestReference(variant.repository, digest),
            platform,
        )
        for platform, digest in variant.platform_digests.items()
    ]
    out.append(TagAssignment(variant.variant, variant.repository, exact, "exact", index))
    out += [
        TagAssignment(variant.variant, variant.repository, tag, "floating", index)
        for tag in floating
    ]
    return out


def tag_phase_order(variants: Sequence[VariantTags]) -> list[TagAssignment]:
    """Every tag of the release in the order the tag phase writes them: all arch and exact
    tags (variant by variant), then all floating tags. Raises :class:`InputError` when two
    variants claim the same ``repository:tag``."""
    assignments = [a for variant in variants for a in variant_assignments(variant)]
    seen: dict[str, str] = {}
    for assignment in assignments:
        if (other := seen.get(assignment.ref)) is not None:
            raise InputError(
                f"{assignment.ref} is a tag of both {other} and {assignment.variant}: "
                "every tag of a release must name one image"
            )
        seen[assignment.ref] = assignment.variant
    fixed = [a for a in assignments if a.kind != "floating"]
    return fixed + [a for a in assignments if a.kind == "floating"]
