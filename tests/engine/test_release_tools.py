"""The release tools really sign, verify, attest SBOMs and gate on scans, against the dev registry.

A two-platform image (debian:12-slim with jq) is published under a fresh repository; the
registry is then inspected with skopeo, a real client, not with the code under test. The
vulnerability DB is the fixture built from ``tests/fixtures/vulndb`` (made-up advisories: HIGH
for jq, MEDIUM for bash, CRITICAL for nginx, which is not installed).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagger
import pytest
from dagger import dag

from pipelines.errors import InputError
from pipelines.release import (
    KeyPair,
    RegistryAccess,
    RegistryAuth,
    ReleaseToolFailed,
    ScanGateFailed,
    SignatureVerificationFailed,
    ToolImages,
    attest_sbom,
    generate_key_pair,
    sbom,
    scan,
    sign,
    sign_keyless,
    verify,
    verify_sbom_attestation,
)
from pipelines.release.tool_images import TRIVY_DB_FIXTURE_REPOSITORY
from pipelines.tools import apt_caches

pytestmark = [pytest.mark.engine, pytest.mark.usefixtures("engine")]

PLATFORMS = ("linux/amd64", "linux/arm64")
VULNDB_SOURCES = Path(__file__).resolve().parents[1] / "fixtures" / "vulndb"


@dataclass(frozen=True)
class PublishedImage:
    """A multi-platform image in the dev registry."""

    repository: str
    index_digest: str
    platform_digests: dict[str, str]

    def ref(self, digest: str) -> str:
        return f"{self.repository}@{digest}"

    @property
    def index_ref(self) -> str:
        return self.ref(self.index_digest)


def skopeo(*args: str) -> str:
    """Run skopeo against the plain-HTTP dev registry; return its output."""
    return subprocess.run(
        ["skopeo", *args], check=True, capture_output=True, text=True, timeout=120
    ).stdout


def raw_manifest(ref: str) -> dict[str, Any]:
    manifest: dict[str, Any] = json.loads(
        skopeo("inspect", "--raw", "--tls-verify=false", f"docker://{ref}")
    )
    return manifest


def tags(repository: str) -> set[str]:
    listing = json.loads(skopeo("list-tags", "--tls-verify=false", f"docker://{repository}"))
    return set(listing["Tags"])


def platform_names(index: dict[str, Any]) -> list[str]:
    return sorted(
        f"{m['platform']['os']}/{m['platform']['architecture']}" for m in index["manifests"]
    )


def cosign_tag(digest: str, suffix: str) -> str:
    """The tag cosign v2 stores a digest's signatures (``sig``) or attestations (``att``) under."""
    return f"{digest.replace(':', '-')}.{suffix}"


@pytest.fixture(scope="module")
def tools(registry: str) -> ToolImages:
    """The tool images scripts/seed_tool_images.py pushed (fails clearly when they are missing)."""
    images = ToolImages.seeded(registry)
    for ref in (images.cosign, images.syft, images.trivy):
        repo, _, tag = ref.removeprefix(f"{registry}/").partition(":")
        req = urllib.request.Request(
            f"http://{registry}/v2/{repo}/manifests/{tag}",
            method="HEAD",
            headers={"Accept": "application/vnd.oci.image.index.v1+json"},
        )
        try:
            urllib.request.urlopen(req, timeout=10).close()
        except urllib.error.HTTPError:
            pytest.fail(f"{ref} is missing: run scripts/dev-engine seed")
    return images


@pytest.fixture(scope="module")
async def image(registry: str) -> PublishedImage:
    """debian:12-slim with jq and a marker file, for amd64 and arm64, under a fresh repository."""
    marker = uuid.uuid4().hex
    variants = [
        apt_caches(
            dag.container(platform=dagger.Platform(platform)).from_("debian:12-slim"),
            f"release-tools-test-{platform.replace('/', '-')}",
        )
        .with_env_variable("DEBIAN_FRONTEND", "noninteractive")
        .with_exec(
            ["sh", "-c", "apt-get update -qq && apt-get install -y -qq --no-install-recommends jq"]
        )
        .without_mount("/var/cache/apt/archives")
        .without_mount("/var/lib/apt/lists")
        .with_new_file("/etc/release-tools-test", marker)
        for platform in PLATFORMS
    ]
    repository = f"{registry}/release-tools-test/{marker[:12]}"
    published = await dag.container().publish(f"{repository}:test", platform_variants=variants)
    index_digest = published.partition("@")[2]
    index = raw_manifest(f"{repository}@{index_digest}")
    assert platform_names(index) == list(PLATFORMS)
    digests = {
        f"{m['platform']['os']}/{m['platform']['architecture']}": m["digest"]
        for m in index["manifests"]
    }
    return PublishedImage(repository, index_digest, digests)


