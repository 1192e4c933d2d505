#!/usr/bin/env python3
"""Seed the local registry with Debian base images built from Debian packages.

Each release is bootstrapped with mmdebstrap (minbase, trimmed like the official ``-slim``
images) once per architecture, packed into a one-layer OCI image with fixed timestamps, and
pushed as one multi-arch index under every tag of the release with ``skopeo copy --all``.
Root filesystems are cached, so a warm run only checks the registry.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from oci_layout import registry_has, write_blob

DEBIAN_MIRROR = "http://deb.debian.org/debian"
ARCHES = ("amd64", "arm64")
# Files the official -slim images leave out.
SLIM_EXCLUDES = (
    "/usr/share/doc/*",
    "/usr/share/man/*",
    "/usr/share/info/*",
    "/usr/share/locale/*",
    "/usr/share/groff/*",
    "/usr/share/lintian/*",
    "/usr/share/linda/*",
)
SLIM_KEEPS = ("/usr/share/doc/*/copyright",)
EPOCH = 0


@dataclass(frozen=True)
class BaseImage:
    """A Debian release and the tags it is published under (in library/debian)."""

    release: str
    tags: tuple[str, ...]
    merged_usr: bool  # bookworm and later; older releases keep /bin, /lib apart


IMAGES = (
    BaseImage("bookworm", ("12-slim", "bookworm-slim", "12", "bookworm"), merged_usr=True),
    # buster is not on this machine's mirror: bullseye stands in for the legacy release.
    BaseImage("bullseye", ("11-slim", "bullseye-slim", "11", "bullseye"), merged_usr=False),
)


def log(msg: str) -> None:
    print(f"[seed] {time.strftime('%H:%M:%S')} {msg}", file=sys.stderr, flush=True)


def bootstrap(image: BaseImage, arch: str, cache: Path) -> Path:
    """Return a cached rootfs tarball of ``image`` for ``arch``, building it if needed."""
    release = image.release
    out = cache / f"debian-{release}-{arch}.tar"
    if out.exists():
        return out
    cache.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp.tar")
    cmd = [
        "mmdebstrap",
        "--quiet",
        "--variant=minbase",
        f"--architectures={arch}",
        # merged /usr without the usrmerge package (which drags perl in), like the official images
        *(["--hook-dir=/usr/share/mmdebstrap/hooks/merged-usr"] if image.merged_usr else []),
        *(f"--dpkgopt=path-exclude={p}" for p in SLIM_EXCLUDES),
        *(f"--dpkgopt=path-include={p}" for p in SLIM_KEEPS),
        "--customize-hook=rm -rf $1/var/lib/apt/lists/* $1/var/cache/apt/*.bin",
        release,
        str(tmp),
        DEBIAN_MIRROR,
    ]
    t0 = time.monotonic()
    env = {"SOURCE_DATE_EPOCH": str(EPOCH), "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(
            f"mmdebstrap {release}/{arch} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        )
    tmp.rename(out)
    size_mib = out.stat().st_size >> 20
    log(f"bootstrapped {release}/{arch} in {time.monotonic() - t0:.0f} s ({size_mib} MiB)")
    return out


def add_platform_image(layout: Path, rootfs: Path, arch: str) -> dict[str, object]:
    """Write one single-layer image for ``arch`` into the OCI layout; return its descriptor."""
    raw = rootfs.read_bytes()
    layer = write_blob(layout, gzip.compress(raw, compresslevel=6, mtime=EPOCH))
    config = {
        "architecture": arch,
        "os": "linux",
        "created": "1970-01-01T00:00:00Z",
        "config": {
            "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
            "Cmd": ["bash"],
        },
        "rootfs": {"type": "layers", "diff_ids": [f"sha256:{hashlib.sha256(raw).hexdigest()}"]},
        "history": [
            {
                "created": "1970-01-01T00:00:00Z",
                "created_by": "mmdebstrap (scripts/seed_base_images.py)",
            }
        ],
    }
    if arch == "arm64":
        config["variant"] = "v8"
    cfg = write_blob(layout, json.dumps(config, sort_keys=True).encode())
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **cfg},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", **layer}],
    }
    desc = write_blob(layout, json.dumps(manifest, sort_keys=True).encode())
    platform: dict[str, str] = {"architecture": arch, "os": "linux"}
    if arch == "arm64":
        platform["variant"] = "v8"
    return {"mediaType": "application/vnd.oci.image.manifest.v1+json", **desc, "platform": platform}


def seed(image: BaseImage, registry: str, cache: Path) -> None:
    repo = "library/debian"
    if all(registry_has(registry, repo, t) for t in image.tags):
        log(f"debian:{image.release} already in {registry}")
        return
    with tempfile.TemporaryDirectory() as tmp:
        layout = Path(tmp) / "layout"
        layout.mkdir()
        manifests = [add_platform_image(layout, bootstrap(image, a, cache), a) for a in ARCHES]
        index = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": manifests,
        }
        idx = write_blob(layout, json.dumps(index, sort_keys=True).encode())
        (layout / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}))
        top = {
            "schemaVersion": 2,
            "manifests": [
                {
                    "mediaType": "application/vnd.oci.image.index.v1+json",
                    **idx,
                    "annotations": {"org.opencontainers.image.ref.name": image.release},
                }
            ],
        }
        (layout / "index.json").write_text(json.dumps(top))
        for tag in image.tags:
            subprocess.run(
                [
                    "skopeo",
                    "copy",
                    "--quiet",
                    "--all",
                    "--preserve-digests",
                    "--dest-tls-verify=false",
                    f"oci:{layout}:{image.release}",
                    f"docker://{registry}/{repo}:{tag}",
                ],
                check=True,
            )
        log(f"pushed debian:{{{','.join(image.tags)}}} = {idx['digest']} to {registry}")
    shutil.rmtree(cache / "tmp", ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--registry", required=True, help="host:port of the local registry")
    parser.add_argument(
        "--cache", type=Path, required=True, help="directory for cached root filesystems"
    )
    args = parser.parse_args()
    for image in IMAGES:
        seed(image, args.registry, args.cache)


if __name__ == "__main__":
    main()
