"""Pending security updates = 0, on the real engine and Debian's real security suite: the check
passes on a distroless image built from release + updates + security and on a Debian image
upgraded from its security suite; it fails, naming package and versions, on an image holding an
older package, and such an image is never released (publish-all refuses it)."""

from __future__ import annotations

import itertools
import re
import subprocess
import uuid
from pathlib import Path

import dagger
import pytest
from dagger import dag

from pipelines.catalog.loader import load_family
from pipelines.catalog.variant import SecurityUpdatesTest
from pipelines.plan import plan
from pipelines.release.publish import NothingPublished, publish_release
from pipelines.results import BuildResult
from pipelines.run import build_and_test
from pipelines.smoke.apt_sources import AptSource
from pipelines.smoke.debian_version import compare_versions
from pipelines.smoke.dpkg_status import InstalledPackage, installed_packages
from pipelines.smoke.security_updates import (
    PendingUpdate,
    check_security_updates,
    dpkg_records,
    index_freshness,
    pending_updates,
    security_candidates,
)
from pipelines.tools import tools_container
from tests.engine.family import TOOLS_IMAGE, build_pinned
from tests.standin import StandinRelease

pytestmark = [pytest.mark.engine, pytest.mark.usefixtures("engine")]

BOOKWORM_SECURITY = AptSource(
    "http://deb.debian.org/debian-security", "bookworm-security", ("main",)
)
SOURCES = """\
deb http://deb.debian.org/debian bookworm main
deb http://deb.debian.org/debian bookworm-updates main
deb http://deb.debian.org/debian-security bookworm-security main
"""
VERSIONS = (
    "0", "1.0", "1.0-0", "1.0-1", "1.00", "1.0.1", "1:0.9", "0:1.0", "1.0~rc1", "1.0~~", "1.0~",
    "1.0a", "1.0+b1", "1a", "1+", "1.", "1~a", "1-1-1", "1:1-1-1", "1.2.3-a", "1.2.3-z",
    "1.2.3-~", "1.2.3-+", "1.2.3-.", "2.36-9+deb12u9", "2.36-9+deb12u10", "2026b-0+deb12u1",
    "2026f-0+deb12u1", "20230311+deb12u1", "20250419~deb12u2", "1:9.18.49-1~deb12u1",
)  # fmt: skip
_DPKG_ORDER = """
while read -r a b; do
  if dpkg --compare-versions "$a" lt "$b"; then r=-1
  elif dpkg --compare-versions "$a" eq "$b"; then r=0
  else r=1; fi
  echo "$a $b $r"
done < /pairs
"""
FAMILY_TOML = """\
name = "held"
description = "A Debian image that holds a package back"
source = "https://example.org/held"
url = "https://example.org"
vendor = "Example"
licenses = "MIT"
authors = "Example <dev@example.org>"
default_version = "1.0.0"
platforms = ["linux/amd64"]
"""
VARIANT_TOML = """\
name = "held"
description = "Debian with one package held back"
repository = "held"
tags = ["{version}"]

[base]
image = "BASE"

[tests.security_updates]
"""


async def test_version_order_agrees_with_dpkg() -> None:
    pairs = list(itertools.product(VERSIONS, VERSIONS))
    text = "".join(f"{a} {b}\n" for a, b in pairs)
    out = await (
        tools_container(TOOLS_IMAGE)
        .with_new_file("/pairs", text)
        .with_exec(["sh", "-c", _DPKG_ORDER])
        .stdout()
    )
    dpkg = {(a, b): int(r) for a, b, r in (line.split() for line in out.splitlines())}
    assert len(dpkg) == len(pairs)
    assert {pair: compare_versions(*pair) for pair in pairs} == dpkg


@pytest.fixture(scope="module")
async def distroless(
    engine: None,
    tmp_path_factory: pytest.TempPathFactory,
    standin_release: StandinRelease,
    standin_server: str,
    falco_packages: str,
) -> BuildResult:
    """Falco's distroless image for linux/amd64, built and smoke-tested."""
    return await build_pinned(
        tmp_path_factory.mktemp("security") / "falco",
        standin_release,
        standin_server,
        falco_packages,
        variants=["falco"],
        platforms=["linux/amd64"],
    )


async def test_distroless_image_has_none_pending(distroless: BuildResult) -> None:
    [target] = distroless.targets
    assert target.report is not None, target.error
    [check] = [r for r in target.report.results if r.check == "pending security updates"]
    assert check.passed, check.detail
    assert re.match(r"0 of \d+ packages pending in bookworm-security \(amd64\)", check.detail)


