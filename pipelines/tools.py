"""The tools container: a Debian image with what the pipeline's own steps need.

It runs on the engine's native platform (never emulated) and does the work that must not
happen inside a distroless image: verifying downloads, unpacking archives and packages,
inspecting files.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from contextvars import ContextVar

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


def _tools(image: str) -> dagger.Container:
    base = dag.container().from_(image).with_env_variable("DEBIAN_FRONTEND", "noninteractive")
    return with_apt_packages(base, TOOLS_PACKAGES, f"tools-{image}")


def _python(image: str) -> dagger.Container:
    return with_apt_packages(_tools(image), ("python3", "zstd"), f"python-{image}")


# (kind, image) -> the container loaded from its ID, inside ``tools_loaded``
_LOADED: ContextVar[Mapping[tuple[str, str], dagger.Container] | None] = ContextVar(
    "loaded_tools", default=None
)


def _loaded(kind: str, image: str) -> dagger.Container | None:
    return (_LOADED.get() or {}).get((kind, image))


def tools_container(image: str = "debian:12-slim") -> dagger.Container:
    """``image`` with gnupg, CA certificates and curl installed (a cached step)."""
    loaded = _loaded("tools", image)
    return loaded if loaded is not None else _tools(image)


def python_tools(tools_image: str) -> dagger.Container:
    """The tools container with Python 3 and zstd (a cached step): for the pipeline's own
    stdlib-only scripts that run on files of the build (the distroless floor, image layouts,
    image sizes)."""
    loaded = _loaded("python", tools_image)
    return loaded if loaded is not None else _python(tools_image)


@asynccontextmanager
async def tools_loaded(image: str) -> AsyncIterator[None]:
    """Within it (this task and the tasks it starts), :func:`tools_container` and
    :func:`python_tools` of ``image`` are loaded from their IDs, asked once.

    The SDK turns every object argument into its ID with one request per chain that holds it:
    built afresh for each step, the tools container has every step ask again for its base
    image's and cache volumes' IDs. Measured on the 8-image family, a warm build graph made
    some 800 requests and spent most of its 23 s in the client (the HTTP pool's scan of the
    requests in flight grows with their number); loaded from IDs, 430 requests and 10-11 s.
    """
    loaded: dict[tuple[str, str], dagger.Container] = {}
    try:
        loaded[("tools", image)] = dag.load_container_from_id(await _tools(image).id())
        loaded[("python", image)] = dag.load_container_from_id(await _python(image).id())
    except dagger.QueryError:
        loaded = {}  # an image that cannot be loaded fails the steps that use it, each saying so
    token = _LOADED.set({**(_LOADED.get() or {}), **loaded})
    try:
        yield
    finally:
        _LOADED.reset(token)
