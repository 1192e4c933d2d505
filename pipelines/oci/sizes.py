"""An image's sizes from its manifest and layer descriptors (one export, no other copy).

By default the export's layers are zstd: the engine compresses zstd on every CPU and fast, so
a cold build pays little for it, and the tarball stays small, so a rebuilt image's export
writes little (its unchanged layers' zstd blobs are kept by the engine). Only new layers are
decompressed to count them (``zstd -dc``, once per layer digest). Measured on the bench's
largest image (850 MB unpacked) for both platforms on 2 CPUs: cold 70.6 s with zstd layers,
96.8 s with gzip (the engine's gzip runs on one CPU), 69.2 s uncompressed and 59.7 s without
sizes; after a one-file change, 8.8 s with zstd and 8.7 s with gzip, while uncompressed
tarballs (850 MB written per image) made the whole bench family's rebuild 30 s instead of 20 s.

The gzip size (what a pull downloads) is measured only when asked: by a variant's compressed
budget, or ``--gzip-sizes``. The gzip tarball is the form a registry push sends, and the engine
caches its compressed layers as steps: a changed image's compressed layers are made once for
measuring and publishing.
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
    """The sizes of ``ctr`` (a single-platform image), read from its OCI tarball: zstd
    layers, or with ``gzip`` gzip layers (then ``compressed`` is measured too)."""
    compression = dagger.ImageLayerCompression.Gzip if gzip else dagger.ImageLayerCompression.Zstd
    found = json.loads(
        await python_tools(tools_image)
        .with_new_file("/layer_sizes.py", SCRIPT.read_text())
        .with_mounted_file("/in/image.tar", ctr.as_tarball(forced_compression=compression))
        .with_mounted_cache(
            "/known", dag.cache_volume(KNOWN_VOLUME), sharing=dagger.CacheSharingMode.SHARED
        )
        .with_exec(["python3", "/layer_sizes.py", "/in/image.tar", "/known"])
        .stdout()
    )
    return ImageSize(
        uncompressed=int(found["uncompressed"]),
        compressed=int(found["compressed"]) if gzip else None,
    )
