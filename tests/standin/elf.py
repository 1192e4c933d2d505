"""Compile the stand-in ELF programs, once per platform, into a content-addressed cache."""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path

from . import sources
from ._util import StandinError, run
from .platforms import Platform

_ELF_MAGIC = b"\x7fELF"
_CROSS_PACKAGES = {"gcc": "gcc-{triplet}", "g++": "g++-{triplet}"}


@dataclass(frozen=True)
class ElfHeader:
    """The fields of an ELF file header the stand-in cares about."""

    elf_class: int  # 1 = 32-bit, 2 = 64-bit
    data: int  # 1 = little endian, 2 = big endian
    e_type: int  # 2 = ET_EXEC, 3 = ET_DYN
    e_machine: int  # 62 = x86-64, 183 = AArch64


def read_elf_header(data: bytes) -> ElfHeader:
    """Parse the identification and type/machine fields of an ELF header."""
    if len(data) < 20 or data[:4] != _ELF_MAGIC:
        raise ValueError("not an ELF file")
    elf_class, endian = data[4], data[5]
    fmt = "<HH" if endian == 1 else ">HH"
    e_type, e_machine = struct.unpack_from(fmt, data, 16)
    return ElfHeader(elf_class=elf_class, data=endian, e_type=e_type, e_machine=e_machine)


@functools.cache
def _compiler_identity(compiler: str) -> str:
    """Return "<target triplet> <version>" of a compiler driver (part of the cache key)."""
    machine = run([compiler, "-dumpmachine"]).stdout.decode().strip()
    version = run([compiler, "-dumpfullversion"]).stdout.decode().strip()
    return f"{machine} {version}"


def _require(platform: Platform, driver: str) -> str:
    compiler = platform.tool(driver)
    if shutil.which(compiler) is None:
        package = _CROSS_PACKAGES[driver].format(triplet=platform.gnu_triplet)
        if compiler == driver:
            package = driver
        raise StandinError(
            f"{compiler} not found; install it with `apt-get install -y {package}` "
            f"to build the {platform.name} stand-in"
        )
    return compiler


def _compile(
    platform: Platform,
    driver: str,
    files: dict[str, str],
    args: list[str],
    output_name: str,
    cache_dir: Path,
) -> Path:
    """Compile ``files`` with ``args`` for ``platform`` unless an identical build is cached."""
    compiler = _require(platform, driver)
    key_material = json.dumps(
        [compiler, _compiler_identity(compiler), files, args, output_name], sort_keys=True
    )
    key = hashlib.sha256(key_material.encode()).hexdigest()[:20]
    target = cache_dir / "elf" / platform.goarch / key / output_name
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".build-") as tmp:
        work = Path(tmp)
        inputs: list[str] = []
        for name, text in files.items():
            (work / name).write_text(text)
            language = "c++" if name.endswith(".cpp") else "c"
            inputs += ["-x", language, name]
        run([compiler, *args, *inputs, "-o", output_name], cwd=work)
        built = work / output_name
        header = read_elf_header(built.read_bytes()[:64])
        if header.e_machine != platform.elf_machine:
            raise StandinError(
                f"{compiler} produced e_machine {header.e_machine}, "
                f"expected {platform.elf_machine} for {platform.name}"
            )
        os.chmod(built, 0o755)
        os.replace(built, target)
    return target


def build_falco(platform: Platform, version: str, driver_version: str, cache_dir: Path) -> Path:
    """Build the dynamically linked C++ ``falco`` stand-in for ``platform``."""
    return _compile(
        platform,
        "g++",
        {"glibc_compat.c": sources.GLIBC_COMPAT_C, "falco.cpp": sources.FALCO_CPP},
        [
            "-O1",
            "-s",
            f'-DFALCO_VERSION="{version}"',
            f'-DDRIVER_VERSION="{driver_version}"',
            f"-DGLIBC_BASE_VERSION={platform.glibc_base_version}",
        ],
        "falco",
        cache_dir,
    )


def build_falcoctl(platform: Platform, version: str, cache_dir: Path) -> Path:
    """Build the static C ``falcoctl`` stand-in for ``platform`` (like the Go original)."""
    return _compile(
        platform,
        "gcc",
        {"falcoctl.c": sources.FALCOCTL_C},
        ["-O1", "-s", "-static", f'-DFALCOCTL_VERSION="{version}"'],
        "falcoctl",
        cache_dir,
    )


def build_plugin(platform: Platform, cache_dir: Path) -> Path:
    """Build a tiny shared object standing in for the bundled container plugin."""
    return _compile(
        platform,
        "gcc",
        {"plugin.c": sources.PLUGIN_C},
        ["-O1", "-s", "-shared", "-fPIC"],
        "libcontainer.so",
        cache_dir,
    )


def build_hello(platform: Platform, version: str, cache_dir: Path) -> Path:
    """Build the static C ``hello`` of the example family (tests/examples/valid/hello)."""
    return _compile(
        platform,
        "gcc",
        {"hello.c": sources.HELLO_C},
        ["-O1", "-s", "-static", f'-DHELLO_VERSION="{version}"'],
        "hello",
        cache_dir,
    )
