"""Make an OCI image layout tarball reproducible:
``python3 normalize_layout.py IN OUT EPOCH [PLATFORM,...]``.

Standard library only: it runs in the pipeline's tools container. Every layer is rewritten with
every member's mtime set to EPOCH (as apko does with SOURCE_DATE_EPOCH: clamping only newer
times would keep the times of a cached step that ran before the epoch, so a cached and a cold
build of the same content would differ) and gzip-compressed without a
timestamp; every image config gets ``created`` and ``history[].created`` = EPOCH; manifests and
indexes are rewritten with the new digests, their platform manifests in the order of the
PLATFORM list (``os/arch[/variant]``; others after them, sorted: Dagger's own order varies
from one export to the next); a Docker ``manifest.json``
in the source (Dagger writes one, and scanners such as trivy read an archive through it) is
rewritten to the new config and layer blobs; the layout tarball itself has sorted members with
fixed times and owners. The same image content gives the same bytes.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import sys
import tarfile
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

INDEX_TYPES = {
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
}
MANIFEST_TYPES = {
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
}
GZIP_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"


class Layout:
    """An unpacked OCI layout: blobs by digest, new blobs written beside."""

    def __init__(self, root: Path, platforms: list[str]) -> None:
        self.root = root
        self.platforms = platforms
        self.done: dict[str, dict[str, Any]] = {}  # old digest -> new descriptor
        self.renamed: dict[str, str] = {}  # old config or layer digest -> new digest

    def platform_rank(self, descriptor: dict[str, Any]) -> tuple[int, str]:
        """Where a manifest goes in its index: by the platform order asked for, then by name."""
        platform = descriptor.get("platform") or {}
        parts = [platform.get("os", ""), platform.get("architecture", ""), platform.get("variant")]
        name = "/".join(p for p in parts if p)
        rank = self.platforms.index(name) if name in self.platforms else len(self.platforms)
        return rank, name

    def blob(self, digest: str) -> Path:
        return self.root / "blobs" / digest.replace(":", "/", 1)

    def write(self, data: bytes) -> tuple[str, int]:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        path = self.blob(digest)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return digest, len(data)


def _json(data: Any) -> bytes:  # noqa: ANN401 - JSON documents
    return json.dumps(data, separators=(",", ":"), sort_keys=False).encode()


def _layer(layout: Layout, descriptor: dict[str, Any], epoch: int) -> tuple[dict[str, Any], str]:
    """The layer rewritten with every time at ``epoch``; returns its descriptor and diff_id."""
    raw = layout.blob(descriptor["digest"]).read_bytes()
    if descriptor["mediaType"].endswith("gzip"):
        raw = gzip.decompress(raw)
    out = io.BytesIO()
    with (
        tarfile.open(fileobj=io.BytesIO(raw), mode="r:") as source,
        tarfile.open(fileobj=out, mode="w:", format=tarfile.PAX_FORMAT) as target,
    ):
        for member in source:
            member.mtime = epoch
            member.pax_headers = {
                k: v for k, v in member.pax_headers.items() if k not in ("mtime", "atime", "ctime")
            }
            data = source.extractfile(member) if member.isfile() else None
            target.addfile(member, data)
    tar = out.getvalue()
    diff_id = "sha256:" + hashlib.sha256(tar).hexdigest()
    digest, size = layout.write(gzip.compress(tar, compresslevel=6, mtime=0))
    new = {**descriptor, "mediaType": GZIP_LAYER, "digest": digest, "size": size}
    new.pop("annotations", None)
    return new, diff_id


def _config(
    layout: Layout, descriptor: dict[str, Any], diff_ids: list[str], epoch: int
) -> dict[str, Any]:
    config = json.loads(layout.blob(descriptor["digest"]).read_bytes())
    created = datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    config["created"] = created
    for entry in config.get("history", []):
        entry["created"] = created
    config.setdefault("rootfs", {"type": "layers"})["diff_ids"] = diff_ids
    digest, size = layout.write(_json(config))
    return {**descriptor, "digest": digest, "size": size}


def _manifest(layout: Layout, descriptor: dict[str, Any], epoch: int) -> dict[str, Any]:
    manifest = json.loads(layout.blob(descriptor["digest"]).read_bytes())
    layers, diff_ids = [], []
    for layer in manifest["layers"]:
        new, diff_id = _layer(layout, layer, epoch)
        layout.renamed[layer["digest"]] = new["digest"]
        layers.append(new)
        diff_ids.append(diff_id)
    manifest["layers"] = layers
    config = _config(layout, manifest["config"], diff_ids, epoch)
    layout.renamed[manifest["config"]["digest"]] = config["digest"]
    manifest["config"] = config
    manifest.pop("annotations", None)
    digest, size = layout.write(_json(manifest))
    new = {**descriptor, "digest": digest, "size": size}
    new.pop("annotations", None)
    return new


def _descriptor(layout: Layout, descriptor: dict[str, Any], epoch: int) -> dict[str, Any]:
    old = descriptor["digest"]
    if old not in layout.done:
        if descriptor["mediaType"] in INDEX_TYPES:
            index = json.loads(layout.blob(old).read_bytes())
            manifests = [_descriptor(layout, d, epoch) for d in index["manifests"]]
            index["manifests"] = sorted(manifests, key=layout.platform_rank)
            index.pop("annotations", None)
            digest, size = layout.write(_json(index))
            layout.done[old] = {**descriptor, "digest": digest, "size": size}
        elif descriptor["mediaType"] in MANIFEST_TYPES:
            layout.done[old] = _manifest(layout, descriptor, epoch)
        else:
            layout.done[old] = descriptor
        layout.done[old].pop("annotations", None)
    return layout.done[old]


def normalize(source: Path, target: Path, epoch: int, platforms: list[str]) -> None:
    """Write the reproducible form of the layout tarball ``source`` to ``target``."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "in"
        with tarfile.open(source) as tar:
            tar.extractall(root)
        layout = Layout(root, platforms)
        index = json.loads((root / "index.json").read_text())
        index["manifests"] = [_descriptor(layout, d, epoch) for d in index["manifests"]]
        index.pop("annotations", None)
        keep = {"index.json", "oci-layout"} | {
            f"blobs/{d.replace(':', '/', 1)}" for d in _reachable(layout, index)
        }
        (root / "index.json").write_bytes(_json(index))
        if (root / "manifest.json").is_file():
            (root / "manifest.json").write_bytes(_json(_docker_manifest(layout, root)))
            keep.add("manifest.json")
        target.parent.mkdir(parents=True, exist_ok=True)
        with tarfile.open(target, "w:", format=tarfile.PAX_FORMAT) as out:
            for name in sorted(keep):
                data = (root / name).read_bytes()
                info = tarfile.TarInfo(name)
                info.size, info.mtime, info.mode = len(data), epoch, 0o644
                out.addfile(info, io.BytesIO(data))


