"""Test catalogs: the Falco catalog pointed at the stand-in release served on loopback."""

from __future__ import annotations

import re
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dagger import dag

from pipelines.catalog.loader import load_family
from pipelines.catalog.lock import LockEntry, render_lock
from pipelines.pins import lock_packages
from pipelines.plan import BuildPlan, plan
from pipelines.results import BuildResult
from pipelines.run import build_and_test
from tests.standin import StandinRelease

REPO_ROOT = Path(__file__).resolve().parents[2]
FALCO_CATALOG = REPO_ROOT / "images" / "falco"
TOOLS_IMAGE = "debian:12-slim"
# buster is not on this machine's Debian mirror: bullseye stands in for the legacy release.
LEGACY_RELEASE = "bullseye"


def mirrors(base_url: str) -> list[str]:
    """Rewrite the real download hosts to the stand-in server (it serves each host as a path)."""
    return [
        f"https://download.falco.org={base_url}/download.falco.org",
        f"https://falco.org={base_url}/falco.org",
        f"https://github.com={base_url}/github.com",
    ]


def standin_catalog(
    out: Path,
    release: StandinRelease,
    *,
    pins: Sequence[LockEntry] = (),
    fingerprint: str | None = None,
    packages: str | None = None,
) -> Path:
    """A copy of the Falco catalog that trusts the stand-in signing key, with ``pins`` locked
    and ``packages`` as its packages.lock.toml (when given)."""
    shutil.rmtree(out, ignore_errors=True)
    shutil.copytree(FALCO_CATALOG, out)
    family = out / "family.toml"
    text = re.sub(
        r'fingerprint = "[0-9A-F]{40}"',
        f'fingerprint = "{fingerprint or release.key_fingerprint}"',
        family.read_text(),
    )
    family.write_text(text)
    (out / "artifacts.lock.toml").write_text(render_lock(list(pins)))
    if packages is not None:
        (out / "packages.lock.toml").write_text(packages)
    return out


def pins_of(release: StandinRelease) -> list[LockEntry]:
    """Lock entries with the real sha256 of every stand-in artifact the Falco catalog defines
    (an artifact's own version when it pins one, else the release's)."""
    artifacts = load_family(FALCO_CATALOG).family.artifacts
    entries = []
    for key, sha in sorted({**release.sha256, **release.dependency_sha256}.items()):
        name, platform = key.split("/", 1)
        if name not in artifacts:
            continue  # e.g. the stand-in falcoctl archive: the catalog takes the .deb's
        version = artifacts[name].version or release.falco_version
        entry = {"name": name, "version": version, "platform": platform, "sha256": sha}
        entries.append(LockEntry.model_validate(entry))
    return entries


async def locked(catalog: Path, **plan_options: Any) -> Path:  # noqa: ANN401
    """``catalog`` with its packages.lock.toml written by the pipeline's own lock step, for
    the plan ``plan_options`` describe (what a user runs before building a new catalog)."""
    family = load_family(catalog)
    text = await lock_packages(
        plan(family, **plan_options),
        dag.host().directory(str(catalog)),
        family.packages_lock,
        tools_image=TOOLS_IMAGE,
    )
    (catalog / "packages.lock.toml").write_text(text)
    return catalog


def pinned_plan(
    out: Path,
    release: StandinRelease,
    server: str,
    packages: str,
    **plan_options: Any,  # noqa: ANN401
) -> tuple[BuildPlan, Path]:
    """The stand-in catalog at ``out`` with every artifact pinned and ``packages`` as its
    package lock, planned for ``release`` through ``server`` (``plan_options``: variants...)."""
    catalog = standin_catalog(out, release, pins=pins_of(release), packages=packages)
    build_plan = plan(
        load_family(catalog),
        version=release.falco_version,
        mirrors=mirrors(server),
        **plan_options,
    )
    return build_plan, catalog


async def build_pinned(
    out: Path,
    release: StandinRelease,
    server: str,
    packages: str,
    **plan_options: Any,  # noqa: ANN401
) -> BuildResult:
    """:func:`pinned_plan`, built and smoke-tested."""
    build_plan, catalog = pinned_plan(out, release, server, packages, **plan_options)
    return await build_and_test(
        build_plan, dag.host().directory(str(catalog)), tools_image=TOOLS_IMAGE
    )
