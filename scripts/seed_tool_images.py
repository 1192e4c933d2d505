#!/usr/bin/env python3
"""Seed the local registry with the release tools (cosign, syft, trivy) and a test vulnerability DB.

Each tool is built from the Go module proxy with ``go install <module>/cmd/<tool>@<pinned version>``
(static, ``-trimpath``), cached by version and recipe under ``--cache``, and pushed as
``<registry>/tools/<tool>:<version>``: ``debian:12-slim`` from the same registry plus one layer
holding ``/usr/local/bin/<tool>``, whose entrypoint is the tool (like the upstream images).

The script also builds the Trivy vulnerability DB fixture (``tests/fixtures/vulndb``: made-up
advisories for Debian 12 packages) and pushes it the way Trivy's DB is published, as a one-layer
OCI artifact ``<registry>/tools/trivy-db-fixture:2``, usable with ``trivy --db-repository``.

Everything is written with fixed timestamps, so the images are reproducible from the same
binaries. A warm run only asks the registry whether the tags are there (well under a second).
Go's module and build caches are Go's own (``go env GOMODCACHE GOCACHE``), so they survive
between runs too. Cold builds on 2 cores (modules downloaded and compiled, after the dagger
build has warmed the shared ones) took about 3 min for cosign, 2 min for syft, 5 min for trivy.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from oci_layout import OCI_INDEX, OCI_MANIFEST, registry_has, write_blob

PROJECT = Path(__file__).resolve().parent.parent
BASE_IMAGE = "library/debian:12-slim"
EPOCH_ISO = "1970-01-01T00:00:00Z"
# Bump when the build or the image layout below changes: cached binaries and pushed tags are
# then rebuilt (the recipe is part of the cache key and of the image labels).
RECIPE = 1

OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
TRIVY_DB_CONFIG = "application/vnd.aquasec.trivy.config.v1+json"
TRIVY_DB_LAYER = "application/vnd.aquasec.trivy.db.layer.v1.tar+gzip"
TRIVY_DB_SCHEMA = 2
RECIPE_LABEL = "org.image-family.seed.recipe"


@dataclass(frozen=True)
class GoTool:
    """A command built with ``go install`` from a module served by the Go module proxy."""

    name: str
    module: str
    version: str
    ldflags: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)

    @property
    def package(self) -> str:
        return f"{self.module}/cmd/{self.name}"

    @property
    def recipe(self) -> str:
        """What the binary depends on besides the version: a change rebuilds it."""
        env = " ".join(f"{k}={v}" for k, v in sorted(self.env.items()))
        return f"recipe {RECIPE}; ldflags -s -w {' '.join(self.ldflags)}; env {env}".strip()


TOOLS = (
    # v3 defaults to Sigstore's signing config and new bundle format fetched from TUF: v2 signs
    # and verifies with a key fully offline, storing signatures under the .sig/.att tags.
    GoTool("cosign", "github.com/sigstore/cosign/v2", "v2.6.5"),
    GoTool("syft", "github.com/anchore/syft", "v1.57.1", ldflags=("-X main.version=1.57.1",)),
    GoTool(
        "trivy",
        "github.com/aquasecurity/trivy",
        "v0.74.0",
        ldflags=("-X github.com/aquasecurity/trivy/pkg/version/app.ver=0.74.0",),
        # trivy 0.74 imports encoding/json/v2, which Go 1.25/1.26 only build with this experiment
        env={"GOEXPERIMENT": "jsonv2"},
    ),
)
VULNDB_FIXTURE = PROJECT / "tests" / "fixtures" / "vulndb"
VULNDB_REPO = "tools/trivy-db-fixture"


def log(msg: str) -> None:
    print(f"[seed-tools] {time.strftime('%H:%M:%S')} {msg}", file=sys.stderr, flush=True)


def registry_json(registry: str, repo: str, what: str, accept: str) -> dict[str, object] | None:
    req = urllib.request.Request(f"http://{registry}/v2/{repo}/{what}", headers={"Accept": accept})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            doc: dict[str, object] = json.load(resp)
            return doc
    except urllib.error.HTTPError:
        return None


def pushed_recipe(registry: str, repo: str, tag: str) -> str | None:
    """The recipe label of the tool image ``repo:tag`` in the registry (None: not there)."""
    index = registry_json(registry, repo, f"manifests/{tag}", OCI_INDEX)
    manifests = index.get("manifests") if index else None
    if not isinstance(manifests, list) or not manifests:
        return None
    manifest = registry_json(registry, repo, f"manifests/{manifests[0]['digest']}", OCI_MANIFEST)
    config_desc = manifest.get("config") if manifest else None
    if not isinstance(config_desc, dict):
        return None
    config = registry_json(registry, repo, f"blobs/{config_desc['digest']}", "*/*")
    image_config = (config or {}).get("config")
    labels = image_config.get("Labels") if isinstance(image_config, dict) else None
    recipe = labels.get(RECIPE_LABEL) if isinstance(labels, dict) else None
    return recipe if isinstance(recipe, str) else None


def go_env(name: str) -> str:
    return subprocess.run(
        ["go", "env", name], check=True, capture_output=True, text=True
    ).stdout.strip()


def build_tool(tool: GoTool, arch: str, cache: Path) -> Path:
    """Return the cached static binary of ``tool`` for linux/``arch``, building it if needed."""
    out_dir = cache / "bin" / f"{tool.name}-{tool.version}-linux-{arch}"
    binary = out_dir / tool.name
    stamp = out_dir / ".recipe"
    if binary.is_file() and stamp.is_file() and stamp.read_text() == tool.recipe:
        return binary
    if shutil.which("go") is None:
        sys.exit(
            "go is required to build the release tools (scripts/dev-engine builds with it too)"
        )
    # GOBIN cannot be set when cross-compiling: install into a scratch GOPATH instead, keeping
    # Go's own module and build caches so they are shared with every other build on the machine.
    caches = {"GOMODCACHE": go_env("GOMODCACHE"), "GOCACHE": go_env("GOCACHE")}
    with tempfile.TemporaryDirectory(prefix=f"go-{tool.name}-") as gopath:
        env = {
            **os.environ,
            **caches,
            **tool.env,
            "GOPATH": gopath,
            "GOOS": "linux",
            "GOARCH": arch,
            "CGO_ENABLED": "0",
            "GOFLAGS": "-trimpath",
        }
        env.pop("GOBIN", None)
        cmd = ["go", "install", "-ldflags", " ".join(("-s", "-w", *tool.ldflags))]
        cmd.append(f"{tool.package}@{tool.version}")
        log(f"building {tool.package}@{tool.version} for linux/{arch} ({' '.join(cmd)})")
        t0 = time.monotonic()
        done = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            sys.exit(f"go install {tool.package}@{tool.version} failed:\n{done.stderr[-4000:]}")
        native = go_env("GOHOSTARCH") == arch
        built = Path(gopath) / "bin" / ("" if native else f"linux_{arch}") / tool.name
        out_dir.mkdir(parents=True, exist_ok=True)
        shutil.move(built, binary)
    stamp.write_text(tool.recipe)
    mib = binary.stat().st_size >> 20
    took = time.monotonic() - t0
    log(f"built {tool.name} {tool.version} linux/{arch} in {took:.0f} s ({mib} MiB)")
    return binary


def read_blob(layout: Path, digest: str) -> bytes:
    return (layout / "blobs" / "sha256" / digest.removeprefix("sha256:")).read_bytes()


def write_layout_index(layout: Path, descriptor: dict[str, object], ref_name: str) -> None:
    (layout / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}))
    top = {
        "schemaVersion": 2,
        "manifests": [
            {**descriptor, "annotations": {"org.opencontainers.image.ref.name": ref_name}}
        ],
    }
    (layout / "index.json").write_text(json.dumps(top))


def single_file_tar_gz(files: dict[str, tuple[bytes, int]]) -> tuple[bytes, bytes]:
    """A reproducible tar of ``{path: (contents, mode)}`` and its gzip: (tar, tar.gz)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path, (data, mode) in sorted(files.items()):
            info = tarfile.TarInfo(path)
            info.size, info.mode, info.mtime = len(data), mode, 0
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            tar.addfile(info, io.BytesIO(data))
    raw = buf.getvalue()
    return raw, gzip.compress(raw, compresslevel=6, mtime=0)


