"""Print an image's sizes from its OCI tarball (gzip layers), as JSON: ``compressed`` is what
its manifest's descriptors say (config and layers, what a pull downloads), ``uncompressed``
the config and the layers' tar streams (what the image takes unpacked).

Run by :func:`pipelines.oci.sizes.image_size` in the tools container (stdlib only):
``python3 layer_sizes.py IMAGE.tar``. The uncompressed size of a gzip layer is counted by
streaming it through zlib (every gzip member, so no reliance on the 32-bit trailer).
"""

from __future__ import annotations

import json
import sys
import tarfile
import zlib
from collections.abc import Iterator
from typing import IO, Any

GZIP = 16 + zlib.MAX_WBITS  # zlib's window bits for a gzip stream


def _blob(tar: tarfile.TarFile, name: str) -> IO[bytes]:
    member = tar.extractfile(name)
    if member is None:
        raise SystemExit(f"error: {name}: not a file in the image tarball")
    return member


def _manifests(tar: tarfile.TarFile, document: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The image manifests ``document`` (an index or a manifest) leads to."""
    if "layers" in document:
        yield document
    for descriptor in document.get("manifests", []):
        digest = str(descriptor["digest"]).replace(":", "/")
        yield from _manifests(tar, json.load(_blob(tar, f"blobs/{digest}")))


def _gunzipped_size(stream: IO[bytes]) -> int:
    total = 0
    inflate = zlib.decompressobj(GZIP)
    while chunk := stream.read(1 << 20):
        while chunk:
            total += len(inflate.decompress(chunk))
            if not inflate.eof:
                break
            chunk = inflate.unused_data  # another gzip member follows
            inflate = zlib.decompressobj(GZIP)
    return total


def _unpacked_size(tar: tarfile.TarFile, layer: dict[str, Any]) -> int:
    media_type = str(layer["mediaType"])
    if media_type.endswith("tar"):
        return int(layer["size"])
    if not media_type.endswith(("+gzip", ".gzip")):
        raise SystemExit(f"error: layer {layer['digest']}: {media_type} is not gzip or tar")
    digest = str(layer["digest"]).replace(":", "/")
    return _gunzipped_size(_blob(tar, f"blobs/{digest}"))


def sizes(path: str) -> dict[str, int]:
    """``compressed`` and ``uncompressed`` bytes of the one image in the tarball at ``path``."""
    with tarfile.open(path) as tar:
        found = list(_manifests(tar, json.load(_blob(tar, "index.json"))))
        if len(found) != 1:
            raise SystemExit(f"error: {path}: {len(found)} image manifests, expected one")
        [manifest] = found
        config = int(manifest["config"]["size"])
        layers = manifest["layers"]
        return {
            "compressed": config + sum(int(layer["size"]) for layer in layers),
            "uncompressed": config + sum(_unpacked_size(tar, layer) for layer in layers),
        }


if __name__ == "__main__":
    print(json.dumps(sizes(sys.argv[1])))
