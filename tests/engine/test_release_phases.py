"""A release appears all at once or not at all (issue 12), on the real engine and registries.

The registry is read over its HTTP API from this process, never through the code under test:
``tags/list`` and a ``HEAD`` of each tag's manifest (its ``Docker-Content-Digest``).

- a failure injected at every phase (platform push, index push, signature, attestation, each
  tag) leaves no new tag before the tag phase and the previous release's tags as they were;
  inside the tag phase, every tag already written names fully pushed, signed content;
- a registry process stopped and restarted during the tag phase;
- the same images published twice: same digests, no tag moves, signatures unchanged;
- ``latest`` never moves backwards;
- a failing gate pushes nothing.

With ``RELEASE_FAULT_REPORT=FILE``, the fault test writes what a user pulling each tag got
after each injected failure (JSON).
"""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipelines.catalog.loader import load_family
from pipelines.plan import plan
from pipelines.release import (
    KeyPair,
    ScanGateFailed,
    ToolImages,
    generate_key_pair,
    verify,
    verify_sbom_attestation,
)
from pipelines.release.floating import VERSION_LABEL, MoveFloatingTags
from pipelines.release.publish import (
    PublishedImage,
    PublishFailed,
    PublishLog,
    ReleaseSteps,
    Retry,
    publish_release,
)
from pipelines.release.staging import StagedImage, stage
from pipelines.release.tag_plan import TagAssignment, VariantTags, tag_phase_order
from pipelines.release.tool_images import TRIVY_DB_FIXTURE_REPOSITORY
from pipelines.results import BuildResult
from tests.engine.family import TOOLS_IMAGE
from tests.engine.fault_proxy import Faults, fault_proxy
from tests.engine.test_publish import namespace, small_family

pytestmark = [pytest.mark.engine, pytest.mark.usefixtures("engine")]
__all__ = ["small_family"]

FAIL_FAST = Retry(attempts=2, first_delay=0.1, max_delay=0.2)
ACCEPT = ", ".join(
    [
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.docker.distribution.manifest.v2+json",
    ]
)


# --- reading the registry (not through the code under test) ---------------------------------


