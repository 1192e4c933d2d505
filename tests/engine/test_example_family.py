"""The non-Falco example family (tests/examples/valid/hello) built and smoke-tested on the
engine: the pipeline is driven by the catalog alone, and every generic install step works
(``unpack`` with stripped components, an archive ``member``, a plain ``file``)."""

from __future__ import annotations

import shutil
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dagger import dag

from pipelines import ImageFamily
from tests.standin import serve
from tests.standin.hello import HOST, HelloRelease, build_hello_release

pytestmark = [pytest.mark.engine, pytest.mark.usefixtures("engine")]

HELLO = Path(__file__).resolve().parents[1] / "examples" / "valid" / "hello"


def module() -> Any:  # noqa: ANN401
    """The Dagger module object, called as plain Python (its @function wrappers are untyped)."""
    return ImageFamily()


@pytest.fixture(scope="module")
def hello_release(tmp_path_factory: pytest.TempPathFactory) -> HelloRelease:
    """hello 1.2.3 for amd64 and arm64, with motd.txt and SHA256SUMS."""
    return build_hello_release(tmp_path_factory.mktemp("hello-standin") / "root")


@pytest.fixture(scope="module")
def hello_mirror(hello_release: HelloRelease) -> Iterator[str]:
    """The mirror that sends the catalog's downloads to the loopback server."""
    with serve(hello_release.root) as base_url:
        yield f"https://{HOST}={base_url}/{HOST}"


@pytest.fixture(scope="module")
def hello_catalog(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example catalog without its made-up pins: the published checksums vouch."""
    out = tmp_path_factory.mktemp("hello-catalog") / "hello"
    shutil.copytree(HELLO, out)
    (out / "artifacts.lock.toml").unlink()
    return out


async def test_distroless_hello_on_both_platforms(hello_catalog: Path, hello_mirror: str) -> None:
    report: str = await module().build_all(
        catalog=dag.host().directory(str(hello_catalog)),
        version="1.2.3",
        variants=["hello"],
        mirrors=[hello_mirror],
    )
    assert "hello 1.2.3 (final release): 2/2 images passed" in report
    assert "hello.linux-amd64" not in report  # nothing failed
    for arch in ("amd64", "arm64"):
        assert f"tarball 1.2.3 linux/{arch} sha256:" in report
    assert "published checksums" in report


async def test_debian_hello_installs_a_member_and_a_file(
    hello_catalog: Path, hello_mirror: str
) -> None:
    report: str = await module().build_all(
        catalog=dag.host().directory(str(hello_catalog)),
        version="1.2.3",
        variants=["hello-debian"],
        platforms=["linux/amd64"],
        mirrors=[hello_mirror],
    )
    assert "1/1 images passed" in report
    assert "motd 1.2.3 linux/amd64 sha256:" in report
    container = await module().build(
        catalog=dag.host().directory(str(hello_catalog)),
        variant="hello-debian",
        version="1.2.3",
        mirrors=[hello_mirror],
    )
    assert await container.with_exec(["hello", "--version"]).stdout() == "hello 1.2.3\n"
    assert await container.file("/etc/hello/motd").contents() == "hello from 1.2.3\n"
    # the member alone: the rest of the archive is not in the image
    assert not await container.exists("/usr/bin/hello")


async def test_lock_pins_the_example_family(
    hello_catalog: Path, hello_mirror: str, hello_release: HelloRelease
) -> None:
    lock = await module().lock(
        catalog=dag.host().directory(str(hello_catalog)), version="1.2.3", mirrors=[hello_mirror]
    )
    pins = {
        (e["name"], e["platform"]): e["sha256"]
        for e in tomllib.loads(await lock.contents())["artifact"]
    }
    assert pins == {
        ("tarball", "linux/amd64"): hello_release.sha256["hello-1.2.3.linux-amd64.tar.gz"],
        ("tarball", "linux/arm64"): hello_release.sha256["hello-1.2.3.linux-arm64.tar.gz"],
        ("motd", "linux/amd64"): hello_release.sha256["motd.txt"],
        ("motd", "linux/arm64"): hello_release.sha256["motd.txt"],
    }