@pytest.fixture(scope="module")
async def keys(tools: ToolImages) -> KeyPair:
    return await generate_key_pair(
        dag.set_secret("test-key-password", "s3cret"), cosign_image=tools.cosign
    )


@pytest.fixture(scope="module")
async def other_keys(tools: ToolImages) -> KeyPair:
    return await generate_key_pair(None, cosign_image=tools.cosign)


@pytest.fixture(scope="module")
async def signed(image: PublishedImage, keys: KeyPair, tools: ToolImages) -> PublishedImage:
    """``image`` with its index and both platform digests signed by ``keys``."""
    password = dag.set_secret("test-key-password", "s3cret")
    for digest in (image.index_digest, *image.platform_digests.values()):
        await sign(image.ref(digest), keys.private_key, password, cosign_image=tools.cosign)
    return image


@pytest.fixture(scope="module")
def vulndb_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fixture vulnerability DB, written by tests/fixtures/vulndb (a small Go program)."""
    if shutil.which("go") is None:
        pytest.fail(
            "go is needed to build the vulnerability DB fixture (scripts/dev-engine has it)"
        )
    out = tmp_path_factory.mktemp("vulndb") / "db"
    env = {**os.environ, "CGO_ENABLED": "0", "GOFLAGS": "-mod=readonly"}
    subprocess.run(
        ["go", "run", ".", "-out", str(out)],
        cwd=VULNDB_SOURCES,
        env=env,
        check=True,
        capture_output=True,
        timeout=600,
    )
    return out


async def test_signatures_verify_with_the_public_key(
    signed: PublishedImage, keys: KeyPair, tools: ToolImages
) -> None:
    for digest in (signed.index_digest, *signed.platform_digests.values()):
        payloads = json.loads(
            await verify(signed.ref(digest), keys.public_key, cosign_image=tools.cosign)
        )
        assert [p["critical"]["image"]["docker-manifest-digest"] for p in payloads] == [digest]
        # signed under the name the caller uses, not the alias the tool reached the registry by
        assert payloads[0]["critical"]["identity"]["docker-reference"] == signed.repository
    stored = tags(signed.repository)
    for digest in (signed.index_digest, *signed.platform_digests.values()):
        assert cosign_tag(digest, "sig") in stored, stored


async def test_verify_fails_for_another_key(
    signed: PublishedImage, other_keys: KeyPair, tools: ToolImages
) -> None:
    with pytest.raises(SignatureVerificationFailed) as failure:
        await verify(signed.index_ref, other_keys.public_key, cosign_image=tools.cosign)
    assert signed.index_ref in str(failure.value)
    assert "no matching signatures" in str(failure.value)


async def test_verify_fails_for_an_unsigned_digest(
    signed: PublishedImage, keys: KeyPair, tools: ToolImages
) -> None:
    # another image in the same repository, never signed
    unsigned = await (
        dag.container()
        .from_("debian:12-slim")
        .with_new_file("/etc/unsigned", uuid.uuid4().hex)
        .publish(f"{signed.repository}:unsigned")
    )
    unsigned_ref = f"{signed.repository}@{unsigned.partition('@')[2]}"
    with pytest.raises(SignatureVerificationFailed) as failure:
        await verify(unsigned_ref, keys.public_key, cosign_image=tools.cosign)
    assert unsigned_ref in str(failure.value)
    assert "no signatures found" in str(failure.value)


async def test_verify_fails_for_a_tampered_digest(
    signed: PublishedImage, keys: KeyPair, tools: ToolImages
) -> None:
    digest = signed.index_digest
    tampered = digest[:-1] + ("0" if digest[-1] != "0" else "1")
    with pytest.raises(SignatureVerificationFailed) as failure:
        await verify(signed.ref(tampered), keys.public_key, cosign_image=tools.cosign)
    assert signed.ref(tampered) in str(failure.value)


async def test_signing_needs_a_digest(keys: KeyPair, image: PublishedImage) -> None:
    with pytest.raises(InputError, match="not a digest reference"):
        await sign(f"{image.repository}:test", keys.private_key, None)


async def test_keyless_signing_refuses_an_empty_token(image: PublishedImage) -> None:
    before = tags(image.repository)
    with pytest.raises(InputError, match="identity token: it is empty"):
        await sign_keyless(image.index_ref, dag.set_secret("empty-oidc-token", "  \n"))
    assert tags(image.repository) == before


async def test_sbom_lists_the_debian_packages_of_each_platform(
    image: PublishedImage, tools: ToolImages
) -> None:
    for platform, digest in image.platform_digests.items():
        document = json.loads(
            await (await sbom(image.ref(digest), syft_image=tools.syft)).contents()
        )
        assert document["spdxVersion"].startswith("SPDX-")
        assert document["name"] == image.repository
        debs = {
            p["name"]: p
            for p in document["packages"]
            if any(
                r["referenceLocator"].startswith("pkg:deb/debian/")
                for r in p.get("externalRefs", [])
            )
        }
        assert {"bash", "libc6", "jq", "libjq1", "base-files"} <= set(debs), sorted(debs)
        arch = platform.split("/")[1]
        purls = [r["referenceLocator"] for r in debs["libc6"]["externalRefs"]]
        assert any(f"arch={arch}" in purl for purl in purls), purls


async def test_sbom_attestation_verifies_and_leaves_the_index_alone(
    signed: PublishedImage, keys: KeyPair, other_keys: KeyPair, tools: ToolImages
) -> None:
    index_before = raw_manifest(signed.index_ref)
    password = dag.set_secret("test-key-password", "s3cret")
    for digest in signed.platform_digests.values():
        document = await sbom(signed.ref(digest), syft_image=tools.syft)
        await attest_sbom(
            signed.ref(digest), document, keys.private_key, password, cosign_image=tools.cosign
        )
    for digest in signed.platform_digests.values():
        statements = await verify_sbom_attestation(
            signed.ref(digest), keys.public_key, cosign_image=tools.cosign
        )
        assert len(statements) == 1
        statement = statements[0]
        assert statement["predicateType"] == "https://spdx.dev/Document"
        assert [s["digest"]["sha256"] for s in statement["subject"]] == [digest.split(":")[1]]
        assert "jq" in {p["name"] for p in statement["predicate"]["packages"]}
        with pytest.raises(SignatureVerificationFailed, match=digest):
            await verify_sbom_attestation(
                signed.ref(digest), other_keys.public_key, cosign_image=tools.cosign
            )
    # the index is the one published: exactly the two platforms, no attestation manifests
    index_after = raw_manifest(signed.index_ref)
    assert index_after == index_before
    assert platform_names(index_after) == ["linux/amd64", "linux/arm64"]
    stored = tags(signed.repository)
    for digest in signed.platform_digests.values():
        assert cosign_tag(digest, "att") in stored, stored
    assert cosign_tag(signed.index_digest, "att") not in stored


async def test_scan_gate_fails_at_high_and_passes_at_critical(
    image: PublishedImage, vulndb_dir: Path, tools: ToolImages
) -> None:
    ref = image.ref(image.platform_digests["linux/amd64"])
    db = dag.host().directory(str(vulndb_dir))
    with pytest.raises(ScanGateFailed) as failure:
        await scan(ref, scanner_image=tools.trivy, db=db, fail_on="HIGH")
    report = failure.value.report
    found = {(f.vulnerability_id, f.package, f.severity) for f in report.findings}
    assert found == {
        ("FIXTURE-2026-0001", "jq", "HIGH"),
        ("FIXTURE-2026-0001", "libjq1", "HIGH"),
        ("FIXTURE-2026-0002", "bash", "MEDIUM"),
    }
    assert {f.package for f in report.breaches()} == {"jq", "libjq1"}
    assert report.counts()["HIGH"] == 2
    assert report.operating_system.startswith("debian 12")
    message = str(failure.value)
    assert ref in message
    assert "2 finding(s) at or above HIGH" in message
    assert "FIXTURE-2026-0001" in message

    passed = await scan(ref, scanner_image=tools.trivy, db=db, fail_on="CRITICAL")
    assert passed.passed
    assert {(f.vulnerability_id, f.package) for f in passed.findings} == {
        (vid, pkg) for vid, pkg, _ in found
    }
    assert "gate CRITICAL and above: passed" in passed.summary()


async def test_scan_reads_the_db_from_a_repository(registry: str, tools: ToolImages) -> None:
    base = f"{registry}/library/debian:12-slim"
    report = await scan(
        base,
        scanner_image=tools.trivy,
        db_repository=f"{registry}/{TRIVY_DB_FIXTURE_REPOSITORY}",
        fail_on="HIGH",
        platform="linux/arm64",
    )
    assert [(f.vulnerability_id, f.package) for f in report.findings] == [
        ("FIXTURE-2026-0002", "bash")
    ]
    assert report.passed
    with pytest.raises(ScanGateFailed, match="at or above MEDIUM"):
        await scan(
            base,
            scanner_image=tools.trivy,
            db_repository=f"{registry}/{TRIVY_DB_FIXTURE_REPOSITORY}",
            fail_on="MEDIUM",
        )


async def test_scan_rejects_a_directory_without_a_db(tools: ToolImages, registry: str) -> None:
    empty = dag.directory().with_new_file("README", "no DB here")
    with pytest.raises(InputError, match=r"lacks trivy\.db, metadata\.json"):
        await scan(f"{registry}/library/debian:12-slim", scanner_image=tools.trivy, db=empty)


@dataclass(frozen=True)
class PrivateRegistry:
    """A registry on the loopback that wants a user name and password."""

    address: str
    username: str
    password: str


@pytest.fixture(scope="module")
def private_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateRegistry]:
    """docker-registry with htpasswd authentication on a free 127.0.0.1 port, for this module."""
    root = tmp_path_factory.mktemp("private-registry")
    username, password = "release-bot", uuid.uuid4().hex
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import crypt  # bcrypt, the only hash docker-registry's htpasswd accepts

        hashed = crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH))
    (root / "htpasswd").write_text(f"{username}:{hashed}\n")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    (root / "config.yml").write_text(
        f"""version: 0.1