def _docker_manifest(layout: Layout, root: Path) -> list[dict[str, Any]]:
    """The Docker archive entries of ``root/manifest.json`` pointed at the rewritten blobs."""

    def renamed(path: str) -> str:
        old = path.removeprefix("blobs/").replace("/", ":", 1)
        return "blobs/" + layout.renamed[old].replace(":", "/", 1)

    entries: list[dict[str, Any]] = json.loads((root / "manifest.json").read_text())
    return [
        {
            **{k: v for k, v in entry.items() if k != "LayerSources"},
            "Config": renamed(entry["Config"]),
            "Layers": [renamed(layer) for layer in entry["Layers"]],
        }
        for entry in entries
    ]


def _reachable(layout: Layout, document: dict[str, Any]) -> set[str]:
    found: set[str] = set()
    for descriptor in [*document.get("manifests", []), *document.get("layers", [])]:
        found.add(descriptor["digest"])
        if descriptor["mediaType"] in INDEX_TYPES | MANIFEST_TYPES:
            found |= _reachable(layout, json.loads(layout.blob(descriptor["digest"]).read_bytes()))
    if "config" in document:
        found.add(document["config"]["digest"])
    return found


if __name__ == "__main__":
    order = [p for p in (sys.argv[4] if len(sys.argv) > 4 else "").split(",") if p]
    normalize(Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]), order)