def http(registry: str, path: str, method: str = "GET") -> tuple[int, bytes, dict[str, str]]:
    """One request to the registry: status, body, headers (4xx answers are returned too)."""
    request = urllib.request.Request(
        f"http://{registry}{path}", method=method, headers={"Accept": ACCEPT}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, answer.read(), dict(answer.headers)
    except urllib.error.HTTPError as answer:
        return answer.code, answer.read(), dict(answer.headers)


def all_tags(registry: str, repository: str) -> dict[str, str]:
    """Every tag of ``repository`` (``namespace/name``) and the digest it names now."""
    status, body, _ = http(registry, f"/v2/{repository}/tags/list?n=10000")
    if status == 404:
        return {}
    assert status == 200, body
    found = {}
    for tag in json.loads(body).get("tags") or []:
        code, _, headers = http(registry, f"/v2/{repository}/manifests/{tag}", "HEAD")
        assert code == 200, (tag, code)
        found[tag] = headers["Docker-Content-Digest"]
    return found


def user_tags(tags: dict[str, str]) -> dict[str, str]:
    """The tags users pull: without cosign's ``sha256-<hex>.sig``/``.att`` tags."""
    return {t: d for t, d in tags.items() if not t.startswith("sha256-")}


def has_manifest(registry: str, repository: str, digest: str) -> bool:
    code, _, _ = http(registry, f"/v2/{repository}/manifests/{digest}", "HEAD")
    return code == 200


def cosign_tag(digest: str, suffix: str) -> str:
    return f"{digest.replace(':', '-')}.{suffix}"


# --- releases of the same images under other versions -----------------------------------------


def release_of(result: BuildResult, version: str) -> BuildResult:
    """``result``'s images as release ``version``: its plan (tags) and version label."""
    build_plan = plan(
        load_family(result.plan.family_directory),
        variants=list(result.plan.variants),
        platforms=list(result.plan.platforms),
        version=version,
        params=list(result.plan.params),
        mirrors=list(result.plan.mirrors),
    )
    targets = {(t.variant, t.platform): t for t in build_plan.targets}
    return dataclasses.replace(
        result,
        plan=build_plan,
        targets=tuple(
            dataclasses.replace(
                t,
                target=targets[(t.target.variant, t.target.platform)],
                container=t.container.with_label(VERSION_LABEL, version),
            )
            for t in result.targets
            if t.container is not None
        ),
    )


async def staged(result: BuildResult) -> list[StagedImage]:
    """What publishing ``result`` will push (engine only: digests known before any push)."""
    out = []
    for variant in result.plan.variants:
        containers = [
            (t.target.platform, t.container)
            for t in result.targets
            if t.target.variant == variant and t.container is not None
        ]
        epoch = result.plan.source_date_epoch
        out.append(await stage(variant, variant, containers, TOOLS_IMAGE, epoch))
    return out


def tag_order(result: BuildResult, images: list[StagedImage]) -> list[TagAssignment]:
    """The release's tags in tag-phase order, with the digests they must name."""
    variants = []
    for image in images:
        target = next(t.target for t in result.targets if t.target.variant == image.variant)
        variants.append(
            VariantTags(
                image.variant,
                target.repository,
                image.index_digest,
                image.platform_digests(),
                target.tags,
            )
        )
    return tag_phase_order(variants)


# --- fixtures ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tools(registry: str) -> ToolImages:
    return ToolImages.seeded(registry)


@pytest.fixture(scope="module")
async def keys(tools: ToolImages) -> KeyPair:
    return await generate_key_pair(None, cosign_image=tools.cosign)


@pytest.fixture(scope="module")
def signing(tools: ToolImages, keys: KeyPair) -> ReleaseSteps:
    """Signatures and SBOM attestations, no scan (the gate has its own tests)."""
    return ReleaseSteps(tools=tools, scan=False, signing_key=keys.private_key)


class LocalRegistry:
    """A docker-registry process of its own on a free loopback port, to stop and restart."""

    def __init__(self, root: Path) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.root = root
        (root / "config.yml").write_text(
            f"version: 0.1\nlog: {{level: warn}}\n"
            f"storage: {{filesystem: {{rootdirectory: {root / 'data'}}}}}\n"
            f"http: {{addr: 127.0.0.1:{self.port}}}\n"
        )
        self.process: subprocess.Popen[bytes] | None = None
        self.lock = threading.Lock()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        with self.lock:
            log = (self.root / "registry.log").open("ab")
            self.process = subprocess.Popen(
                ["docker-registry", "serve", str(self.root / "config.yml")], stdout=log, stderr=log
            )
            deadline = time.monotonic() + 20
            while http_ok(self.address) is False:
                assert self.process.poll() is None, (self.root / "registry.log").read_text()
                assert time.monotonic() < deadline, "the registry did not start"
                time.sleep(0.1)

    def stop(self) -> None:
        with self.lock:
            if self.process is not None:
                self.process.terminate()
                self.process.wait(timeout=20)
                self.process = None


def http_ok(address: str) -> bool:
    try:
        urllib.request.urlopen(f"http://{address}/v2/", timeout=2).close()
        return True
    except OSError:
        return False


@pytest.fixture
def own_registry(tmp_path: Path) -> Iterator[LocalRegistry]:
    registry = LocalRegistry(tmp_path)
    registry.start()
    try:
        yield registry
    finally:
        registry.stop()


# --- tests ---------------------------------------------------------------------------------


async def test_a_failure_at_any_phase_leaves_no_new_tag(
    small_family: BuildResult, registry: str, signing: ReleaseSteps
) -> None:
    ns = namespace()
    repository = f"{ns}/falco"
    fail = {"path": ""}

    def rule(method: str, path: str) -> int | None:
        return 500 if method == "PUT" and path == fail["path"] else None

    faults = Faults(rule)
    newer = release_of(small_family, "0.45.0")
    content = await staged(newer)
    order = tag_order(newer, content)
    falco, debian = content
    b_tags = {a.tag: a.target.digest for a in order}
    manifests = f"/v2/{repository}/manifests"
    points = [
        ("platform push", f"{manifests}/{falco.platforms[1].digest}"),
        ("index push", f"{manifests}/{debian.index_digest}"),
        ("signature", f"{manifests}/{cosign_tag(falco.index_digest, 'sig')}"),
        ("attestation", f"{manifests}/{cosign_tag(debian.platforms[1].digest, 'att')}"),
        *[(f"tag {a.tag}", f"{manifests}/{a.tag}") for a in order],
    ]
    report: list[dict[str, object]] = []
    with fault_proxy(registry, faults) as proxy:
        first = await publish_release(
            small_family, proxy, namespace=ns, retry=FAIL_FAST, steps=signing
        )
        before = user_tags(all_tags(registry, repository))
        assert before == {r.tag: r.digest for i in first for r in i.tag_results}
        assert len(before) == 8
        names = sorted(set(before) | set(b_tags))
        for k, (point, path) in enumerate(points):
            fail["path"] = path
            faults.failed.clear()
            with pytest.raises(PublishFailed):
                await publish_release(newer, proxy, namespace=ns, retry=FAIL_FAST, steps=signing)
            assert faults.failed, f"{point}: the fault was never hit"
            now = all_tags(registry, repository)
            written = order[: max(0, k - 4)]  # tags written before the failing one
            expected = {**before, **{a.tag: a.target.digest for a in written}}
            assert user_tags(now) == expected, point
            for assignment in written:  # fully pushed, signed content
                assert cosign_tag(assignment.target.digest, "sig") in now, (point, assignment.tag)
            if written:
                platforms = [d for image in content for d in image.platform_digests().values()]
                assert all(has_manifest(registry, repository, d) for d in platforms), point
            report.append(
                {
                    "failure": point,
                    "tags": {
                        name: "0.45.0"
                        if now.get(name) == b_tags.get(name)
                        else "0.44.0"
                        if name in now and now.get(name) == before.get(name)
                        else "absent"
                        if name not in now
                        else "other"
                        for name in names
                    },
                }
            )
        fail["path"] = ""
        done = await publish_release(newer, proxy, namespace=ns, retry=FAIL_FAST, steps=signing)
    final = user_tags(all_tags(registry, repository))
    assert final == {**before, **b_tags}
    statuses = {r.tag: r.status for image in done for r in image.tag_results}
    assert statuses == {tag: "unchanged" for tag in b_tags} | {"latest-debian": "moved"}
    if out := os.environ.get("RELEASE_FAULT_REPORT"):
        Path(out).write_text(json.dumps(report, indent=2) + "\n")


async def test_registry_restarted_during_the_tag_phase(
    small_family: BuildResult, own_registry: LocalRegistry, signing: ReleaseSteps, keys: KeyPair
) -> None:
    repository = "rel/falco"
    tag_events: list[str] = []
    restarts: list[threading.Timer] = []

    async def stop_after_two_tags(event: str) -> None:
        if event.startswith("tag: "):
            tag_events.append(event)
            if len(tag_events) == 2:
                own_registry.stop()
                restarts.append(threading.Timer(3.0, own_registry.start))
                restarts[-1].start()

    # Down for 3 s: the retries (0.5 + 1 + 2 + 2 ... s) outlast it and the release completes.
    log = PublishLog(listener=stop_after_two_tags)
    patient = Retry(attempts=8, first_delay=0.5, max_delay=2.0)
    images = await publish_release(
        small_family, own_registry.address, namespace="rel", retry=patient, steps=signing, log=log
    )
    restarts[0].join()
    assert any("tags" in e for e in log.events)
    assert log.retries, "the registry was down, yet nothing was retried"
    tags = all_tags(own_registry.address, repository)
    assert user_tags(tags) == {r.tag: r.digest for image in images for r in image.tag_results}
    assert {r.status for image in images for r in image.tag_results} == {"created"}

    # Down for good from the third tag of the next release on: it fails; what it tagged names
    # signed content; the previous release's tags are as they were; a re-run finishes the set.
    before = user_tags(tags)
    newer = release_of(small_family, "0.45.0")
    tag_events.clear()

    async def stop_after_three_tags(event: str) -> None:
        if event.startswith("tag: "):
            tag_events.append(event)
            if len(tag_events) == 3:
                own_registry.stop()

    with pytest.raises(PublishFailed):
        await publish_release(
            newer,
            own_registry.address,
            namespace="rel",
            retry=FAIL_FAST,
            steps=signing,
            log=PublishLog(listener=stop_after_three_tags),
        )
    own_registry.start()
    order = tag_order(newer, await staged(newer))
    now = all_tags(own_registry.address, repository)
    assert user_tags(now) == {**before, **{a.tag: a.target.digest for a in order[:3]}}
    for assignment in order[:3]:
        await verify(
            f"{own_registry.address}/{repository}@{assignment.target.digest}",
            keys.public_key,
            cosign_image=signing.tools.cosign,
        )
    done = await publish_release(
        newer, own_registry.address, namespace="rel", retry=FAIL_FAST, steps=signing
    )
    statuses = [r.status for image in done for r in image.tag_results]
    assert statuses.count("unchanged") == 3 and statuses.count("moved") == 2  # latest*
    assert user_tags(all_tags(own_registry.address, repository)) == {
        **before,
        **{a.tag: a.target.digest for a in order},
    }


async def test_the_same_images_published_twice_change_nothing(
    small_family: BuildResult, registry: str, signing: ReleaseSteps, keys: KeyPair
) -> None:
    ns = namespace()
    first = await publish_release(small_family, registry, namespace=ns, steps=signing)
    tags_after_first = all_tags(registry, f"{ns}/falco")
    second = await publish_release(small_family, registry, namespace=ns, steps=signing)
    tags_after_second = all_tags(registry, f"{ns}/falco")

    def digests(images: list[PublishedImage]) -> list[object]:
        return [(i.variant, i.index_digest, i.platforms) for i in images]

    assert digests(second) == digests(first)
    assert {r.status for i in first for r in i.tag_results} == {"created"}
    assert {r.status for i in second for r in i.tag_results} == {"unchanged"}
    # no tag moved, no signature was added or replaced (attestations are replaced, still valid)
    assert {t: d for t, d in tags_after_second.items() if not t.endswith(".att")} == {
        t: d for t, d in tags_after_first.items() if not t.endswith(".att")
    }
    assert set(tags_after_second) == set(tags_after_first)
    for image in first:
        for ref in image.signed:
            await verify(ref, keys.public_key, cosign_image=signing.tools.cosign)
        statements = await verify_sbom_attestation(
            image.sboms[0], keys.public_key, cosign_image=signing.tools.cosign
        )
        assert len(statements) == 1
        # the index lists the family's platforms in the family's order
        _, body, _ = http(registry, f"/v2/{ns}/falco/manifests/{image.index_digest}")
        index = json.loads(body)
        assert [m["platform"]["architecture"] for m in index["manifests"]] == ["amd64", "arm64"]


async def test_latest_never_moves_backwards(small_family: BuildResult, registry: str) -> None:
    ns = namespace()
    repository = f"{ns}/falco"
    await publish_release(small_family, registry, namespace=ns)  # 0.44.0
    newest = await publish_release(release_of(small_family, "0.45.0"), registry, namespace=ns)
    latest = {i.variant: i.index_digest for i in newest}

    patch = release_of(small_family, "0.44.1")
    images = await publish_release(patch, registry, namespace=ns)
    tags = all_tags(registry, repository)
    assert tags["latest"] == latest["falco"]
    assert tags["latest-debian"] == latest["falco-debian"]
    assert tags["0.44.1"] == images[0].index_digest
    assert tags["aarch64-0.44.1-debian"] == images[1].platforms["linux/arm64"]
    kept = {r.tag: r for i in images for r in i.tag_results if r.status == "kept"}
    assert set(kept) == {"latest", "latest-debian"}
    assert kept["latest"].reason == "kept: it names 0.45.0, newer than 0.44.1"
    assert "latest" not in images[0].tags

    # told explicitly, it moves
    again = await publish_release(
        patch, registry, namespace=ns, move_floating=MoveFloatingTags.ALWAYS
    )
    moved = {r.tag: r for i in again for r in i.tag_results if r.kind == "floating"}
    assert {t: r.status for t, r in moved.items()} == {"latest": "moved", "latest-debian": "moved"}
    assert moved["latest"].previous == latest["falco"]
    assert all_tags(registry, repository)["latest"] == again[0].index_digest


async def test_a_failing_gate_pushes_nothing(
    small_family: BuildResult, registry: str, tools: ToolImages
) -> None:
    ns = namespace()
    strict = ReleaseSteps(
        tools=tools,
        fail_on="HIGH",
        scan_db_repository=f"{registry}/{TRIVY_DB_FIXTURE_REPOSITORY}",
    )
    log = PublishLog()
    with pytest.raises(ScanGateFailed, match="FIXTURE-2026-0001"):
        await publish_release(small_family, registry, namespace=ns, steps=strict, log=log)
    assert log.events == ["phase: stage", "phase: gate"]
    # the catalog is sorted: the repositories that follow the namespace's name come first
    status, body, _ = http(registry, f"/v2/_catalog?n=5&last={ns}")
    assert status == 200, body
    assert not [r for r in json.loads(body)["repositories"] if r.startswith(f"{ns}/")]


async def test_server_errors_on_content_pushes_are_retried(
    small_family: BuildResult, registry: str
) -> None:
    ns = namespace()
    content = await staged(small_family)
    index = f"/v2/{ns}/falco/manifests/{content[1].index_digest}"
    answers = [502, 503, 500]

    def rule(method: str, path: str) -> int | None:
        if method == "PUT" and path == index and answers:
            return answers.pop(0)
        return None

    faults = Faults(rule)
    log = PublishLog()
    with fault_proxy(registry, faults) as proxy:
        images = await publish_release(
            small_family, proxy, namespace=ns, retry=Retry(attempts=5, first_delay=0.1), log=log
        )
    assert len(faults.failed) == 3 and not answers
    assert len(log.retries) == 3
    pushing = f"push {proxy}/{ns}/falco@{content[1].index_digest}"
    assert all(r.startswith(pushing) for r in log.retries), log.retries
    assert all_tags(registry, f"{ns}/falco")["0.44.0-debian"] == images[1].index_digest
