from __future__ import annotations

import pytest

from pipelines.catalog.mirrors import Mirror, apply_mirrors, parse_mirror, parse_mirrors
from pipelines.errors import InputError

LOCAL = "https://download.falco.org=http://127.0.0.1:8080/download.falco.org"


def test_prefix_is_replaced() -> None:
    assert apply_mirrors("https://download.falco.org/packages/bin/x.tgz", [LOCAL]) == (
        "http://127.0.0.1:8080/download.falco.org/packages/bin/x.tgz"
    )


def test_no_match_leaves_url_alone() -> None:
    url = "https://github.com/falcosecurity/falcoctl/releases/x.tgz"
    assert apply_mirrors(url, [LOCAL]) == url
    assert apply_mirrors(url, []) == url


def test_longest_prefix_wins_whatever_the_order() -> None:
    mirrors = [
        "https://download.falco.org=http://a.local",
        "https://download.falco.org/packages/bin=http://b.local/bin",
    ]
    url = "https://download.falco.org/packages/bin/x86_64/f.tgz"
    assert apply_mirrors(url, mirrors) == "http://b.local/bin/x86_64/f.tgz"
    assert apply_mirrors(url, list(reversed(mirrors))) == "http://b.local/bin/x86_64/f.tgz"
    assert apply_mirrors("https://download.falco.org/other", mirrors) == "http://a.local/other"


def test_prefix_matches_at_path_boundary_only() -> None:
    mirrors = ["https://falco.org=http://m.local"]
    assert apply_mirrors("https://falco.org.evil.example/x", mirrors) == (
        "https://falco.org.evil.example/x"
    )
    assert apply_mirrors("https://falco.org", mirrors) == "http://m.local"
    assert apply_mirrors("https://falco.org/repo/k.asc", mirrors) == "http://m.local/repo/k.asc"


def test_trailing_slashes_are_ignored() -> None:
    assert parse_mirror("https://a.org/=http://b.org/") == Mirror("https://a.org", "http://b.org")
    assert apply_mirrors("https://a.org/x", ["https://a.org/=http://b.org/"]) == "http://b.org/x"


@pytest.mark.parametrize(
    "bad",
    [
        "https://download.falco.org",
        "download.falco.org=http://127.0.0.1:8080",
        "https://download.falco.org=",
        "=http://127.0.0.1",
        "https://a.org=127.0.0.1:8080",
    ],
)
def test_malformed_mirror_is_named_with_the_expected_form(bad: str) -> None:
    with pytest.raises(InputError) as caught:
        apply_mirrors("https://download.falco.org/x", [bad])
    message = str(caught.value)
    assert f"invalid mirror {bad!r}" in message
    assert "expected PREFIX=REPLACEMENT" in message
    assert (
        "e.g. https://downloads.example.org=http://127.0.0.1:8080/downloads.example.org" in message
    )


def test_same_prefix_twice() -> None:
    assert len(parse_mirrors([LOCAL, LOCAL])) == 1
    with pytest.raises(InputError) as caught:
        parse_mirrors([LOCAL, "https://download.falco.org=http://other.local"])
    assert "mirror prefix 'https://download.falco.org' is given twice" in str(caught.value)
