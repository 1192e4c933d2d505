"""Debian version comparison, as ``dpkg --compare-versions`` does it (deb-version(7)).

A version is ``[epoch:]upstream[-revision]``: epochs compare as numbers, then upstream and
revision part by part, each an alternation of non-digit runs (letters before other characters,
``~`` before everything, even the end) and digit runs (compared as numbers).
"""

from __future__ import annotations

import functools
import re

_VERSION = re.compile(
    r"(?:(?P<epoch>[0-9]+):)?(?P<upstream>[A-Za-z0-9.+~:-]+?)(?:-(?P<revision>[A-Za-z0-9.+~]+))?"
)


class VersionError(ValueError):
    """Not a Debian version."""


def _order(char: str) -> int:
    """dpkg's weight of one non-digit character (the end of the string weighs 0)."""
    if char == "~":
        return -1
    if char.isalpha():
        return ord(char)
    return ord(char) + 256


def _compare_part(a: str, b: str) -> int:
    """Compare two upstream versions (or two revisions) the way dpkg's verrevcmp does."""
    i = j = 0
    while i < len(a) or j < len(b):
        while (i < len(a) and not a[i].isdigit()) or (j < len(b) and not b[j].isdigit()):
            ac = _order(a[i]) if i < len(a) and not a[i].isdigit() else 0
            bc = _order(b[j]) if j < len(b) and not b[j].isdigit() else 0
            if ac != bc:
                return -1 if ac < bc else 1
            i, j = i + 1, j + 1
        start_a, start_b = i, j
        while i < len(a) and a[i].isdigit():
            i += 1
        while j < len(b) and b[j].isdigit():
            j += 1
        number_a, number_b = int(a[start_a:i] or "0"), int(b[start_b:j] or "0")
        if number_a != number_b:
            return -1 if number_a < number_b else 1
    return 0


def split_version(version: str) -> tuple[int, str, str]:
    """``(epoch, upstream, revision)`` of a Debian version; raises :class:`VersionError`."""
    match = _VERSION.fullmatch(version.strip())
    if match is None or not match["upstream"][0].isdigit():
        raise VersionError(f"{version!r} is not a Debian version")
    return int(match["epoch"] or 0), match["upstream"], match["revision"] or ""


def compare_versions(a: str, b: str) -> int:
    """-1, 0 or 1 as Debian version ``a`` is older than, the same as, or newer than ``b``."""
    epoch_a, upstream_a, revision_a = split_version(a)
    epoch_b, upstream_b, revision_b = split_version(b)
    if epoch_a != epoch_b:
        return -1 if epoch_a < epoch_b else 1
    return _compare_part(upstream_a, upstream_b) or _compare_part(revision_a, revision_b)


version_key = functools.cmp_to_key(compare_versions)
"""Sort key: ``sorted(versions, key=version_key)`` orders Debian versions."""
