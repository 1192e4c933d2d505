"""The distroless floor on a small root filesystem built here: merged /usr, real ELF files
compiled for the platform, a package's documentation, gconv modules, licences and dpkg records.
The pruning is the same code the pipeline runs in its tools container."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from pipelines.assembly.floor.closure import dependency_closure, system_directories
from pipelines.assembly.floor.globs import matches
from pipelines.assembly.floor.prune import FloorSpec, apply_floor, main, plan_floor
from pipelines.assembly.floor.rootfs import RootFs
from tests.unit.test_floor_elf import compile_c

LIB = "/usr/lib/x86_64-linux-gnu"
SHARED = ("-shared", "-fPIC", "-nostdlib")


def _write(root: Path, path: str, text: str = "x\n") -> Path:
    target = root / path.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)
    return target


def _link(root: Path, path: str, target: str) -> None:
    where = root / path.lstrip("/")
    where.parent.mkdir(parents=True, exist_ok=True)
    where.symlink_to(target)


def _library(root: Path, path: str, soname: str, *flags: str) -> Path:
    target = root / path.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    return compile_c("linux/amd64", "int f(void) { return 1; }\n", target, *SHARED,
                     f"-Wl,-soname,{soname}", *flags)  # fmt: skip


@pytest.fixture(scope="module")
def elves(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The compiled ELF files, once: a program needing libgood, one calling iconv_open, a
    plugin needing libplug, and an arm64 libgood that an amd64 program must never get."""
    out = tmp_path_factory.mktemp("elves")
    for soname in ("ld-linux-x86-64.so.2", "libc.so.6", "libunused.so.1", "libnss_files.so.2"):
        _library(out, soname, soname)
    _library(out, "libgood.so.1.0.0", "libgood.so.1")
    nss_built_in = "int _nss_files_getpwnam_r(void) { return 0; }\n"  # as glibc >= 2.34
    compile_c("linux/amd64", nss_built_in, out / "libc-2.36.so", *SHARED, "-Wl,-soname,libc.so.6")
    _library(out, "libplug.so.1", "libplug.so.1")
    link = ("-L", str(out), "-l:libgood.so.1.0.0")
    compile_c("linux/amd64", "int f(void); int main(void) { return f(); }\n", out / "app", *link)
    iconv = '#include <iconv.h>\nint main(void) { return iconv_open("UTF-8", "LATIN1") == 0; }\n'
    compile_c("linux/amd64", iconv, out / "iconv-app")
    compile_c("linux/amd64", "int f(void) { return 2; }\n", out / "plugin.so", "-shared", "-fPIC",
              "-L", str(out), "-Wl,--no-as-needed", "-l:libplug.so.1")  # fmt: skip
    arm = out / "arm64"
    arm.mkdir()
    compile_c("linux/arm64", "int f(void) { return 1; }\n", arm / "libgood.so.1", *SHARED,
              "-Wl,-soname,libgood.so.1")  # fmt: skip
    return out


