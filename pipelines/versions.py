"""Release versions: parsing, validation and URL encoding.

Versions are exact Semantic Versioning 2.0 strings (``0.44.0``, ``0.44.0-rc1``,
``0.44.0-rc1+abc123``, ``0.44.0+abc123``).  Floating names such as ``latest`` are
refused: the pipeline always builds one exact, reproducible release.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import quote

from pipelines.errors import InputError

_NUMBER = r"0|[1-9]\d*"
_PRE_IDENT = r"0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*"
_BUILD_IDENT = r"[0-9A-Za-z-]+"
_SEMVER = re.compile(
    rf"(?P<major>{_NUMBER})\.(?P<minor>{_NUMBER})\.(?P<patch>{_NUMBER})"
    rf"(?:-(?P<prerelease>(?:{_PRE_IDENT})(?:\.(?:{_PRE_IDENT}))*))?"
    rf"(?:\+(?P<build>{_BUILD_IDENT}(?:\.{_BUILD_IDENT})*))?"
)
_EXAMPLES = "e.g. 0.44.0, 0.44.0-rc1, 0.44.0-rc1+abc123 or 0.44.0+abc123"
_EXPECTED = f"expected MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD] ({_EXAMPLES})"


@dataclass(frozen=True, order=False)
class Version:
    """A parsed semantic version.

    ``is_final`` is true only for plain ``MAJOR.MINOR.PATCH`` releases: a version
    with a pre-release part *or* build metadata is a development build (it is
    fetched from the development buckets and never gets floating tags like
    ``latest``).
    """

    major: int
    minor: int
    patch: int
    prerelease: str | None = None
    build: str | None = None

    @property
    def is_final(self) -> bool:
        """True for an official release: no pre-release part and no build metadata."""
        return self.prerelease is None and self.build is None

    def __str__(self) -> str:
        text = f"{self.major}.{self.minor}.{self.patch}"
        if self.prerelease is not None:
            text += f"-{self.prerelease}"
        if self.build is not None:
            text += f"+{self.build}"
        return text


def parse_version(text: str, *, what: str = "version") -> Version:
    """Parse an exact semantic version, or raise :class:`InputError` saying why not.

    ``what`` names the value in the message (e.g. ``"tool version"``).
    """
    if not isinstance(text, str):
        raise InputError(f"invalid {what} {text!r}: must be a string, {_EXPECTED}")
    if text == "":
        raise InputError(f"invalid {what} '': it is empty; {_EXPECTED}")
    if text != text.strip() or any(char.isspace() for char in text):
        raise InputError(f"invalid {what} {text!r}: it contains whitespace; {_EXPECTED}")
    if text.lower() in {"latest", "stable", "master", "main", "dev", "nightly"}:
        raise InputError(
            f"invalid {what} {text!r}: the pipeline builds exact releases only, "
            f"not moving names; {_EXPECTED}"
        )
    match = _SEMVER.fullmatch(text)
    if match is None:
        if text[:1] in {"v", "V"} and _SEMVER.fullmatch(text[1:]):
            raise InputError(f"invalid {what} {text!r}: drop the leading 'v' and use {text[1:]!r}")
        if re.fullmatch(r"\d+(\.\d+)?", text):
            raise InputError(
                f"invalid {what} {text!r}: all three of MAJOR.MINOR.PATCH are required; {_EXPECTED}"
            )
        raise InputError(f"invalid {what} {text!r}: {_EXPECTED}")
    return Version(
        major=int(match["major"]),
        minor=int(match["minor"]),
        patch=int(match["patch"]),
        prerelease=match["prerelease"],
        build=match["build"],
    )


def url_version(version: Version | str) -> str:
    """The version percent-encoded for use inside a URL path (``+`` becomes ``%2B``)."""
    return quote(str(version), safe="")
