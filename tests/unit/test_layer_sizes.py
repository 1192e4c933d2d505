"""Sizes read from an OCI tarball's manifest (pipelines/oci/layer_sizes.py), on tarballs made
here: gzip layers (one made of two gzip members), zstd layers, an uncompressed layer, an index
that points to the manifest, and the errors."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import subprocess
import tarfile
from pathlib import Path

import pytest

from pipelines.oci.layer_sizes import sizes

GZIP_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
ZSTD_LAYER = "application/vnd.oci.image.layer.v1.tar+zstd"


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def _descriptor(tar: tarfile.TarFile, media_type: str, data: bytes) -> dict[str, object]:
    digest = hashlib.sha256(data).hexdigest()
    _add(tar, f"blobs/sha256/{digest}", data)
    return {"mediaType": media_type, "digest": f"sha256:{digest}", "size": len(data)}


def _image(path: Path, layers: list[tuple[str, bytes]], manifests: int = 1) -> None:
    with tarfile.open(path, "w") as tar:
        config = _descriptor(tar, "application/vnd.oci.image.config.v1+json", b'{"os":"linux"}')
        found = []
        for _ in range(manifests):
            manifest = {
                "schemaVersion": 2,
                "config": config,
                "layers": [_descriptor(tar, t, d) for t, d in layers],
            }
            found.append(
                _descriptor(
                    tar,
                    "application/vnd.oci.image.manifest.v1+json",
                    json.dumps(manifest).encode(),
                )
            )
        nested = {"schemaVersion": 2, "manifests": found}
        pointer = _descriptor(
            tar, "application/vnd.oci.image.index.v1+json", json.dumps(nested).encode()
        )
        _add(tar, "index.json", json.dumps({"schemaVersion": 2, "manifests": [pointer]}).encode())


def test_sizes_from_descriptors_and_gzip_streams(tmp_path: Path) -> None:
    first, second = b"a" * 300_000, bytes(range(256)) * 1000
    two_members = gzip.compress(first) + gzip.compress(second)
    plain = b"p" * 10_240
    _image(
        tmp_path / "image.tar",
        [
            (GZIP_LAYER, gzip.compress(first)),
            (GZIP_LAYER, two_members),
            ("application/vnd.oci.image.layer.v1.tar", plain),
        ],
    )
    config = len(b'{"os":"linux"}')
    got = sizes(str(tmp_path / "image.tar"))
    compressed = config + len(gzip.compress(first)) + len(two_members) + len(plain)
    assert got == {
        "compressed": compressed,
        "uncompressed": config + len(first) + len(first) + len(second) + len(plain),
    }


def test_more_than_one_image_is_refused(tmp_path: Path) -> None:
    _image(tmp_path / "two.tar", [(GZIP_LAYER, gzip.compress(b"x"))], manifests=2)
    with pytest.raises(SystemExit, match="2 image manifests, expected one"):
        sizes(str(tmp_path / "two.tar"))


def _zstd(data: bytes) -> bytes:
    return subprocess.run(["zstd", "-q", "-c"], input=data, capture_output=True, check=True).stdout


def test_zstd_layers_are_counted_through_zstd(tmp_path: Path) -> None:
    first, second = bytes(range(256)) * 5000, b"z" * 3_000_000  # larger than the pipes
    _image(tmp_path / "image.tar", [(ZSTD_LAYER, _zstd(first)), (ZSTD_LAYER, _zstd(second))])
    config = len(b'{"os":"linux"}')
    known = tmp_path / "known"
    known.mkdir()
    got = sizes(str(tmp_path / "image.tar"), known)
    assert got == {
        "compressed": config + len(_zstd(first)) + len(_zstd(second)),
        "uncompressed": config + len(first) + len(second),
    }
    assert sorted(int(p.read_text()) for p in known.iterdir()) == [len(first), len(second)]


def test_a_damaged_zstd_layer_is_an_error(tmp_path: Path) -> None:
    _image(tmp_path / "bad.tar", [(ZSTD_LAYER, _zstd(b"x" * 1000)[:-4])])
    with pytest.raises(SystemExit, match="zstd -dc failed"):
        sizes(str(tmp_path / "bad.tar"))


@pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_layer_that_is_not_zstd_at_all_is_an_error(tmp_path: Path) -> None:
    # zstd gives up at the first bytes, long before the layer (larger than the pipe) is fed
    _image(tmp_path / "junk.tar", [(ZSTD_LAYER, b"not zstd" * 500_000)])
    with pytest.raises(SystemExit, match="zstd -dc failed"):
        sizes(str(tmp_path / "junk.tar"))


def test_an_unknown_compression_is_refused(tmp_path: Path) -> None:
    _image(tmp_path / "bz.tar", [("application/vnd.oci.image.layer.v1.tar+bzip2", b"z")])
    with pytest.raises(SystemExit, match=r"tar\+bzip2 is not gzip, zstd or tar"):
        sizes(str(tmp_path / "bz.tar"))


def test_each_layers_count_is_kept_by_digest_and_read_back(tmp_path: Path) -> None:
    first, second = b"a" * 300_000, b"b" * 70_000
    _image(
        tmp_path / "image.tar",
        [(GZIP_LAYER, gzip.compress(first)), (GZIP_LAYER, gzip.compress(second))],
    )
    known = tmp_path / "known"
    known.mkdir()
    config = len(b'{"os":"linux"}')
    assert sizes(str(tmp_path / "image.tar"), known)["uncompressed"] == config + 370_000
    names = sorted(p.name for p in known.iterdir())
    digest = hashlib.sha256(gzip.compress(first)).hexdigest()
    assert f"sha256-{digest}" in names and len(names) == 2  # no partial files left
    assert (known / f"sha256-{digest}").read_text() == "300000"
    # a kept count is read, not streamed again (a planted one shows it); a damaged one is
    # counted again
    (known / f"sha256-{digest}").write_text("5")
    assert sizes(str(tmp_path / "image.tar"), known)["uncompressed"] == config + 5 + 70_000
    (known / f"sha256-{digest}").write_text("not a number")
    assert sizes(str(tmp_path / "image.tar"), known)["uncompressed"] == config + 370_000