def packages_root(root: Path, elves: Path) -> Path:
    """What unpacked packages leave: libraries, docs, gconv, licences, dpkg records..."""
    for top in ("bin", "lib", "sbin"):
        _link(root, f"/{top}", f"usr/{top}")
    _link(root, "/lib64", "usr/lib64")
    (root / "usr/bin").mkdir(parents=True)
    _link(root, "/usr/lib64/ld-linux-x86-64.so.2", "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2")
    libraries = root / LIB.lstrip("/")
    libraries.mkdir(parents=True)
    for name in ("ld-linux-x86-64.so.2", "libc.so.6", "libunused.so.1", "libnss_files.so.2"):
        shutil.copy(elves / name, libraries)
    shutil.copy(elves / "libgood.so.1.0.0", libraries)
    _link(root, f"{LIB}/libgood.so.1", "libgood.so.1.0.0")
    shutil.copy(elves / "libplug.so.1", libraries)
    _write(root, f"{LIB}/gconv/gconv-modules", "module LATIN1// INTERNAL ISO8859-1 1\n")
    _write(root, f"{LIB}/gconv/ISO8859-1.so")
    _write(root, "/usr/share/doc/libc6/copyright", "see /usr/share/common-licenses/LGPL-2.1.\n")
    _write(root, "/usr/share/doc/libc6/changelog.Debian.gz")
    _link(root, "/usr/share/doc/libgood1", "good-common")
    _write(root, "/usr/share/doc/good-common/copyright", "/usr/share/common-licenses/GPL\n")
    _write(root, "/usr/share/common-licenses/LGPL-2.1")
    _write(root, "/usr/share/common-licenses/GPL-3")
    _link(root, "/usr/share/common-licenses/GPL", "GPL-3")
    _write(root, "/usr/share/common-licenses/Apache-2.0")
    _write(root, "/usr/share/man/man1/tool.1.gz")
    _write(root, "/usr/share/locale/de/LC_MESSAGES/libc.mo")
    _write(root, "/usr/share/zoneinfo/Europe/Paris")
    _link(root, "/usr/share/zoneinfo/CET", "Europe/Paris")
    _write(root, "/usr/share/zoneinfo/right/Europe/Paris")
    _write(root, "/usr/lib/os-release", "VERSION_CODENAME=bookworm\n")
    _link(root, "/etc/os-release", "../usr/lib/os-release")
    for name in ("passwd", "group", "debian_version", "services"):
        _write(root, f"/etc/{name}")
    _write(root, "/etc/nsswitch.conf", "passwd: files\nhosts: files dns\n")
    _write(root, "/etc/ssl/certs/ca-certificates.crt")
    _write(root, "/usr/share/ca-certificates/mozilla/Some_CA.crt")
    for package in ("libc6", "libgood1", "good-common"):
        _write(root, f"/var/lib/dpkg/status.d/{package}", f"Package: {package}\n")
    (root / "tmp").mkdir()
    return root


@pytest.fixture
def roots(tmp_path: Path, elves: Path) -> tuple[RootFs, RootFs]:
    """The packages alone (base) and the image: the packages plus an application."""
    base = packages_root(tmp_path / "base", elves)
    image = tmp_path / "image"
    shutil.copytree(base, image, symlinks=True)
    shutil.copy(elves / "app", image / "usr/bin/app")
    shutil.copy(elves / "iconv-app", image / "usr/bin/iconv-app")
    _write(image, "/etc/app/app.yaml", "greeting: hi\n")
    (image / "usr/lib/app/plugins").mkdir(parents=True)
    shutil.copy(elves / "plugin.so", image / "usr/lib/app/plugins/plugin.so")
    (image / "usr/bin/iconv-app").unlink()  # present only where a test adds it
    return RootFs(base), RootFs(image)


def test_root_paths_resolve_inside_the_root(roots: tuple[RootFs, RootFs]) -> None:
    _, image = roots
    resolved = image.resolve("/lib64/ld-linux-x86-64.so.2")
    assert resolved is not None
    assert resolved.path == f"{LIB}/ld-linux-x86-64.so.2"
    assert resolved.links == ("/lib64", "/usr/lib64/ld-linux-x86-64.so.2", "/lib")
    assert image.resolve("/usr/share/doc/libgood1/copyright") is not None
    assert image.resolve("/usr/share/doc/libgood1/../libc6/copyright") is not None
    _link(image.root, "/loop", "loop")
    assert image.resolve("/loop") is None
    assert image.resolve("/etc/passwd/x") is None
    assert image.canonical_glob("/lib/x86_64-linux-gnu/*.so") == f"{LIB}/*.so"
    assert image.canonical_glob("/lib/*/gconv/**") == "/usr/lib/*/gconv/**"


def test_globs() -> None:
    assert matches("/usr/share/zoneinfo/**", "/usr/share/zoneinfo")
    assert matches("/usr/share/zoneinfo/**", "/usr/share/zoneinfo/Europe/Paris")
    assert not matches("/usr/share/zoneinfo/**", "/usr/share/zoneinfo-extra")
    assert matches("/usr/share/doc/*/copyright", "/usr/share/doc/libc6/copyright")
    assert not matches("/usr/share/doc/*/copyright", "/usr/share/doc/a/b/copyright")
    assert matches("/usr/lib/**/gconv/*.so", "/usr/lib/x86_64-linux-gnu/gconv/UTF-7.so")
    assert matches("/etc/rc?.d", "/etc/rc1.d") and not matches("/etc/rc?.d", "/etc/rc10.d")


