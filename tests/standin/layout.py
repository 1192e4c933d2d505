"""Where each artifact lives on the real download sites (host name first).

Paths are relative to the server root and contain raw characters (a dev version's
``+`` included); :func:`url_for` percent-encodes them the way the real URLs are
written (``+`` becomes ``%2B``).
"""

from __future__ import annotations

from urllib.parse import quote

from .platforms import Platform

FALCO_DOWNLOAD_HOST = "download.falco.org"
FALCO_ORG_HOST = "falco.org"
GITHUB_HOST = "github.com"

KEY_RELPATH = f"{FALCO_ORG_HOST}/repo/falcosecurity-packages.asc"


def tarball_relpath(version: str, platform: Platform, dev: bool) -> str:
    """``download.falco.org/packages/{bin|bin-dev}/{arch}/falco-{V}-{arch}.tar.gz``."""
    bucket = "bin-dev" if dev else "bin"
    name = f"falco-{version}-{platform.arch}.tar.gz"
    return f"{FALCO_DOWNLOAD_HOST}/packages/{bucket}/{platform.arch}/{name}"


def deb_relpath(version: str, platform: Platform, dev: bool) -> str:
    """``download.falco.org/packages/{deb|deb-dev}/stable/falco-{V}-{arch}.deb``."""
    bucket = "deb-dev" if dev else "deb"
    return f"{FALCO_DOWNLOAD_HOST}/packages/{bucket}/stable/falco-{version}-{platform.arch}.deb"


def falcoctl_release_dir(falcoctl_version: str) -> str:
    """``github.com/falcosecurity/falcoctl/releases/download/v{FV}``."""
    return f"{GITHUB_HOST}/falcosecurity/falcoctl/releases/download/v{falcoctl_version}"


def falcoctl_archive_name(falcoctl_version: str, platform: Platform) -> str:
    """goreleaser's archive name: ``falcoctl_{FV}_linux_{goarch}.tar.gz``."""
    return f"falcoctl_{falcoctl_version}_linux_{platform.goarch}.tar.gz"


def falcoctl_relpath(falcoctl_version: str, platform: Platform) -> str:
    """Release asset path of the falcoctl archive for ``platform``."""
    release_dir = falcoctl_release_dir(falcoctl_version)
    return f"{release_dir}/{falcoctl_archive_name(falcoctl_version, platform)}"


def falcoctl_checksums_relpath(falcoctl_version: str) -> str:
    """Release asset path of goreleaser's ``checksums.txt``."""
    return f"{falcoctl_release_dir(falcoctl_version)}/checksums.txt"


def url_for(base_url: str, relpath: str) -> str:
    """Join a server base URL and a raw relative path, percent-encoding it (``+`` -> ``%2B``)."""
    return f"{base_url.rstrip('/')}/{quote(relpath, safe='/')}"
