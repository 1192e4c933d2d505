"""Debian control data (deb822): paragraphs of ``Field: value`` lines, as in dpkg's status file,
the control files of ``status.d``, Packages indexes and ``.sources`` files."""

from __future__ import annotations


def paragraphs(text: str) -> list[dict[str, str]]:
    """Every paragraph of ``text`` as a dict (continuation lines joined with newlines; field
    names as written, the first occurrence winning; ``#`` comment lines skipped)."""
    found: list[dict[str, str]] = []
    current: dict[str, str] = {}
    field = ""
    for line in text.splitlines():
        if not line.strip():
            if current:
                found.append(current)
            current, field = {}, ""
        elif line.startswith("#"):
            continue
        elif line[0] in " \t" and field:
            current[field] += "\n" + line.strip()
        elif ":" in line:
            name, _, value = line.partition(":")
            field = name.strip()
            current.setdefault(field, value.strip())
    if current:
        found.append(current)
    return found
