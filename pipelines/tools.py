"""The tools container: a Debian image with what the pipeline's own steps need.

It runs on the engine's native platform (never emulated) and does the work that must not
happen inside a distroless image: verifying downloads, unpacking archives and packages,
inspecting files.
"""

from __future__ import annotations

import dagger
from dagger import dag

TOOLS_PACKAGES = ("gnupg", "ca-certificates", "curl")


def apt_caches(ctr: dagger.Container, key: str) -> dagger.Container:
    """Mount apt's caches (archives, pkgcache.bin) and lists as cache volumes, so they never
    land in a layer.

    PRIVATE sharing: a concurrent step gets a fresh volume instead of waiting for the lock
    (LOCKED volumes deadlocked concurrent builds on a 2-CPU engine)."""
    return ctr.with_mounted_cache(
        "/var/cache/apt",
        dag.cache_volume(f"apt-cache-{key}"),
        sharing=dagger.CacheSharingMode.PRIVATE,
    ).with_mounted_cache(
        "/var/lib/apt/lists",
        dag.cache_volume(f"apt-lists-{key}"),
        sharing=dagger.CacheSharingMode.PRIVATE,
    )


def with_apt_packages(
    ctr: dagger.Container, packages: tuple[str, ...], cache_key: str
) -> dagger.Container:
    """``ctr`` with Debian ``packages`` installed through the apt cache volumes (a cached step)."""
    return (
        apt_caches(ctr, cache_key)
        .with_exec(
            [
                "sh",
                "-c",
                "apt-get update -qq && apt-get install -y -qq --no-install-recommends "
                + " ".join(packages)
                + " >/dev/null",
            ]
        )
        .without_mount("/var/cache/apt")
        .without_mount("/var/lib/apt/lists")
    )


def tools_container(image: str = "debian:12-slim") -> dagger.Container:
    """``image`` with gnupg, CA certificates and curl installed (a cached step)."""
    base = dag.container().from_(image).with_env_variable("DEBIAN_FRONTEND", "noninteractive")
    return with_apt_packages(base, TOOLS_PACKAGES, f"tools-{image}")


def python_tools(tools_image: str) -> dagger.Container:
    """The tools container with Python 3 (a cached step): for the pipeline's own stdlib-only
    scripts that run on files of the build (the distroless floor, image layouts)."""
    return with_apt_packages(tools_container(tools_image), ("python3",), f"python-{tools_image}")
