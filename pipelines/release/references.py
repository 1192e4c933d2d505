"""Image references as the release tools need them: by digest, and where their registry is."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from pipelines.errors import InputError

DIGEST_PATTERN = re.compile(r"^sha256:[0-9a-f]{64}$")
DOCKER_HUB = "docker.io"


@dataclass(frozen=True)
class DigestReference:
    """An image pinned by digest: ``repository@sha256:…`` (the repository keeps its registry)."""

    repository: str
    digest: str

    def __str__(self) -> str:
        return f"{self.repository}@{self.digest}"

    @property
    def registry(self) -> str:
        """The registry host (``host[:port]``) of the repository."""
        return registry_of(self.repository)


def parse_digest_reference(ref: str) -> DigestReference:
    """Split ``repo[:tag]@sha256:<64 hex>``; raise :class:`InputError` without a valid digest.

    Signatures and attestations are attached to a digest, never to a tag that can move: a tag
    next to the digest (as ``Container.publish`` returns it) is dropped.
    """
    name, at, digest = ref.partition("@")
    if not at:
        raise InputError(
            f"{ref!r} is not a digest reference: sign and verify repo@sha256:<digest>, "
            "as returned by publishing, never a tag"
        )
    if not DIGEST_PATTERN.match(digest):
        raise InputError(f"{ref!r}: the digest must be sha256: followed by 64 lowercase hex digits")
    repository = repository_of(name)
    if not repository or any(c.isspace() for c in repository):
        raise InputError(f"{ref!r}: expected repository@sha256:<digest>")
    return DigestReference(repository, digest)


def repository_of(ref: str) -> str:
    """``ref`` without its tag or digest."""
    name = ref.partition("@")[0]
    last_slash = name.rfind("/")
    colon = name.rfind(":")
    return name[:colon] if colon > last_slash else name


def is_pinned(ref: str) -> bool:
    """Whether ``ref`` names an image by digest (so its content cannot change)."""
    return bool(DIGEST_PATTERN.match(ref.partition("@")[2]))


def registry_of(ref: str) -> str:
    """The registry host of an image reference, with Docker's rules (``debian`` is Docker Hub's)."""
    first, slash, _ = ref.partition("@")[0].partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        return first
    return DOCKER_HUB


def split_host_port(registry: str) -> tuple[str, int | None]:
    """``host[:port]`` (IPv6 in brackets) as ``(host, port)``."""
    if registry.startswith("["):
        host, _, rest = registry[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") else None
    host, colon, port = registry.partition(":")
    return host, int(port) if colon else None


def is_loopback_registry(registry: str) -> bool:
    """Whether ``registry`` (``host[:port]``) is on this machine's loopback interface."""
    host, _ = split_host_port(registry)
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def replace_registry(ref: str, registry: str) -> str:
    """``ref`` with its registry host replaced by ``registry`` (``ref`` must name its registry)."""
    current = registry_of(ref)
    if not ref.startswith(current + "/"):
        raise InputError(f"{ref!r} does not start with its registry {current!r}")
    return registry + ref[len(current) :]
