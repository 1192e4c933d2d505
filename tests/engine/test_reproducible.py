"""Reproducible image tarballs: the same content built at two times gives the same bytes."""

from __future__ import annotations

import hashlib
import json
import tarfile
from pathlib import Path

import dagger
import pytest
from dagger import dag

from pipelines.oci.reproducible import reproducible_tarball
from tests.engine.family import TOOLS_IMAGE

pytestmark = [pytest.mark.engine, pytest.mark.usefixtures("engine")]

EPOCH = 1_764_115_200  # 2025-11-26T00:00:00Z


def built_at(run: str, platform: str) -> dagger.Container:
    """An image whose one build step makes a file: each ``run`` executes it anew (another
    time in the layer and in the config), with the same content."""
    return (
        dag.container(platform=dagger.Platform(platform))
        .from_("debian:12-slim")
        .with_env_variable("RUN", run)
        .with_exec(["sh", "-c", "echo same > /made && mkdir -p /var/made"])
        .without_env_variable("RUN")
        .with_label("org.opencontainers.image.title", "same")
    )


async def export(file: dagger.File, path: Path) -> str:
    await file.export(str(path))
    return hashlib.sha256(path.read_bytes()).hexdigest()


async def test_two_builds_give_identical_layouts(tmp_path: Path) -> None:
    platforms = ("linux/amd64", "linux/arm64")
    first = [built_at("1", p) for p in platforms]
    second = [built_at("2", p) for p in platforms]
    # as Dagger writes them, the two builds differ (created times, file times)...
    raw = [
        await export(images[0].as_tarball(platform_variants=images[1:]), tmp_path / f"raw{n}.tar")
        for n, images in enumerate((first, second))
    ]
    assert raw[0] != raw[1]
    # ...reproducible, they are the same bytes: index, manifests, configs, layers
    fixed = [
        await export(
            reproducible_tarball(images, EPOCH, TOOLS_IMAGE, platforms), tmp_path / f"r{n}.tar"
        )
        for n, images in enumerate((first, second))
    ]
    assert fixed[0] == fixed[1]

    with tarfile.open(tmp_path / "r0.tar") as tar:
        index = json.loads(tar.extractfile("index.json").read())  # type: ignore[union-attr]
        [top] = index["manifests"]
        blob = f"blobs/{top['digest'].replace(':', '/')}"
        platform_index = json.loads(tar.extractfile(blob).read())  # type: ignore[union-attr]
        archs = [m["platform"]["architecture"] for m in platform_index["manifests"]]
        assert archs == ["amd64", "arm64"]  # the order asked for
        manifest_blob = platform_index["manifests"][0]["digest"].replace(":", "/")
        manifest = json.loads(tar.extractfile(f"blobs/{manifest_blob}").read())  # type: ignore[union-attr]
        config_blob = manifest["config"]["digest"].replace(":", "/")
        config = json.loads(tar.extractfile(f"blobs/{config_blob}").read())  # type: ignore[union-attr]
    assert config["created"] == "2025-11-26T00:00:00Z"
    assert {h["created"] for h in config.get("history", [])} <= {"2025-11-26T00:00:00Z"}
    assert config["config"]["Labels"]["org.opencontainers.image.title"] == "same"

    # the index follows the order asked for, not Dagger's (which varies between exports)
    flipped = reproducible_tarball(first, EPOCH, TOOLS_IMAGE, platforms[::-1])
    await export(flipped, tmp_path / "flipped.tar")
    with tarfile.open(tmp_path / "flipped.tar") as tar:
        index = json.loads(tar.extractfile("index.json").read())  # type: ignore[union-attr]
        blob = f"blobs/{index['manifests'][0]['digest'].replace(':', '/')}"
        flipped_index = json.loads(tar.extractfile(blob).read())  # type: ignore[union-attr]
    assert [m["platform"]["architecture"] for m in flipped_index["manifests"]] == archs[::-1]

    # the image still runs, and its files kept their content
    imported = dag.container().import_(dag.host().file(str(tmp_path / "r0.tar")))
    assert await imported.with_exec(["cat", "/made"]).stdout() == "same\n"


async def test_single_platform_tarball_stays_a_docker_archive(tmp_path: Path) -> None:
    """Scanners (trivy) read a platform image's tarball through Docker's ``manifest.json``:
    the reproducible form keeps it, pointed at the rewritten config and layers."""
    images = [built_at("3", "linux/amd64")]
    digest = await export(reproducible_tarball(images, EPOCH, TOOLS_IMAGE), tmp_path / "one.tar")
    again = [built_at("4", "linux/amd64")]
    second = reproducible_tarball(again, EPOCH, TOOLS_IMAGE)
    assert await export(second, tmp_path / "two.tar") == digest
    with tarfile.open(tmp_path / "one.tar") as tar:
        names = set(tar.getnames())
        [entry] = json.loads(tar.extractfile("manifest.json").read())  # type: ignore[union-attr]
        config = json.loads(tar.extractfile(entry["Config"]).read())  # type: ignore[union-attr]
    assert {entry["Config"], *entry["Layers"]} <= names
    assert config["created"] == "2025-11-26T00:00:00Z"
    assert len(entry["Layers"]) == len(config["rootfs"]["diff_ids"])
