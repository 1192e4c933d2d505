from __future__ import annotations

import pytest

from pipelines.errors import InputError, PipelineError
from pipelines.versions import Version, parse_version, url_version


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0.44.0", Version(0, 44, 0)),
        ("1.2.3", Version(1, 2, 3)),
        ("0.44.0-rc1", Version(0, 44, 0, prerelease="rc1")),
        ("0.44.0-rc.1", Version(0, 44, 0, prerelease="rc.1")),
        ("0.44.0-rc1+abc123", Version(0, 44, 0, prerelease="rc1", build="abc123")),
        ("0.44.0+abc123", Version(0, 44, 0, build="abc123")),
        ("0.41.0-86+3c2f3d0", Version(0, 41, 0, prerelease="86", build="3c2f3d0")),
        ("10.20.30", Version(10, 20, 30)),
    ],
)
def test_parse_valid_versions(text: str, expected: Version) -> None:
    version = parse_version(text)
    assert version == expected
    assert str(version) == text


@pytest.mark.parametrize(
    ("text", "final"),
    [("0.44.0", True), ("0.44.0-rc1", False), ("0.44.0+abc", False), ("0.44.0-rc1+abc", False)],
)
def test_only_plain_releases_are_final(text: str, final: bool) -> None:
    assert parse_version(text).is_final is final


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("latest", "invalid version 'latest': the pipeline builds exact releases only"),
        ("v0.44.0", "invalid version 'v0.44.0': drop the leading 'v' and use '0.44.0'"),
        ("0.44", "invalid version '0.44': all three of MAJOR.MINOR.PATCH are required"),
        ("0", "invalid version '0': all three of MAJOR.MINOR.PATCH are required"),
        ("", "invalid version '': it is empty"),
        (" 0.44.0", "invalid version ' 0.44.0': it contains whitespace"),
        ("0.44.0 ", "invalid version '0.44.0 ': it contains whitespace"),
        ("0.44 .0", "it contains whitespace"),
        ("00.44.0", "invalid version '00.44.0': expected MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD]"),
        ("0.44.0-", "invalid version '0.44.0-'"),
        ("0.44.0+", "invalid version '0.44.0+'"),
        ("0.44.0-rc_1", "invalid version '0.44.0-rc_1'"),
        ("0.44.0.1", "invalid version '0.44.0.1'"),
    ],
)
def test_invalid_versions_say_what_is_valid(text: str, message: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_version(text)
    assert message in str(caught.value)
    assert isinstance(caught.value, PipelineError)


def test_generic_error_gives_examples() -> None:
    with pytest.raises(InputError, match=r"e\.g\. 0\.44\.0, 0\.44\.0-rc1"):
        parse_version("banana")


def test_error_names_the_value_kind() -> None:
    with pytest.raises(InputError, match="invalid falcoctl version 'x'"):
        parse_version("x", what="falcoctl version")


@pytest.mark.parametrize(
    ("version", "encoded"),
    [
        ("0.44.0", "0.44.0"),
        ("0.44.0+abc", "0.44.0%2Babc"),
        ("0.44.0-rc1+abc.def", "0.44.0-rc1%2Babc.def"),
    ],
)
def test_url_version_percent_encodes(version: str, encoded: str) -> None:
    assert url_version(version) == encoded
    assert url_version(parse_version(version)) == encoded
