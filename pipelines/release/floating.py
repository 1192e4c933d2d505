"""When floating tags (``latest``, ``latest-debian``) move: never backwards, unless told.

A floating tag names the newest final release. Re-publishing an older one (a patch of the
previous minor, a re-run of an old pipeline) must not take ``latest`` back, so by default the
release reads the version label (``org.opencontainers.image.version``) of what the tag names
now and moves it only to a version at least as new (the same version moves too: a rebuild of
it replaces its exact tag as well).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import dagger

from pipelines.errors import InputError
from pipelines.versions import Version, parse_version

VERSION_LABEL = "org.opencontainers.image.version"


@dagger.enum_type
class MoveFloatingTags(enum.Enum):
    """Whether a release moves its floating tags (latest, latest-debian...)."""

    ALWAYS = "always"
    """Move them to this release, even from a newer one."""

    IF_NEWER = "if-newer"
    """Move them unless they name a newer release now (by its image version label)."""

    NEVER = "never"
    """Leave them where they are (new floating tags are not created either)."""


def floating_policy(value: MoveFloatingTags | str) -> MoveFloatingTags:
    """``value`` as a policy (member, member name or value); raises :class:`InputError`."""
    if isinstance(value, MoveFloatingTags):
        return value
    for member in MoveFloatingTags:
        if value in (member.name, member.value):
            return member
    choices = ", ".join(m.value for m in MoveFloatingTags)
    raise InputError(f"unknown floating-tag policy {value!r}; choose one of {choices}")


def precedence(version: Version) -> tuple[int, int, int, int, tuple[tuple[int, int, str], ...]]:
    """A sort key with Semantic Versioning's precedence (build metadata ignored; a final
    release after its pre-releases; numeric identifiers before alphanumeric ones)."""
    pre: tuple[tuple[int, int, str], ...] = ()
    if version.prerelease is not None:
        pre = tuple(
            (0, int(part), "") if part.isdigit() else (1, 0, part)
            for part in version.prerelease.split(".")
        )
    return (version.major, version.minor, version.patch, 0 if pre else 1, pre)


@dataclass(frozen=True)
class FloatingDecision:
    """Whether one floating tag moves, and why (for the release report)."""

    move: bool
    reason: str


def decide(
    policy: MoveFloatingTags, release: Version, current_label: str | None, exists: bool
) -> FloatingDecision:
    """Whether a floating tag moves to ``release``.

    ``exists``: the tag names something now; ``current_label``: that image's version label
    (None when it has none).
    """
    if policy is MoveFloatingTags.NEVER:
        return FloatingDecision(False, "kept: floating tags are never moved (--move-floating-tags)")
    if policy is MoveFloatingTags.ALWAYS or not exists:
        return FloatingDecision(True, "moved by policy" if exists else "new")
    if current_label is None:
        return FloatingDecision(
            False, f"kept: what it names has no {VERSION_LABEL} label to compare with"
        )
    try:
        current = parse_version(current_label, what="version label")
    except InputError:
        return FloatingDecision(False, f"kept: it names version {current_label!r}, not semver")
    if precedence(current) > precedence(release):
        return FloatingDecision(False, f"kept: it names {current}, newer than {release}")
    return FloatingDecision(True, f"{current} -> {release}")
