"""Helpers shared by the seeding scripts: OCI layout blobs and registry look-ups."""

from __future__ import annotations

import hashlib
import urllib.error
import urllib.request
from pathlib import Path

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def write_blob(layout: Path, data: bytes) -> dict[str, object]:
    """Store ``data`` as a blob of the OCI layout; return its digest and size."""
    digest = hashlib.sha256(data).hexdigest()
    path = layout / "blobs" / "sha256" / digest
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return {"digest": f"sha256:{digest}", "size": len(data)}


def registry_has(registry: str, repo: str, tag: str) -> bool:
    """Whether ``repo:tag`` exists in the plain-HTTP ``registry``."""
    req = urllib.request.Request(
        f"http://{registry}/v2/{repo}/manifests/{tag}",
        method="HEAD",
        headers={"Accept": f"{OCI_INDEX}, {OCI_MANIFEST}"},
    )
    try:
        with urllib.request.urlopen(req, timeout=10):
            return True
    except urllib.error.HTTPError:
        return False
