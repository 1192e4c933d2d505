"""The driver loader runs the falcoctl its Falco release ships, per release series: a 0.43
release gets 0.43's falcoctl (0.12.2, family.toml [series]), and a release whose .deb ships
another one fails the smoke test that says so."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pipelines.results import BuildResult
from tests.engine.family import build_pinned
from tests.standin import StandinRelease, build_standin_release, serve

pytestmark = [pytest.mark.engine, pytest.mark.usefixtures("engine")]

FALCOCTL_CHECK = "command 'falcoctl is the one the release ships'"


async def build_loader(
    out: Path, release: StandinRelease, server: str, packages: str
) -> BuildResult:
    """falco-driver-loader for linux/amd64 from ``release``, every artifact pinned."""
    return await build_pinned(
        out / "falco",
        release,
        server,
        packages,
        variants=["falco-driver-loader"],
        platforms=["linux/amd64"],
    )


@pytest.fixture(scope="module")
def release_0_43(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[StandinRelease, str]]:
    """Falco 0.43.1 shipping falcoctl 0.12.2, as the real 0.43 releases do."""
    release = build_standin_release(tmp_path_factory.mktemp("s043"), "0.43.1", "0.12.2")
    with serve(release.root) as server:
        yield release, server


@pytest.fixture(scope="module")
def release_0_43_wrong(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[StandinRelease, str]]:
    """A 0.43.1 whose packages ship 0.44's falcoctl (0.13.0): not what the 0.43 series ships."""
    release = build_standin_release(tmp_path_factory.mktemp("s043bad"), "0.43.1", "0.13.0")
    with serve(release.root) as server:
        yield release, server


async def test_a_0_43_loader_runs_0_43s_falcoctl_with_its_config(
    tmp_path: Path, release_0_43: tuple[StandinRelease, str], falco_packages: str
) -> None:
    release, server = release_0_43
    result = await build_loader(tmp_path, release, server, falco_packages)
    [loader] = result.targets
    assert loader.passed, result.render()
    assert loader.container is not None
    version = await loader.container.with_exec(["falcoctl", "version"]).stdout()
    assert "0.12.2" in version
    config = await loader.container.file("/etc/falcoctl/falcoctl.yaml").contents()
    assert "  name: falco\n" in config and "- modern_ebpf\n" in config


async def test_a_release_shipping_another_falcoctl_fails_its_smoke_test(
    tmp_path: Path, release_0_43_wrong: tuple[StandinRelease, str], falco_packages: str
) -> None:
    release, server = release_0_43_wrong
    result = await build_loader(tmp_path, release, server, falco_packages)
    [loader] = result.targets
    assert loader.report is not None
    failed = {r.check: r.detail for r in loader.report.failures}
    assert list(failed) == [FALCOCTL_CHECK], failed
    assert "output does not match '0\\\\.12\\\\.2'" in failed[FALCOCTL_CHECK]  # the regex, repr'd
    assert "falcoctl version 0.13.0" in failed[FALCOCTL_CHECK]
