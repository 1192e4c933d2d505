"""The whole Falco family built on the real engine from stand-in artifacts, and smoke-tested."""

from __future__ import annotations

import json
import os
import tarfile
from pathlib import Path
from typing import Any

import anyio
import pytest
from dagger import dag

from pipelines import ImageFamily
from pipelines.catalog.loader import load_family
from pipelines.plan import BuildPlan, plan
from pipelines.results import BuildResult, TargetResult
from pipelines.run import build_and_test
from pipelines.smoke.checks import run_smoke_tests
from tests.engine.family import (
    LEGACY_RELEASE,
    TOOLS_IMAGE,
    mirrors,
    pins_of,
    standin_catalog,
)
from tests.standin import StandinRelease

pytestmark = [pytest.mark.engine, pytest.mark.usefixtures("engine")]

ALL_VARIANTS = ("falco", "falco-debian", "falco-driver-loader", "falco-driver-loader-legacy")


@pytest.fixture(scope="session")
def pinned_catalog(
    tmp_path_factory: pytest.TempPathFactory, standin_release: StandinRelease, falco_packages: str
) -> Path:
    """The Falco catalog trusting the stand-in key, with every stand-in artifact pinned and
    every Debian package locked."""
    return standin_catalog(
        tmp_path_factory.mktemp("catalog") / "falco",
        standin_release,
        pins=pins_of(standin_release),
        packages=falco_packages,
    )


@pytest.fixture(scope="session")
async def family(
    engine: None, pinned_catalog: Path, standin_release: StandinRelease, standin_server: str
) -> BuildResult:
    """Every variant for linux/amd64 (legacy on bullseye), distroless and Debian for arm64."""
    loaded = load_family(pinned_catalog)
    version, urls = standin_release.falco_version, mirrors(standin_server)
    amd64 = plan(
        loaded,
        platforms=["linux/amd64"],
        params=[f"release={LEGACY_RELEASE}"],
        version=version,
        mirrors=urls,
    )
    arm64 = plan(
        loaded,
        variants=["falco", "falco-debian"],
        platforms=["linux/arm64"],
        version=version,
        mirrors=urls,
    )
    catalog_dir = dag.host().directory(str(pinned_catalog))
    results: dict[str, BuildResult] = {}

    async def run(name: str, build_plan: BuildPlan) -> None:
        results[name] = await build_and_test(build_plan, catalog_dir, tools_image=TOOLS_IMAGE)

    async with anyio.create_task_group() as group:
        group.start_soon(run, "amd64", amd64)
        group.start_soon(run, "arm64", arm64)
    for result in results.values():
        if path := os.environ.get("BUILD_REPORT"):
            with open(path, "a") as report:
                report.write(result.render() + "\n")
    merged = results["amd64"]
    return BuildResult(
        plan=merged.plan,
        targets=merged.targets + results["arm64"].targets,
        artifacts=merged.artifacts + results["arm64"].artifacts,
        seconds=max(r.seconds for r in results.values()),
    )


def module() -> Any:  # noqa: ANN401
    """The Dagger module object, called as plain Python (its @function wrappers are untyped)."""
    return ImageFamily()


def target(family: BuildResult, variant: str, platform: str) -> TargetResult:
    """The result of one variant on one platform."""
    [found] = [
        t for t in family.targets if t.target.variant == variant and t.target.platform == platform
    ]
    return found


def test_every_variant_builds_and_passes_its_smoke_tests(family: BuildResult) -> None:
    built = {(t.target.variant, t.target.platform) for t in family.targets}
    assert built == {(v, "linux/amd64") for v in ALL_VARIANTS} | {
        ("falco", "linux/arm64"),
        ("falco-debian", "linux/arm64"),
    }
    assert all(t.passed for t in family.targets), family.render()
    for t in family.targets:
        assert t.report is not None and len(t.report.results) >= 5, t.target.variant


def test_arm64_images_hold_aarch64_binaries(family: BuildResult) -> None:
    for variant in ("falco", "falco-debian"):
        report = target(family, variant, "linux/arm64").report
        assert report is not None
        elf = [r for r in report.results if r.check.startswith("ELF machine")]
        assert elf and all(r.passed and r.detail == "aarch64" for r in elf)


def test_distroless_is_much_smaller_than_debian(family: BuildResult) -> None:
    for platform in ("linux/amd64", "linux/arm64"):
        distroless = target(family, "falco", platform).report
        debian = target(family, "falco-debian", platform).report
        assert distroless is not None and distroless.size is not None
        assert debian is not None and debian.size is not None
        assert distroless.size.uncompressed * 3 < debian.size.uncompressed
        # no budget asks for the gzip size, and build-all does not measure it unasked
        assert distroless.size.compressed is None and debian.size.compressed is None


