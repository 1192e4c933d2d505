"""The image sets the bench builds, as groups of build plans (pure: no engine, no Docker).

``FULL`` is what ``build-all`` builds by default: every variant for both platforms (the legacy
loader on bullseye, which stands in for buster here), in one plan. ``SUBSET`` is the target set
the bench measured before it covered the whole matrix (the engine tests' set: every variant for
linux/amd64, ``falco`` and ``falco-debian`` for linux/arm64), kept so that figures stay
comparable with earlier runs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath

from pipelines.plan import BuildPlan, BuildTarget

AMD64 = "linux/amd64"
ARM64 = "linux/arm64"
LEGACY = "falco-driver-loader-legacy"


@dataclass(frozen=True)
class Group:
    """One build plan of an image set: ``variants`` (None: every variant) for ``platforms``."""

    variants: tuple[str, ...] | None
    platforms: tuple[str, ...]

    def has(self, variant: str) -> bool:
        """Whether the group builds ``variant``."""
        return self.variants is None or variant in self.variants


@dataclass(frozen=True)
class ImageSet:
    """A named set of images, built as one session of concurrent plans."""

    name: str
    description: str
    groups: tuple[Group, ...]


FULL = ImageSet(
    "full",
    "every variant for linux/amd64 and linux/arm64, legacy on bullseye (the default build-all)",
    (Group(None, (AMD64, ARM64)),),
)
SUBSET = ImageSet(
    "subset",
    "every variant for linux/amd64 (legacy on bullseye), falco and falco-debian for "
    "linux/arm64 (the bench's former target set)",
    (Group(None, (AMD64,)), Group(("falco", "falco-debian"), (ARM64,))),
)


def restrict(
    image_set: ImageSet,
    variants: Sequence[str] | None = None,
    platforms: Sequence[str] | None = None,
) -> ImageSet:
    """``image_set`` limited to ``variants`` and ``platforms`` (None or empty: no limit);
    groups left with nothing to build are dropped."""
    groups = []
    for group in image_set.groups:
        chosen_platforms = tuple(p for p in group.platforms if not platforms or p in platforms)
        chosen_variants = group.variants
        if variants:
            pool = group.variants if group.variants is not None else tuple(variants)
            chosen_variants = tuple(v for v in pool if v in variants)
        if chosen_platforms and (chosen_variants is None or chosen_variants):
            groups.append(Group(chosen_variants, chosen_platforms))
    return ImageSet(image_set.name, image_set.description, tuple(groups))


def images(plans: Iterable[BuildPlan]) -> list[tuple[str, str]]:
    """Every (variant, platform) the plans build, in plan order, once each."""
    return list(dict.fromkeys((t.variant, t.platform) for p in plans for t in p.targets))


def targets(plans: Iterable[BuildPlan]) -> list[BuildTarget]:
    """Every target of the plans, in plan order."""
    return [t for p in plans for t in p.targets]


def holders(plans: Iterable[BuildPlan], family_path: str) -> list[tuple[str, str]]:
    """The images whose chain copies the catalog file ``family_path`` (relative to the
    catalog): the ones a change to that file must rebuild, and only those."""
    wanted = PurePosixPath(family_path).as_posix()
    return [
        (t.variant, t.platform)
        for t in targets(plans)
        if any(f.family_path == wanted for layer in t.layers for f in layer.files)
    ]


def package_sets(plans: Iterable[BuildPlan]) -> list[tuple[str, str, str]]:
    """The Debian package sets the lock step resolves for the plans: (variant, base, platform)
    of every layer that installs packages, once each."""
    return list(
        dict.fromkeys(
            (layer.variant, t.base_key, t.platform)
            for t in targets(plans)
            for layer in t.layers
            if layer.installs_packages
        )
    )


def debian_based(target: BuildTarget) -> bool:
    """Whether the image starts from a Debian image (apt and dpkg run in it), not distroless."""
    return target.root_base.distroless is None
