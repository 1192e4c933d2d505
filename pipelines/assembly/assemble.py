"""Turn one planned target (a variant for one platform) into a Dagger container, lazily.

A target's chain is built root first, each layer a plain step (``Directory -> Directory`` for
a distroless root filesystem, ``Container -> Container`` on a Debian image) chained with
``.with_()``; nothing is evaluated here: the caller awaits the leaves (smoke tests, exports),
and the engine runs each distinct step once. A distroless chain is assembled as a directory by
the native tools container and becomes the image's root filesystem at the end, with every
timestamp fixed. A Debian chain installs its packages the way mmdebstrap does for a foreign
architecture (unpacked by the native dpkg, configured in the image: see
:mod:`pipelines.debian.install`), then adds files, links and configuration.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from typing import TypeVar

import dagger
from dagger import dag

from pipelines.assembly.floor_step import with_floor
from pipelines.assembly.loaded import LoadedArtifacts, LoadedChains
from pipelines.assembly.rootfs import distroless_rootfs
from pipelines.assembly.verify import VerifiedArtifact, verified_artifact
from pipelines.catalog.artifacts import ArtifactRef, KeyRef
from pipelines.catalog.mirrors import Mirror
from pipelines.catalog.packages_lock import PackageSet
from pipelines.catalog.variant import (
    DebArtifact,
    DpkgArtifact,
    FileArtifact,
    ImageConfig,
    MemberArtifact,
    UnpackArtifact,
)
from pipelines.debian.fetch import verified_debs
from pipelines.debian.install import PackageRound, install_packages
from pipelines.debian.sources import sources_script
from pipelines.errors import InputError
from pipelines.plan import BuildTarget, Layer, PlannedArtifact
from pipelines.tools import tools_container

# Fixed timestamp of distroless files (SOURCE_DATE_EPOCH style): identical inputs, identical digest.
EPOCH = 0
DirectoryStep = Callable[[dagger.Directory], dagger.Directory]
ContainerStep = Callable[[dagger.Container], dagger.Container]
Tree = TypeVar("Tree", dagger.Container, dagger.Directory)


@dataclass
class BuildContext:
    """What every target of one run shares: the catalog, the signing key, local artifacts."""

    catalog: dagger.Directory
    tools_image: str
    signing_key: KeyRef | None = None
    local_artifacts: Mapping[str, dagger.File] = field(default_factory=dict)
    mirrors: Sequence[Mirror] = ()
    attempt: int = 0  # > 0: downloads under fresh names (see pipelines.cache_race)
    chains: LoadedChains = field(default_factory=LoadedChains)
    artifacts: LoadedArtifacts = field(default_factory=LoadedArtifacts)

    def again(self, attempt: int) -> BuildContext:
        """This context for another attempt (``attempt`` > 0: every download asked afresh,
        nothing loaded yet)."""
        if attempt == self.attempt:
            return self
        return replace(self, attempt=attempt, chains=LoadedChains(), artifacts=LoadedArtifacts())

    def debs(self, packages: PackageSet) -> dagger.Directory:
        """The locked packages as verified files."""
        return verified_debs(packages.packages, tools_image=self.tools_image, mirrors=self.mirrors)

    def verified(self, ref: ArtifactRef, *, trust_unverified: bool = False) -> VerifiedArtifact:
        """``ref`` as a lazily verified file (a local file of the same name replaces the
        download, verified all the same); loaded from its ID when :meth:`load_artifacts`
        loaded it."""
        loaded = None if trust_unverified else self.artifacts.get(ref)
        if loaded is not None:
            return loaded
        return verified_artifact(
            ref,
            self.signing_key,
            local=self.local_artifacts.get(ref.filename),
            tools_image=self.tools_image,
            trust_unverified=trust_unverified,
            attempt=self.attempt,
        )

    async def load_artifacts(self, refs: Sequence[ArtifactRef]) -> None:
        """Verify ``refs`` now, each once per attempt, and use them loaded from their IDs
        (:class:`~pipelines.assembly.loaded.LoadedArtifacts`)."""
        await self.artifacts.load(refs, self.verified)


def _relative(path: str) -> str:
    """An image path as a path in a root filesystem directory."""
    return path.lstrip("/") or "."


def _globs(paths: Sequence[str], root: str = "") -> str:
    """Paths for ``rm -rf``: catalog paths are absolute, validated, and may hold ``*``."""
    return " ".join(root + path for path in paths)


# A .deb is read as the tree it installs (its data.tar: members are ./path); anything else is
# a tar archive whose compression GNU tar detects. Arguments: file name, then strip / member.
_UNPACK = """
mkdir /tree
case "$1" in
  *.deb) dpkg-deb --fsys-tarfile "/in/$1" | tar -x --strip-components="$2" -C /tree ;;
  *) tar -xf "/in/$1" --strip-components="$2" -C /tree ;;
