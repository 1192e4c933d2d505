"""Image indexes the release writes itself: fixed platform order, the same bytes every time."""

from __future__ import annotations

import hashlib
import json

import pytest

from pipelines.release.oci_index import (
    INDEX_REF_NAME,
    OCI_INDEX,
    OCI_MANIFEST,
    PlatformManifest,
    StagingFailed,
    digest_of,
    image_index,
    layout_index,
    platform_manifest,
)

AMD, ARM = "sha256:" + "a" * 64, "sha256:" + "b" * 64


def tarball_index(digest: str, arch: str, created: str = "2026-11-26T19:33:15Z") -> str:
    """``index.json`` of a one-platform tarball as the engine writes it (export time included)."""
    entry = {
        "mediaType": OCI_MANIFEST,
        "digest": digest,
        "size": 668,
        "annotations": {"org.opencontainers.image.created": created},
        "platform": {"architecture": arch, "os": "linux"},
    }
    return json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [entry]})


def test_the_index_lists_platforms_in_the_order_given_and_nothing_else() -> None:
    amd = platform_manifest("linux/amd64", tarball_index(AMD, "amd64"))
    arm = platform_manifest("linux/arm64", tarball_index(ARM, "arm64", "2030-01-01T00:00:00Z"))
    index = image_index([amd, arm])
    assert index == (
        '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":['
        f'{{"mediaType":"{OCI_MANIFEST}","digest":"{AMD}","size":668,'
        '"platform":{"architecture":"amd64","os":"linux"}},'
        f'{{"mediaType":"{OCI_MANIFEST}","digest":"{ARM}","size":668,'
        '"platform":{"architecture":"arm64","os":"linux"}}]}'
    )
    assert digest_of(index) == "sha256:" + hashlib.sha256(index.encode()).hexdigest()
    # export times do not count: the same manifests give the same index
    again = platform_manifest("linux/amd64", tarball_index(AMD, "amd64", "2031-05-05T00:00:00Z"))
    assert image_index([again, arm]) == index
    assert image_index([arm, amd]) != index


def test_platform_variants_are_kept() -> None:
    manifest = PlatformManifest("linux/arm/v7", OCI_MANIFEST, AMD, 10)
    assert manifest.descriptor()["platform"] == {
        "architecture": "arm",
        "os": "linux",
        "variant": "v7",
    }
    assert manifest.ref_name == "linux-arm-v7"


def test_the_layout_names_every_manifest_and_the_index() -> None:
    amd = PlatformManifest("linux/amd64", OCI_MANIFEST, AMD, 1)
    arm = PlatformManifest("linux/arm64", OCI_MANIFEST, ARM, 2)
    index = image_index([amd, arm])
    layout = json.loads(layout_index([amd, arm], index))
    names = {m["annotations"]["org.opencontainers.image.ref.name"]: m for m in layout["manifests"]}
    assert list(names) == ["linux-amd64", "linux-arm64", INDEX_REF_NAME]
    assert names["index"]["digest"] == digest_of(index)
    assert names["index"]["size"] == len(index)
    assert names["linux-arm64"]["digest"] == ARM


def test_a_tarball_of_another_platform_is_refused() -> None:
    with pytest.raises(StagingFailed, match="the image built for linux/arm64 is a linux/amd64"):
        platform_manifest("linux/arm64", tarball_index(AMD, "amd64"))


def test_a_tarball_with_two_manifests_is_refused() -> None:
    doc = json.loads(tarball_index(AMD, "amd64"))
    doc["manifests"] *= 2
    with pytest.raises(StagingFailed, match="does not list exactly one manifest"):
        platform_manifest("linux/amd64", json.dumps(doc))


def test_an_index_names_each_platform_once() -> None:
    amd = PlatformManifest("linux/amd64", OCI_MANIFEST, AMD, 1)
    with pytest.raises(StagingFailed, match="a platform appears twice"):
        image_index([amd, amd])
    with pytest.raises(StagingFailed, match="at least one"):
        image_index([])


def test_only_oci_manifests_are_staged() -> None:
    docker = tarball_index(AMD, "amd64").replace(
        OCI_MANIFEST, "application/vnd.docker.distribution.manifest.v2+json"
    )
    with pytest.raises(StagingFailed, match=r"not application/vnd\.oci\.image\.manifest\.v1"):
        platform_manifest("linux/amd64", docker)
