"""The command line users run (`scripts/call` = `python -m pipelines`), end to end on the engine.

Each call is a separate process with its own Dagger session, as a user's would be.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tomllib
from collections.abc import Mapping
from pathlib import Path

import pytest

from pipelines.cli.call_cache import ENV as CALL_CACHE_ENV
from tests.engine.family import LEGACY_RELEASE, REPO_ROOT, mirrors, standin_catalog
from tests.standin import StandinRelease
from tests.standin.dependencies import catalog_dependencies

pytestmark = [pytest.mark.engine]


@pytest.fixture(autouse=True)
def own_call_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test's calls keep their results (the function cache) in a directory of its own."""
    directory = tmp_path / "calls"
    monkeypatch.setenv(CALL_CACHE_ENV, str(directory))
    return directory


def call(
    *argv: str, cwd: Path = REPO_ROOT, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m pipelines <argv>`` in ``cwd``, as `scripts/call` runs it (``env`` added)."""
    return subprocess.run(
        [sys.executable, "-m", "pipelines", *argv],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT), **(env or {})},
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


@pytest.fixture(scope="module")
def catalog(
    tmp_path_factory: pytest.TempPathFactory, standin_release: StandinRelease, falco_packages: str
) -> Path:
    """The Falco catalog trusting the stand-in key, no artifact pinned, packages locked."""
    return standin_catalog(
        tmp_path_factory.mktemp("cli") / "falco", standin_release, packages=falco_packages
    )


def test_plan_without_catalog_uses_the_default_path_of_the_module() -> None:
    done = call("plan", "--platforms", "linux/arm64")
    assert done.returncode == 0, done.stderr[-2000:]
    # images/falco, as `dagger call plan` loads it from DefaultPath
    assert "family falco, version 0.44.0 (final release): 4 image(s) for linux/arm64" in done.stdout
    assert "https://download.falco.org/packages/bin/aarch64/falco-0.44.0-aarch64.tar.gz" in (
        done.stdout
    )
    assert "signature https://download.falco.org/packages/bin/aarch64/" in done.stdout


def test_bad_flag_fails_before_any_session() -> None:
    done = call("build-all", "--variant", "falco")
    assert done.returncode == 2
    assert "unknown flag --variant; valid flags: --catalog --version --variants" in done.stderr


def test_lock_pins_every_artifact_the_release_downloads(
    catalog: Path, standin_release: StandinRelease, standin_server: str, tmp_path: Path
) -> None:
    out = tmp_path / "locked"
    lock = ["lock", "--catalog", str(catalog), "--version", standin_release.falco_version,
            "--params", f"release={LEGACY_RELEASE}",
            "--mirrors", ",".join(mirrors(standin_server))]  # fmt: skip
    # the legacy toolchain's packages: nothing vouches for them, so no pin without consent
    refused = call(*lock, "export", "--path", str(out))
    assert refused.returncode == 1, refused.stderr[-3000:]
    assert "nothing locked:" in refused.stderr
    assert "gcc_5 5.5.0-12 for linux/amd64" in refused.stderr
    assert "nothing to verify it with" in refused.stderr and not out.exists()

    done = call(*lock, "--trust-unverified", "export", "--path", str(out))
    assert done.returncode == 0, done.stderr[-3000:]
    pins = {
        (e["name"], e["version"], e["platform"]): e["sha256"]
        for e in tomllib.loads((out / "artifacts.lock.toml").read_text())["artifact"]
    }
    # every artifact of every variant on both platforms, with the sha256 of the served bytes
    expected = {}
    for name in ("tarball", "deb"):
        for platform in ("linux/amd64", "linux/arm64"):
            served = standin_release.path(name, platform).read_bytes()
            key = (name, standin_release.falco_version, platform)
            expected[key] = hashlib.sha256(served).hexdigest()
    versions = {d.artifact: d.version for d in catalog_dependencies()}
    for artifact, sha256 in standin_release.dependency_sha256.items():
        name, platform = artifact.split("/", 1)
        expected[(name, versions[name], platform)] = sha256
    assert pins == expected
    assert len(pins) == 4 + 36  # 16 packages on both platforms, 3 amd64-only, 1 arm64-only
    # and every Debian package set of every variant and platform, next to it
    sets = tomllib.loads((out / "packages.lock.toml").read_text())["set"]
    assert {(s["variant"], s["platform"]) for s in sets} == {
        (v, p)
        for v in ("falco", "falco-debian", "falco-driver-loader", "falco-driver-loader-legacy")
        for p in ("linux/amd64", "linux/arm64")
    }


def test_build_exports_an_image_through_the_chained_call(
    catalog: Path, standin_release: StandinRelease, standin_server: str, tmp_path: Path
) -> None:
    out = tmp_path / "falco.tar"
    done = call(
        "build", "--catalog", str(catalog), "--variant", "falco", "--platform", "linux/arm64",
        "--version", standin_release.falco_version, "--mirrors", ",".join(mirrors(standin_server)),
        "export", "--path", str(out),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    with tarfile.open(out) as tar:
        names = tar.getnames()
    assert "index.json" in names and any(n.startswith("blobs/sha256/") for n in names)


def test_a_repeated_build_all_is_served_from_the_function_cache(
    catalog: Path,
    standin_release: StandinRelease,
    standin_server: str,
    tmp_path: Path,
    own_call_cache: Path,
) -> None:
    family = tmp_path / "falco"
    shutil.copytree(catalog, family)
    build_all = ("build-all", "--catalog", str(family), "--variants", "falco",
                 "--platforms", "linux/amd64", "--version", standin_release.falco_version,
                 "--mirrors", ",".join(mirrors(standin_server)))  # fmt: skip
    served_notice = "build-all: the result of the same call at"

    first = call(*build_all)
    assert first.returncode == 0, first.stderr[-3000:]
    assert "1/1 images passed" in first.stdout
    assert served_notice not in first.stderr and "withExec" in first.stderr
    assert len(list(own_call_cache.glob("*.json"))) == 1

    # the same call: the same report, and no step asked of the engine (only the catalog's digest)
    second = call(*build_all)
    assert second.returncode == 0, second.stderr[-3000:]
    assert second.stdout == first.stdout
    assert served_notice in second.stderr
    assert "withExec" not in second.stderr and "Container." not in second.stderr

    # a changed catalog file is another input: the engine runs the build again
    with (family / "family.toml").open("a") as toml:
        toml.write("\n# changed\n")
    third = call(*build_all)
    assert third.returncode == 0, third.stderr[-3000:]
    assert served_notice not in third.stderr and "withExec" in third.stderr
    assert len(list(own_call_cache.glob("*.json"))) == 2

    # and off means off
    off = call(*build_all, env={CALL_CACHE_ENV: "off"})
    assert off.returncode == 0, off.stderr[-3000:]
    assert served_notice not in off.stderr and "withExec" in off.stderr
