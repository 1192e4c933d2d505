"""How the release tools reach registries: credentials, plain HTTP, and the host's loopback.

The tools run in containers, whose loopback is their own: a registry on the host's loopback
(the dev registry on ``127.0.0.1:5000``) is reached through a Dagger host service bound under
an alias, and every reference to it is rewritten to that alias inside the tool's container.
Credentials become a Docker ``config.json`` secret, which cosign, syft and trivy all read.
"""

from __future__ import annotations

import base64
import json
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

import dagger
from dagger import dag

from pipelines.release.references import (
    is_loopback_registry,
    registry_of,
    replace_registry,
    split_host_port,
)

DOCKER_CONFIG_DIR = "/run/release-tools/docker"
DOCKER_HUB_CONFIG_KEY = "https://index.docker.io/v1/"
"""The key Docker's ``config.json`` (and so every tool) files Docker Hub's credentials under."""


@dataclass(frozen=True)
class RegistryAuth:
    """Credentials for one registry (``address`` is ``host[:port]``, e.g. ``ghcr.io``)."""

    address: str
    username: str
    password: dagger.Secret


@dataclass(frozen=True)
class RegistryAccess:
    """Credentials, and registries to reach over plain HTTP or without verifying TLS.

    Registries on the loopback interface are always reached that way: they are the host's own.
    """

    auth: tuple[RegistryAuth, ...] = ()
    insecure: tuple[str, ...] = ()

    def is_insecure(self, registry: str) -> bool:
        """Whether the tools may use plain HTTP or unverified TLS for ``registry``."""
        return registry in self.insecure or is_loopback_registry(registry)


def loopback_alias(registry: str) -> str:
    """The host name a tool's container reaches the host's loopback ``registry`` under."""
    host, port = split_host_port(registry)
    label = re.sub(r"[^a-z0-9]+", "-", host.lower()).strip("-")
    return f"loopback-registry-{label}-{port or 80}"


@dataclass(frozen=True)
class RegistryRoutes:
    """Registry host names as the caller writes them, and as a tool's container reaches them."""

    aliases: dict[str, str]

    def rewrite(self, ref: str) -> str:
        """``ref`` as the tool must write it (unchanged unless its registry is tunnelled)."""
        registry = registry_of(ref)
        alias = self.aliases.get(registry)
        return replace_registry(ref, alias) if alias else ref

    def address(self, registry: str) -> str:
        """``registry`` as the tool reaches it."""
        return self.aliases.get(registry, registry)


def with_loopback_registries(
    ctr: dagger.Container, refs: Iterable[str]
) -> tuple[dagger.Container, RegistryRoutes]:
    """Bind a host service for every loopback registry that ``refs`` name."""
    aliases: dict[str, str] = {}
    for registry in sorted({registry_of(ref) for ref in refs}):
        if not is_loopback_registry(registry):
            continue
        host, port = split_host_port(registry)
        port = port or 80
        tunnel = dag.host().service([dagger.PortForward(backend=port, frontend=port)], host=host)
        alias = loopback_alias(registry)
        ctr = ctr.with_service_binding(alias, tunnel)
        aliases[registry] = f"{alias}:{port}"
    return ctr, RegistryRoutes(aliases)


def docker_config_key(address: str) -> str:
    """The ``auths`` key of a registry in Docker's ``config.json``."""
    return DOCKER_HUB_CONFIG_KEY if address in ("docker.io", "index.docker.io") else address


async def docker_config(access: RegistryAccess, routes: RegistryRoutes) -> dagger.Secret | None:
    """A Docker ``config.json`` with ``access``'s credentials, as a secret (None: none given)."""
    if not access.auth:
        return None
    auths: dict[str, dict[str, str]] = {}
    for entry in access.auth:
        password = await entry.password.plaintext()
        token = base64.b64encode(f"{entry.username}:{password}".encode()).decode()
        auths[docker_config_key(routes.address(entry.address))] = {"auth": token}
    # A fresh name: a secret's name is all the engine shows of it.
    name = f"release-tools-docker-config-{uuid.uuid4().hex}"
    return dag.set_secret(name, json.dumps({"auths": auths}))
