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
async def hello_catalog(tmp_path_factory: pytest.TempPathFactory, hello_mirror: str) -> Path:
    """The example catalog without its made-up pins, then locked as a user would: `lock`
    exported into it (the published checksums vouch for the artifacts; Debian packages are
    resolved against the mirror)."""
    unlocked = tmp_path_factory.mktemp("hello-unlocked") / "hello"
    shutil.copytree(HELLO, unlocked)
    (unlocked / "artifacts.lock.toml").unlink()
    lock = await module().lock(
        catalog=dag.host().directory(str(unlocked)), version="1.2.3", mirrors=[hello_mirror]
    )
    # a new path: the session's snapshot of the unlocked one would be reused
    out = tmp_path_factory.mktemp("hello-catalog") / "hello"
    shutil.copytree(unlocked, out)
    await lock.export(str(out))
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
    # its size budget has a compressed limit, so the gzip size is measured
    assert "GZIP: not measured" not in report
    rows = [line.split() for line in report.splitlines() if " PASS " in line]
    assert len(rows) == 2 and all(row[5] == "MB" and row[7] == "MB" for row in rows)


async def test_debian_hello_installs_a_member_and_a_file(
    hello_catalog: Path, hello_mirror: str
) -> None:
    report: str = await module().build_all(
        catalog=dag.host().directory(str(hello_catalog)),
        version="1.2.3",
        variants=["hello-debian"],
        platforms=["linux/amd64"],
        mirrors=[hello_mirror],
        gzip_sizes=True,
    )
    assert "1/1 images passed" in report
    # no budget asks for it, --gzip-sizes does: both sizes are in the report
    [row] = [line.split() for line in report.splitlines() if " PASS " in line]
    assert row[5] == "MB" and row[7] == "MB" and "GZIP: not measured" not in report
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
    hello_catalog: Path, hello_release: HelloRelease
) -> None:
    pins = {
        (e["name"], e["platform"]): e["sha256"]
        for e in tomllib.loads((hello_catalog / "artifacts.lock.toml").read_text())["artifact"]
    }
    assert pins == {
        ("tarball", "linux/amd64"): hello_release.sha256["hello-1.2.3.linux-amd64.tar.gz"],
        ("tarball", "linux/arm64"): hello_release.sha256["hello-1.2.3.linux-arm64.tar.gz"],
        ("motd", "linux/amd64"): hello_release.sha256["motd.txt"],
        ("motd", "linux/arm64"): hello_release.sha256["motd.txt"],
    }


async def test_lock_resolves_every_debian_package_set(hello_catalog: Path) -> None:
    lock = tomllib.loads((hello_catalog / "packages.lock.toml").read_text())
    sets = {(s["variant"], s["base"], s["platform"]): s for s in lock["set"]}
    assert set(sets) == {
        ("hello", "distroless:bookworm", "linux/amd64"),
        ("hello", "distroless:bookworm", "linux/arm64"),
        ("hello-debian", "docker.io/library/debian:bookworm-slim", "linux/amd64"),
        ("hello-debian", "docker.io/library/debian:bookworm-slim", "linux/arm64"),
    }
    distroless = sets[("hello", "distroless:bookworm", "linux/arm64")]
    assert distroless["release"] == "bookworm"
    assert {p["name"] for p in distroless["packages"]} == {"base-files", "libc6"}  # no deps added
    libc6 = next(p for p in distroless["packages"] if p["name"] == "libc6")
    assert libc6["architecture"] == "arm64" and len(libc6["sha256"]) == 64
    debian = sets[("hello-debian", "docker.io/library/debian:bookworm-slim", "linux/amd64")]
    assert debian["requested"][:1] == ["ca-certificates"]
    names = {p["name"] for p in debian["packages"]}
    assert {"ca-certificates", "openssl"} <= names  # with its dependencies
    assert all(p["url"].startswith("http://deb.debian.org/") for p in debian["packages"])