esac
"""
_MEMBER = """
mkdir /x
case "$1" in
  *.deb) dpkg-deb --fsys-tarfile "/in/$1" | tar -x -C /x -- "./$2" ;;
  *) tar -xf "/in/$1" -C /x -- "$2" ;;
esac
test -f "/x/$2"
"""


def _unpacked(
    ctx: BuildContext, planned: PlannedArtifact, step: UnpackArtifact
) -> dagger.Directory:
    """The verified archive's tree, ``strip_components`` leading components dropped."""
    argv = ["sh", "-euc", _UNPACK, "unpack", planned.ref.filename, str(step.strip_components)]
    return (
        tools_container(ctx.tools_image)
        .with_mounted_file(f"/in/{planned.ref.filename}", ctx.verified(planned.ref).file)
        .with_exec(argv)
        .directory("/tree")
    )


def _member(ctx: BuildContext, planned: PlannedArtifact, step: MemberArtifact) -> dagger.File:
    """One member of the verified archive (the step fails if the archive has no such member)."""
    member = step.member.lstrip("/")
    return (
        tools_container(ctx.tools_image)
        .with_mounted_file(f"/in/{planned.ref.filename}", ctx.verified(planned.ref).file)
        .with_exec(["sh", "-euc", _MEMBER, "member", planned.ref.filename, member])
        .file(f"/x/{member}")
    )


def _with_artifact(ctx: BuildContext, planned: PlannedArtifact, tree: Tree) -> Tree:
    """``tree`` (a distroless root filesystem or a container) with one 'unpack', 'member' or
    'file' step applied; 'deb' and 'dpkg' steps are the apt step's (and refused by the catalog
    on a distroless root)."""
    step = planned.step
    if isinstance(step, UnpackArtifact):
        return tree.with_directory(step.target, _unpacked(ctx, planned, step))
    if isinstance(step, MemberArtifact):
        return tree.with_file(step.target, _member(ctx, planned, step), permissions=step.mode)
    if isinstance(step, FileArtifact):
        return tree.with_file(step.target, ctx.verified(planned.ref).file, permissions=step.mode)
    return tree


def _removed_from_rootfs(ctx: BuildContext, paths: Sequence[str]) -> DirectoryStep:
    def apply(rootfs: dagger.Directory) -> dagger.Directory:
        if not paths:
            return rootfs
        return (
            tools_container(ctx.tools_image)
            .with_directory("/rootfs", rootfs)
            .with_exec(["sh", "-c", f"rm -rf {_globs(paths, '/rootfs')}"])
            .directory("/rootfs")
        )

    return apply


def distroless_layer(ctx: BuildContext, layer: Layer) -> DirectoryStep:
    """One variant's steps on a distroless root filesystem."""
    install = layer.spec.install

    def apply(rootfs: dagger.Directory) -> dagger.Directory:
        for planned in layer.artifacts:
            rootfs = _with_artifact(ctx, planned, rootfs)
        rootfs = rootfs.with_(_removed_from_rootfs(ctx, install.remove))
        for spec in layer.files:
            rootfs = rootfs.with_file(
                _relative(spec.target), ctx.catalog.file(spec.family_path), permissions=spec.mode
            )
        for link, target in install.symlinks.items():
            rootfs = rootfs.with_symlink(target, _relative(link))
        return rootfs

    return apply


def packages_step(ctx: BuildContext, layer: Layer) -> ContainerStep:
    """The layer's apt sources, its locked Debian packages with its 'deb' artifacts, then its
    'dpkg' artifacts (see :mod:`pipelines.debian.install`)."""
    install = layer.spec.install
    debs = [p for p in layer.artifacts if isinstance(p.step, DebArtifact)]
    dpkgs = [p for p in layer.artifacts if isinstance(p.step, DpkgArtifact)]
    packages = layer.packages
    if layer.installs_packages and packages is None:
        raise InputError(f"{layer.variant}: no locked Debian packages: run lock")
    if not (packages or install.apt_sources or dpkgs):
        return lambda ctr: ctr

    def files(planned: list[PlannedArtifact]) -> dict[str, dagger.File]:
        return {p.ref.filename: ctx.verified(p.ref).file for p in planned}

    first = PackageRound(
        files=files(debs),
        directory=ctx.debs(packages) if packages is not None else None,
        locked=[p.name for p in packages.packages] if packages else [],
        requested=list(packages.requested) if packages else [],
    )
    # 'dpkg' artifacts replace what the first round installed, as `dpkg -i` after apt would
    second = PackageRound(files=files(dpkgs), dpkg_options=install.dpkg_options)
    env = {"DEBIAN_FRONTEND": "noninteractive", **install.env}

    def apply(ctr: dagger.Container) -> dagger.Container:
        sources = sources_script(install, "/target/etc/apt/sources.list")
        ctr = install_packages(ctr, first, tools_image=ctx.tools_image, env=env, sources=sources)
        if dpkgs:
            ctr = install_packages(ctr, second, tools_image=ctx.tools_image, env=env)
        return ctr

    return apply


