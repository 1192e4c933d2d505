"""The engine platform's builds of the file and text tools, offered to a foreign image's
maintainer scripts: chosen only at the image's own package versions, none for an image of the
engine's architecture, and runnable inside the foreign image (natively, not emulated).

That the images built with them hold what apt inside the image gives is
``test_native_install``'s arm64 cases."""

from __future__ import annotations

import dagger
import pytest
from dagger import dag

from pipelines.debian.native_tools import BUILT, MOUNT, NATIVE_TOOLS, SELECT, native_tools
from pipelines.tools import tools_container
from tests.engine.family import TOOLS_IMAGE

pytestmark = [pytest.mark.engine, pytest.mark.usefixtures("engine")]

# The e_machine field of an ELF file (bytes 18-19, little-endian), as a number.
_ELF_MACHINE = "od -An -tu2 -j18 -N2"


async def _platforms() -> tuple[str, str]:
    """(the engine's platform, a foreign one)."""
    native = str(await dag.default_platform())
    foreign = "linux/arm64" if native.endswith("amd64") else "linux/amd64"
    return native, foreign


def _selected(platform: str, edit_status: str = "") -> dagger.Container:
    """The tools chosen for a bare Debian image of ``platform`` (its dpkg status edited first by
    the ``edit_status`` shell line), in /meta/native."""
    image = dag.container(platform=dagger.Platform(platform)).from_(TOOLS_IMAGE)
    return (
        tools_container(TOOLS_IMAGE)
        .with_mounted_directory("/target", image.rootfs())
        .with_mounted_directory(BUILT, native_tools(TOOLS_IMAGE))
        .with_exec(["sh", "-c", SELECT + edit_status + "\nselect_native_tools"])
    )


async def _names(ctr: dagger.Container, path: str) -> list[str]:
    return sorted(await ctr.directory(path).entries())


async def test_a_foreign_image_gets_the_tools_of_the_packages_it_holds_at_the_same_version() -> (
    None
):
    _, foreign = await _platforms()
    selected = _selected(foreign)
    chosen = await _names(selected, "/meta/native/bin")
    # a bare Debian image: coreutils, sed, grep and findutils, at the versions the tools image
    # has (the same base); openssl is not installed in it, so none of its programs
    expected = sorted(
        tool
        for package in ("coreutils", "sed", "grep", "findutils")
        for tool in NATIVE_TOOLS[package]
    )
    assert chosen == expected
    assert "ld.so" in await _names(selected, "/meta/native/lib")

    # another coreutils version in the image: its programs stay the image's own
    other = (
        "sed -i '/^Package: coreutils$/,/^$/ s/^Version: .*/Version: 0.0-other/' "
        "/target/var/lib/dpkg/status"
    )
    chosen = await _names(_selected(foreign, other), "/meta/native/bin")
    assert "sed" in chosen and "find" in chosen
    assert not set(NATIVE_TOOLS["coreutils"]) & set(chosen)


async def test_an_image_of_the_engine_platform_gets_none() -> None:
    native, _ = await _platforms()
    selected = _selected(native)
    assert await _names(selected, "/meta/native/bin") == []
    assert "lib" not in await _names(selected, "/meta/native")


async def test_the_tools_run_inside_the_foreign_image_as_the_engine_platform() -> None:
    _, foreign = await _platforms()
    chosen = _selected(foreign).directory("/meta/native")
    image = dag.container(platform=dagger.Platform(foreign)).from_(TOOLS_IMAGE)
    script = (
        f'export PATH="{MOUNT}/bin:$PATH"\n'
        "command -v sed\n"
        "printf 'a b\\n' | sed 's/a/x/' | cut -d' ' -f1\n"
        "mkdir -p /tmp/t && ln -s /etc/os-release /tmp/t/link && readlink /tmp/t/link\n"
        'basename "$(find /etc -maxdepth 1 -name os-release)"\n'
    )
    out = await image.with_mounted_directory(MOUNT, chosen).with_exec(["sh", "-c", script]).stdout()
    assert out.splitlines() == [f"{MOUNT}/bin/sed", "x", "/etc/os-release", "os-release"]

    machines = (
        tools_container(TOOLS_IMAGE)
        .with_mounted_directory("/image", image.rootfs())
        .with_mounted_directory("/chosen", chosen)
        .with_exec(
            ["sh", "-c", f"{_ELF_MACHINE} /chosen/bin/sed; {_ELF_MACHINE} /image/usr/bin/sed"]
        )
    )
    ours, theirs = (await machines.stdout()).split()
    native_machine = (
        await tools_container(TOOLS_IMAGE)
        .with_exec(["sh", "-c", f"{_ELF_MACHINE} /usr/bin/sed"])
        .stdout()
    )
    assert ours == native_machine.strip() and ours != theirs
