"""Publishing to the local registry: multi-arch indexes, all-or-nothing, retries.

The registry is inspected with skopeo, a real client, never with the code under test.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import uuid
from pathlib import Path

import pytest

from pipelines.release import (
    KeyPair,
    ScanGateFailed,
    ToolImages,
    generate_key_pair,
    verify,
    verify_sbom_attestation,
)
from pipelines.release.publish import (
    NothingPublished,
    PublishFailed,
    PublishLog,
    ReleaseSteps,
    Retry,
    digests_json,
    publish_release,
)
from pipelines.release.tool_images import TRIVY_DB_FIXTURE_REPOSITORY
from pipelines.results import BuildResult
from pipelines.smoke.checks import run_smoke_tests
from tests.engine.family import TOOLS_IMAGE, build_pinned
from tests.engine.fault_proxy import Faults, fault_proxy
from tests.standin import StandinRelease

pytestmark = [pytest.mark.engine, pytest.mark.usefixtures("engine")]

FAST_RETRY = Retry(attempts=4, first_delay=0.2)
PATIENT_RETRY = Retry(attempts=16, first_delay=0.05, max_delay=0.2)
ARCH_TAG_PLATFORMS = {"x86_64": "linux/amd64", "aarch64": "linux/arm64"}


def skopeo_raw(ref: str) -> dict[str, object] | None:
    """The raw manifest at ``ref`` (None if absent), as skopeo reads it."""
    done = subprocess.run(
        ["skopeo", "inspect", "--raw", "--tls-verify=false", f"docker://{ref}"],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        return None
    manifest: dict[str, object] = json.loads(done.stdout)
    return manifest


def skopeo_digest(ref: str) -> str:
    """The digest of the manifest at ``ref``."""
    return subprocess.run(
        ["skopeo", "inspect", "--tls-verify=false", "--format", "{{.Digest}}", f"docker://{ref}"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


def index_platforms(manifest: dict[str, object]) -> dict[str, str]:
    """``os/arch`` -> digest of every entry of an image index."""
    entries = manifest["manifests"]
    assert isinstance(entries, list)
    found: dict[str, str] = {}
    for entry in entries:
        platform = entry["platform"]
        found[f"{platform['os']}/{platform['architecture']}"] = str(entry["digest"])
    return found


@pytest.fixture(scope="module")
async def small_family(
    engine: None,
    tmp_path_factory: pytest.TempPathFactory,
    standin_release: StandinRelease,
    standin_server: str,
    falco_packages: str,
) -> BuildResult:
    """falco and falco-debian for both platforms, built and smoke-tested."""
    result = await build_pinned(
        tmp_path_factory.mktemp("pub") / "falco",
        standin_release,
        standin_server,
        falco_packages,
        variants=["falco", "falco-debian"],
    )
    assert result.passed, result.render()
    return result


async def full_release_steps(registry: str) -> tuple[ReleaseSteps, KeyPair]:
    """A release's every step with the seeded tools: scan (gate at CRITICAL, the fixture DB),
    SBOMs, signatures and attestations with a fresh key pair (returned beside)."""
    tools = ToolImages.seeded(registry)
    keys = await generate_key_pair(None, cosign_image=tools.cosign)
    steps = ReleaseSteps(
        tools=tools,
        fail_on="CRITICAL",
        scan_db_repository=f"{registry}/{TRIVY_DB_FIXTURE_REPOSITORY}",
        signing_key=keys.private_key,
    )
    return steps, keys


def namespace() -> str:
    """A fresh namespace so tests never see each other's tags."""
    return f"pub-{uuid.uuid4().hex[:10]}"


def changed(result: BuildResult, marker: str) -> BuildResult:
    """The same result with every container changed (a new release of the same images)."""
    targets = tuple(
        dataclasses.replace(t, container=t.container.with_label("test.release", marker))
        for t in result.targets
        if t.container is not None
    )
    return dataclasses.replace(result, targets=targets)


async def test_publish_pushes_one_multiarch_index_per_tag(
    small_family: BuildResult, registry: str, tmp_path: Path
) -> None:
    ns = namespace()
    images = await publish_release(small_family, registry, namespace=ns, retry=FAST_RETRY)
    (tmp_path / "digests.json").write_text(digests_json(images))
    assert [i.variant for i in images] == ["falco", "falco-debian"]
    for image in images:
        exact = image.tags[2]
        index = skopeo_raw(f"{image.repository}:{exact}")
        assert index is not None
        assert index_platforms(index) == image.platforms
        assert set(image.platforms) == {"linux/amd64", "linux/arm64"}
        for tag in image.tags:
            if tag.startswith(("x86_64-", "aarch64-")):
                arch = ARCH_TAG_PLATFORMS[tag.split("-", 1)[0]]
                assert skopeo_digest(f"{image.repository}:{tag}") == image.platforms[arch]
            else:
                assert skopeo_digest(f"{image.repository}:{tag}") == image.index_digest
    falco, debian = images
    assert falco.tags == ["x86_64-0.44.0", "aarch64-0.44.0", "0.44.0", "latest"]
    assert debian.tags[2:] == ["0.44.0-debian", "latest-debian"]
    saved = json.loads((tmp_path / "digests.json").read_text())
    assert saved[0]["index"] == f"{falco.repository}@{falco.index_digest}"


