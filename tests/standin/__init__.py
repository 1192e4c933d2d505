"""Stand-in Falco release artifacts and a loopback server that serves them.

The machine running the tests has no access to download.falco.org, falco.org or
github.com, so :func:`build_standin_release` produces artifacts with the real
layout (real ELF programs, a real Debian package, real detached GPG signatures)
and :func:`serve` publishes them over loopback HTTP with the host name of each
real download site as the first path segment.
"""

from .release import ARTIFACTS, StandinRelease, build_standin_release, is_dev_version
from .server import Answer, serve

__all__ = [
    "ARTIFACTS",
    "Answer",
    "StandinRelease",
    "build_standin_release",
    "is_dev_version",
    "serve",
]
