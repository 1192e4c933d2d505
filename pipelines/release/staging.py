"""Staging a variant's release in the engine: OCI tarballs, one OCI layout, the index written.

Nothing here touches a registry. Each platform container becomes its OCI tarball
(reproducible: :mod:`pipelines.oci.reproducible`; what the gate scans and syft describes is
exactly what is pushed),
the tarballs are unpacked into one OCI layout, and the image index is written into it by
:mod:`pipelines.release.oci_index` in the family's platform order. The digests of every
platform manifest and of the index are known here, before anything is pushed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import anyio
import dagger

from pipelines.oci.reproducible import reproducible_tarball
from pipelines.release.oci_index import (
    INDEX_REF_NAME,
    OCI_LAYOUT_FILE,
    PlatformManifest,
    digest_of,
    image_index,
    layout_index,
    platform_manifest,
)
from pipelines.tools import tools_container

_UNPACK = """set -eu
mkdir -p /out/layout /out/meta
i=0
while [ "$i" -lt "$1" ]; do
  tar -xf "/in/$i.tar" -C /out/layout blobs
  tar -xOf "/in/$i.tar" index.json > "/out/meta/$i.json"
  i=$((i + 1))
done
"""


@dataclass(frozen=True)
class StagedPlatform:
    """One platform image: its manifest descriptor and its OCI tarball."""

    manifest: PlatformManifest
    tarball: dagger.File

    @property
    def platform(self) -> str:
        return self.manifest.platform

    @property
    def digest(self) -> str:
        return self.manifest.digest


@dataclass(frozen=True)
class StagedImage:
    """A variant ready to push: the OCI layout holding every platform and the index."""

    variant: str
    repository: str
    layout: dagger.Directory
    platforms: tuple[StagedPlatform, ...]
    index: str
    index_digest: str

    def platform_digests(self) -> dict[str, str]:
        """``os/arch`` -> manifest digest, in the family's platform order."""
        return {p.platform: p.digest for p in self.platforms}

    @property
    def index_ref_name(self) -> str:
        """The index's name in :attr:`layout`."""
        return INDEX_REF_NAME


async def stage(
    variant: str,
    repository: str,
    containers: Sequence[tuple[str, dagger.Container]],
    tools_image: str,
    epoch: int = 0,
) -> StagedImage:
    """Stage ``containers`` (``(platform, container)`` in the family's platform order), each
    as its reproducible tarball (times fixed to ``epoch``: the same images, the same digests
    whenever they were built)."""
    tarballs = [reproducible_tarball([c], epoch, tools_image) for _, c in containers]
    unpack = tools_container(tools_image)
    for i, tarball in enumerate(tarballs):
        unpack = unpack.with_mounted_file(f"/in/{i}.tar", tarball)
    out = unpack.with_exec(["sh", "-c", _UNPACK, "unpack", str(len(tarballs))]).directory("/out")
    metas: dict[int, str] = {}

    async def read(i: int) -> None:
        metas[i] = await out.file(f"meta/{i}.json").contents()

    async with anyio.create_task_group() as group:
        for i in range(len(tarballs)):
            group.start_soon(read, i)
    manifests = [
        platform_manifest(platform, metas[i]) for i, (platform, _) in enumerate(containers)
    ]
    index = image_index(manifests)
    index_digest = digest_of(index)
    layout = (
        out.directory("layout")
        .with_new_file(f"blobs/sha256/{index_digest.removeprefix('sha256:')}", index)
        .with_new_file("index.json", layout_index(manifests, index))
        .with_new_file("oci-layout", OCI_LAYOUT_FILE)
    )
    staged = tuple(StagedPlatform(m, t) for m, t in zip(manifests, tarballs, strict=True))
    return StagedImage(variant, repository, layout, staged, index, index_digest)
