"""Path globs of the catalog: ``*`` and ``?`` stay within one path component, ``**`` spans any
number of components (``/usr/share/zoneinfo/**`` is everything below that directory)."""

from __future__ import annotations

import re
from functools import cache


@cache
def glob_regex(pattern: str) -> re.Pattern[str]:
    """The compiled regular expression that matches exactly the paths ``pattern`` names."""
    out, index = [], 0
    while index < len(pattern):
        if pattern.startswith("/**", index) and index + 3 == len(pattern):
            out.append("(?:/.*)?")  # the directory itself and everything below it
            index += 3
        elif pattern.startswith("**/", index):
            out.append("(?:.*/)?")
            index += 3
        elif pattern.startswith("**", index):
            out.append(".*")
            index += 2
        elif pattern[index] == "*":
            out.append("[^/]*")
            index += 1
        elif pattern[index] == "?":
            out.append("[^/]")
            index += 1
        else:
            out.append(re.escape(pattern[index]))
            index += 1
    return re.compile("".join(out))


def matches(pattern: str, path: str) -> bool:
    """True when ``path`` is one of the paths ``pattern`` names."""
    return glob_regex(pattern).fullmatch(path) is not None


def has_wildcards(pattern: str) -> bool:
    """True when ``pattern`` is a glob rather than one literal path."""
    return any(char in pattern for char in "*?")
