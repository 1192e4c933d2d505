"""Bad artifacts and bad requests stop the build with a message that names what was wrong."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from dagger import dag

from pipelines import ImageFamily
from pipelines.catalog.lock import LockEntry
from pipelines.errors import InputError
from pipelines.results import BuildFailed
from tests.engine.family import mirrors, pins_of, standin_catalog
from tests.standin import StandinRelease

pytestmark = [pytest.mark.engine, pytest.mark.usefixtures("engine")]

FALCO_FINGERPRINT = "478B2FBBC75F4237B731DA4365106822B35B1B1F"


def module() -> Any:  # noqa: ANN401
    """The Dagger module object, called as plain Python (its @function wrappers are untyped)."""
    return ImageFamily()


async def build_falco(
    catalog: Path,
    release: StandinRelease,
    server: str,
    **options: Any,  # noqa: ANN401
) -> str:
    """``build-all`` of the distroless variant for linux/amd64 against the stand-in server."""
    report: str = await module().build_all(
        catalog=dag.host().directory(str(catalog)),
        version=options.pop("version", release.falco_version),
        variants=["falco"],
        platforms=["linux/amd64"],
        mirrors=mirrors(server),
        **options,
    )
    return report


def wrong_pin(release: StandinRelease) -> list[LockEntry]:
    """Every pin right but the amd64 tarball's."""
    return [
        e.model_copy(update={"sha256": "0" * 64})
        if (e.name, e.platform) == ("tarball", "linux/amd64")
        else e
        for e in pins_of(release)
    ]


async def test_checksum_mismatch_stops_the_build(
    tmp_path: Path, standin_release: StandinRelease, standin_server: str, falco_packages: str
) -> None:
    catalog = standin_catalog(
        tmp_path / "falco",
        standin_release,
        pins=wrong_pin(standin_release),
        packages=falco_packages,
    )
    with pytest.raises(BuildFailed) as failed:
        await build_falco(catalog, standin_release, standin_server)
    message = str(failed.value)
    assert "falco linux/amd64: build: tarball 0.44.0 for linux/amd64" in message
    assert f"sha256 mismatch: the lock file pins {'0' * 64}" in message
    assert standin_release.sha256["tarball/linux/amd64"] in message
    [result] = failed.value.result.targets
    assert result.container is None and result.report is None


async def test_missing_artifact_stops_the_build(
    tmp_path: Path, standin_release: StandinRelease, standin_server: str, falco_packages: str
) -> None:
    catalog = standin_catalog(tmp_path / "falco", standin_release, packages=falco_packages)
    with pytest.raises(BuildFailed) as failed:
        await build_falco(catalog, standin_release, standin_server, version="0.44.9")
    message = str(failed.value)
    assert "tarball 0.44.9 for linux/amd64" in message
    assert "/download.falco.org/packages/bin/x86_64/falco-0.44.9-x86_64.tar.gz" in message
    assert "download failed" in message and "404" in message


async def test_tampered_artifact_fails_its_signature(
    tmp_path: Path, standin_release: StandinRelease, standin_server: str, falco_packages: str
) -> None:
    catalog = standin_catalog(
        tmp_path / "falco", standin_release, packages=falco_packages
    )  # nothing pinned
    original = standin_release.path("tarball", "linux/amd64")
    tampered = tmp_path / "local" / original.name
    tampered.parent.mkdir()
    data = bytearray(original.read_bytes())
    data[len(data) // 2] ^= 0xFF
    tampered.write_bytes(bytes(data))
    with pytest.raises(BuildFailed) as failed:
        await build_falco(
            catalog,
            standin_release,
            standin_server,
            artifacts=[dag.host().file(str(tampered))],
        )
    assert "tarball 0.44.0 for linux/amd64" in str(failed.value)
    assert "bad OpenPGP signature" in str(failed.value)


async def test_signature_by_another_key_is_refused(
    tmp_path: Path, standin_release: StandinRelease, standin_server: str, falco_packages: str
) -> None:
    catalog = standin_catalog(
        tmp_path / "falco", standin_release, fingerprint=FALCO_FINGERPRINT, packages=falco_packages
    )
    with pytest.raises(BuildFailed) as failed:
        await build_falco(catalog, standin_release, standin_server)
    message = str(failed.value)
    assert f"has fingerprint(s) {standin_release.key_fingerprint}" in message
    assert f"the catalog pins {FALCO_FINGERPRINT}" in message


async def test_local_artifact_is_used_and_verified(
    tmp_path: Path, standin_release: StandinRelease, standin_server: str, falco_packages: str
) -> None:
    catalog = standin_catalog(tmp_path / "falco", standin_release, packages=falco_packages)
    local = dag.host().file(str(standin_release.path("tarball", "linux/amd64")))
    report = await build_falco(catalog, standin_release, standin_server, artifacts=[local])
    assert "1/1 images passed" in report
    assert f"signature by {standin_release.key_fingerprint}" in report


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (
            {"variants": ["falcon"]},
            "unknown variant 'falcon' in family 'falco' (did you mean 'falco'?)",
        ),
        ({"version": "v0.44.0"}, "drop the leading 'v'"),
        (
            {"version": "latest"},
            "invalid version 'latest': the pipeline builds exact releases only",
        ),
        ({"platforms": ["linux/s390x"]}, "linux/s390x"),
        ({"params": ["releas=bullseye"]}, "unknown parameter 'releas'"),
        ({"mirrors": ["download.falco.org"]}, "PREFIX=REPLACEMENT"),
    ],
)
async def test_bad_requests_fail_before_any_build(
    tmp_path: Path,
    standin_release: StandinRelease,
    options: dict[str, Any],
    expected: str,
    falco_packages: str,
) -> None:
    catalog = standin_catalog(tmp_path / "falco", standin_release, packages=falco_packages)
    request: dict[str, Any] = {"version": standin_release.falco_version, **options}
    with pytest.raises(InputError) as failed:
        await module().build_all(catalog=dag.host().directory(str(catalog)), **request)
    assert expected in str(failed.value)
