"""Running one release tool in its own container, and turning its failures into errors.

A tool runs through its image's entrypoint, as the image's user, with:

- the registries its references name made reachable, and credentials as mounted secrets behind
  a wrapper that writes the tool's ``config.json`` on a tmpfs (see :mod:`registry_access`);
- inputs and outputs mounted under ``/run/release-tools``, owned by the image's user;
- for steps with effects outside the container (signing, scanning with a fresh DB), a unique
  environment variable, so the engine never answers them from its cache.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

import dagger
from dagger import dag

from pipelines.release.errors import ReleaseToolFailed
from pipelines.release.references import registry_of
from pipelines.release.registry_access import (
    RegistryAccess,
    RegistryRoutes,
    with_credentials,
    with_loopback_registries,
)

WORK_DIR = "/run/release-tools"
OUTPUT_DIR = f"{WORK_DIR}/out"


@dataclass(frozen=True)
class ToolContainer:
    """A tool's container, ready to run, and how references must be written inside it."""

    tool: str
    container: dagger.Container
    routes: RegistryRoutes
    owner: str
    insecure: bool
    command: tuple[str, ...] = ()
    """What comes before the arguments: the credentials wrapper (if any), then the entrypoint."""

    def ref(self, ref: str) -> str:
        """``ref`` as the tool must write it."""
        return self.routes.rewrite(ref)

    def with_secret_file(self, path: str, secret: dagger.Secret) -> ToolContainer:
        """Mount ``secret`` at ``path``, readable by the tool's user."""
        ctr = self.container.with_mounted_secret(path, secret, owner=self.owner)
        return self.replace(ctr)

    def with_file(self, path: str, file: dagger.File) -> ToolContainer:
        """Mount ``file`` at ``path``, owned by the tool's user."""
        return self.replace(self.container.with_mounted_file(path, file, owner=self.owner))

    def with_output_dir(self) -> ToolContainer:
        """Mount an empty directory at :data:`OUTPUT_DIR` that the tool can write to."""
        ctr = self.container.with_mounted_directory(OUTPUT_DIR, dag.directory(), owner=self.owner)
        return self.replace(ctr)

    def with_env(self, name: str, value: str) -> ToolContainer:
        return self.replace(self.container.with_env_variable(name, value))

    def uncached(self) -> ToolContainer:
        """Make the next run really run, even when an identical one ran before."""
        return self.with_env("RELEASE_TOOLS_RUN_ID", uuid.uuid4().hex)

    def replace(self, container: dagger.Container) -> ToolContainer:
        return dataclasses.replace(self, container=container)

    async def run(
        self,
        args: list[str],
        *,
        action: str,
        subject: str,
        failure: type[ReleaseToolFailed] = ReleaseToolFailed,
    ) -> dagger.Container:
        """Run the tool with ``args``; raise ``failure`` naming ``subject`` if it exits non-zero."""
        ran = self.container.with_exec([*self.command, *args], expect=dagger.ReturnType.ANY)
        exit_code = await ran.exit_code()
        if exit_code != 0:
            raise failure(self.tool, action, subject, exit_code, await ran.stderr())
        return ran


async def tool_container(
    tool: str, image: str, refs: Iterable[str], access: RegistryAccess
) -> ToolContainer:
    """A container of ``image`` that can reach the registries of ``refs`` with ``access``; the
    tool is the image's entrypoint."""
    base = dag.container().from_(image)
    return await wrap_tool(tool, base, await base.entrypoint(), refs, access)


async def wrap_tool(
    tool: str,
    base: dagger.Container,
    entrypoint: list[str],
    refs: Iterable[str],
    access: RegistryAccess,
) -> ToolContainer:
    """``base`` ready to run ``entrypoint`` (plus arguments) against the registries of ``refs``."""
    refs = list(refs)
    owner = await base.user()
    ctr, routes = await with_loopback_registries(base, refs)
    ctr, wrapper = with_credentials(ctr, access, routes, owner)
    insecure = any(access.is_insecure(registry_of(ref)) for ref in refs)
    return ToolContainer(tool, ctr, routes, owner, insecure, (*wrapper, *entrypoint))