log: {{level: warn}}
storage: {{filesystem: {{rootdirectory: {root / "data"}}}}}
auth: {{htpasswd: {{realm: release-tools-test, path: {root / "htpasswd"}}}}}
http: {{addr: 127.0.0.1:{port}}}
"""
    )
    log = (root / "registry.log").open("w")
    server = subprocess.Popen(
        ["docker-registry", "serve", str(root / "config.yml")], stdout=log, stderr=log
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=2).close()
            except urllib.error.HTTPError as answer:
                if answer.code == 401:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                pytest.fail(
                    f"private registry did not start: {(root / 'registry.log').read_text()}"
                )
            time.sleep(0.2)
        yield PrivateRegistry(f"127.0.0.1:{port}", username, password)
    finally:
        server.terminate()
        server.wait(timeout=20)
        log.close()


async def test_tools_use_registry_credentials(
    private_registry: PrivateRegistry, registry: str, keys: KeyPair, tools: ToolImages
) -> None:
    repository = f"{private_registry.address}/private/debian"
    creds = f"{private_registry.username}:{private_registry.password}"
    skopeo(
        "copy",
        "--quiet",
        "--src-tls-verify=false",
        "--dest-tls-verify=false",
        f"--dest-creds={creds}",
        "--override-arch=amd64",
        f"docker://{registry}/library/debian:12-slim",
        f"docker://{repository}:12-slim",
    )
    manifest = skopeo(
        "inspect",
        "--raw",
        "--tls-verify=false",
        f"--creds={creds}",
        f"docker://{repository}:12-slim",
    )
    ref = f"{repository}@sha256:{hashlib.sha256(manifest.encode()).hexdigest()}"
    secret = dag.set_secret("private-registry-password", private_registry.password)
    access = RegistryAccess(
        auth=(RegistryAuth(private_registry.address, private_registry.username, secret),)
    )
    password = dag.set_secret("test-key-password", "s3cret")

    with pytest.raises(ReleaseToolFailed, match=r"UNAUTHORIZED|401") as failure:
        await sign(ref, keys.private_key, password, cosign_image=tools.cosign)
    assert ref in str(failure.value)

    await sign(ref, keys.private_key, password, cosign_image=tools.cosign, registry=access)
    payloads = json.loads(
        await verify(ref, keys.public_key, cosign_image=tools.cosign, registry=access)
    )
    assert payloads[0]["critical"]["image"]["docker-manifest-digest"] == ref.split("@")[1]
    document = json.loads(
        await (await sbom(ref, syft_image=tools.syft, registry=access)).contents()
    )
    assert "bash" in {p["name"] for p in document["packages"]}
