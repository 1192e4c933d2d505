"""The real Falco catalog under images/falco loads and says what the design says."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from pydantic import BaseModel

from pipelines.catalog.family import Family
from pipelines.catalog.loader import LoadedFamily, load_family
from pipelines.catalog.lock import LockFile
from pipelines.catalog.variant import Variant
from pipelines.errors import InputError
from pipelines.plan import check_packages_locked, plan

FALCO_DIR = Path(__file__).resolve().parents[2] / "images" / "falco"
LOADER_TOOLCHAIN = [
    "bc", "bison", "ca-certificates", "clang", "curl", "dkms", "dwarves", "flex", "gcc",
    "gnupg", "jq", "libc6-dev", "libelf-dev", "libssl-dev", "llvm", "make", "netcat-openbsd",
    "patchelf", "xz-utils", "zstd",
]  # fmt: skip


def test_family(falco: LoadedFamily) -> None:
    family = falco.family
    assert family.name == "falco"
    assert family.default_version == "0.44.0"
    assert family.platforms == ["linux/amd64", "linux/arm64"]
    assert family.source == "https://github.com/falcosecurity/falco"
    assert family.licenses == "Apache-2.0"
    assert family.signing_key is not None
    assert family.signing_key.url == "https://falco.org/repo/falcosecurity-packages.asc"
    assert family.signing_key.fingerprint == "478B2FBBC75F4237B731DA4365106822B35B1B1F"
    assert list(family.artifacts)[:2] == ["tarball", "deb"]
    tarball, deb = (family.artifacts[name] for name in ("tarball", "deb"))
    assert tarball.arch_names == {"linux/amd64": "x86_64", "linux/arm64": "aarch64"}
    assert deb.arch_names == tarball.arch_names
    # falcoctl is no artifact of its own: the release's .deb and tarball ship it; what each
    # series ships is recorded for the smoke tests
    assert "falcoctl" not in family.artifacts
    assert {key: values["falcoctl_version"] for key, values in family.series.items()} == {
        "0.41": "0.11.2", "0.42": "0.11.4", "0.43": "0.12.2", "0.44": "0.13.0"
    }  # fmt: skip
    # the legacy loader's old toolchain: Debian packages from Falco's dependencies area
    gcc_5 = family.artifacts["gcc_5"]
    assert gcc_5.version == "5.5.0-12" and gcc_5.signature is None and gcc_5.checksums is None
    assert gcc_5.url == "https://download.falco.org/dependencies/gcc-5_{version}_{arch}.deb"
    assert family.artifacts["binutils"].version == "2.30-22"
    assert tarball.buckets is not None and (tarball.buckets.final, tarball.buckets.dev) == (
        "bin",
        "bin-dev",
    )
    assert deb.buckets is not None and (deb.buckets.final, deb.buckets.dev) == ("deb", "deb-dev")
    assert tarball.signature == deb.signature == "{url}.asc"
    assert (tarball.version, deb.version) == (None, None)
    assert family.artifact_versions()["binutils_version"] == "2.30-22"
    assert family.authors == "The Falco Authors https://falco.org"  # as Falco's labels say
    assert falco.lock == LockFile()


def test_loading_by_family_file_path_is_the_same() -> None:
    assert load_family(FALCO_DIR / "family.toml").family == load_family(FALCO_DIR).family


def test_variants_in_catalog_order(falco: LoadedFamily) -> None:
    assert falco.variant_names == (
        "falco",
        "falco-debian",
        "falco-driver-loader",
        "falco-driver-loader-legacy",
    )
    for loaded in falco.variants:
        assert loaded.directory == FALCO_DIR / "variants" / loaded.name
        assert loaded.file == loaded.directory / "variant.toml"


def test_distroless_variant(falco: LoadedFamily) -> None:
    variant = falco.variant("falco").variant
    assert variant.repository == "falco"
    assert variant.tags == ["{version}", "latest"]
    assert variant.base.kind == "distroless"
    assert variant.base.distroless is not None
    assert variant.base.distroless.release == "bookworm"
    assert {"libc6", "libstdc++6", "libgcc-s1", "ca-certificates", "tzdata", "zlib1g"} <= set(
        variant.base.distroless.packages
    )
    assert [(a.action, a.artifact) for a in variant.install.artifacts] == [("unpack", "tarball")]
    assert variant.install.remove == ["/usr/bin/falcoctl", "/etc/falcoctl", "/usr/src/falco-*"]
    assert variant.image.cmd == ["/usr/bin/falco"]
    assert variant.image.env == {
        "HOST_ROOT": "/host",
        "HOME": "/root",
        "FALCO_VERSION": "{version}",
        "VERSION_BUCKET": "{tarball_bucket}",
    }
    assert variant.image.labels["org.opencontainers.image.revision"] == "{revision}"
    absent = {test.path for test in variant.tests.files if not test.should_exist}
    assert absent == {"/bin/sh", "/usr/bin/apt-get", "/usr/bin/dpkg", "/usr/bin/falcoctl",
                      "/etc/falcoctl"}  # fmt: skip
    assert [test.path for test in variant.tests.elf] == ["/usr/bin/falco"]
    assert variant.tests.size is not None and variant.tests.size.max_uncompressed_mb == 120
    assert variant.tests.metadata is not None
    assert variant.tests.metadata.labels is not None
    assert set(variant.tests.metadata.labels) == {
        "org.opencontainers.image.version",
        "org.opencontainers.image.source",
        "org.opencontainers.image.licenses",
        "org.opencontainers.image.authors",
        "org.opencontainers.image.revision",
    }


def test_debian_variant(falco: LoadedFamily) -> None:
    variant = falco.variant("falco-debian").variant
    assert variant.repository == "falco"
    assert variant.tags == ["{version}-debian", "latest-debian"]
    assert variant.base.image == "debian:12-slim"
    assert [(a.action, a.artifact) for a in variant.install.artifacts] == [("deb", "deb")]
    assert variant.install.env["FALCO_DRIVER_CHOICE"] == "none"
    assert {"curl", "jq", "ca-certificates"} <= set(variant.install.apt_packages)
    assert variant.install.remove == ["/usr/bin/falcoctl", "/etc/falcoctl"]
    commands = {test.name: test for test in variant.tests.commands}
    apt_lists = commands["apt lists are cleaned"]
    assert apt_lists.command == [
        "sh",
        "-c",
        "ls /var/lib/apt/lists | grep -v -e lock -e partial | wc -l",
    ]
    assert apt_lists.expected_output == ["^0$"]
    assert variant.tests.size is not None and variant.tests.size.max_uncompressed_mb == 250


def test_driver_loader_variants(falco: LoadedFamily) -> None:
    loader = falco.variant("falco-driver-loader").variant
    legacy = falco.variant("falco-driver-loader-legacy").variant
    assert loader.base.variant == "falco-debian"
    assert loader.tags == ["{version}", "latest"]
    assert legacy.tags == ["{version}-{release}", "latest-{release}"]
    assert legacy.parameters == {"release": "buster", "snapshot": "20250630T203427Z"}
    assert legacy.base.image == "debian:{release}"
    assert [a.action for a in legacy.install.artifacts] == ["deb"] + ["dpkg"] * 20
    legacy_dpkg = {a.artifact: a.platforms for a in legacy.install.artifacts if a.action == "dpkg"}
    assert legacy_dpkg["gcc_5"] is None and legacy_dpkg["binutils_x86_64"] == ["linux/amd64"]
    assert legacy_dpkg["binutils_aarch64"] == ["linux/arm64"]
    assert legacy.install.symlinks["/usr/bin/gcc"] == "gcc-5"
    assert legacy.install.apt_packages_for == {
        "buster": ["netcat"], "bullseye": ["netcat"], "buster/amd64": ["libmpx2"]
    }  # fmt: skip
    assert [(a.action, a.artifact, a.target) for a in loader.install.artifacts] == [  # type: ignore[union-attr]
        ("member", "deb", "/usr/bin/falcoctl"),
        ("member", "deb", "/etc/falcoctl/falcoctl.yaml"),
    ]
    assert loader.install.apt_packages == sorted([*LOADER_TOOLCHAIN, "gcc-11"])
    assert legacy.install.apt_packages == sorted([*LOADER_TOOLCHAIN, "bash-completion"])
    # buster through Falco's Debian snapshot, with its security and updates suites
    assert legacy.parameters["snapshot"] == "20250630T203427Z"
    buster = legacy.install.apt_sources["buster"]
    assert "deb http://snapshot.debian.org/archive/debian/{snapshot} buster main" in buster
    assert "debian-security/{snapshot} buster/updates main" in buster
    assert "buster-updates main" in buster
    for release in ("bullseye", "bookworm", "trixie"):
        assert f"debian-security {release}-security main" in legacy.install.apt_sources[release]
        assert f"{release}-updates main" in legacy.install.apt_sources[release]
    for variant in (loader, legacy):
        assert variant.install.symlinks["/lib/modules"] == "/host/lib/modules"
        assert variant.image.entrypoint == ["/docker-entrypoint.sh"]
        assert variant.tests.metadata is not None
        assert variant.tests.metadata.entrypoint == ["/docker-entrypoint.sh"]
        assert variant.tests.size is not None and variant.tests.size.max_uncompressed_mb == 1500
        commands = {test.name: test for test in variant.tests.commands}
        falcoctl = commands["falcoctl is the one the release ships"]
        assert falcoctl.expected_output == ["{falcoctl_version}"]
        gcc = next(c for name, c in commands.items() if name.startswith("gcc is"))
        assert gcc.command == ["gcc", "--version"]
        files = {test.path: test for test in variant.tests.files}
        assert files["/docker-entrypoint.sh"].executable is True
        assert files["/lib/modules"].is_symlink_to == "/host/lib/modules"
        entrypoint = next(f for f in variant.files if f.target == "/docker-entrypoint.sh")
        assert entrypoint.mode == 0o755


def test_catalog_files_exist_and_are_shared(falco: LoadedFamily) -> None:
    sources = {
        loaded.name: {spec.target: loaded.source_path(spec) for spec in loaded.variant.files}
        for loaded in falco.variants
    }
    dropin = "/etc/falco/config.d/falco.iso8601_timeformat.yaml"
    config = FALCO_DIR / "variants/falco/files/falco.iso8601_timeformat.yaml"
    assert sources["falco"][dropin] == config
    assert sources["falco-debian"][dropin] == config
    assert sources["falco-driver-loader-legacy"][dropin] == config
    assert config.read_text() == "time_format_iso_8601: true\n"
    script = FALCO_DIR / "variants/falco-driver-loader/files/docker-entrypoint.sh"
    assert sources["falco-driver-loader"]["/docker-entrypoint.sh"] == script
    assert sources["falco-driver-loader-legacy"]["/docker-entrypoint.sh"] == script
    assert script.read_text().startswith("#!/usr/bin/env bash\n")
    assert os.stat(script).st_mode & stat.S_IXUSR


def _fields_without_description(model: type[BaseModel], seen: set[type[BaseModel]]) -> list[str]:
    if model in seen:
        return []
    seen.add(model)
    missing = []
    for name, field in model.model_fields.items():
        if not field.description:
            missing.append(f"{model.__name__}.{name}")
    for nested in _nested_models(model):
        missing += _fields_without_description(nested, seen)
    return missing


def _nested_models(model: type[BaseModel]) -> list[type[BaseModel]]:
    found = []
    for definition in model.model_json_schema().get("$defs", {}):
        module = __import__(model.__module__, fromlist=[definition])
        candidate = getattr(module, definition, None)
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            found.append(candidate)
    return found


def test_every_model_field_has_a_description() -> None:
    seen: set[type[BaseModel]] = set()
    assert _fields_without_description(Family, seen) == []
    assert _fields_without_description(Variant, seen) == []
    assert _fields_without_description(LockFile, seen) == []
    names = {model.__name__ for model in seen}
    assert {"SigningKey", "ArtifactSource", "Buckets", "SizeBudget", "MetadataTest"} <= names
    assert {"DistrolessBase", "CommandTest", "FileSpec", "LockEntry"} <= names


def test_the_committed_package_lock_covers_the_family(falco: LoadedFamily) -> None:
    """Every image builds from the committed lock (the legacy loader on bullseye, the release
    this machine's mirror serves; buster needs `lock --params release=buster` where a buster
    snapshot is reachable)."""
    check_packages_locked(plan(falco, params=["release=bullseye"]))
    with pytest.raises(InputError, match="falco-driver-loader-legacy on debian:buster"):
        check_packages_locked(plan(falco))
    assert falco.packages_lock.date is not None
