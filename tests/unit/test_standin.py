"""Tests of the stand-in Falco release generator and its loopback server (no engine needed)."""

from __future__ import annotations

import hashlib
import http.client
import os
import platform as host_platform
import re
import shutil
import struct
import subprocess
import tarfile
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.standin import StandinRelease, build_standin_release, is_dev_version, serve
from tests.standin.signing import verify_signature

# The fixtures (standin_release, standin_dev_release, standin_server) come from
# tests/conftest.py: pytest_plugins = ["tests.standin.fixtures"].

PLATFORMS = ("linux/amd64", "linux/arm64")
ARCH = {"linux/amd64": "x86_64", "linux/arm64": "aarch64"}
GOARCH = {"linux/amd64": "amd64", "linux/arm64": "arm64"}
E_MACHINE = {"linux/amd64": 62, "linux/arm64": 183}  # EM_X86_64, EM_AARCH64
PT_DYNAMIC, PT_INTERP = 2, 3
ET_DYN = 3
AARCH64_SYSROOT = Path("/usr/aarch64-linux-gnu")

TREE_FILES = {
    "usr/bin/falco",
    "usr/bin/falcoctl",
    "etc/falco/falco.yaml",
    "etc/falco/falco_rules.yaml",
    "etc/falcoctl/falcoctl.yaml",
    "usr/share/falco/plugins/libcontainer.so",
    "usr/src/falco-8.1.0+driver/dkms.conf",
    "usr/src/falco-8.1.0+driver/Makefile",
    "usr/src/falco-8.1.0+driver/driver_config.h",
}
TREE_DIRS = {
    "etc",
    "etc/falco",
    "etc/falco/config.d",
    "etc/falcoctl",
    "usr",
    "usr/bin",
    "usr/share",
    "usr/share/falco",
    "usr/share/falco/plugins",
    "usr/src",
    "usr/src/falco-8.1.0+driver",
}


# --------------------------------------------------------------------------- helpers


def _top_dir(release: StandinRelease, platform: str) -> str:
    return f"falco-{release.falco_version}-{ARCH[platform]}"


def _tar_member(archive: Path, name: str) -> bytes:
    with tarfile.open(archive) as tar:
        member = tar.extractfile(name)
        assert member is not None, f"{name} is not a regular file in {archive.name}"
        return member.read()


def _falco_elf(release: StandinRelease, platform: str, program: str = "falco") -> bytes:
    name = f"{_top_dir(release, platform)}/usr/bin/{program}"
    return _tar_member(release.path("tarball", platform), name)


