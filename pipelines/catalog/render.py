"""Substitute placeholder values into a variant and check the result."""

from __future__ import annotations

import re
from collections.abc import Mapping

from pydantic import ValidationError

from pipelines.catalog.family import Family
from pipelines.catalog.problems import Problem, field_path, validation_problems
from pipelines.catalog.tags import render_tags
from pipelines.catalog.templates import TemplateError, render
from pipelines.catalog.variant import Variant
from pipelines.errors import InputError
from pipelines.versions import Version

RELEASE_PLACEHOLDERS = ("version", "raw_version", "major", "minor", "patch")
"""Placeholders every variant template can use; parameters may not reuse these names."""

REGEX_FIELDS = frozenset(
    {"expected_output", "excluded_output", "expected_contents", "excluded_contents"}
)
"""Fields holding regular expressions: substituted values are regex-escaped."""

LITERAL_FIELDS = frozenset(
    {("name",), ("description",), ("repository",), ("tags",), ("parameters",), ("files",)}
    | {("base", "variant")}
)
"""Fields that are never templates (tags are rendered by :func:`variant_tags`)."""

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_DOMAIN = (
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*"
)
IMAGE_REFERENCE = re.compile(
    rf"(?:{_DOMAIN}(?::[0-9]+)?/)?{_COMPONENT}(?:/{_COMPONENT})*"
    r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[0-9a-f]{64})?"
)
DEBIAN_PACKAGE = re.compile(r"[a-z0-9][a-z0-9+.-]+(?:=[A-Za-z0-9.+~:-]+)?")
DEBIAN_CODENAME = re.compile(r"[a-z][a-z0-9-]*")


class RenderError(ValueError):
    """Rendering a variant failed; ``problems`` lists each ``(field, message)``."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{field}: {message}" for field, message in problems))


def placeholder_values(
    family: Family, version: Version, params: Mapping[str, str]
) -> dict[str, str]:
    """Every placeholder value for one variant: release, pinned artifact versions, the release
    series' values, params (InputError when the family lacks the release's series)."""
    return {
        "version": str(version),
        "raw_version": str(version),
        "major": str(version.major),
        "minor": str(version.minor),
        "patch": str(version.patch),
        **family.artifact_versions(),
        **family.artifact_buckets(version),
        **family.series_values(version),
        **params,
    }


def render_variant(variant: Variant, values: Mapping[str, str]) -> Variant:
    """The variant with every template field rendered, validated again and checked.

    Raises :class:`RenderError` listing every problem found.
    """
    problems: list[Problem] = []
    data = _render(variant.model_dump(), (), values, problems)
    if problems:
        raise RenderError(problems)
    try:
        rendered = Variant.model_validate(data)
    except ValidationError as error:
        raise RenderError(validation_problems(error, Variant)) from None
    problems = check_rendered(rendered)
    if problems:
        raise RenderError(problems)
    return rendered


def variant_tags(variant: Variant, version: Version, values: Mapping[str, str]) -> tuple[str, ...]:
    """The variant's tags for ``version``; raises :class:`RenderError` naming the template."""
    problems: list[Problem] = []
    tags: list[str] = []
    for index, template in enumerate(variant.tags):
        try:
            tags.extend(tag for tag in render_tags([template], version, values) if tag not in tags)
        except (TemplateError, InputError) as error:
            problems.append((f"tags[{index}]", str(error)))
    if problems:
        raise RenderError(problems)
    return tuple(tags)


def check_rendered(variant: Variant) -> list[Problem]:
    """Checks that only make sense once placeholders are substituted."""
    problems: list[Problem] = []
    base = variant.base
    if base.image is not None and not IMAGE_REFERENCE.fullmatch(base.image):
        problems.append(("base.image", f"{base.image!r} is not a valid image reference"))
    if base.distroless is not None:
        if not DEBIAN_CODENAME.fullmatch(base.distroless.release):
            problems.append(
                (
                    "base.distroless.release",
                    f"{base.distroless.release!r} is not a Debian codename such as 'bookworm'",
                )
            )
        problems += _package_problems("base.distroless.packages", base.distroless.packages)
    problems += _package_problems("install.apt_packages", variant.install.apt_packages)
    tests = variant.tests
    for kind, items, fields in (
        ("commands", tests.commands, ("expected_output", "excluded_output")),
        ("file_contents", tests.file_contents, ("expected_contents", "excluded_contents")),
    ):
        for index, item in enumerate(items):
            for name in fields:
                for position, pattern in enumerate(getattr(item, name)):
                    try:
                        re.compile(pattern)
                    except re.error as error:
                        problems.append(
                            (
                                f"tests.{kind}[{index}].{name}[{position}]",
                                f"invalid regular expression {pattern!r}: {error}",
                            )
                        )
    return problems


def _package_problems(field: str, packages: list[str]) -> list[Problem]:
    return [
        (f"{field}[{index}]", f"{package!r} is not a valid Debian package name")
        for index, package in enumerate(packages)
        if not DEBIAN_PACKAGE.fullmatch(package)
    ]


def _render(
    value: object, loc: tuple[int | str, ...], values: Mapping[str, str], problems: list[Problem]
) -> object:
    if loc in LITERAL_FIELDS:
        return value
    if isinstance(value, dict):
        return {key: _render(item, (*loc, key), values, problems) for key, item in value.items()}
    if isinstance(value, list):
        return [_render(item, (*loc, index), values, problems) for index, item in enumerate(value)]
    if isinstance(value, str):
        regex = any(part in REGEX_FIELDS for part in loc if isinstance(part, str))
        try:
            return render(value, values, escape=re.escape if regex else None)
        except TemplateError as error:
            problems.append((field_path(loc), str(error)))
    return value
