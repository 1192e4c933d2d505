"""Turn one planned target (a variant for one platform) into a Dagger container.

A target's chain is built root first. A distroless chain is assembled as a directory by the
native tools container and becomes the image's root filesystem at the end, with every
timestamp fixed, so the same inputs give the same digest. A Debian chain runs its steps in
the image itself: apt through cache volumes (lists and archives never land in a layer),
release artifacts mounted rather than copied, then files, links and configuration.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass

import dagger
from dagger import dag

from pipelines.assembly.artifacts import ArtifactStore
from pipelines.assembly.rootfs import distroless_rootfs
from pipelines.catalog.variant import ImageConfig, Install
from pipelines.plan import BuildTarget, Layer
from pipelines.tools import apt_caches, tools_container

# Fixed timestamp of distroless files (SOURCE_DATE_EPOCH style): identical inputs, identical digest.
EPOCH = 0


@dataclass(frozen=True)
class BuildContext:
    """What every target of one run shares."""

    catalog: dagger.Directory
    artifacts: ArtifactStore
    tools_image: str


def _unquoted_globs(paths: Sequence[str], root: str = "") -> str:
    """Paths for ``rm -rf``: catalog paths are absolute, validated, and may hold ``*``."""
    return " ".join(root + path for path in paths)


async def _tarball_tree(ctx: BuildContext, layer: Layer) -> dagger.Directory:
    """The release tarball's tree without its top-level directory, ``remove`` applied."""
    assert layer.artifact is not None
    verified = await ctx.artifacts.get(layer.artifact)
    remove = _unquoted_globs(layer.spec.install.remove, "/tree")
    script = (
        "set -eu; mkdir /tree; tar -xzf /in/artifact.tar.gz --strip-components=1 -C /tree; "
        f"rm -rf {remove}"
    )
    return (
        tools_container(ctx.tools_image)
        .with_mounted_file("/in/artifact.tar.gz", verified.file)
        .with_exec(["sh", "-c", script])
        .directory("/tree")
    )


async def _falcoctl(ctx: BuildContext, layer: Layer) -> dagger.File:
    """The falcoctl binary from its verified release archive."""
    assert layer.falcoctl is not None
    verified = await ctx.artifacts.get(layer.falcoctl)
    return (
        tools_container(ctx.tools_image)
        .with_mounted_file("/in/falcoctl.tar.gz", verified.file)
        .with_exec(
            ["sh", "-c", "mkdir /x && tar -xzf /in/falcoctl.tar.gz -C /x && test -x /x/falcoctl"]
        )
        .file("/x/falcoctl")
    )


async def _distroless_layer(
    ctx: BuildContext, layer: Layer, rootfs: dagger.Directory
) -> dagger.Directory:
    install = layer.spec.install
    if layer.artifact is not None:
        rootfs = rootfs.with_directory("/", await _tarball_tree(ctx, layer))
    if install.falcoctl:
        falcoctl = await _falcoctl(ctx, layer)
        rootfs = rootfs.with_file("usr/bin/falcoctl", falcoctl, permissions=0o755)
    for spec in layer.files:
        rootfs = rootfs.with_file(
            spec.target.lstrip("/"), ctx.catalog.file(spec.family_path), permissions=spec.mode
        )
    for link, target in install.symlinks.items():
        rootfs = rootfs.with_symlink(target, link.lstrip("/"))
    return rootfs


def _apt_sources_script(install: Install) -> str:
    """Shell that replaces sources.list when the base's codename has an entry."""
    if not install.apt_sources:
        return ""
    cases = "".join(
        f"  {shlex.quote(codename)}) printf '%s\\n' {shlex.quote(text)} > /etc/apt/sources.list;"
        " rm -f /etc/apt/sources.list.d/*;;\n"
        for codename, text in install.apt_sources.items()
    )
    return f'. /etc/os-release\ncase "${{VERSION_CODENAME:-}}" in\n{cases}esac\n'


