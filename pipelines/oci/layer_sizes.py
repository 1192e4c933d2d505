"""Print an image's sizes from its OCI tarball (gzip, zstd or uncompressed layers), as JSON:
``compressed`` is what its manifest's descriptors say (config and layers: for gzip layers,
what a pull downloads), ``uncompressed`` the config and the layers' tar streams (what the
image takes unpacked; for uncompressed layers, the descriptors' sizes).

Run by :func:`pipelines.oci.sizes.image_size` in the tools container (the standard library,
and the ``zstd`` command for zstd layers): ``python3 layer_sizes.py IMAGE.tar [KNOWN_DIR]``.
The uncompressed size of a compressed layer is counted by streaming it through zlib (every
gzip member, so no reliance on the 32-bit trailer) or ``zstd -dc``, once per layer digest when
``KNOWN_DIR`` is given: a file named after the digest keeps the count (a digest names the
bytes, so their count never changes), and a rebuilt image streams only its new layers.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import threading
import zlib
from collections.abc import Iterator
from pathlib import Path
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


def _unzstd_size(stream: IO[bytes]) -> int:
    """Bytes of the decompressed stream, counted through ``zstd -dc`` (fed from a thread, so
    neither pipe fills up)."""
    proc = subprocess.Popen(["zstd", "-dcq"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert proc.stdin is not None and proc.stdout is not None

    def feed(sink: IO[bytes]) -> None:
        try:
            with sink:
                while chunk := stream.read(1 << 20):
                    sink.write(chunk)
        except BrokenPipeError:
            pass  # zstd stopped reading: its exit code below says the layer is bad

    feeder = threading.Thread(target=feed, args=(proc.stdin,))
    feeder.start()
    total = 0
    while chunk := proc.stdout.read(1 << 20):
        total += len(chunk)
    feeder.join()
    if proc.wait() != 0:
        raise SystemExit(f"error: zstd -dc failed with exit code {proc.returncode}")
    return total


_COUNTERS = {"+gzip": _gunzipped_size, ".gzip": _gunzipped_size, "+zstd": _unzstd_size}


def _known(known: Path | None, digest: str) -> int | None:
    if known is None:
        return None
    try:
        return int((known / digest.replace(":", "-")).read_text())
    except (OSError, ValueError):
        return None


def _keep(known: Path | None, digest: str, size: int) -> None:
    if known is None:
        return
    name = digest.replace(":", "-")
    partial = known / f".{name}.{os.getpid()}"
    partial.write_text(str(size))
    partial.replace(known / name)  # whole or absent, however many images run at once


def _unpacked_size(tar: tarfile.TarFile, layer: dict[str, Any], known: Path | None) -> int:
    media_type = str(layer["mediaType"])
    if media_type.endswith("tar"):
        return int(layer["size"])
    counters = [count for suffix, count in _COUNTERS.items() if media_type.endswith(suffix)]
    if not counters:
        raise SystemExit(f"error: layer {layer['digest']}: {media_type} is not gzip, zstd or tar")
    digest = str(layer["digest"])
    found = _known(known, digest)
    if found is None:
        found = counters[0](_blob(tar, f"blobs/{digest.replace(':', '/')}"))
        _keep(known, digest, found)
    return found


def sizes(path: str, known: Path | None = None) -> dict[str, int]:
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
            "uncompressed": config + sum(_unpacked_size(tar, layer, known) for layer in layers),
        }


if __name__ == "__main__":
    print(json.dumps(sizes(sys.argv[1], Path(sys.argv[2]) if len(sys.argv) > 2 else None)))
