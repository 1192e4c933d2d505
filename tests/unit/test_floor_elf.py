"""The ELF reader of the distroless floor, on programs compiled here for both platforms and on
the machine's own libraries (compared with binutils' readelf)."""

from __future__ import annotations

import re
import subprocess
import tempfile
from pathlib import Path

import pytest

from pipelines.assembly.floor.elf import ElfError, ElfFile, read_elf
from tests.standin.platforms import get_platform

MACHINES = {"linux/amd64": 62, "linux/arm64": 183}

LIBRARY_C = r"""
#include <iconv.h>
#include <stdio.h>
int demo(void) { iconv_t cd = iconv_open("UTF-8", "ISO-8859-1"); puts("demo"); return cd != 0; }
"""
PROGRAM_C = "int demo(void); int main(void) { return demo(); }\n"


def compile_c(platform: str, source: str, output: Path, *flags: str, compiler: str = "gcc") -> Path:
    """Compile ``source`` (C) for ``platform`` with the stand-in's toolchain; returns ``output``."""
    driver = get_platform(platform).tool(compiler)
    with tempfile.TemporaryDirectory(prefix="elf-source-") as scratch:
        source_file = Path(scratch) / f"{output.name}.c"
        source_file.write_text(source)
        subprocess.run(
            [driver, "-O1", "-o", str(output), str(source_file), *flags],
            check=True,
            capture_output=True,
        )
    return output


def demo_library(platform: str, directory: Path, name: str = "libdemo.so") -> Path:
    """A shared library (SONAME libdemo.so.1) that calls iconv_open."""
    directory.mkdir(parents=True, exist_ok=True)
    flags = ("-shared", "-fPIC", "-Wl,-soname,libdemo.so.1")
    return compile_c(platform, LIBRARY_C, directory / name, *flags)


@pytest.fixture(scope="module", params=sorted(MACHINES))
def platform(request: pytest.FixtureRequest) -> str:
    """Each platform the families build for."""
    value: str = request.param
    return value


def test_shared_library(platform: str, tmp_path: Path) -> None:
    elf = read_elf(demo_library(platform, tmp_path))
    assert elf is not None
    assert (elf.machine, elf.wide, elf.soname) == (MACHINES[platform], True, "libdemo.so.1")
    assert elf.interpreter is None
    assert "libc.so.6" in elf.needed
    assert {"iconv_open", "puts"} <= elf.imports
    assert "demo" in elf.exports and "demo" not in elf.imports  # defined here


def test_program_with_runpath(platform: str, tmp_path: Path) -> None:
    demo_library(platform, tmp_path)
    program = compile_c(
        platform, PROGRAM_C, tmp_path / "app", "-L", str(tmp_path), "-ldemo",
        "-Wl,--enable-new-dtags,-rpath,$ORIGIN/../lib/demo:/opt/demo",
    )  # fmt: skip
    elf = read_elf(program)
    assert elf is not None
    assert elf.needed[0] == "libdemo.so.1"  # the library's SONAME, not its file name
    assert elf.runpath == ("$ORIGIN/../lib/demo", "/opt/demo")
    assert elf.rpath == ()
    loader = {
        "linux/amd64": "/lib64/ld-linux-x86-64.so.2",
        "linux/arm64": "/lib/ld-linux-aarch64.so.1",
    }
    assert elf.interpreter == loader[platform]


def test_program_with_rpath(tmp_path: Path) -> None:
    demo_library("linux/amd64", tmp_path)
    program = compile_c(
        "linux/amd64", PROGRAM_C, tmp_path / "app", "-L", str(tmp_path), "-ldemo",
        "-Wl,--disable-new-dtags,-rpath,/opt/old",
    )  # fmt: skip
    elf = read_elf(program)
    assert elf is not None and (elf.rpath, elf.runpath) == (("/opt/old",), None)


def test_static_program(platform: str, tmp_path: Path) -> None:
    elf = read_elf(compile_c(platform, "int main(void) { return 0; }\n", tmp_path / "s", "-static"))
    assert elf == ElfFile(MACHINES[platform], True)


def test_what_is_not_a_program(tmp_path: Path) -> None:
    text = tmp_path / "script"
    text.write_text("#!/bin/sh\n")
    assert read_elf(text) is None
    relocatable = compile_c("linux/amd64", "int x;\n", tmp_path / "x.o", "-c")
    assert read_elf(relocatable) is None


def test_broken_elf_is_an_error(tmp_path: Path) -> None:
    library = demo_library("linux/amd64", tmp_path)
    cut = tmp_path / "cut.so"
    cut.write_bytes(library.read_bytes()[:2000])
    with pytest.raises(ElfError, match=r"cut\.so: not a readable ELF file"):
        read_elf(cut)
    tiny = tmp_path / "tiny"
    tiny.write_bytes(b"\x7fELF\x02\x01")
    with pytest.raises(ElfError, match="too short"):
        read_elf(tiny)


def _readelf(path: Path) -> tuple[tuple[str, ...], set[str], set[str]]:
    """NEEDED entries, undefined and defined dynamic symbols, as binutils reads them."""
    dynamic = subprocess.run(["readelf", "-dW", str(path)], capture_output=True, text=True)
    needed = tuple(re.findall(r"\(NEEDED\)\s+Shared library: \[(.*)\]", dynamic.stdout))
    symbols = subprocess.run(
        ["readelf", "--dyn-syms", "-DW", str(path)], capture_output=True, text=True
    ).stdout
    undefined: set[str] = set()
    defined: set[str] = set()
    for line in symbols.splitlines():
        fields = line.split()
        if len(fields) >= 8 and fields[0].rstrip(":").isdigit():
            name = fields[7].split("@")[0]
            (undefined if fields[6] == "UND" else defined).add(name)
    return needed, undefined, defined


def test_agrees_with_readelf_on_this_machines_libraries() -> None:
    libraries = [
        path
        for path in sorted(Path("/usr/lib").glob("*-linux-gnu/lib*.so*"))
        if path.is_file() and not path.is_symlink()
    ][:80]
    checked = 0
    for path in libraries:
        elf = read_elf(path)
        if elf is None:
            continue
        assert (elf.needed, set(elf.imports), set(elf.exports)) == _readelf(path), path
        checked += 1
    assert checked >= 20
