"""The pure parts of the pending-security-updates check: dpkg records, apt sources, versions."""

from __future__ import annotations

from pipelines.smoke.apt_sources import (
    AptSource,
    codename,
    deb822_sources,
    is_security_suite,
    one_line_sources,
)
from pipelines.smoke.dpkg_status import InstalledPackage, installed_packages, main_architecture
from pipelines.smoke.security_updates import PendingUpdate, newest_versions, pending_updates

STATUS = """\
Package: libc6
Status: install ok installed
Architecture: amd64
Version: 2.36-9+deb12u9
Description: GNU C Library: Shared libraries
 Contains the standard libraries.

Package: tzdata
Status: install ok installed
Architecture: all
Version: 2026b-0+deb12u1

Package: oldtool
Status: deinstall ok config-files
Architecture: amd64
Version: 1.0-1

Package: libc6
Status: install ok installed
Architecture: i386
Version: 2.36-9+deb12u1
"""

STATUS_D_ENTRY = "Package: zlib1g\nVersion: 1:1.2.13.dfsg-1\nArchitecture: arm64\n"


def test_installed_packages_from_status_and_status_d() -> None:
    packages = installed_packages([STATUS, STATUS_D_ENTRY])
    assert packages == [
        InstalledPackage("libc6", "2.36-9+deb12u9", "amd64"),
        InstalledPackage("tzdata", "2026b-0+deb12u1", "all"),
        InstalledPackage("libc6", "2.36-9+deb12u1", "i386"),
        InstalledPackage("zlib1g", "1:1.2.13.dfsg-1", "arm64"),
    ]  # the removed package with configuration files left is not installed
    assert main_architecture(packages[:3]) in ("amd64", "i386")
    assert main_architecture([packages[1]]) is None


def test_pending_updates_name_package_and_versions() -> None:
    installed = installed_packages([STATUS])
    candidates = newest_versions(
        ["libc6 2.36-9+deb12u10", "libc6 2.36-9+deb12u8", "tzdata 2026b-0+deb12u1", "junk"]
    )
    assert candidates == {"libc6": "2.36-9+deb12u10", "tzdata": "2026b-0+deb12u1"}
    pending = pending_updates(installed, candidates, "amd64")
    assert pending == [PendingUpdate("libc6", "2.36-9+deb12u9", "2.36-9+deb12u10")]
    assert str(pending[0]) == "libc6 2.36-9+deb12u9 < 2.36-9+deb12u10"
    assert pending_updates(installed, {"libc6": "2.36-9+deb12u9"}, "amd64") == []


def test_one_line_sources() -> None:
    text = """\
# buster through the snapshot
deb [check-valid-until=no] http://snapshot.debian.org/archive/debian/20250630T203427Z buster main
deb http://snapshot.debian.org/archive/debian-security/20250630T203427Z buster/updates main contrib
deb-src http://deb.debian.org/debian bookworm main
"""
    main, security = one_line_sources(text)
    assert main.options == "check-valid-until=no" and main.suite == "buster"
    assert security.components == ("main", "contrib")
    assert [is_security_suite(s.suite) for s in (main, security)] == [False, True]
    assert main.line("arm64") == (
        "deb [arch=arm64 check-valid-until=no] "
        "http://snapshot.debian.org/archive/debian/20250630T203427Z buster main"
    )
    assert AptSource("http://m", "bookworm-security", ("main",), "arch=amd64").line("arm64") == (
        "deb [arch=arm64] http://m bookworm-security main"
    )


def test_deb822_sources() -> None:
    text = """\
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main

Types: deb deb-src
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Check-Valid-Until: no

Types: deb
Enabled: no
URIs: http://example.org
Suites: bookworm-security
Components: main
"""
    sources = deb822_sources(text)
    assert [(s.suite, s.options) for s in sources] == [
        ("bookworm", ""),
        ("bookworm-updates", ""),
        ("bookworm-security", "check-valid-until=no"),
    ]


def test_codename_of_os_release() -> None:
    assert codename(
        'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nVERSION_CODENAME=bookworm\n'
    ) == ("bookworm")
    assert codename('VERSION="10 (buster)"\n') == "buster"
    assert codename('PRETTY_NAME="Debian GNU/Linux trixie/sid"\n') is None
