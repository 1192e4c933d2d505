"""The distroless floor on the real engine: Falco's image (stand-in release) pruned to what its
programs load on both platforms, the image's own loader loading them, and the floor refusing
a catalog whose packages lack a library or a copyright file; a small generic family proves the
gconv rule (kept for a program that converts charsets, which fails without it)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from dagger import dag

from pipelines.assembly.assemble import build_container
from pipelines.assembly.floor_report import floor_report, without_floor
from pipelines.catalog.loader import load_family
from pipelines.catalog.variant import LoadTest
from pipelines.oci.sizes import image_size
from pipelines.plan import BuildPlan, plan
from pipelines.results import BuildResult, TargetResult
from pipelines.run import build_and_test, build_context
from pipelines.smoke.loads import check_loads
from tests.engine.family import locked, mirrors, pinned_plan, pins_of, standin_catalog
from tests.standin import StandinRelease
from tests.unit.test_floor_elf import compile_c

pytestmark = [pytest.mark.engine, pytest.mark.usefixtures("engine")]

TRIPLETS = {"linux/amd64": "x86_64-linux-gnu", "linux/arm64": "aarch64-linux-gnu"}
DROPPED = (
    "/usr/share/doc/libc6/NEWS.gz",
    "/usr/share/ca-certificates",  # the bundle is made of them
    "/usr/sbin/update-ca-certificates",
    "/usr/share/gcc",  # libstdc++'s gdb printers
    "/etc/ld.so.conf.d",
)
KEPT = (
    "/usr/share/doc/zlib1g/copyright",  # every package's, zlib1g's though falco needs no libz
    "/usr/share/common-licenses/GPL-3",
    "/var/lib/dpkg/status.d/zlib1g",
    "/etc/protocols",  # the catalog's keep
    "/usr/share/zoneinfo/Europe/Paris",
    "/etc/falco/falco.yaml",  # what the release tarball installs stays whole
)


@pytest.fixture(scope="module")
def falco_plan(
    tmp_path_factory: pytest.TempPathFactory,
    standin_release: StandinRelease,
    standin_server: str,
    falco_packages: str,
) -> tuple[BuildPlan, Path]:
    """The distroless variant of the pinned stand-in catalog, for both platforms."""
    return pinned_plan(
        tmp_path_factory.mktemp("floor") / "falco",
        standin_release,
        standin_server,
        falco_packages,
        variants=["falco"],
    )


@pytest.fixture(scope="module")
async def falco(engine: None, falco_plan: tuple[BuildPlan, Path]) -> BuildResult:
    """Both platforms built and smoke-tested."""
    build_plan, catalog = falco_plan
    return await build_and_test(build_plan, dag.host().directory(str(catalog)))


def _target(result: BuildResult, platform: str) -> TargetResult:
    [found] = [t for t in result.targets if t.target.platform == platform]
    return found


@pytest.mark.parametrize("platform", ["linux/amd64", "linux/arm64"])
async def test_falco_keeps_what_it_loads_and_loses_the_rest(
    falco: BuildResult, falco_plan: tuple[BuildPlan, Path], platform: str
) -> None:
    built = _target(falco, platform)
    assert built.passed, falco.render()
    assert built.report is not None
    loads = {r.check: r for r in built.report.results if r.check.startswith("loads ")}
    assert loads["loads /usr/bin/falco"].passed
    assert "libstdc++.so.6" in loads["loads /usr/bin/falco"].detail
    assert loads["loads /usr/share/falco/plugins/libcontainer.so"].passed
    container = built.container
    assert container is not None
    lib = f"/usr/lib/{TRIPLETS[platform]}"
    for gone in (f"{lib}/gconv", f"{lib}/libz.so.1", *DROPPED):
        assert not await container.exists(gone), gone
    for kept in (f"{lib}/libstdc++.so.6", *KEPT):
        assert await container.exists(kept), kept

    build_plan, catalog = falco_plan
    ctx = await build_context(build_plan, dag.host().directory(str(catalog)))
    report_file = floor_report(ctx, built.target)
    assert report_file is not None
    report = json.loads(await report_file.contents())
    assert report["gconv"].startswith("dropped: no loaded object calls iconv_open")
    assert set(report["roots"]) == {"/usr/bin/falco", "/usr/share/falco/plugins/libcontainer.so"}
    assert {Path(p).name for p in report["closure"]} >= {"libc.so.6", "libstdc++.so.6.0.30"}
    unfloored = await image_size(build_container(ctx, without_floor(built.target)), ctx.tools_image)
    assert built.report.size is not None
    assert built.report.size.uncompressed < unfloored.uncompressed - report["removed"]["bytes"] // 2


async def test_loads_check_fails_without_a_library(falco: BuildResult) -> None:
    built = _target(falco, "linux/amd64")
    assert built.container is not None
    broken = built.container.without_file("/usr/lib/x86_64-linux-gnu/libstdc++.so.6.0.30")
    [result] = await check_loads(broken, LoadTest(path="/usr/bin/falco"), built.target.elf_machine)
    assert not result.passed
    assert result.detail.startswith(
        "/lib64/ld-linux-x86-64.so.2 exited 0: libstdc++.so.6 => not found"
    )
    assert "undefined symbol(s), first: undefined symbol: _Z" in result.detail
    [none] = await check_loads(broken, LoadTest(path="/opt/*.so"), built.target.elf_machine)
    assert (none.passed, none.detail) == (False, "no file matches")


async def test_loads_check_binds_symbols_unless_told_not_to(
    falco: BuildResult, tmp_path: Path
) -> None:
    built = _target(falco, "linux/amd64")
    assert built.container is not None
    source = (
        '#include <stdio.h>\nint from_host(void);\nint f(void) { puts("p"); return from_host(); }\n'
    )
    plugin = compile_c("linux/amd64", source, tmp_path / "host-plugin.so", "-shared", "-fPIC")
    image = built.container.with_file("/opt/host-plugin.so", dag.host().file(str(plugin)))
    machine = built.target.elf_machine
    [strict] = await check_loads(image, LoadTest(path="/opt/*.so"), machine)
    assert not strict.passed
    assert "undefined symbol: from_host" in strict.detail
    [lenient] = await check_loads(image, LoadTest(path="/opt/*.so", bind_symbols=False), machine)
    assert lenient.passed, lenient.detail
    assert "libc.so.6" in lenient.detail


async def test_floor_refuses_packages_without_a_library_or_a_copyright(
    tmp_path: Path, standin_release: StandinRelease, standin_server: str
) -> None:
    broken = standin_catalog(tmp_path / "falco", standin_release, pins=pins_of(standin_release))
    variant = broken / "variants/falco/variant.toml"
    text = variant.read_text().replace('  "libstdc++6",\n', "").replace('  "gcc-12-base",\n', "")
    variant.write_text(text)
    await locked(broken, variants=["falco"], platforms=["linux/amd64"])
    build_plan = plan(
        load_family(broken),
        variants=["falco"],
        platforms=["linux/amd64"],
        version=standin_release.falco_version,
        mirrors=mirrors(standin_server),
    )
    result = await build_and_test(build_plan, dag.host().directory(str(broken)))
    [target] = result.targets
    assert target.error is not None
    assert re.search(
        r"distroless floor: /usr/bin/falco needs libstdc\+\+\.so\.6, found in none of: "
        r"/lib/x86_64-linux-gnu, /usr/lib/x86_64-linux-gnu, /lib, /usr/lib",
        target.error,
    ), target.error
    assert (
        "distroless floor: package libgcc-s1: no /usr/share/doc/libgcc-s1/copyright "
        "(/usr/share/doc/libgcc-s1 links to gcc-12-base: list package 'gcc-12-base')"
    ) in target.error


CONVERT_C = r"""
#include <iconv.h>
#include <stdio.h>
int main(void) {
    char in[] = "\xe9", out[8] = {0}, *from = in, *to = out;
    size_t left = 1, room = sizeof out;
    iconv_t cd = iconv_open("UTF-8", "ISO-8859-1");
    if (cd == (iconv_t)-1) { perror("iconv_open"); return 1; }
    if (iconv(cd, &from, &left, &to, &room) == (size_t)-1) { perror("iconv"); return 1; }
    for (char *c = out; c < to; c++) printf("%02x", (unsigned char)*c);
    puts("");
    return 0;
}
"""

FAMILY_TOML = """\
name = "charsets"
description = "A program that converts ISO-8859-1 to UTF-8 with iconv"
source = "https://example.org/charsets"
url = "https://example.org"
vendor = "Example"
licenses = "MIT"
authors = "Example <dev@example.org>"
default_version = "1.0.0"
platforms = ["linux/amd64"]
"""

VARIANT_TOML = """\
name = "convert"
description = "convert on a distroless floor"
repository = "convert"
tags = ["{{version}}"]

