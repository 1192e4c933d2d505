"""What a distroless floor keeps besides the programs and their ELF closure, and why.

Every distroless image keeps (when its packages install them): the CA bundle, the time zone
database (without its leap-second ``right/`` zones), what identifies the release, users and
name-service configuration, each package's copyright file with the common licence texts it
refers to, and the dpkg records under ``status.d`` that scanners (and the
pending-security-updates check) read. The merged-``/usr``
links at the top stay too. Everything else a package installed goes unless the catalog keeps it.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable

from .closure import Closure, system_directories
from .rootfs import RootFs

MANDATORY = (
    "/etc/ssl/certs/ca-certificates.crt",  # CA certificates (the bundle; its sources are dropped)
    "/usr/share/zoneinfo/**",  # time zones
    "/etc/localtime",
    "/etc/timezone",
    "/etc/os-release",  # what the image is (scanners read these)
    "/usr/lib/os-release",
    "/etc/debian_version",
    "/etc/passwd",  # users, groups, name services
    "/etc/group",
    "/etc/nsswitch.conf",
    "/usr/share/doc/*/copyright",  # every package's licence terms
    "/var/lib/dpkg/status.d/**",  # what is installed
)
"""Globs every floor keeps when present."""

NOT_MANDATORY = ("/usr/share/zoneinfo/right/**",)
"""Globs inside :data:`MANDATORY` that a floor drops unless the catalog keeps them: the
leap-second ``right/`` zones (447 files, a third of bookworm's tzdata), which glibc reads only
when ``TZ`` names one of them."""

TOP_LEVEL_LINKS = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
"""The merged-/usr links of the root, kept when they are links (they weigh nothing)."""

GCONV = ("/usr/lib/gconv/**", "/usr/lib/*/gconv/**", "/usr/lib64/gconv/**")
"""glibc's iconv modules (gconv-modules and the .so files iconv_open loads)."""

LOCALE_ONLY_ICONV = frozenset({"libstdc++.so.6"})
"""Libraries whose iconv calls serve named locales only, which a floor does not ship:
libstdc++ calls iconv_open just to narrow a named locale's multibyte thousands separator
(``__narrow_multibyte_chars``, config/locale/gnu/numeric_members.cc)."""

ICONV_ENTRY = "iconv_open"

_LICENSE_REFERENCE = re.compile(r"/usr/share/common-licenses/([A-Za-z0-9][A-Za-z0-9._+-]*)")


def gconv_decision(closure: Closure, mode: str) -> tuple[bool, str]:
    """Whether the gconv modules stay, and why (``mode``: auto, keep or drop)."""
    if mode == "keep":
        return True, "kept: the catalog says gconv = 'keep'"
    if mode == "drop":
        return False, "dropped: the catalog says gconv = 'drop'"
    sonames = closure.sonames()
    users = sorted(
        path
        for path, elf in closure.objects.items()
        if ICONV_ENTRY in elf.imports and sonames[path] not in LOCALE_ONLY_ICONV
    )
    if users:
        return True, f"kept: {', '.join(users)} call{'s' if len(users) == 1 else ''} iconv_open"
    ignored = sorted(sonames[p] for p, elf in closure.objects.items() if ICONV_ENTRY in elf.imports)
    why = f" ({', '.join(ignored)}: for named locales only, and none is kept)" if ignored else ""
    return False, f"dropped: no loaded object calls iconv_open{why}"


def nss_modules(fs: RootFs, closure: Closure) -> list[str]:
    """The NSS modules libc loads for the services /etc/nsswitch.conf names, when libc is
    loaded at all: glibc dlopens ``libnss_<service>.so.2`` unless the service is built in
    (since 2.34 'files' and 'dns' are: libc then defines their ``_nss_<service>_*`` functions
    and the modules are empty stubs)."""
    libc = [elf for path, elf in closure.objects.items() if closure.sonames()[path] == "libc.so.6"]
    conf = fs.resolve("/etc/nsswitch.conf")
    if not libc or conf is None:
        return []
    services: list[str] = []
    for line in fs.host(conf.path).read_text(errors="replace").splitlines():
        _, _, sources = line.split("#", 1)[0].partition(":")
        services += [s for s in sources.split() if not s.startswith("[")]
    built_in = {name.split("_")[2] for name in libc[0].exports if name.startswith("_nss_")}
    found = []
    for service in dict.fromkeys(s for s in services if s not in built_in):
        for directory in system_directories(libc[0].machine):
            candidate = posixpath.join(directory, f"libnss_{service}.so.2")
            if fs.resolve(candidate) is not None:
                found.append(candidate)
                break
    return found


def license_references(fs: RootFs, copyright_files: Iterable[str]) -> list[str]:
    """The /usr/share/common-licenses texts the given copyright files refer to."""
    found: dict[str, None] = {}
    for path in copyright_files:
        text = fs.host(path).read_text(errors="replace")
        for name in _LICENSE_REFERENCE.findall(text):
            found[f"/usr/share/common-licenses/{name.rstrip('.')}"] = None
    return list(found)