def test_closure_follows_the_loader(roots: tuple[RootFs, RootFs]) -> None:
    _, image = roots
    closure = dependency_closure(image, ["/usr/bin/app", "/usr/lib/app/plugins/plugin.so"])
    assert sorted(closure.objects) == [
        "/usr/bin/app",
        "/usr/lib/app/plugins/plugin.so",
        f"{LIB}/ld-linux-x86-64.so.2",
        f"{LIB}/libc.so.6",
        f"{LIB}/libgood.so.1.0.0",
        f"{LIB}/libplug.so.1",
    ]
    assert f"{LIB}/libgood.so.1" in closure.links and "/lib64" in closure.links
    assert closure.loaded_by[f"{LIB}/libplug.so.1"] == "/usr/lib/app/plugins/plugin.so"
    assert not closure.missing
    assert system_directories(183)[:2] == ("/lib/aarch64-linux-gnu", "/usr/lib/aarch64-linux-gnu")


def test_closure_skips_libraries_of_another_machine(
    roots: tuple[RootFs, RootFs], elves: Path, tmp_path: Path
) -> None:
    _, image = roots
    wrong = image.root / "opt/good"
    wrong.mkdir(parents=True)
    shutil.copy(elves / "arm64/libgood.so.1", wrong)
    compile_c("linux/amd64", "int f(void); int main(void) { return f(); }\n",
              image.root / "usr/bin/app", "-L", str(elves), "-l:libgood.so.1.0.0",
              "-Wl,-rpath,/opt/good")  # fmt: skip
    closure = dependency_closure(image, ["/usr/bin/app"])
    assert f"{LIB}/libgood.so.1.0.0" in closure.objects
    assert "/opt/good/libgood.so.1" not in closure.objects


def test_missing_library_names_what_was_searched(roots: tuple[RootFs, RootFs]) -> None:
    _, image = roots
    (image.root / LIB.lstrip("/") / "libgood.so.1.0.0").unlink()
    [missing] = dependency_closure(image, ["/usr/bin/app"]).missing
    assert missing.startswith("/usr/bin/app needs libgood.so.1, found in none of: ")
    assert "/lib/x86_64-linux-gnu, /usr/lib/x86_64-linux-gnu, /lib, /usr/lib" in missing


def test_floor_keeps_the_closure_and_the_mandatory_files(roots: tuple[RootFs, RootFs]) -> None:
    base, image = roots
    plan = plan_floor(base, image, FloorSpec())
    assert not plan.errors
    assert sorted(plan.roots) == ["/usr/bin/app", "/usr/lib/app/plugins/plugin.so"]
    kept = plan.kept
    for path in ("/usr/bin/app", "/etc/app/app.yaml", "/usr/lib/app/plugins/plugin.so"):
        assert kept[path] == "application"
    for path in (f"{LIB}/libc.so.6", f"{LIB}/libgood.so.1", "/lib64", f"{LIB}/libplug.so.1"):
        assert kept[path] == "closure"
    for path in (
        "/usr/share/doc/libc6/copyright",
        "/usr/share/doc/libgood1",  # the link to good-common, whose copyright it is
        "/usr/share/doc/good-common/copyright",
        "/usr/share/common-licenses/LGPL-2.1",  # cited by a copyright file
        "/usr/share/common-licenses/GPL",
        "/usr/share/common-licenses/GPL-3",
        "/usr/share/zoneinfo/CET",
        "/usr/share/zoneinfo/Europe/Paris",
        "/etc/os-release",
        "/usr/lib/os-release",
        "/etc/ssl/certs/ca-certificates.crt",
        "/var/lib/dpkg/status.d/good-common",
        "/bin",
    ):
        assert kept[path] == "mandatory", path
    assert kept[f"{LIB}/libnss_files.so.2"] == "nss"  # libc may load it for 'files'
    assert plan.gconv.startswith("dropped: no loaded object calls iconv_open")
    assert set(plan.remove) == {
        f"{LIB}/libunused.so.1",
        f"{LIB}/gconv/gconv-modules",
        f"{LIB}/gconv/ISO8859-1.so",
        "/usr/share/doc/libc6/changelog.Debian.gz",
        "/usr/share/common-licenses/Apache-2.0",
        "/usr/share/man/man1/tool.1.gz",
        "/usr/share/locale/de/LC_MESSAGES/libc.mo",
        "/usr/share/ca-certificates/mozilla/Some_CA.crt",
        "/etc/services",
        "/usr/share/zoneinfo/right/Europe/Paris",  # leap-second zones: only when kept
    }
    apply_floor(image, plan)
    assert not (image.root / "usr/share/man").exists()  # emptied by the floor
    assert not (image.root / "usr/share/locale").exists()
    assert (image.root / "tmp").is_dir()  # empty before: stays
    assert (image.root / "usr/bin/app").is_file()


