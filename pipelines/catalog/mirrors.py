"""URL mirrors: ``PREFIX=REPLACEMENT`` rewrites applied to every downloaded URL."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from pipelines.errors import InputError

_EXAMPLE = "https://downloads.example.org=http://127.0.0.1:8080/downloads.example.org"
_URL = re.compile(r"[a-z][a-z0-9+.-]*://\S*")


@dataclass(frozen=True)
class Mirror:
    """Replace URL prefix ``prefix`` with ``replacement``."""

    prefix: str
    replacement: str

    def matches(self, url: str) -> bool:
        """True if ``url`` starts with the prefix at a path boundary."""
        if not url.startswith(self.prefix):
            return False
        rest = url[len(self.prefix) :]
        return rest == "" or rest[0] in "/?#"


def parse_mirror(text: str) -> Mirror:
    """Parse ``PREFIX=REPLACEMENT``; both sides must be URLs. Trailing slashes are ignored."""
    prefix, equals, replacement = text.partition("=")
    prefix, replacement = prefix.strip().rstrip("/"), replacement.strip().rstrip("/")
    if not equals or not _URL.fullmatch(prefix) or not _URL.fullmatch(replacement):
        raise InputError(
            f"invalid mirror {text!r}: expected PREFIX=REPLACEMENT where both are URLs "
            f"with a scheme, e.g. {_EXAMPLE}"
        )
    return Mirror(prefix, replacement)


def parse_mirrors(texts: Sequence[str]) -> tuple[Mirror, ...]:
    """Parse every mirror; the same prefix mapped to two replacements is an error."""
    mirrors: dict[str, Mirror] = {}
    for text in texts:
        mirror = parse_mirror(text)
        previous = mirrors.setdefault(mirror.prefix, mirror)
        if previous.replacement != mirror.replacement:
            raise InputError(
                f"mirror prefix {mirror.prefix!r} is given twice: "
                f"{previous.replacement!r} and {mirror.replacement!r}"
            )
    return tuple(mirrors.values())


def apply_mirrors(url: str, mirrors: Sequence[str] | Sequence[Mirror]) -> str:
    """Rewrite ``url`` with the mirror whose prefix is the longest match; unchanged if none.

    A prefix matches only at a path boundary: ``https://a.org`` rewrites
    ``https://a.org/x`` but not ``https://a.org.evil/x``.
    """
    parsed = [m if isinstance(m, Mirror) else parse_mirror(m) for m in mirrors]
    matching = [mirror for mirror in parsed if mirror.matches(url)]
    if not matching:
        return url
    best = max(matching, key=lambda mirror: len(mirror.prefix))
    return best.replacement + url[len(best.prefix) :]