async def test_an_older_package_fails_naming_it(distroless: BuildResult) -> None:
    [target] = distroless.targets
    assert target.container is not None
    candidates = await security_candidates([BOOKWORM_SECURITY], "amd64", TOOLS_IMAGE)
    installed = installed_packages(await dpkg_records(target.container))
    updated = [p for p in installed if p.name in candidates]
    if not updated:
        pytest.skip("no package of the image is in bookworm-security today")
    package = updated[0]
    older = f"{package.version}~older"
    record = f"/var/lib/dpkg/status.d/{package.name}"
    text = await target.container.file(record).contents()
    broken = target.container.with_new_file(
        record, text.replace(f"Version: {package.version}\n", f"Version: {older}\n")
    )
    result = await check_security_updates(broken, SecurityUpdatesTest(), "linux/amd64", TOOLS_IMAGE)
    assert not result.passed
    fixed = candidates[package.name]
    assert result.detail == f"1 pending in bookworm-security: {package.name} {older} < {fixed}"


def _upgraded(hold: str | None) -> dagger.Container:
    """debian:12-slim upgraded from its release, updates and security suites, ``hold`` held back
    at the base's version (fetched within the hour, as the check's index)."""
    script = f"printf '%s' '{SOURCES}' > /etc/apt/sources.list; rm -f /etc/apt/sources.list.d/*\n"
    script += "apt-get update -qq\n"
    script += f"apt-mark hold {hold}\n" if hold else ""
    script += "apt-get upgrade -y -qq >/dev/null\napt-get clean\nrm -rf /var/lib/apt/lists/*\n"
    return (
        dag.container(platform=dagger.Platform("linux/amd64"))
        .from_("debian:12-slim")
        .with_env_variable("DEBIAN_FRONTEND", "noninteractive")
        .with_env_variable("INDEX_FRESHNESS", index_freshness())
        .with_exec(["sh", "-euc", script])
    )


async def _held_back() -> tuple[PendingUpdate, InstalledPackage]:
    """A package debian:12-slim has at an older version than bookworm-security's (tzdata if it
    is one: nothing depends on its version)."""
    base = dag.container(platform=dagger.Platform("linux/amd64")).from_("debian:12-slim")
    installed = installed_packages(await dpkg_records(base))
    candidates = await security_candidates([BOOKWORM_SECURITY], "amd64", TOOLS_IMAGE)
    pending = pending_updates(installed, candidates, "amd64")
    if not pending:
        pytest.skip("debian:12-slim has no package older than bookworm-security today")
    chosen = next((p for p in pending if p.package == "tzdata"), pending[0])
    return chosen, next(p for p in installed if p.name == chosen.package)


async def test_upgraded_debian_image_has_none_pending() -> None:
    result = await check_security_updates(
        _upgraded(None), SecurityUpdatesTest(), "linux/amd64", TOOLS_IMAGE
    )
    assert result.passed, result.detail


def _skopeo_raw(ref: str) -> str | None:
    done = subprocess.run(
        ["skopeo", "inspect", "--raw", "--tls-verify=false", f"docker://{ref}"],
        capture_output=True,
        text=True,
    )
    return done.stdout if done.returncode == 0 else None


async def test_held_back_package_fails_the_build_and_is_never_released(
    registry: str, tmp_path: Path
) -> None:
    update, package = await _held_back()
    namespace = f"held-{uuid.uuid4().hex[:10]}"
    base = await _upgraded(package.name).publish(f"{registry}/{namespace}/base:1")
    family = tmp_path / "held"
    (family / "variants/held").mkdir(parents=True)
    (family / "family.toml").write_text(FAMILY_TOML)
    (family / "variants/held/variant.toml").write_text(VARIANT_TOML.replace("BASE", base))
    result = await build_and_test(plan(load_family(family)), dag.host().directory(str(family)))
    [target] = result.targets
    assert target.report is not None, target.error
    [check] = target.report.failures
    assert check.check == "pending security updates"
    assert f"{update.package} {update.installed} < {update.fixed}" in check.detail
    assert update.installed == package.version
    named = f"held linux/amd64: pending security updates: .*{re.escape(str(update))}"
    with pytest.raises(NothingPublished, match=named):
        await publish_release(result, registry, namespace=namespace)
    assert _skopeo_raw(f"{registry}/{namespace}/held:1.0.0") is None
    assert _skopeo_raw(f"{registry}/{namespace}/held:1.0.0-amd64") is None
