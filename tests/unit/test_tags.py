from __future__ import annotations

import pytest

from pipelines.catalog.tags import is_floating, render_tags, sanitize_tag
from pipelines.catalog.templates import TemplateError
from pipelines.errors import InputError
from pipelines.versions import parse_version


def values(version: str, **params: str) -> dict[str, str]:
    parsed = parse_version(version)
    return {
        "version": version,
        "raw_version": version,
        "major": str(parsed.major),
        "minor": str(parsed.minor),
        "patch": str(parsed.patch),
        **params,
    }


def tags(templates: list[str], version: str, **params: str) -> tuple[str, ...]:
    return render_tags(templates, parse_version(version), values(version, **params))


def test_final_release_gets_exact_and_latest_tags() -> None:
    assert tags(["{version}", "latest"], "0.44.0") == ("0.44.0", "latest")
    assert tags(["{version}-debian", "latest-debian"], "0.44.0") == (
        "0.44.0-debian",
        "latest-debian",
    )


def test_pre_release_gets_no_floating_tags() -> None:
    assert tags(["{version}", "latest"], "0.44.0-rc1") == ("0.44.0-rc1",)
    assert tags(["{version}-debian", "latest-debian"], "0.44.0-rc1") == ("0.44.0-rc1-debian",)
    assert tags(["{version}", "{major}.{minor}", "latest"], "0.44.0-rc1") == ("0.44.0-rc1",)


def test_build_metadata_is_sanitized_and_not_latest() -> None:
    assert tags(["{version}", "latest"], "0.44.0+abc") == ("0.44.0-abc",)
    assert tags(["{version}", "latest"], "0.44.0-rc1+abc.1") == ("0.44.0-rc1-abc.1",)


def test_parameters_in_tags() -> None:
    templates = ["{version}-{release}", "latest-{release}"]
    assert tags(templates, "0.44.0", release="buster") == ("0.44.0-buster", "latest-buster")
    assert tags(templates, "0.44.0-rc1", release="bullseye") == ("0.44.0-rc1-bullseye",)


def test_minor_tag_and_duplicates() -> None:
    assert tags(["{version}", "{major}.{minor}", "{version}"], "1.2.3") == ("1.2.3", "1.2")


@pytest.mark.parametrize(
    ("template", "floating"),
    [
        ("{version}", False),
        ("{raw_version}-x", False),
        ("{version}-{release}", False),
        ("latest", True),
        ("latest-{release}", True),
        ("{major}.{minor}", True),
    ],
)
def test_is_floating(template: str, floating: bool) -> None:
    assert is_floating(template) is floating


@pytest.mark.parametrize(
    "bad", ["latest debian", ".hidden", "-dash", "a/b", "x" * 129, "", "tag:colon"]
)
def test_invalid_tags_are_refused_with_the_rule(bad: str) -> None:
    with pytest.raises(InputError) as caught:
        sanitize_tag(bad)
    assert f"invalid tag {bad!r}" in str(caught.value)
    assert "1 to 128 characters among letters, digits, '_', '.' and '-'" in str(caught.value)


def test_longest_valid_tag() -> None:
    assert sanitize_tag("a" * 128) == "a" * 128
    assert sanitize_tag("_x.y-z+w") == "_x.y-z-w"


def test_unknown_placeholder_in_tag() -> None:
    with pytest.raises(TemplateError, match=r"unknown placeholder \{flavor\}"):
        tags(["{version}-{flavor}"], "0.44.0")


def test_bad_parameter_value_in_tag() -> None:
    with pytest.raises(InputError, match=r"invalid tag '0\.44\.0-a/b'"):
        tags(["{version}-{release}"], "0.44.0", release="a/b")
