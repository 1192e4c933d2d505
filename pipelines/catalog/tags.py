"""Image tags: rendering tag templates for a release and checking Docker's tag rules."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from pipelines.catalog.templates import placeholders, render
from pipelines.errors import InputError
from pipelines.versions import Version

TAG_PATTERN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
"""What Docker accepts as a tag."""

EXACT_PLACEHOLDERS = frozenset({"version", "raw_version"})
"""A tag template using one of these names one exact release; any other is floating."""


def sanitize_tag(tag: str) -> str:
    """Make a rendered tag valid for Docker (``+`` becomes ``-``) or raise :class:`InputError`."""
    sanitized = tag.replace("+", "-")
    if not TAG_PATTERN.fullmatch(sanitized):
        raise InputError(
            f"invalid tag {sanitized!r}: a tag is 1 to 128 characters among letters, digits, "
            "'_', '.' and '-', and does not start with '.' or '-'"
        )
    return sanitized


def is_floating(template: str) -> bool:
    """True for tags that move from release to release (``latest``, ``{major}.{minor}``...).

    A template is exact when it uses ``{version}`` (or ``{raw_version}``); all
    others are floating and are only published for final releases.
    """
    return not EXACT_PLACEHOLDERS.intersection(placeholders(template))


def render_tags(
    templates: Sequence[str], version: Version, values: Mapping[str, str]
) -> tuple[str, ...]:
    """Render tag templates for ``version``, in template order and without duplicates.

    Floating tags are dropped unless ``version.is_final``.  ``values`` holds every
    placeholder value (see :func:`pipelines.catalog.render.placeholder_values`).
    Raises :class:`InputError` for a tag Docker would refuse and
    :class:`~pipelines.catalog.templates.TemplateError` for an unknown placeholder.
    """
    tags: list[str] = []
    for template in templates:
        if is_floating(template) and not version.is_final:
            continue
        tag = sanitize_tag(render(template, values))
        if tag not in tags:
            tags.append(tag)
    return tuple(tags)
