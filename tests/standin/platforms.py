"""Target platforms of the stand-in release and the toolchains that build for them."""

from __future__ import annotations

import platform as _host
from dataclasses import dataclass

EM_X86_64 = 62
EM_AARCH64 = 183


@dataclass(frozen=True)
class Platform:
    """One OCI platform and the names the Falco release uses for it."""

    name: str  # OCI platform, e.g. "linux/amd64"
    arch: str  # Falco's tarball/deb naming, e.g. "x86_64"
    goarch: str  # Go/goreleaser naming, e.g. "amd64"
    debarch: str  # Debian architecture, e.g. "amd64"
    gnu_triplet: str  # GNU cross-toolchain prefix, e.g. "x86_64-linux-gnu"
    elf_machine: int  # ELF e_machine value of binaries for this platform
    glibc_base_version: str  # oldest glibc symbol version on this architecture

    def tool(self, name: str) -> str:
        """Return the compiler driver for ``name`` ("gcc" or "g++") targeting this platform.

        The unprefixed driver is used when the host already is this architecture,
        otherwise the Debian cross toolchain ``<triplet>-<name>``.
        """
        if _host.machine() in (self.arch, self.goarch):
            return name
        return f"{self.gnu_triplet}-{name}"


PLATFORMS: dict[str, Platform] = {
    "linux/amd64": Platform(
        name="linux/amd64",
        arch="x86_64",
        goarch="amd64",
        debarch="amd64",
        gnu_triplet="x86_64-linux-gnu",
        elf_machine=EM_X86_64,
        glibc_base_version="GLIBC_2.2.5",
    ),
    "linux/arm64": Platform(
        name="linux/arm64",
        arch="aarch64",
        goarch="arm64",
        debarch="arm64",
        gnu_triplet="aarch64-linux-gnu",
        elf_machine=EM_AARCH64,
        glibc_base_version="GLIBC_2.17",
    ),
}


def get_platform(name: str) -> Platform:
    """Look up a supported platform by its OCI name, raising ``ValueError`` otherwise."""
    try:
        return PLATFORMS[name]
    except KeyError:
        supported = ", ".join(sorted(PLATFORMS))
        raise ValueError(f"unsupported platform {name!r} (supported: {supported})") from None