def pull_base(registry: str, arch: str, layout: Path) -> dict[str, object]:
    """Copy the ``arch`` image of debian:12-slim into ``layout``; return its manifest."""
    subprocess.run(
        [
            "skopeo",
            "copy",
            "--quiet",
            "--preserve-digests",
            "--src-tls-verify=false",
            "--override-os=linux",
            f"--override-arch={arch}",
            f"docker://{registry}/{BASE_IMAGE}",
            f"oci:{layout}:base-{arch}",
        ],
        check=True,
    )
    index = json.loads((layout / "index.json").read_text())
    desc = next(
        m
        for m in index["manifests"]
        if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == f"base-{arch}"
    )
    manifest: dict[str, object] = json.loads(read_blob(layout, str(desc["digest"])))
    return manifest


def add_tool_image(
    layout: Path, registry: str, tool: GoTool, arch: str, binary: Path
) -> dict[str, object]:
    """Write debian:12-slim + ``binary`` for ``arch`` into ``layout``; return its descriptor."""
    base = pull_base(registry, arch, layout)
    base_config_desc = base["config"]
    assert isinstance(base_config_desc, dict)
    config = json.loads(read_blob(layout, str(base_config_desc["digest"])))
    raw, compressed = single_file_tar_gz(
        {f"usr/local/bin/{tool.name}": (binary.read_bytes(), 0o755)}
    )
    layer = write_blob(layout, compressed)
    config["config"] = {
        **config.get("config", {}),
        "Entrypoint": [f"/usr/local/bin/{tool.name}"],
        "Cmd": None,
        "Labels": {
            "org.opencontainers.image.title": tool.name,
            "org.opencontainers.image.version": tool.version,
            "org.opencontainers.image.source": f"https://{tool.module.removesuffix('/v2')}",
            "org.opencontainers.image.description": (
                f"go install {tool.package}@{tool.version} on debian:12-slim "
                "(scripts/seed_tool_images.py)"
            ),
            RECIPE_LABEL: tool.recipe,
        },
    }
    config["rootfs"]["diff_ids"].append(f"sha256:{hashlib.sha256(raw).hexdigest()}")
    config["history"] = [
        *config.get("history", []),
        {"created": EPOCH_ISO, "created_by": f"go install {tool.package}@{tool.version}"},
    ]
    config["created"] = EPOCH_ISO
    cfg = write_blob(layout, json.dumps(config, sort_keys=True).encode())
    layers = base["layers"]
    assert isinstance(layers, list)
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, **cfg},
        "layers": [*layers, {"mediaType": OCI_LAYER, **layer}],
    }
    desc = write_blob(layout, json.dumps(manifest, sort_keys=True).encode())
    platform = {
        "architecture": arch,
        "os": "linux",
        **({"variant": "v8"} if arch == "arm64" else {}),
    }
    return {"mediaType": OCI_MANIFEST, **desc, "platform": platform}


