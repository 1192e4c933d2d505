"""Reproducible OCI tarballs: what ``export-all`` writes and a release stages and pushes.

Dagger stamps an image's config with the time it was built, and files a build creates carry
that time in the layers; so do two builds of the same inputs differ. Rewritten by
:mod:`pipelines.oci.normalize_layout` (fixed times from the package lock's date, layers
recompressed without timestamps, descriptors in a fixed order) they do not.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import dagger

from pipelines.tools import python_tools

SCRIPT = Path(__file__).with_name("normalize_layout.py")


def reproducible_tarball(
    containers: Sequence[dagger.Container],
    epoch: int,
    tools_image: str,
    platforms: Sequence[str] = (),
) -> dagger.File:
    """One OCI layout tarball of ``containers`` (several: a multi-platform index), gzip layers,
    with every time fixed to ``epoch``; the index lists ``platforms`` (``os/arch``) in that
    order, any other after them by name (Dagger's own order varies between exports)."""
    first, *rest = containers
    tarball = first.as_tarball(
        platform_variants=rest, forced_compression=dagger.ImageLayerCompression.Gzip
    )
    return (
        python_tools(tools_image)
        .with_new_file("/normalize_layout.py", SCRIPT.read_text())
        .with_mounted_file("/in/image.tar", tarball)
        .with_exec(
            [
                "python3",
                "/normalize_layout.py",
                "/in/image.tar",
                "/out/image.tar",
                str(epoch),
                ",".join(platforms),
            ]
        )
        .file("/out/image.tar")
    )