def _write_exe(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    path.chmod(0o755)
    return path


def _program_headers(elf: bytes) -> list[int]:
    """p_type of every program header of a little-endian ELF64 file."""
    (phoff,) = struct.unpack_from("<Q", elf, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", elf, 0x36)
    return [struct.unpack_from("<I", elf, phoff + i * phentsize)[0] for i in range(phnum)]


def _run(argv: list[str | os.PathLike[str]], **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [os.fspath(a) for a in argv],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=30,
        check=False,
        env={**os.environ, **env},
    )


def _runner(platform: str) -> list[str] | None:
    """Command prefix that runs a dynamically linked binary of ``platform`` here, if any."""
    if host_platform.machine() == ARCH[platform]:
        return []
    qemu = shutil.which("qemu-aarch64-static") or shutil.which("qemu-aarch64")
    if platform == "linux/arm64" and qemu and AARCH64_SYSROOT.is_dir():
        return [qemu, "-L", str(AARCH64_SYSROOT)]
    return None


def _keyring(tmp_path: Path, armored_key: Path) -> Path:
    """Dearmor the served key with gpg itself (independent of the generator's code)."""
    home = tmp_path / "gnupg"
    home.mkdir(mode=0o700)
    keyring = tmp_path / "keyring.gpg"
    proc = _run(
        ["gpg", "--batch", "--dearmor", "--output", keyring, armored_key], GNUPGHOME=str(home)
    )
    assert proc.returncode == 0, proc.stderr
    return keyring


def _gpgv(tmp_path: Path, keyring: Path, signature: Path, data: Path) -> bool:
    home = tmp_path / "gpgv-home"
    home.mkdir(mode=0o700, exist_ok=True)
    proc = _run(["gpgv", "--keyring", keyring, signature, data], GNUPGHOME=str(home))
    return proc.returncode == 0


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as response:
        body: bytes = response.read()
        return body


def _version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


# --------------------------------------------------------------------------- ELF programs


@pytest.mark.parametrize("platform", PLATFORMS)
def test_falco_is_dynamic_elf_for_its_machine(
    standin_release: StandinRelease, platform: str
) -> None:
    elf = _falco_elf(standin_release, platform)
    assert elf[:4] == b"\x7fELF"
    assert elf[4] == 2, "ELFCLASS64"
    assert elf[5] == 1, "little endian"
    e_type, e_machine = struct.unpack_from("<HH", elf, 16)
    assert e_machine == E_MACHINE[platform]
    assert e_type == ET_DYN  # PIE executable
    segments = _program_headers(elf)
    assert PT_INTERP in segments, "falco must be dynamically linked (has an interpreter)"
    assert PT_DYNAMIC in segments


@pytest.mark.parametrize("platform", PLATFORMS)
def test_falcoctl_is_static_elf_for_its_machine(
    standin_release: StandinRelease, platform: str
) -> None:
    elf = _falco_elf(standin_release, platform, "falcoctl")
    (e_machine,) = struct.unpack_from("<H", elf, 18)
    assert elf[:4] == b"\x7fELF"
    assert e_machine == E_MACHINE[platform]
    assert PT_INTERP not in _program_headers(elf)


@pytest.mark.parametrize("platform", PLATFORMS)
def test_falco_needs_libstdcxx(
    standin_release: StandinRelease, platform: str, tmp_path: Path
) -> None:
    falco = _write_exe(tmp_path / "falco", _falco_elf(standin_release, platform))
    dynamic = _run(["readelf", "-d", "-W", falco])
    assert dynamic.returncode == 0, dynamic.stderr
    needed = set(re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", dynamic.stdout))
    assert {"libstdc++.so.6", "libc.so.6"} <= needed


@pytest.mark.parametrize("platform", PLATFORMS)
def test_falco_symbol_versions_fit_bullseye(
    standin_release: StandinRelease, platform: str, tmp_path: Path
) -> None:
    """Only glibc <= 2.31 and libstdc++ <= GLIBCXX_3.4.28 (gcc 10) symbols are required."""
    falco = _write_exe(tmp_path / "falco", _falco_elf(standin_release, platform))
    versions = _run(["readelf", "-V", "-W", falco])
    assert versions.returncode == 0, versions.stderr
    required = re.findall(r"Name: (GLIBC|GLIBCXX)_([0-9.]+)", versions.stdout)
    assert required, versions.stdout
    glibc = [_version_tuple(v) for lib, v in required if lib == "GLIBC"]
    glibcxx = [_version_tuple(v) for lib, v in required if lib == "GLIBCXX"]
    assert max(glibc) <= (2, 31)
    assert max(glibcxx) <= (3, 4, 28)


@pytest.mark.parametrize("platform", PLATFORMS)
def test_falco_runs(standin_release: StandinRelease, platform: str, tmp_path: Path) -> None:
    runner = _runner(platform)
    if runner is None:
        pytest.skip(f"cannot run {platform} binaries on this host")
    falco = _write_exe(tmp_path / "falco", _falco_elf(standin_release, platform))

    version = _run([*runner, falco, "--version"])
    assert version.returncode == 0, version.stderr
    lines = version.stdout.splitlines()
    assert lines[0] == "Falco version: 0.44.0"
    assert lines[1] == "Libs version: 0.20.0"

    usage = _run([*runner, falco, "--help"])
    assert usage.returncode == 0
    assert "Usage:" in usage.stdout

    other = _run([*runner, falco, "-o", "json_output=true"])
    assert other.returncode == 0
    assert other.stdout.strip() == "Falco stand-in 0.44.0"


@pytest.mark.parametrize("platform", PLATFORMS)
def test_falcoctl_prints_version(
    standin_release: StandinRelease, platform: str, tmp_path: Path
) -> None:
    runner = _runner(platform)
    if runner is None:
        pytest.skip(f"cannot run {platform} binaries on this host")
    falcoctl = _write_exe(tmp_path / "falcoctl", _falco_elf(standin_release, platform, "falcoctl"))
    version = _run([*runner, falcoctl, "version"])
    assert version.returncode == 0
    assert version.stdout.strip() == "falcoctl version 0.13.0"
    usage = _run([*runner, falcoctl])
    assert usage.returncode == 0
    assert "Usage:" in usage.stdout


# --------------------------------------------------------------------------- tarball


@pytest.mark.parametrize("platform", PLATFORMS)
def test_tarball_layout(standin_release: StandinRelease, platform: str) -> None:
    top = _top_dir(standin_release, platform)
    tarball = standin_release.path("tarball", platform)
    assert tarball.name == f"falco-0.44.0-{ARCH[platform]}.tar.gz"
    assert tarball.parent.relative_to(standin_release.root).as_posix() == (
        f"download.falco.org/packages/bin/{ARCH[platform]}"
    )
    with tarfile.open(tarball) as tar:
        members = tar.getmembers()
    names = [m.name for m in members]
    assert names == sorted(names), "members are sorted"
    by_name = {m.name: m for m in members}
    assert by_name[top].isdir()
    files = {n[len(top) + 1 :] for n, m in by_name.items() if m.isfile()}
    dirs = {n[len(top) + 1 :] for n, m in by_name.items() if m.isdir() and n != top}
    assert all(n == top or n.startswith(f"{top}/") for n in names)
    assert files == TREE_FILES
    assert dirs == TREE_DIRS
    config_d = f"{top}/etc/falco/config.d"
    assert not [n for n in names if n.startswith(f"{config_d}/")], "config.d is empty"
    assert by_name[f"{top}/usr/bin/falco"].mode == 0o755
    assert by_name[f"{top}/etc/falco/falco.yaml"].mode == 0o644
    assert {(m.uid, m.gid) for m in members} == {(0, 0)}
    assert len({m.mtime for m in members}) == 1

    falco_yaml = _tar_member(tarball, f"{top}/etc/falco/falco.yaml").decode()
    assert re.search(r"^rules_files:$", falco_yaml, re.M)
    assert re.search(r"^time_format_iso_8601: false$", falco_yaml, re.M)
    assert b"8.1.0+driver" in _tar_member(tarball, f"{top}/usr/src/falco-8.1.0+driver/dkms.conf")


def test_tarball_gzip_header_is_deterministic(standin_release: StandinRelease) -> None:
    header = standin_release.path("tarball", "linux/amd64").read_bytes()[:10]
    assert header[:3] == b"\x1f\x8b\x08"
    flags, mtime = header[3], struct.unpack_from("<I", header, 4)[0]
    assert mtime == 0
    assert not flags & 0x08, "no original file name stored"


# --------------------------------------------------------------------------- deb


@pytest.mark.parametrize("platform", PLATFORMS)
def test_deb_info_and_contents(standin_release: StandinRelease, platform: str) -> None:
    deb = standin_release.path("deb", platform)
    assert deb.relative_to(standin_release.root).as_posix() == (
        f"download.falco.org/packages/deb/stable/falco-0.44.0-{ARCH[platform]}.deb"
    )
    info = _run(["dpkg-deb", "--info", deb])
    assert info.returncode == 0, info.stderr
    assert "postinst" in info.stdout
    fields = _run(["dpkg-deb", "--field", deb, "Package", "Version", "Architecture", "Depends"])
    assert fields.returncode == 0, fields.stderr
    assert fields.stdout.splitlines() == [
        "Package: falco",
        "Version: 0.44.0",
        f"Architecture: {GOARCH[platform]}",
        "Depends: libc6, libstdc++6",
    ]

    contents = _run(["dpkg-deb", "--contents", deb])
    assert contents.returncode == 0, contents.stderr
    rows = [line.split() for line in contents.stdout.splitlines()]
    paths = {row[-1].removeprefix("./").rstrip("/") for row in rows}
    assert paths >= TREE_FILES | TREE_DIRS
    assert {row[1] for row in rows} == {"root/root"}


def test_deb_and_tarball_ship_the_same_falco(
    standin_release: StandinRelease, tmp_path: Path
) -> None:
    for platform in PLATFORMS:
        extracted = tmp_path / GOARCH[platform]
        proc = _run(["dpkg-deb", "-x", standin_release.path("deb", platform), extracted])
        assert proc.returncode == 0, proc.stderr
        assert (extracted / "usr/bin/falco").read_bytes() == _falco_elf(standin_release, platform)
        assert os.access(extracted / "usr/bin/falco", os.X_OK)


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ("none", "no driver is configured"),
        ("kmod", "Would configure the 'kmod' driver"),
        ("modern_ebpf", "Would configure the 'modern_ebpf' driver"),
    ],
)
def test_deb_postinst_honours_driver_choice(
    standin_release: StandinRelease, tmp_path: Path, choice: str, expected: str
) -> None:
    control = tmp_path / "DEBIAN"
    proc = _run(["dpkg-deb", "-e", standin_release.path("deb", "linux/amd64"), control])
    assert proc.returncode == 0, proc.stderr
    postinst = control / "postinst"
    assert os.access(postinst, os.X_OK)
    result = _run(["sh", postinst, "configure"], FALCO_DRIVER_CHOICE=choice)
    assert result.returncode == 0, result.stderr
    assert expected in result.stdout
    conffiles = (control / "conffiles").read_text().split()
    assert "/etc/falco/falco.yaml" in conffiles


def test_dev_release_goes_to_dev_buckets(standin_dev_release: StandinRelease) -> None:
    assert standin_dev_release.dev
    assert standin_dev_release.falco_version == "0.44.0-12+abc1234"
    tarball = standin_dev_release.path("tarball", "linux/amd64")
    deb = standin_dev_release.path("deb", "linux/arm64")
    root = standin_dev_release.root
    assert tarball.relative_to(root).as_posix() == (
        "download.falco.org/packages/bin-dev/x86_64/falco-0.44.0-12+abc1234-x86_64.tar.gz"
    )
    assert deb.relative_to(root).as_posix() == (
        "download.falco.org/packages/deb-dev/stable/falco-0.44.0-12+abc1234-aarch64.deb"
    )
    version = _run(["dpkg-deb", "--field", deb, "Version"])
    assert version.stdout.strip() == "0.44.0-12+abc1234"
    with tarfile.open(tarball) as tar:
        assert "falco-0.44.0-12+abc1234-x86_64/usr/bin/falco" in tar.getnames()


# --------------------------------------------------------------------------- signing


def test_key_fingerprint_matches_served_key(
    standin_release: StandinRelease, tmp_path: Path
) -> None:
    assert re.fullmatch(r"[0-9A-F]{40}", standin_release.key_fingerprint)
    key = standin_release.key_path
    assert key.relative_to(standin_release.root).as_posix() == (
        "falco.org/repo/falcosecurity-packages.asc"
    )
    assert key.read_bytes().startswith(b"-----BEGIN PGP PUBLIC KEY BLOCK-----")
    assert key.read_bytes() == standin_release.public_key
    home = tmp_path / "gnupg"
    home.mkdir(mode=0o700)
    shown = _run(["gpg", "--batch", "--with-colons", "--show-keys", key], GNUPGHOME=str(home))
    assert shown.returncode == 0, shown.stderr
    fingerprints = [
        line.split(":")[9] for line in shown.stdout.splitlines() if line.startswith("fpr:")
    ]
    assert fingerprints[0] == standin_release.key_fingerprint
    assert "PRIVATE" not in key.read_text()


@pytest.mark.parametrize("artifact", ["tarball", "deb"])
@pytest.mark.parametrize("platform", PLATFORMS)
def test_signature_verifies_and_detects_tampering(
    standin_release: StandinRelease, tmp_path: Path, artifact: str, platform: str
) -> None:
    data = standin_release.path(artifact, platform)
    signature = standin_release.path(artifact, platform, signature=True)
    assert signature == data.with_name(data.name + ".asc")
    assert signature.read_bytes().startswith(b"-----BEGIN PGP SIGNATURE-----")
    keyring = _keyring(tmp_path, standin_release.key_path)
    assert _gpgv(tmp_path, keyring, signature, data)
    assert verify_signature(standin_release.public_key, data, signature)

    tampered = tmp_path / data.name
    shutil.copyfile(data, tampered)
    raw = bytearray(tampered.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    tampered.write_bytes(bytes(raw))
    assert not _gpgv(tmp_path, keyring, signature, tampered)
    assert not verify_signature(standin_release.public_key, tampered, signature)
    assert _gpgv(tmp_path, keyring, signature, data), "original untouched"


# --------------------------------------------------------------------------- falcoctl


def test_falcoctl_checksums_txt(standin_release: StandinRelease) -> None:
    checksums = standin_release.checksums_path
    release_dir = "github.com/falcosecurity/falcoctl/releases/download/v0.13.0"
    assert checksums.relative_to(standin_release.root).as_posix() == f"{release_dir}/checksums.txt"
    lines = checksums.read_text().splitlines()
    parsed = {}
    for line in lines:
        match = re.fullmatch(r"([0-9a-f]{64})  (\S+)", line)
        assert match, line
        parsed[match.group(2)] = match.group(1)
    assert list(parsed) == sorted(parsed)
    assert set(parsed) == {f"falcoctl_0.13.0_linux_{GOARCH[p]}.tar.gz" for p in PLATFORMS}
    for platform in PLATFORMS:
        archive = standin_release.path("falcoctl", platform)
        assert archive.parent == checksums.parent
        digest = hashlib.sha256(archive.read_bytes()).hexdigest()
        assert parsed[archive.name] == digest == standin_release.sha256[f"falcoctl/{platform}"]


@pytest.mark.parametrize("platform", PLATFORMS)
def test_falcoctl_archive_layout(standin_release: StandinRelease, platform: str) -> None:
    archive = standin_release.path("falcoctl", platform)
    with tarfile.open(archive) as tar:
        members = {m.name: m for m in tar.getmembers()}
    assert sorted(members) == ["LICENSE", "README.md", "falcoctl"]
    assert members["falcoctl"].mode == 0o755
    elf = _tar_member(archive, "falcoctl")
    assert elf == _falco_elf(standin_release, platform, "falcoctl")


# --------------------------------------------------------------------------- release object


def test_sha256_dict_matches_files(standin_release: StandinRelease) -> None:
    expected_keys = {f"{a}/{p}" for a in ("tarball", "deb", "falcoctl") for p in PLATFORMS}
    assert set(standin_release.sha256) == expected_keys
    for key, digest in standin_release.sha256.items():
        artifact, platform = key.split("/", 1)
        data = standin_release.path(artifact, platform).read_bytes()
        assert hashlib.sha256(data).hexdigest() == digest


def test_builds_are_reproducible_across_directories(
    standin_release: StandinRelease, tmp_path: Path
) -> None:
    other = build_standin_release(tmp_path / "second")
    assert other.root != standin_release.root
    assert other.sha256 == standin_release.sha256
    # Each out dir has its own throwaway key; its signatures verify with that key.
    data = other.path("tarball", "linux/arm64")
    assert verify_signature(
        other.public_key, data, other.path("tarball", "linux/arm64", signature=True)
    )


def test_rebuild_in_place_is_idempotent(standin_release: StandinRelease) -> None:
    signature = standin_release.path("deb", "linux/amd64", signature=True)
    tarball = standin_release.path("tarball", "linux/amd64")
    before = (signature.read_bytes(), signature.stat().st_mtime_ns, tarball.stat().st_mtime_ns)
    again = build_standin_release(standin_release.root.parent)
    assert again == standin_release
    after = (signature.read_bytes(), signature.stat().st_mtime_ns, tarball.stat().st_mtime_ns)
    assert after == before, "nothing rewritten or re-signed"


def test_dev_flag_inference_and_override(tmp_path: Path) -> None:
    assert is_dev_version("0.44.0-12+abc1234")
    assert is_dev_version("0.44.0-rc1")
    assert is_dev_version("0.44.0+abc1234")
    assert not is_dev_version("0.44.0")
    release = build_standin_release(
        tmp_path / "out", "0.45.0+abc1234", platforms=["linux/amd64"], dev=False
    )
    assert not release.dev
    assert set(release.sha256) == {"tarball/linux/amd64", "deb/linux/amd64", "falcoctl/linux/amd64"}
    assert release.path("tarball", "linux/amd64").relative_to(release.root).as_posix() == (
        "download.falco.org/packages/bin/x86_64/falco-0.45.0+abc1234-x86_64.tar.gz"
    )
    assert release.path("deb", "linux/amd64").is_file()


@pytest.mark.parametrize("version", ["", "v0.44.0", '0.44.0"; rm -rf /', "0.44.0/../x", "0.44 .0"])
def test_invalid_versions_are_rejected(tmp_path: Path, version: str) -> None:
    with pytest.raises(ValueError, match="invalid falco version"):
        build_standin_release(tmp_path, version)
    assert not (tmp_path / "root").exists()


def test_unknown_platform_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unsupported platform"):
        build_standin_release(tmp_path, platforms=["linux/s390x"])


# --------------------------------------------------------------------------- server


def test_server_serves_plus_versions_percent_encoded(
    standin_dev_release: StandinRelease, standin_server: str
) -> None:
    url = standin_dev_release.url(standin_server, "tarball", "linux/amd64")
    assert "%2B" in url
    assert "+" not in urlsplit(url).path
    assert url.startswith("http://127.0.0.1:")
    assert _get(url) == standin_dev_release.path("tarball", "linux/amd64").read_bytes()
    signature_url = standin_dev_release.url(standin_server, "deb", "linux/arm64", signature=True)
    assert signature_url.endswith("falco-0.44.0-12%2Babc1234-aarch64.deb.asc")
    assert _get(signature_url) == (
        standin_dev_release.path("deb", "linux/arm64", signature=True).read_bytes()
    )
    # A raw "+" in the path is served as well.
    assert _get(url.replace("%2B", "+")) == _get(url)


def test_server_serves_key_and_final_artifacts(
    standin_release: StandinRelease, standin_server: str
) -> None:
    assert _get(standin_release.key_url(standin_server)) == standin_release.public_key
    assert _get(f"{standin_server}/falco.org/repo/falcosecurity-packages.asc") == (
        standin_release.public_key
    )
    deb_url = f"{standin_server}/download.falco.org/packages/deb/stable/falco-0.44.0-x86_64.deb"
    body = _get(deb_url)
    assert hashlib.sha256(body).hexdigest() == standin_release.sha256["deb/linux/amd64"]


@pytest.mark.parametrize(
    "path",
    [
        "/download.falco.org/packages/bin/x86_64/falco-9.9.9-x86_64.tar.gz",
        "/download.falco.org/packages/bin/x86_64/",
        "/download.falco.org/packages/bin/x86_64",
        "/../../etc/passwd",
        "/github.com/falcosecurity/falcoctl/releases/download/v0.13.0/missing.tar.gz",
    ],
)
def test_server_404_for_missing_files_and_directories(standin_server: str, path: str) -> None:
    with pytest.raises(urllib.error.HTTPError) as excinfo:
        _get(f"{standin_server}{path}")
    assert excinfo.value.code == 404


def test_server_redirects_github_release_downloads(
    standin_release: StandinRelease, standin_server: str
) -> None:
    url = standin_release.url(standin_server, "falcoctl", "linux/arm64")
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.netloc, timeout=10)
    try:
        connection.request("GET", parts.path)
        response = connection.getresponse()
        response.read()
        assert response.status == 302
        location = response.getheader("Location") or ""
    finally:
        connection.close()
    assert "/objects.githubusercontent.com/" in location
    assert location.startswith(standin_server)
    assert _get(url) == standin_release.path("falcoctl", "linux/arm64").read_bytes()
    assert _get(standin_release.checksums_url(standin_server)) == (
        standin_release.checksums_path.read_bytes()
    )


def test_server_without_github_redirects(standin_release: StandinRelease) -> None:
    with serve(standin_release.root, github_redirects=False) as base:
        parts = urlsplit(standin_release.url(base, "falcoctl", "linux/amd64"))
        connection = http.client.HTTPConnection(parts.netloc, timeout=10)
        try:
            connection.request("HEAD", parts.path)
            response = connection.getresponse()
            assert response.status == 200
            assert int(response.getheader("Content-Length") or -1) == (
                standin_release.path("falcoctl", "linux/amd64").stat().st_size
            )
        finally:
            connection.close()


def test_server_stops_listening_after_the_block(tmp_path: Path) -> None:
    (tmp_path / "hello.txt").write_text("hi")
    with serve(tmp_path) as base:
        assert _get(f"{base}/hello.txt") == b"hi"
    with pytest.raises(urllib.error.URLError):
        _get(f"{base}/hello.txt")


def _status_and_etag(url: str, if_none_match: str | None = None) -> tuple[int, str | None]:
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.netloc, timeout=10)
    try:
        headers = {} if if_none_match is None else {"If-None-Match": if_none_match}
        connection.request("GET", parts.path, headers=headers)
        response = connection.getresponse()
        response.read()
        return response.status, response.getheader("ETag")
    finally:
        connection.close()


def test_server_revalidates_with_etags_as_the_real_sites_do(tmp_path: Path) -> None:
    artifact = tmp_path / "download.falco.org" / "falco.tar.gz"
    artifact.parent.mkdir()
    artifact.write_bytes(b"first")
    with serve(tmp_path) as base:
        url = f"{base}/download.falco.org/falco.tar.gz"
        status, etag = _status_and_etag(url)
        assert status == 200
        assert etag is not None and etag.startswith('"')
        # The same file: 304 naming the same ETag, also among others and when weak.
        assert _status_and_etag(url, etag) == (304, etag)
        assert _status_and_etag(url, f'"other", W/{etag}') == (304, etag)
        assert _status_and_etag(url, '"other"') == (200, etag)
        # A changed file has another ETag, so a client holding the old one downloads again.
        artifact.write_bytes(b"second, longer")
        status, changed = _status_and_etag(url, etag)
        assert status == 200
        assert changed is not None and changed != etag
        # Missing files carry none.
        assert _status_and_etag(f"{base}/download.falco.org/missing", etag) == (404, None)
