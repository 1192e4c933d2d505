"""packages.lock.toml: the model, its text, and builds refusing what it does not lock."""

from __future__ import annotations

import tomllib

import pytest

from pipelines.catalog.loader import LoadedFamily
from pipelines.catalog.packages_lock import (
    LockedPackage,
    PackageSet,
    PackagesLock,
    merge,
    render_packages_lock,
)
from pipelines.errors import InputError
from pipelines.plan import check_packages_locked, plan

LIBC = LockedPackage(
    name="libc6",
    version="2.36-9+deb12u14",
    architecture="arm64",
    url="http://deb.debian.org/debian/pool/main/g/glibc/libc6_2.36-9%2bdeb12u14_arm64.deb",
    sha256="a" * 64,
)


def package_set(platform: str = "linux/arm64", version: str = "2.36-9+deb12u14") -> PackageSet:
    return PackageSet(
        variant="hello",
        base="distroless:bookworm",
        platform=platform,
        release="bookworm",
        requested=["base-files", "libc6"],
        packages=[LIBC.model_copy(update={"version": version})],
    )


def test_rendered_lock_reads_back_the_same() -> None:
    lock = merge(
        PackagesLock(), [package_set(), package_set("linux/amd64")], "2026-11-26T00:00:00Z"
    )
    text = render_packages_lock(lock)
    assert PackagesLock.model_validate(tomllib.loads(text)) == lock
    assert text.index('platform = "linux/amd64"') < text.index('platform = "linux/arm64"')
    assert LIBC.filename == "libc6_2.36-9%2bdeb12u14_arm64.deb"


def test_relocking_replaces_a_set_and_keeps_the_others() -> None:
    old = merge(PackagesLock(), [package_set(), package_set("linux/amd64")], "2026-01-01T00:00:00Z")
    new = merge(old, [package_set(version="2.36-9+deb12u15")], "2026-11-26T00:00:00Z")
    assert new.date == "2026-11-26T00:00:00Z"
    updated = new.lookup("hello", "distroless:bookworm", "linux/arm64")
    assert updated is not None and updated.packages[0].version == "2.36-9+deb12u15"
    assert new.lookup("hello", "distroless:bookworm", "linux/amd64") == package_set("linux/amd64")


def test_a_set_locked_twice_is_refused() -> None:
    with pytest.raises(ValueError, match="locked more than once"):
        PackagesLock(set=[package_set(), package_set()])


def test_builds_without_locked_packages_name_the_command(hello: LoadedFamily) -> None:
    build_plan = plan(hello, version="1.2.3", params=["release=trixie"])
    with pytest.raises(InputError) as caught:
        check_packages_locked(build_plan)
    message = str(caught.value)
    assert "hello on distroless:bookworm for linux/arm64" in message
    assert "hello-debian on docker.io/library/debian:trixie-slim for linux/amd64" in message
    assert (
        "`dagger call lock --version 1.2.3 --params release=trixie export --path images/hello`"
        in (message)
    )


def test_a_locked_plan_carries_its_sets(hello: LoadedFamily) -> None:
    locked = PackagesLock(set=[package_set(), package_set("linux/amd64")])
    family = LoadedFamily(hello.family, hello.variants, hello.lock, hello.directory, locked)
    build_plan = plan(family, variants=["hello"], version="1.2.3")
    check_packages_locked(build_plan)
    assert [t.layers[0].packages for t in build_plan.targets] == [
        package_set("linux/arm64"),
        package_set("linux/amd64"),
    ]