[base.distroless]
release = "bookworm"
packages = ["base-files", "libc6"]

[base.distroless.floor]
gconv = "GCONV"

[[files]]
source = "files/convert"
target = "/usr/bin/convert"
mode = 0o755

[[tests.commands]]
name = "converts e-acute"
command = ["/usr/bin/convert"]
expected_output = ["^c3a9$"]
"""


@pytest.mark.parametrize(("gconv", "converts"), [("auto", True), ("drop", False)])
async def test_gconv_stays_for_a_program_that_converts(
    tmp_path: Path, gconv: str, converts: bool
) -> None:
    family = tmp_path / "charsets"
    files = family / "variants/convert/files"
    files.mkdir(parents=True)
    (family / "family.toml").write_text(FAMILY_TOML)
    (family / "variants/convert/variant.toml").write_text(
        VARIANT_TOML.replace("GCONV", gconv).replace("{{version}}", "{version}")
    )
    compile_c("linux/amd64", CONVERT_C, files / "convert")
    await locked(family)
    result = await build_and_test(plan(load_family(family)), dag.host().directory(str(family)))
    [target] = result.targets
    assert target.report is not None, target.error
    [command] = target.report.results[:1]
    assert command.passed is converts, command.detail
    if not converts:
        assert "iconv_open: Invalid argument" in command.detail
    assert target.container is not None
    gconv = "/usr/lib/x86_64-linux-gnu/gconv/ISO8859-1.so"
    assert await target.container.exists(gconv) is converts
