"""Target platforms (``os/arch``) and the ELF machine each one must run.

Only Linux platforms whose ELF machine is known are accepted, because the smoke
tests check the architecture of the binaries inside every image.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from typing import NamedTuple

from pipelines.errors import InputError


class ElfMachine(NamedTuple):
    """The ``e_machine`` value (and its symbolic name) of an ELF binary."""

    code: int
    name: str


ELF_MACHINES: dict[str, ElfMachine] = {
    "linux/amd64": ElfMachine(62, "EM_X86_64"),
    "linux/arm64": ElfMachine(183, "EM_AARCH64"),
    "linux/386": ElfMachine(3, "EM_386"),
    "linux/arm/v7": ElfMachine(40, "EM_ARM"),
    "linux/ppc64le": ElfMachine(21, "EM_PPC64"),
    "linux/s390x": ElfMachine(22, "EM_S390"),
    "linux/riscv64": ElfMachine(243, "EM_RISCV"),
}
"""Every platform the pipeline knows how to check, by ``os/arch[/variant]`` name."""

_READABLE = {"EM_X86_64": "x86-64", "EM_AARCH64": "aarch64", "EM_386": "i386", "EM_ARM": "arm",
             "EM_PPC64": "ppc64", "EM_S390": "s390", "EM_RISCV": "riscv"}  # fmt: skip
MACHINE_NAMES = {machine.code: _READABLE[machine.name] for machine in ELF_MACHINES.values()}
"""A readable name for each known ELF ``e_machine`` (as ``file``(1) prints it)."""


def machine_name(code: int) -> str:
    """A readable name for an ELF machine number (the number itself when unknown)."""
    return MACHINE_NAMES.get(code, str(code))


_ARCH_ALIASES = {
    "x86_64": "amd64",
    "x86-64": "amd64",
    "x64": "amd64",
    "aarch64": "arm64",
    "arm64v8": "arm64",
    "armv7": "arm/v7",
    "armhf": "arm/v7",
    "i386": "386",
    "i686": "386",
}
"""Architecture names used elsewhere (uname, Debian) and the platform name to use instead."""


def check_platform(platform: str) -> str:
    """Return ``platform`` if the pipeline supports it, else raise :class:`InputError`."""
    if platform in ELF_MACHINES:
        return platform
    raise InputError(
        f"unsupported platform {platform!r}{_did_you_mean(platform, ELF_MACHINES)}; "
        f"supported platforms: {', '.join(ELF_MACHINES)}"
    )


def select_platforms(requested: Sequence[str] | None, available: Sequence[str]) -> tuple[str, ...]:
    """Validate the requested platforms against ``available`` (the family's platforms).

    ``None`` or an empty sequence selects every available platform.  The result is
    in the family's order, without duplicates, whatever order the caller used.
    """
    if not requested:
        return tuple(available)
    for platform in requested:
        if platform not in available:
            raise InputError(
                f"platform {platform!r} is not built by this family"
                f"{_did_you_mean(platform, available)}; valid platforms: {', '.join(available)}"
            )
    wanted = set(requested)
    return tuple(platform for platform in available if platform in wanted)


def elf_machine(platform: str) -> ElfMachine:
    """The ELF machine that binaries built for ``platform`` must declare."""
    return ELF_MACHINES[check_platform(platform)]


def arch_of(platform: str) -> str:
    """The architecture part of ``os/arch[/variant]`` (``linux/arm64`` -> ``arm64``)."""
    return check_platform(platform).split("/")[1]


UNAME_MACHINES: dict[str, str] = {
    "linux/amd64": "x86_64",
    "linux/arm64": "aarch64",
    "linux/386": "i686",
    "linux/arm/v7": "armv7l",
    "linux/ppc64le": "ppc64le",
    "linux/s390x": "s390x",
    "linux/riscv64": "riscv64",
}
"""What ``uname -m`` prints on each platform (release artifacts and arch tags use these names)."""


def uname_machine(platform: str) -> str:
    """``uname -m`` on ``platform`` (``linux/amd64``: ``x86_64``, ``linux/arm64``: ``aarch64``)."""
    return UNAME_MACHINES[check_platform(platform)]


def _did_you_mean(value: str, choices: Sequence[str] | dict[str, ElfMachine]) -> str:
    os_name, _, arch = value.partition("/")
    alias = f"{os_name}/{_ARCH_ALIASES[arch]}" if arch in _ARCH_ALIASES else None
    if alias in choices:
        return f" (did you mean {alias!r}?)"
    close = difflib.get_close_matches(value, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""