def push(layout: Path, ref_name: str, dest: str, *, all_images: bool) -> None:
    subprocess.run(
        [
            "skopeo",
            "copy",
            "--quiet",
            "--preserve-digests",
            *(["--all"] if all_images else []),
            "--dest-tls-verify=false",
            f"oci:{layout}:{ref_name}",
            f"docker://{dest}",
        ],
        check=True,
    )


def seed_tool(tool: GoTool, registry: str, cache: Path, arches: tuple[str, ...]) -> None:
    repo, tag = f"tools/{tool.name}", tool.version
    if pushed_recipe(registry, repo, tag) == tool.recipe:
        log(f"{repo}:{tag} already in {registry}")
        return
    binaries = {arch: build_tool(tool, arch, cache) for arch in arches}
    with tempfile.TemporaryDirectory(prefix=f"seed-{tool.name}-") as tmp:
        layout = Path(tmp)
        manifests = [add_tool_image(layout, registry, tool, a, b) for a, b in binaries.items()]
        index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests}
        idx = write_blob(layout, json.dumps(index, sort_keys=True).encode())
        write_layout_index(layout, {"mediaType": OCI_INDEX, **idx}, tool.name)
        push(layout, tool.name, f"{registry}/{repo}:{tag}", all_images=True)
    log(f"pushed {registry}/{repo}:{tag} = {idx['digest']} ({', '.join(arches)})")