def test_tags_follow_falcos_scheme(family: BuildResult, standin_release: StandinRelease) -> None:
    v = standin_release.falco_version
    assert target(family, "falco", "linux/amd64").target.tags == (v, "latest")
    assert target(family, "falco-debian", "linux/arm64").target.tags == (
        f"{v}-debian",
        "latest-debian",
    )
    legacy = target(family, "falco-driver-loader-legacy", "linux/amd64").target
    assert legacy.repository == "falco-driver-loader"
    assert legacy.tags == (f"{v}-{LEGACY_RELEASE}", f"latest-{LEGACY_RELEASE}")


def test_loader_is_the_debian_image_plus_toolchain(family: BuildResult) -> None:
    loader = target(family, "falco-driver-loader", "linux/amd64")
    assert loader.target.base_chain == ("falco-debian", "falco-driver-loader")
    assert loader.report is not None and loader.report.size is not None
    debian = target(family, "falco-debian", "linux/amd64").report
    assert debian is not None and debian.size is not None
    assert loader.report.size.uncompressed > debian.size.uncompressed


def test_artifacts_were_verified_against_pins_and_signatures(family: BuildResult) -> None:
    checks = {(a.ref.name, a.ref.platform): a.checks for a in family.artifacts}
    # tarball and deb for both platforms; the legacy loader's 19 amd64 toolchain packages
    assert len(checks) == 4 + 19
    for (name, _), done in checks.items():
        assert "sha256 pinned" in done
        if name in ("tarball", "deb"):
            assert any(c.startswith("signature by ") for c in done)
        else:
            assert done == ("sha256 pinned",)  # nothing else vouches for them


async def test_smoke_tests_catch_broken_images(family: BuildResult) -> None:
    good = target(family, "falco", "linux/amd64")
    assert good.container is not None
    without_falco = good.container.without_file("/usr/bin/falco")
    report = await run_smoke_tests(good.target, without_falco, TOOLS_IMAGE)
    failed = {r.check for r in report.failures}
    assert "command 'falco reports its version'" in failed
    assert "file /usr/bin/falco" in failed

    with_shell = good.container.with_new_file("/bin/sh", "#!/fake", permissions=0o755)
    report = await run_smoke_tests(good.target, with_shell, TOOLS_IMAGE)
    assert [(r.check, r.detail) for r in report.failures] == [
        ("file /bin/sh", "exists but should not")
    ]

    arm64 = target(family, "falco", "linux/arm64").container
    assert arm64 is not None
    report = await run_smoke_tests(good.target, arm64, TOOLS_IMAGE)
    elf = [r for r in report.failures if r.check.startswith("ELF machine")]
    assert elf and "aarch64, expected x86-64" in elf[0].detail


async def test_failed_smoke_test_names_variant_platform_and_check(
    family: BuildResult, pinned_catalog: Path, standin_release: StandinRelease
) -> None:
    debian = target(family, "falco-debian", "linux/amd64").container
    assert debian is not None
    broken = debian.with_exec(["rm", "/usr/bin/jq"])
    with pytest.raises(Exception, match=r"falco-debian linux/amd64: command 'jq is installed'"):
        await module().test(
            catalog=dag.host().directory(str(pinned_catalog)),
            variant="falco-debian",
            container=broken,
            version=standin_release.falco_version,
        )


async def test_export_all_writes_one_multiplatform_tarball_per_variant(
    pinned_catalog: Path, standin_release: StandinRelease, standin_server: str, tmp_path: Path
) -> None:
    out = await module().export_all(
        catalog=dag.host().directory(str(pinned_catalog)),
        version=standin_release.falco_version,
        variants=["falco"],
        mirrors=mirrors(standin_server),
    )
    await out.export(str(tmp_path))
    assert "2/2 images passed" in (tmp_path / "report.txt").read_text()
    with tarfile.open(tmp_path / "falco.tar") as tar:

        def blob(name: str) -> dict[str, list[dict[str, dict[str, str]]]]:
            member = tar.extractfile(name)
            assert member is not None
            loaded: dict[str, list[dict[str, dict[str, str]]]] = json.load(member)
            return loaded

        index = blob("index.json")
        [nested] = index["manifests"]  # the image index of the variant
        digest = str(nested["digest"]).removeprefix("sha256:")
        platforms = {
            (m["platform"]["os"], m["platform"]["architecture"])
            for m in blob(f"blobs/sha256/{digest}")["manifests"]
        }
    assert platforms == {("linux", "amd64"), ("linux", "arm64")}