def test_nss_modules_built_into_libc_go(roots: tuple[RootFs, RootFs], elves: Path) -> None:
    base, image = roots
    for root in (base, image):
        shutil.copy(elves / "libc-2.36.so", root.root / LIB.lstrip("/") / "libc.so.6")
    plan = plan_floor(base, image, FloorSpec())
    assert f"{LIB}/libnss_files.so.2" in plan.remove  # a stub: libc has 'files' built in


def test_gconv_stays_for_a_program_that_calls_iconv(
    roots: tuple[RootFs, RootFs], elves: Path
) -> None:
    base, image = roots
    shutil.copy(elves / "iconv-app", image.root / "usr/bin/iconv-app")
    plan = plan_floor(base, image, FloorSpec())
    assert plan.gconv == "kept: /usr/bin/iconv-app calls iconv_open"
    assert plan.kept[f"{LIB}/gconv/ISO8859-1.so"] == "gconv"
    dropped = plan_floor(base, image, FloorSpec(gconv="drop"))
    assert f"{LIB}/gconv/ISO8859-1.so" in dropped.remove


def test_catalog_roots_and_keep(roots: tuple[RootFs, RootFs]) -> None:
    base, image = roots
    plan = plan_floor(base, image, FloorSpec(roots=("/usr/bin/*",), keep=("/etc/services",)))
    assert plan.roots == ["/usr/bin/app"]
    assert f"{LIB}/libplug.so.1" in plan.remove  # only the plugin needed it
    assert plan.kept["/usr/lib/app/plugins/plugin.so"] == "application"  # installed: stays
    assert plan.kept["/etc/services"] == "keep"
    whole = plan_floor(base, image, FloorSpec(keep=("/usr/share/man",)))
    assert whole.kept["/usr/share/man/man1/tool.1.gz"] == "keep"  # a directory: all of it
    right = plan_floor(base, image, FloorSpec(keep=("/usr/share/zoneinfo/right/**",)))
    assert right.kept["/usr/share/zoneinfo/right/Europe/Paris"] == "keep"


def test_bad_floor_settings_and_packages_are_errors(roots: tuple[RootFs, RootFs]) -> None:
    base, image = roots
    plan = plan_floor(base, image, FloorSpec(roots=("/etc/app/*",), keep=("/etc/nothing*",)))
    assert plan.errors == [
        "roots: '/etc/app/*' matches no ELF executable or shared object",
        "keep: '/etc/nothing*' matches nothing in the image",
    ]
    for root in (base, image):
        _link(root.root, "/usr/share/doc/libgcc-s1", "gcc-12-base")
        _write(root.root, "/var/lib/dpkg/status.d/libgcc-s1", "Package: libgcc-s1\n")
    [error] = plan_floor(base, image, FloorSpec()).errors
    assert error == (
        "package libgcc-s1: no /usr/share/doc/libgcc-s1/copyright "
        "(/usr/share/doc/libgcc-s1 links to gcc-12-base: list package 'gcc-12-base')"
    )


def test_script_reports_or_refuses(
    roots: tuple[RootFs, RootFs], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base, image = roots
    spec, report = tmp_path / "spec.json", tmp_path / "out/floor.json"
    spec.write_text(json.dumps({"roots": None, "keep": ["/etc/services"], "gconv": "auto"}))
    arguments = ["--base", str(base.root), "--image", str(image.root), "--spec", str(spec)]
    assert main([*arguments, "--report", str(report)]) == 0
    summary = json.loads(report.read_text())
    assert summary["bytes"]["application"] > 0 and summary["bytes"]["closure"] > 0
    assert summary["floor_bytes"] == sum(
        summary["bytes"][c] for c in ("application", "closure", "mandatory")
    )
    assert summary["removed"]["entries"] > 0
    assert summary["floor_tar_bytes"] > summary["floor_bytes"]  # headers and padding
    assert not (image.root / "usr/share/man").exists()

    os.unlink(image.root / LIB.lstrip("/") / "libc.so.6")
    before = sorted(p for p, _ in image.entries())
    assert main([*arguments, "--report", str(report)]) == 1
    assert "error: distroless floor: /usr/bin/app needs libc.so.6" in capsys.readouterr().err
    assert sorted(p for p, _ in image.entries()) == before  # nothing removed
