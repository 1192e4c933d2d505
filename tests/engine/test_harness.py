"""The dev engine really runs containers, emulates arm64, reaches loopback and publishes."""

from __future__ import annotations

import hashlib
import json
import subprocess
import threading
import uuid
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import dagger
import pytest
from dagger import dag

from tests.standin import Answer, serve

pytestmark = [pytest.mark.engine, pytest.mark.usefixtures("engine")]


@pytest.fixture
def loopback_file(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A file served by a plain HTTP server on 127.0.0.1: (url, contents)."""
    body = f"served from loopback {uuid.uuid4()}\n"
    (tmp_path / "hello.txt").write_text(body)
    handler = partial(SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hello.txt", body
    finally:
        server.shutdown()
        server.server_close()


async def test_debian_slim_runs_a_command() -> None:
    out = await (
        dag.container().from_("debian:12-slim").with_exec(["cat", "/etc/debian_version"]).stdout()
    )
    assert out.startswith("12."), out


async def test_arm64_container_reports_aarch64() -> None:
    ctr = dag.container(platform=dagger.Platform("linux/arm64")).from_("debian:12-slim")
    assert (await ctr.with_exec(["uname", "-m"]).stdout()).strip() == "aarch64"
    assert await ctr.platform() == "linux/arm64"


async def test_http_fetches_from_loopback(loopback_file: tuple[str, str]) -> None:
    url, body = loopback_file
    assert await dag.http(url).contents() == body


async def test_a_held_download_is_revalidated_not_fetched_again(tmp_path: Path) -> None:
    """The stand-in answers as the real download sites do (ETag, 304): a later session's
    ``http`` of an unchanged file costs a revalidation, a changed file is fetched again."""
    artifact = tmp_path / "download.falco.org" / "falco.tar.gz"
    artifact.parent.mkdir()
    first, second = f"first {uuid.uuid4()}\n", f"second, changed {uuid.uuid4()}\n"
    artifact.write_text(first)
    answers: list[Answer] = []
    with serve(tmp_path, answers=answers) as base:
        url = f"{base}/download.falco.org/falco.tar.gz"
        seen = []
        for body in (first, first, second):
            if body == second:
                artifact.write_text(second)
            async with dagger.Connection(dagger.Config(log_output=None)) as session:
                seen.append(await session.http(url).contents())
    assert seen == [first, first, second]
    assert [a.status for a in answers] == [200, 304, 200]


async def test_containers_reach_debian_mirror() -> None:
    out = await (
        dag.container()
        .from_("debian:12-slim")
        .with_exec(["apt-get", "update", "-qq"])
        .with_exec(["apt-cache", "policy", "jq"])
        .stdout()
    )
    assert "Candidate:" in out


async def test_publish_and_pull_back_by_digest(registry: str) -> None:
    marker = str(uuid.uuid4())
    ref = f"{registry}/harness/roundtrip:{marker[:8]}"
    published = await (
        dag.container().from_("debian:12-slim").with_new_file("/marker", marker).publish(ref)
    )
    named, _, digest = published.partition("@")
    assert named == ref, published
    assert digest.startswith("sha256:"), published
    pulled = dag.container().from_(f"{registry}/harness/roundtrip@{digest}")
    assert await pulled.file("/marker").contents() == marker
    # Inspect with a real registry client, not with the code under test.
    raw = subprocess.run(
        ["skopeo", "inspect", "--raw", "--tls-verify=false", f"docker://{ref}"],
        check=True,
        capture_output=True,
    ).stdout
    assert f"sha256:{hashlib.sha256(raw).hexdigest()}" == digest
    assert json.loads(raw)["schemaVersion"] == 2