def fixture_digest() -> str:
    """Hash of the fixture generator's sources: the cache key of the DB it writes."""
    h = hashlib.sha256()
    for name in ("go.mod", "go.sum", "main.go"):
        h.update(name.encode() + b"\0" + (VULNDB_FIXTURE / name).read_bytes() + b"\0")
    return h.hexdigest()[:16]


def build_vulndb(cache: Path) -> Path:
    """Return a cached directory with the fixture's trivy.db and metadata.json."""
    out = cache / "trivy-db-fixture" / fixture_digest()
    if (out / "trivy.db").is_file() and (out / "metadata.json").is_file():
        return out
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    env = {**os.environ, "CGO_ENABLED": "0", "GOFLAGS": "-trimpath -mod=readonly"}
    done = subprocess.run(
        ["go", "run", ".", "-out", str(tmp)],
        cwd=VULNDB_FIXTURE,
        env=env,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        sys.exit(f"building the vulnerability DB fixture failed:\n{done.stderr[-4000:]}")
    tmp.rename(out)
    log(f"vulnerability DB fixture: {done.stdout.strip()}")
    return out


def seed_vulndb(registry: str, cache: Path) -> None:
    """Push the fixture DB as Trivy publishes its DB: one ``db.tar.gz`` layer of an artifact."""
    tag = f"{TRIVY_DB_SCHEMA}-{fixture_digest()}"
    if registry_has(registry, VULNDB_REPO, tag) and registry_has(
        registry, VULNDB_REPO, str(TRIVY_DB_SCHEMA)
    ):
        log(f"{VULNDB_REPO}:{TRIVY_DB_SCHEMA} already in {registry}")
        return
    db_dir = build_vulndb(cache)
    files = {name: ((db_dir / name).read_bytes(), 0o644) for name in ("trivy.db", "metadata.json")}
    _, compressed = single_file_tar_gz(files)
    with tempfile.TemporaryDirectory(prefix="seed-trivy-db-") as tmp:
        layout = Path(tmp)
        cfg = write_blob(layout, b"{}")
        layer = write_blob(layout, compressed)
        manifest = {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": TRIVY_DB_CONFIG, **cfg},
            "layers": [
                {
                    "mediaType": TRIVY_DB_LAYER,
                    **layer,
                    "annotations": {"org.opencontainers.image.title": "db.tar.gz"},
                }
            ],
            "annotations": {"org.opencontainers.image.created": EPOCH_ISO},
        }
        desc = write_blob(layout, json.dumps(manifest, sort_keys=True).encode())
        write_layout_index(layout, {"mediaType": OCI_MANIFEST, **desc}, "db")
        for t in (str(TRIVY_DB_SCHEMA), tag):
            push(layout, "db", f"{registry}/{VULNDB_REPO}:{t}", all_images=False)
    log(f"pushed {registry}/{VULNDB_REPO}:{TRIVY_DB_SCHEMA} = {desc['digest']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--registry", required=True, help="host:port of the local registry")
    parser.add_argument("--cache", type=Path, required=True, help="directory for built binaries")
    parser.add_argument(
        "--arch",
        action="append",
        choices=("amd64", "arm64"),
        help="architectures to build images for (repeatable; default: amd64)",
    )
    args = parser.parse_args()
    arches = tuple(dict.fromkeys(args.arch or ["amd64"]))
    if not registry_has(args.registry, "library/debian", "12-slim"):
        sys.exit(f"{args.registry}/{BASE_IMAGE} is missing: run scripts/seed_base_images.py first")
    for tool in TOOLS:
        seed_tool(tool, args.registry, args.cache, arches)
    seed_vulndb(args.registry, args.cache)


if __name__ == "__main__":
    main()
