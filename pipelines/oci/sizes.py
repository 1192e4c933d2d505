"""An image's sizes from its manifest and layer descriptors (one gzip export, no other copy).

The gzip tarball is the form a registry push sends, and the engine caches its compressed
layers as steps: the sizes of an unchanged image cost a cache lookup, and a changed image's
compressed layers are made once for measuring and publishing; only its new layers are
decompressed to count them.
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
    compressed: int


async def image_size(ctr: dagger.Container, tools_image: str) -> ImageSize:
    """The sizes of ``ctr`` (a single-platform image), read from its gzip OCI tarball."""
    tarball = ctr.as_tarball(forced_compression=dagger.ImageLayerCompression.Gzip)
    out = await (
        python_tools(tools_image)
        .with_new_file("/layer_sizes.py", SCRIPT.read_text())
        .with_mounted_file("/in/image.tar", tarball)
        .with_mounted_cache(
            "/known", dag.cache_volume(KNOWN_VOLUME), sharing=dagger.CacheSharingMode.SHARED
        )
        .with_exec(["python3", "/layer_sizes.py", "/in/image.tar", "/known"])
        .stdout()
    )
    found = json.loads(out)
    return ImageSize(uncompressed=int(found["uncompressed"]), compressed=int(found["compressed"]))
