"""Debian version comparison (deb-version(7)); tests/engine/test_security_updates.py also checks
it against dpkg --compare-versions in the tools container."""

from __future__ import annotations

import itertools

import pytest

from pipelines.smoke.debian_version import (
    VersionError,
    compare_versions,
    split_version,
    version_key,
)

# In dpkg's order (each older than the next or equal to it), as dpkg --compare-versions says.
ORDERED = (
    "0", "0:1.0", "1.0", "1.0-0", "1.00", "1.0-1", "1.0a", "1.0+b1", "1.0.1", "1:0.9",
)  # fmt: skip


@pytest.mark.parametrize(
    ("older", "newer"),
    [
        ("1.0~rc1", "1.0"),  # ~ sorts before the end
        ("1.0~~", "1.0~"),
        ("2.0", "1:0.9"),  # the epoch first
        ("2.36-9+deb12u9", "2.36-9+deb12u10"),  # numbers, not text
        ("20230311+deb12u1", "20250419~deb12u2"),
        ("3.0.20-1~deb12u2", "3.0.22-1~deb12u2"),
        ("2026b-0+deb12u1", "2026f-0+deb12u1"),
        ("1.2.3-~", "1.2.3-a"),
        ("1.2.3-a", "1.2.3-+"),  # letters before other characters
        ("1-1-1", "1-1-2"),  # the revision follows the last hyphen
    ],
)
def test_order(older: str, newer: str) -> None:
    assert compare_versions(older, newer) == -1
    assert compare_versions(newer, older) == 1


def test_equal_versions() -> None:
    assert compare_versions("1.0", "1.0-0") == 0  # no revision is revision 0
    assert compare_versions("0:1.0", "1.0") == 0
    assert compare_versions("1.00", "1.0") == 0


def test_sort_key() -> None:
    assert all(compare_versions(a, b) <= 0 for a, b in itertools.pairwise(ORDERED))
    ordered = sorted(reversed(ORDERED), key=version_key)
    assert (ordered[0], ordered[-1]) == ("0", "1:0.9")


def test_parts_and_bad_versions() -> None:
    assert split_version("1:2.3-4-5") == (1, "2.3-4", "5")
    assert split_version("2026f-0+deb12u1") == (0, "2026f", "0+deb12u1")
    for bad in ("", "abc", "1.0 beta", "-1"):
        with pytest.raises(VersionError):
            split_version(bad)