async def test_failed_smoke_test_pushes_nothing(small_family: BuildResult, registry: str) -> None:
    broken_target = small_family.targets[1]
    assert broken_target.container is not None
    broken = broken_target.container.without_file("/usr/bin/falco")
    report = await run_smoke_tests(broken_target.target, broken, TOOLS_IMAGE)
    assert not report.passed
    failing = dataclasses.replace(broken_target, container=broken, report=report)
    targets = tuple(failing if t is broken_target else t for t in small_family.targets)
    ns = namespace()
    with pytest.raises(NothingPublished, match="nothing was published"):
        await publish_release(
            dataclasses.replace(small_family, targets=targets), registry, namespace=ns
        )
    for tag in ("0.44.0", "x86_64-0.44.0", "0.44.0-debian", "aarch64-0.44.0-debian", "latest"):
        assert skopeo_raw(f"{registry}/{ns}/falco:{tag}") is None


async def test_interrupted_publish_leaves_previous_tags(
    small_family: BuildResult, registry: str
) -> None:
    ns = namespace()
    first = await publish_release(small_family, registry, namespace=ns, retry=FAST_RETRY)
    before = {i.variant: skopeo_digest(f"{i.repository}:{i.tags[-1]}") for i in first}
    assert before == {i.variant: i.index_digest for i in first}

    # The next release fails for good while pushing falco-debian's index.
    def rule(method: str, path: str) -> int | None:
        is_index_put = method == "PUT" and path == f"/v2/{ns}/falco/manifests/0.44.0-debian"
        return 500 if is_index_put else None

    faults = Faults(rule)
    with (
        fault_proxy(registry, faults) as proxy,
        pytest.raises(PublishFailed, match=r"push .*falco:0.44.0-debian"),
    ):
        await publish_release(
            changed(small_family, "second"), proxy, namespace=ns, retry=FAST_RETRY
        )
    # each of our attempts is itself retried by the engine's pusher
    assert len(faults.failed) >= FAST_RETRY.attempts
    after = {i.variant: skopeo_digest(f"{i.repository}:{i.tags[-1]}") for i in first}
    assert after == before  # latest and latest-debian still name the previous release


async def test_transient_registry_errors_are_retried(
    small_family: BuildResult, registry: str
) -> None:
    ns = namespace()
    # Each of our attempts writes the tag once (skopeo does not retry a failed manifest PUT):
    # 12 failures take 12 of our retries, so the publish only succeeds through them.
    remaining = {"count": 12}

    def rule(method: str, path: str) -> int | None:
        index = path == f"/v2/{ns}/falco/manifests/0.44.0"
        if method == "PUT" and index and remaining["count"] > 0:
            remaining["count"] -= 1
            return 503
        return None

    faults = Faults(rule)
    log = PublishLog()
    with fault_proxy(registry, faults) as proxy:
        images = await publish_release(
            small_family, proxy, namespace=ns, retry=PATIENT_RETRY, log=log
        )
    assert len(faults.failed) == 12
    assert len(log.retries) >= 1
    assert all(r.startswith(f"push {proxy}/{ns}/falco:0.44.0: ") for r in log.retries)
    falco = images[0]
    index = skopeo_raw(f"{registry}/{ns}/falco:latest")
    assert index is not None and index_platforms(index) == falco.platforms
    assert skopeo_digest(f"{registry}/{ns}/falco:0.44.0") == falco.index_digest


async def test_release_scans_signs_and_attests_before_tags_move(
    small_family: BuildResult, registry: str
) -> None:
    steps, keys = await full_release_steps(registry)
    tools = steps.tools
    ns = namespace()
    images = await publish_release(small_family, registry, namespace=ns, steps=steps)
    debian = images[1]
    assert set(debian.scans) == {"linux/amd64", "linux/arm64"}
    assert "FIXTURE-2026-0001" in debian.scans["linux/amd64"]  # jq, HIGH: below the gate
    for image in images:
        assert len(image.signed) == 3 and len(image.sboms) == 2
        for ref in image.signed:
            await verify(ref, keys.public_key, cosign_image=tools.cosign)
        index = skopeo_raw(f"{image.repository}:{image.tags[-1]}")
        assert index is not None and index_platforms(index) == image.platforms
    statements = await verify_sbom_attestation(
        f"{debian.repository}@{debian.platforms['linux/arm64']}",
        keys.public_key,
        cosign_image=tools.cosign,
    )
    names = {p["name"] for s in statements for p in s["predicate"]["packages"]}
    assert {"jq", "libc6", "bash"} <= names

    # A stricter gate on the next release: nothing multi-platform moves.
    strict = dataclasses.replace(steps, fail_on="HIGH")
    with pytest.raises(ScanGateFailed, match="FIXTURE-2026-0001"):
        await publish_release(changed(small_family, "third"), registry, namespace=ns, steps=strict)
    assert skopeo_digest(f"{debian.repository}:latest-debian") == debian.index_digest
    assert skopeo_digest(f"{debian.repository}:0.44.0-debian") == debian.index_digest
