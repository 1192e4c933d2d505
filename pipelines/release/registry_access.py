"""How the release tools reach registries: credentials, plain HTTP, and the host's loopback.

The tools run in containers, whose loopback is their own: a registry on the host's loopback
(the dev registry on ``127.0.0.1:5000``) is reached through a Dagger host service bound under
an alias, and every reference to it is rewritten to that alias inside the tool's container.

Credentials stay Dagger secrets from end to end: each password is mounted as a secret file, and
the tool runs behind a small wrapper (a static busybox ``sh``, so it works in distroless tool
images) that writes a Docker ``config.json`` on a tmpfs from those files, then runs the
tool. cosign, syft, trivy (``DOCKER_CONFIG``) and skopeo (``REGISTRY_AUTH_FILE``) all read it.
The password is never in an argument list, an environment variable, a layer or this process.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import dagger
from dagger import dag

from pipelines.errors import InputError
from pipelines.release.references import (
    is_loopback_registry,
    registry_of,
    replace_registry,
    split_host_port,
)
from pipelines.tools import with_apt_packages

DOCKER_CONFIG_DIR = "/run/release-tools/docker"
"""A tmpfs: the wrapper writes ``config.json`` there, so it is never part of a layer."""
AUTH_FILE = f"{DOCKER_CONFIG_DIR}/config.json"
SECRETS_DIR = "/run/release-tools/secrets"
BUSYBOX = "/run/release-tools/bin/busybox"
HELPER_IMAGE = "debian:12-slim"
"""The Debian image the static busybox of the credentials wrapper is installed from."""
DOCKER_HUB_CONFIG_KEY = "https://index.docker.io/v1/"
"""The key Docker's ``config.json`` (and so every tool) files Docker Hub's credentials under."""

CREDENTIALS_SCRIPT = f"""set -eu
bb={BUSYBOX}
umask 077
file={AUTH_FILE}
printf '{{"auths":{{' > "$file"
i=0
while [ "$i" -lt "$RELEASE_AUTH_COUNT" ]; do
  eval "address=\\$RELEASE_AUTH_ADDRESS_$i username=\\$RELEASE_AUTH_USERNAME_$i"
  [ "$i" -eq 0 ] || printf ',' >> "$file"
  token=$({{ printf '%s:' "$username"; "$bb" tr -d '\\r\\n' < "{SECRETS_DIR}/registry-$i"; }} \\
    | "$bb" base64 | "$bb" tr -d '\\n')
  printf '"%s":{{"auth":"%s"}}' "$address" "$token" >> "$file"
  i=$((i + 1))
done
printf '}}}}\\n' >> "$file"
exec "$@"
"""
"""Writes ``config.json`` from the mounted password files, then runs the tool (``"$@"``).

``printf`` is the shell's builtin: the token appears in no process's arguments."""

_SAFE_VALUE = re.compile(r"[A-Za-z0-9._:@/+\[\]-]+")


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


async def with_loopback_registries(
    ctr: dagger.Container, refs: Iterable[str]
) -> tuple[dagger.Container, RegistryRoutes]:
    """Bind a host service for every loopback registry that ``refs`` name.

    Each tunnel is started first, so the session holds it to its end. Dagger v0.19.10 crashes
    (nil ``Wait`` of a host service, ``core/services.go``) when a step binds a host service
    that an earlier step's detach, 10 s after it ended, is stopping; a tunnel the session
    started is never stopping. Seen once in CI, in the release-phase tests.
    """
    aliases: dict[str, str] = {}
    for registry in sorted({registry_of(ref) for ref in refs}):
        if not is_loopback_registry(registry):
            continue
        host, port = split_host_port(registry)
        port = port or 80
        tunnel = dag.host().service([dagger.PortForward(backend=port, frontend=port)], host=host)
        await tunnel.start()
        alias = loopback_alias(registry)
        ctr = ctr.with_service_binding(alias, tunnel)
        aliases[registry] = f"{alias}:{port}"
    return ctr, RegistryRoutes(aliases)


def docker_config_key(address: str) -> str:
    """The ``auths`` key of a registry in Docker's ``config.json``."""
    return DOCKER_HUB_CONFIG_KEY if address in ("docker.io", "index.docker.io") else address


def check_access(access: RegistryAccess) -> None:
    """Raise :class:`InputError` for a registry address or user name the config cannot hold."""
    for entry in access.auth:
        for what, value in (("registry", entry.address), ("user name", entry.username)):
            if not _SAFE_VALUE.fullmatch(value):
                raise InputError(
                    f"invalid {what} {value!r} for registry credentials: use letters, digits "
                    "and . _ : @ / + - [ ] only"
                )


def busybox(helper_image: str = HELPER_IMAGE) -> dagger.File:
    """Debian's static busybox (a cached step): a shell that runs in any tool image."""
    base = (
        dag.container().from_(helper_image).with_env_variable("DEBIAN_FRONTEND", "noninteractive")
    )
    return with_apt_packages(base, ("busybox-static",), f"busybox-{helper_image}").file(
        "/bin/busybox"
    )


def with_credentials(
    ctr: dagger.Container,
    access: RegistryAccess,
    routes: RegistryRoutes,
    owner: str,
    helper_image: str = HELPER_IMAGE,
) -> tuple[dagger.Container, list[str]]:
    """Mount ``access``'s passwords as secret files and the wrapper that turns them into a
    Docker ``config.json``; return the container and the argument list to put before the
    tool's command (empty without credentials)."""
    if not access.auth:
        return ctr, []
    check_access(access)
    ctr = (
        ctr.with_mounted_file(BUSYBOX, busybox(helper_image))
        .with_mounted_temp(DOCKER_CONFIG_DIR)
        .with_env_variable("DOCKER_CONFIG", DOCKER_CONFIG_DIR)
        .with_env_variable("REGISTRY_AUTH_FILE", AUTH_FILE)
        .with_env_variable("RELEASE_AUTH_COUNT", str(len(access.auth)))
    )
    for i, entry in enumerate(access.auth):
        ctr = (
            ctr.with_mounted_secret(f"{SECRETS_DIR}/registry-{i}", entry.password, owner=owner)
            .with_env_variable(
                f"RELEASE_AUTH_ADDRESS_{i}", docker_config_key(routes.address(entry.address))
            )
            .with_env_variable(f"RELEASE_AUTH_USERNAME_{i}", entry.username)
        )
    return ctr, [BUSYBOX, "sh", "-c", CREDENTIALS_SCRIPT, "credentials"]
