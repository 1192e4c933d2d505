from __future__ import annotations

import pytest

from pipelines.catalog.artifacts import artifact_urls
from pipelines.catalog.loader import LoadedFamily
from pipelines.errors import InputError

MIRROR = "https://download.falco.org=http://127.0.0.1:8080/download.falco.org"
BASE = "https://download.falco.org/packages"


def test_final_tarball_uses_final_bucket_and_falco_arch_names(falco: LoadedFamily) -> None:
    amd64 = falco.artifact_urls("tarball", "0.44.0", "linux/amd64")
    assert amd64.url == f"{BASE}/bin/x86_64/falco-0.44.0-x86_64.tar.gz"
    assert amd64.signature_url == amd64.url + ".asc"
    assert amd64.checksums_url is None
    assert amd64.filename == "falco-0.44.0-x86_64.tar.gz"
    assert amd64.version == "0.44.0"
    assert amd64.sha256_pin is None
    arm64 = falco.artifact_urls("tarball", "0.44.0", "linux/arm64")
    assert arm64.url == f"{BASE}/bin/aarch64/falco-0.44.0-aarch64.tar.gz"


def test_pre_release_uses_dev_bucket_and_encodes_plus(falco: LoadedFamily) -> None:
    ref = falco.artifact_urls("tarball", "0.44.0-rc1+abc", "linux/amd64")
    assert ref.url == f"{BASE}/bin-dev/x86_64/falco-0.44.0-rc1%2Babc-x86_64.tar.gz"
    assert ref.signature_url == f"{BASE}/bin-dev/x86_64/falco-0.44.0-rc1%2Babc-x86_64.tar.gz.asc"
    assert ref.filename == "falco-0.44.0-rc1+abc-x86_64.tar.gz"
    build_only = falco.artifact_urls("tarball", "0.44.0+abc", "linux/amd64")
    assert "/bin-dev/" in build_only.url


def test_deb_urls(falco: LoadedFamily) -> None:
    final = falco.artifact_urls("deb", "0.44.0", "linux/arm64")
    assert final.url == f"{BASE}/deb/stable/falco-0.44.0-aarch64.deb"
    assert final.signature_url == f"{BASE}/deb/stable/falco-0.44.0-aarch64.deb.asc"
    dev = falco.artifact_urls("deb", "0.44.0-rc2", "linux/amd64")
    assert dev.url == f"{BASE}/deb-dev/stable/falco-0.44.0-rc2-x86_64.deb"


def test_a_dependency_uses_its_own_pinned_version(falco: LoadedFamily) -> None:
    for release in ("0.44.0", "0.45.0-rc1"):
        ref = falco.artifact_urls("gcc_5", release, "linux/arm64")
        assert ref.version == "5.5.0-12"  # Debian's scheme, not semantic: a final release
        assert ref.url == "https://download.falco.org/dependencies/gcc-5_5.5.0-12_arm64.deb"
        assert ref.checksums_url is None and ref.signature_url is None
        assert ref.filename == "gcc-5_5.5.0-12_arm64.deb"


def test_mirrors_apply_to_artifact_and_signature(falco: LoadedFamily) -> None:
    ref = falco.artifact_urls("tarball", "0.44.0", "linux/amd64", [MIRROR])
    local = "http://127.0.0.1:8080/download.falco.org/packages/bin/x86_64/falco-0.44.0-x86_64"
    assert ref.url == local + ".tar.gz"
    assert ref.signature_url == local + ".tar.gz.asc"
    assert ref.filename == "falco-0.44.0-x86_64.tar.gz"
    dependency = falco.artifact_urls("gcc_5", "0.44.0", "linux/amd64", [MIRROR])
    assert dependency.url.startswith("http://127.0.0.1:8080/download.falco.org/dependencies/")
    other = falco.artifact_urls("tarball", "0.44.0", "linux/amd64", ["https://github.com=http://x"])
    assert other.url.startswith("https://download.falco.org/")


def test_checksums_and_pins_of_a_generic_family(hello: LoadedFamily) -> None:
    ref = hello.artifact_urls("tarball", "1.2.3", "linux/arm64")
    assert ref.url == "https://downloads.example.org/hello/1.2.3/hello-1.2.3.linux-arm64.tar.gz"
    assert ref.checksums_url == "https://downloads.example.org/hello/1.2.3/SHA256SUMS"
    assert ref.sha256_pin == "0" * 63 + "2"
    assert hello.artifact_urls("tarball", "1.2.4", "linux/arm64").sha256_pin is None


def test_plain_family_without_lock(hello: LoadedFamily) -> None:
    ref = artifact_urls(hello.family, "tarball", "1.2.3", "linux/amd64")
    assert ref.sha256_pin is None
    pinned = artifact_urls(hello.family, "tarball", "1.2.3", "linux/amd64", lock=hello.lock)
    assert pinned.sha256_pin == "0" * 63 + "1"


def test_unknown_artifact_and_platform(falco: LoadedFamily) -> None:
    with pytest.raises(InputError) as caught:
        falco.artifact_urls("rpm", "0.44.0", "linux/amd64")
    assert str(caught.value).startswith(
        "family 'falco' has no artifact 'rpm'; known artifacts: tarball, deb, cpp_6, "
    )
    with pytest.raises(InputError, match="valid platforms: linux/amd64, linux/arm64"):
        falco.artifact_urls("tarball", "0.44.0", "linux/s390x")
    with pytest.raises(InputError, match="drop the leading 'v'"):
        falco.artifact_urls("tarball", "v0.44.0", "linux/amd64")