async def _debian_layer(
    ctx: BuildContext, layer: Layer, ctr: dagger.Container, cache_key: str
) -> dagger.Container:
    install = layer.spec.install
    for name, value in install.env.items():
        ctr = ctr.with_env_variable(name, value)
    packages = [shlex.quote(p) for p in install.apt_packages]
    if install.artifact == "deb" and layer.artifact is not None:
        verified = await ctx.artifacts.get(layer.artifact)
        deb = f"/run/artifacts/{layer.artifact.filename}"
        ctr = ctr.with_mounted_file(deb, verified.file)
        packages.append(shlex.quote(deb))
    script = _apt_sources_script(install)
    if packages:
        script += (
            "apt-get update -qq && apt-get install -y -qq --no-install-recommends "
            + " ".join(packages)
            + "\n"
        )
    if script:
        ctr = apt_caches(ctr.with_env_variable("DEBIAN_FRONTEND", "noninteractive"), cache_key)
        ctr = ctr.with_exec(["sh", "-euc", script]).without_env_variable("DEBIAN_FRONTEND")
        ctr = ctr.without_mount("/var/cache/apt").without_mount("/var/lib/apt/lists")
        if install.artifact == "deb" and layer.artifact is not None:
            ctr = ctr.without_mount(f"/run/artifacts/{layer.artifact.filename}")
    if install.artifact == "tarball":
        ctr = ctr.with_directory("/", await _tarball_tree(ctx, layer))
    if install.remove:
        ctr = ctr.with_exec(["sh", "-c", f"rm -rf {_unquoted_globs(install.remove)}"])
    if install.falcoctl:
        ctr = ctr.with_file("/usr/bin/falcoctl", await _falcoctl(ctx, layer), permissions=0o755)
    for spec in layer.files:
        ctr = ctr.with_file(spec.target, ctx.catalog.file(spec.family_path), permissions=spec.mode)
    for link, target in install.symlinks.items():
        q_link, q_target = shlex.quote(link), shlex.quote(target)
        ctr = ctr.with_exec(["sh", "-c", f"rm -df {q_link} && ln -s {q_target} {q_link}"])
    for name in install.env:
        ctr = ctr.without_env_variable(name)
    return ctr


def _fixed_timestamps(tools_image: str, rootfs: dagger.Directory) -> dagger.Directory:
    """``rootfs`` with every mtime set to EPOCH, symlinks included (``touch -h``; Dagger's own
    ``with_timestamps`` follows links and fails on dangling ones such as doc links)."""
    fixed = (
        tools_container(tools_image)
        .with_directory("/rootfs", rootfs)
        .with_exec(["sh", "-c", f"find /rootfs -depth -exec touch -h -d @{EPOCH} {{}} +"])
        .directory("/rootfs")
    )
    # Copied onto an empty directory: a container's subdirectory used as a root filesystem
    # would otherwise carry the tools container's layers into the image.
    return dag.directory().with_directory(".", fixed)


def configure(ctr: dagger.Container, image: ImageConfig) -> dagger.Container:
    """Apply the image configuration (env, labels, entrypoint, cmd, workdir, user)."""
    for name, value in sorted(image.env.items()):
        ctr = ctr.with_env_variable(name, value)
    for name, value in sorted(image.labels.items()):
        ctr = ctr.with_label(name, value)
    if image.entrypoint is not None:
        ctr = ctr.with_entrypoint(image.entrypoint)
    if image.cmd is not None:
        ctr = ctr.with_default_args(image.cmd)
    if image.workdir is not None:
        ctr = ctr.with_workdir(image.workdir)
    if image.user is not None:
        ctr = ctr.with_user(image.user)
    return ctr


async def build_container(ctx: BuildContext, target: BuildTarget) -> dagger.Container:
    """The image of ``target``: its chain built root first, then configured."""
    platform = dagger.Platform(target.platform)
    root = target.root_base
    if root.distroless is not None:
        rootfs = distroless_rootfs(root.distroless, target.platform, ctx.tools_image)
        for layer in target.layers:
            rootfs = await _distroless_layer(ctx, layer, rootfs)
        ctr = dag.container(platform=platform).with_rootfs(
            _fixed_timestamps(ctx.tools_image, rootfs)
        )
    else:
        assert root.image is not None
        ctr = dag.container(platform=platform).from_(root.image)
        cache_key = f"{root.image}-{target.platform}".replace("/", "_").replace(":", "_")
        for layer in target.layers:
            ctr = await _debian_layer(ctx, layer, ctr, cache_key)
    return configure(ctr, target.image)
