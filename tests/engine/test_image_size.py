"""An image's sizes read from its export's manifest are what an uncompressed export of the same
image holds: the config and the layers' tar streams, and less than the tarball; the gzip size
only when asked, from a gzip export."""

from __future__ import annotations

import json
import tarfile
import time
from pathlib import Path
from typing import Any

import dagger
import pytest
from dagger import dag

from pipelines.oci.sizes import KNOWN_VOLUME, image_size
from pipelines.tools import tools_container
from tests.engine.family import TOOLS_IMAGE

pytestmark = [pytest.mark.engine, pytest.mark.usefixtures("engine")]


def _manifest(path: Path) -> dict[str, Any]:
    """The one image manifest of an OCI tarball."""
    with tarfile.open(path) as tar:

        def blob(digest: str) -> dict[str, object]:
            member = tar.extractfile("blobs/" + digest.replace(":", "/"))
            assert member is not None
            loaded: dict[str, object] = json.load(member)
            return loaded

        index = json.load(tar.extractfile("index.json"))  # type: ignore[arg-type]
        document = blob(index["manifests"][0]["digest"])
        while "manifests" in document:
            document = blob(document["manifests"][0]["digest"])  # type: ignore[index]
        return document


def _uncompressed_export(path: Path) -> tuple[int, int]:
    """Config plus layer blob sizes of the one manifest in an uncompressed OCI tarball, and
    the tarball's own size."""
    document = _manifest(path)
    layers = sum(int(layer["size"]) for layer in document["layers"])
    return int(document["config"]["size"]) + layers, path.stat().st_size


@pytest.mark.parametrize("platform", ["linux/amd64", "linux/arm64"])
async def test_sizes_from_the_manifest_match_an_uncompressed_export(
    tmp_path: Path, platform: str
) -> None:
    image = (
        dag.container(platform=dagger.Platform(platform))
        .from_("debian:12-slim")
        .with_new_file("/data/big.txt", "the same line, many times\n" * 200_000)
        .with_exec(["sh", "-c", "head -c 3000000 /dev/urandom > /data/random.bin"])
    )
    size, gzipped_size = (
        await image_size(image, TOOLS_IMAGE),
        await image_size(image, TOOLS_IMAGE, gzip=True),
    )
    exported = tmp_path / "image.tar"
    await image.as_tarball(forced_compression=dagger.ImageLayerCompression.Uncompressed).export(
        str(exported)
    )
    layers, tarball = _uncompressed_export(exported)
    assert size.uncompressed == gzipped_size.uncompressed == layers
    assert layers < tarball < layers + 64 * 1024  # the tar's own headers and JSON documents
    assert size.compressed is None  # not asked: nothing was compressed
    # the text compresses, the random bytes do not: 3 MB of them stay in the gzip layers
    assert gzipped_size.compressed is not None
    assert 3_000_000 < gzipped_size.compressed < size.uncompressed - 4_000_000
    # every gzip layer's count is kept by its digest, for the next image that holds the layer
    gzipped = tmp_path / "image.tar.gz"
    await image.as_tarball(forced_compression=dagger.ImageLayerCompression.Gzip).export(
        str(gzipped)
    )
    digests = [str(layer["digest"]) for layer in _manifest(gzipped)["layers"]]
    kept = await (
        tools_container(TOOLS_IMAGE)
        .with_mounted_cache("/known", dag.cache_volume(KNOWN_VOLUME))
        .with_env_variable("NOT_CACHED", str(time.time_ns()))
        .with_exec(["ls", "/known"])
        .stdout()
    )
    assert {d.replace(":", "-") for d in digests} <= set(kept.split())
