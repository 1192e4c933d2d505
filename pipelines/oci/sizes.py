"""An image's sizes from its manifest and layer descriptors (one export, no other copy).

By default the export is uncompressed: its layer descriptors are the layers' tar streams, so
the manifest alone gives the size unpacked, and no layer is compressed. Compressing is most of
the cost of a cold build of a large image: measured on the driver-loader for both platforms
(2 CPUs), a cold build took 59.7 s without sizes, 69.2 s with the uncompressed export and
96.8 s with a gzip one (the engine's gzip is single-threaded).

The gzip size (what a pull downloads) is measured only when asked: by a variant's compressed
budget, or by a caller that compresses the layers anyway (export-all, publish-all). The gzip
tarball is the form a registry push sends, and the engine caches its compressed layers as
steps: a changed image's compressed layers are made once for measuring and publishing; only
its new layers are decompressed to count them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import dagger
from dagger import dag

from pipelines.tools import python_tools

SCRIPT = Path(__file__).with_name("layer_sizes.py")
# Uncompressed sizes by layer digest (a cache volume: never in a key or a layer), so a rebuilt
# image's step streams only its new layers; files are written whole, then renamed.
KNOWN_VOLUME = "layer-sizes-by-digest"


@dataclass(frozen=True)
class ImageSize:
    """An image's config and layers, in bytes: ``compressed`` as its manifest describes them
    (gzip, what a pull downloads), ``uncompressed`` as tar streams (what it takes unpacked)."""

    uncompressed: int
    compressed: int | None  # None: not measured (see image_size's ``gzip``)


async def image_size(ctr: dagger.Container, tools_image: str, *, gzip: bool = False) -> ImageSize:
    """The sizes of ``ctr`` (a single-platform image), read from its OCI tarball: uncompressed
    layers, or with ``gzip`` gzip layers (then ``compressed`` is measured too)."""
    compression = (
        dagger.ImageLayerCompression.Gzip if gzip else dagger.ImageLayerCompression.Uncompressed
    )
    reader = (
        python_tools(tools_image)
        .with_new_file("/layer_sizes.py", SCRIPT.read_text())
        .with_mounted_file("/in/image.tar", ctr.as_tarball(forced_compression=compression))
    )
    argv = ["python3", "/layer_sizes.py", "/in/image.tar"]
    if gzip:  # gzip layers are counted by streaming them, once per layer digest
        reader = reader.with_mounted_cache(
            "/known", dag.cache_volume(KNOWN_VOLUME), sharing=dagger.CacheSharingMode.SHARED
        )
        argv.append("/known")
    found = json.loads(await reader.with_exec(argv).stdout())
    return ImageSize(
        uncompressed=int(found["uncompressed"]),
        compressed=int(found["compressed"]) if gzip else None,
    )