def debian_layer(ctx: BuildContext, layer: Layer) -> ContainerStep:
    """One variant's steps on a Debian image."""
    install = layer.spec.install

    def apply(ctr: dagger.Container) -> dagger.Container:
        for name, value in install.env.items():
            ctr = ctr.with_env_variable(name, value)
        ctr = ctr.with_(packages_step(ctx, layer))
        for planned in layer.artifacts:
            ctr = _with_artifact(ctx, planned, ctr)
        if install.remove:
            ctr = ctr.with_exec(["sh", "-c", f"rm -rf {_globs(install.remove)}"])
        for spec in layer.files:
            ctr = ctr.with_file(
                spec.target, ctx.catalog.file(spec.family_path), permissions=spec.mode
            )
        for link, target in install.symlinks.items():
            q_link, q_target = shlex.quote(link), shlex.quote(target)
            ctr = ctr.with_exec(["sh", "-c", f"rm -df {q_link} && ln -s {q_target} {q_link}"])
        for name in install.env:
            ctr = ctr.without_env_variable(name)
        return ctr

    return apply


def _fixed_timestamps(tools_image: str) -> DirectoryStep:
    """Every mtime set to EPOCH, symlinks included (``touch -h``; Dagger's own
    ``with_timestamps`` follows links and fails on dangling ones such as doc links)."""

    def apply(rootfs: dagger.Directory) -> dagger.Directory:
        fixed = (
            tools_container(tools_image)
            .with_directory("/rootfs", rootfs)
            .with_exec(["sh", "-c", f"find /rootfs -depth -exec touch -h -d @{EPOCH} {{}} +"])
            .directory("/rootfs")
        )
        # Copied onto an empty directory: a container's subdirectory used as a root filesystem
        # would otherwise carry the tools container's layers into the image.
        return dag.directory().with_directory(".", fixed)

    return apply


def configure(image: ImageConfig) -> ContainerStep:
    """Apply the image configuration (env, labels, entrypoint, cmd, workdir, user)."""

    def apply(ctr: dagger.Container) -> dagger.Container:
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

    return apply


def distroless_base(ctx: BuildContext, target: BuildTarget) -> dagger.Directory:
    """The unpacked locked packages of a distroless target's root (lazy)."""
    root = target.root_base.distroless
    packages = target.layers[0].packages
    assert root is not None
    if packages is None:
        raise InputError(f"{target.variant}: no locked Debian packages for its root: run lock")
    debs = verified_debs(packages.packages, tools_image=ctx.tools_image, mirrors=ctx.mirrors)
    return distroless_rootfs(root, target.platform, ctx.tools_image, debs)


async def loaded_container(ctx: BuildContext, target: BuildTarget) -> dagger.Container:
    """:func:`build_container`, each prefix of a Debian chain loaded from its ID once per
    attempt and its artifacts verified first, each once (:mod:`pipelines.assembly.loaded`): the same
    image, fewer requests."""
    await ctx.load_artifacts(target.artifacts)
    root = target.root_base
    if root.image is None:
        return build_container(ctx, target)
    platform = dagger.Platform(target.platform)
    ctr = dag.container(platform=platform).from_(root.image)
    for depth, layer in enumerate(target.layers, start=1):
        variants = tuple(layer.variant for layer in target.layers[:depth])
        step = partial(ctr.with_, debian_layer(ctx, layer))
        ctr = await ctx.chains.get((target.platform, target.base_key, variants), step)
    return ctr.with_(configure(target.image))


def build_container(ctx: BuildContext, target: BuildTarget) -> dagger.Container:
    """The image of ``target``: its chain built root first, then configured (lazy)."""
    platform = dagger.Platform(target.platform)
    root = target.root_base
    if root.distroless is not None:
        rootfs = base = distroless_base(ctx, target)
        for layer in target.layers:
            rootfs = rootfs.with_(distroless_layer(ctx, layer))
        rootfs = rootfs.with_(with_floor(root.distroless, base, ctx.tools_image))
        rootfs = rootfs.with_(_fixed_timestamps(ctx.tools_image))
        ctr = dag.container(platform=platform).with_rootfs(rootfs)
    else:
        assert root.image is not None
        ctr = dag.container(platform=platform).from_(root.image)
        for layer in target.layers:
            ctr = ctr.with_(debian_layer(ctx, layer))
    return ctr.with_(configure(target.image))
