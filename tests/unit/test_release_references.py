"""Digest references, registries and loopback detection of the release tools."""

from __future__ import annotations

import pytest

from pipelines.errors import InputError
from pipelines.release.references import (
    DigestReference,
    is_loopback_registry,
    is_pinned,
    parse_digest_reference,
    registry_of,
    replace_registry,
    repository_of,
    split_host_port,
)
from pipelines.release.registry_access import RegistryAccess, RegistryRoutes, loopback_alias

DIGEST = "sha256:" + "ab" * 32


def test_digest_reference_round_trips() -> None:
    ref = parse_digest_reference(f"127.0.0.1:5000/falco/falco@{DIGEST}")
    assert ref == DigestReference("127.0.0.1:5000/falco/falco", DIGEST)
    assert str(ref) == f"127.0.0.1:5000/falco/falco@{DIGEST}"
    assert ref.registry == "127.0.0.1:5000"


def test_digest_reference_drops_the_tag_that_publish_returns() -> None:
    ref = parse_digest_reference(f"127.0.0.1:5000/falco/falco:0.44.0@{DIGEST}")
    assert ref.repository == "127.0.0.1:5000/falco/falco"


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ("127.0.0.1:5000/falco/falco:0.44.0", "not a digest reference"),
        ("ghcr.io/falco@sha256:abc", "64 lowercase hex digits"),
        ("ghcr.io/falco@sha256:" + "AB" * 32, "64 lowercase hex digits"),
        ("ghcr.io/falco@sha512:" + "ab" * 64, "64 lowercase hex digits"),
        (f"@{DIGEST}", "expected repository"),
        (f"ghcr.io/fal co@{DIGEST}", "expected repository"),
    ],
)
def test_bad_digest_references_are_refused(ref: str, message: str) -> None:
    with pytest.raises(InputError, match=message) as error:
        parse_digest_reference(ref)
    assert ref in str(error.value)


@pytest.mark.parametrize(
    ("ref", "registry"),
    [
        ("debian:12-slim", "docker.io"),
        ("library/debian", "docker.io"),
        ("falcosecurity/falco@" + DIGEST, "docker.io"),
        ("ghcr.io/sigstore/cosign/cosign:v2.6.5", "ghcr.io"),
        ("127.0.0.1:5000/tools/syft:v1.57.1", "127.0.0.1:5000"),
        ("localhost/x", "localhost"),
        ("[::1]:5000/x", "[::1]:5000"),
    ],
)
def test_registry_of_follows_docker_naming(ref: str, registry: str) -> None:
    assert registry_of(ref) == registry


@pytest.mark.parametrize(
    ("ref", "repository"),
    [
        ("127.0.0.1:5000/x/y:tag", "127.0.0.1:5000/x/y"),
        ("127.0.0.1:5000/x/y", "127.0.0.1:5000/x/y"),
        (f"127.0.0.1:5000/x/y:tag@{DIGEST}", "127.0.0.1:5000/x/y"),
        ("debian", "debian"),
    ],
)
def test_repository_of_strips_tag_and_digest(ref: str, repository: str) -> None:
    assert repository_of(ref) == repository


def test_is_pinned() -> None:
    assert is_pinned(f"x/y@{DIGEST}")
    assert not is_pinned("x/y:tag")
    assert not is_pinned("x/y@sha256:short")


@pytest.mark.parametrize(
    ("registry", "loopback"),
    [
        ("127.0.0.1:5000", True),
        ("127.3.2.1", True),
        ("localhost:5000", True),
        ("[::1]:5000", True),
        ("10.0.0.1:5000", False),
        ("ghcr.io", False),
        ("registry.local:5000", False),
    ],
)
def test_is_loopback_registry(registry: str, loopback: bool) -> None:
    assert is_loopback_registry(registry) is loopback


def test_split_host_port() -> None:
    assert split_host_port("127.0.0.1:5000") == ("127.0.0.1", 5000)
    assert split_host_port("ghcr.io") == ("ghcr.io", None)
    assert split_host_port("[::1]:5000") == ("::1", 5000)


def test_replace_registry() -> None:
    assert (
        replace_registry(f"127.0.0.1:5000/a/b@{DIGEST}", "alias:5000") == f"alias:5000/a/b@{DIGEST}"
    )
    with pytest.raises(InputError, match="does not start with its registry"):
        replace_registry("debian:12", "alias:5000")


def test_loopback_registries_are_reached_under_an_alias() -> None:
    assert loopback_alias("127.0.0.1:5000") == "loopback-registry-127-0-0-1-5000"
    assert loopback_alias("[::1]:5000") == "loopback-registry-1-5000"
    routes = RegistryRoutes({"127.0.0.1:5000": "loopback-registry-127-0-0-1-5000:5000"})
    assert (
        routes.rewrite(f"127.0.0.1:5000/a@{DIGEST}")
        == f"loopback-registry-127-0-0-1-5000:5000/a@{DIGEST}"
    )
    assert routes.rewrite("ghcr.io/a:1") == "ghcr.io/a:1"
    assert routes.address("ghcr.io") == "ghcr.io"


def test_plain_http_only_for_loopback_and_named_registries() -> None:
    access = RegistryAccess(insecure=("registry.lan:5000",))
    assert access.is_insecure("127.0.0.1:5000")
    assert access.is_insecure("registry.lan:5000")
    assert not access.is_insecure("ghcr.io")
