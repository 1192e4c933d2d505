"""The one way a release talks to a registry itself: skopeo (Debian bookworm's), in a container.

Every operation is one run of a short script in the tools container with skopeo installed:

Manifests are OCI ones and stay byte for byte what they are (``--format oci
--preserve-digests``: skopeo neither converts them nor falls back to Docker's formats, so a
failed write reports the registry's own answer).

- :meth:`RegistryClient.push` pushes a manifest (and what it references) from a staged OCI
  layout to ``repo@digest``: by digest, so no tag is created;
- :meth:`RegistryClient.tag` points ``repo:tag`` at a manifest that is already in the
  repository (registry side: only the manifest is written) and says what the tag named before;
- :meth:`RegistryClient.manifests` and :meth:`RegistryClient.config` read manifests and
  image configurations (e.g. what a floating tag points at now, and its version label).

Credentials are mounted secrets (see :mod:`pipelines.release.registry_access`); registries on
the host's loopback are reached through a Dagger host service. Every run is uncached: the
registry's state is the input. Failures raise :class:`ReleaseToolFailed` with skopeo's stderr,
which :func:`pipelines.release.retry.with_retries` classifies.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import dagger

from pipelines.release.references import DigestReference, registry_of
from pipelines.release.registry_access import RegistryAccess
from pipelines.release.tool_container import WORK_DIR, ToolContainer, wrap_tool
from pipelines.tools import tools_container, with_apt_packages

LAYOUT_DIR = f"{WORK_DIR}/layout"
ABSENT = "absent"
"""What :meth:`RegistryClient.tag` and :meth:`RegistryClient.manifests` say of a missing tag."""

OPERATION_TIMEOUT = 600
"""Seconds one skopeo command may take (a push of a large image included)."""
_MISSING = "manifest unknown|name unknown|not found|404"
_PRELUDE = f"""set -eu
skopeo() {{  # a registry that stops answering fails the attempt (a transient failure) in time
  rc=0; timeout {OPERATION_TIMEOUT} /usr/bin/skopeo "$@" || rc=$?
  [ "$rc" -ne 124 ] || echo "skopeo $1: timed out after {OPERATION_TIMEOUT} s" >&2
  return "$rc"
}}
digest_of() {{ echo "sha256:$(sha256sum < "$1" | cut -d' ' -f1)"; }}
current() {{  # the digest $1 names, or {ABSENT}
  if skopeo inspect --raw $TLS "docker://$1" > /tmp/current 2> /tmp/err; then
    digest_of /tmp/current
  elif grep -qiE '{_MISSING}' /tmp/err; then
    echo {ABSENT}
  else
    cat /tmp/err >&2; return 1
  fi
}}
"""

_PUSH = f"""{_PRELUDE}
name=$1 dest=$2 want=$3 all=$4
skopeo copy --quiet --preserve-digests --format oci $all $DEST_TLS "oci:{LAYOUT_DIR}:$name" \\
  "docker://$dest" >&2
now=$(current "$dest")
[ "$now" = "$want" ] || {{ echo "$dest: the registry holds $now, not $want" >&2; exit 1; }}
"""

_TAG = f"""{_PRELUDE}
source=$1 dest=$2 want=$3 all=$4
before=$(current "$dest")
if [ "$before" != "$want" ]; then
  skopeo copy --quiet --preserve-digests --format oci $all $SRC_TLS $DEST_TLS \\
    "docker://$source" "docker://$dest" >&2
  after=$(current "$dest")
  [ "$after" = "$want" ] || {{ echo "$dest names $after after the copy, not $want" >&2; exit 1; }}
fi
echo "$before"
"""

_MANIFESTS = f"""{_PRELUDE}
for ref in "$@"; do
  if skopeo inspect --raw $TLS "docker://$ref" > /tmp/raw 2> /tmp/err; then
    echo "$ref present $(base64 -w0 < /tmp/raw)"
  elif grep -qiE '{_MISSING}' /tmp/err; then
    echo "$ref {ABSENT} -"
  else
    cat /tmp/err >&2; exit 1
  fi
done
"""

_CONFIG = f"""{_PRELUDE}
skopeo inspect --config $TLS "docker://$1"
"""


def skopeo_container(tools_image: str) -> dagger.Container:
    """The tools container with skopeo installed (a cached step)."""
    return with_apt_packages(
        tools_container(tools_image), ("skopeo",), f"tools-skopeo-{tools_image}"
    )


def digest_of_bytes(data: bytes) -> str:
    """``sha256:<hex>`` of ``data`` (a manifest's digest)."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Manifest:
    """A manifest as a registry serves it under a reference (None: nothing there)."""

    ref: str
    raw: bytes | None

    @property
    def digest(self) -> str | None:
        """Its digest, or None when the reference names nothing."""
        return None if self.raw is None else digest_of_bytes(self.raw)

    def document(self) -> dict[str, Any]:
        """The manifest as JSON (raises when absent)."""
        if self.raw is None:
            raise ValueError(f"{self.ref} names no manifest")
        doc = json.loads(self.raw)
        if not isinstance(doc, dict):
            raise ValueError(f"{self.ref}: the manifest is not a JSON object")
        return doc


@dataclass(frozen=True)
class RegistryClient:
    """Runs skopeo against the registries of a release (one tools image, one access)."""

    tools_image: str
    access: RegistryAccess

    async def _tool(self, refs: Sequence[str]) -> ToolContainer:
        tool = await wrap_tool("skopeo", skopeo_container(self.tools_image), [], refs, self.access)
        insecure = any(self.access.is_insecure(registry_of(ref)) for ref in refs)
        tls = "false" if insecure else "true"
        return (
            tool.with_env("TLS", f"--tls-verify={tls}")
            .with_env("SRC_TLS", f"--src-tls-verify={tls}")
            .with_env("DEST_TLS", f"--dest-tls-verify={tls}")
            .uncached()
        )

    @staticmethod
    async def _run(
        tool: ToolContainer, script: str, args: Sequence[str], action: str, subject: str
    ) -> str:
        ran = await tool.run(["sh", "-c", script, "skopeo", *args], action=action, subject=subject)
        return await ran.stdout()

    async def push(
        self, layout: dagger.Directory, name: str, dest: DigestReference, *, all_: bool
    ) -> None:
        """Push the manifest ``name`` of the OCI ``layout`` (with its blobs; with ``all_``, an
        index with every manifest it lists) to ``dest``, by digest. Checks that the registry then
        holds exactly that digest."""
        tool = await self._tool([str(dest)])
        tool = tool.replace(tool.container.with_mounted_directory(LAYOUT_DIR, layout))
        args = [name, tool.ref(str(dest)), dest.digest, "--all" if all_ else ""]
        await self._run(tool, _PUSH, args, "push", str(dest))

    async def tag(self, source: DigestReference, tag: str, *, all_: bool) -> str:
        """Point ``repository:tag`` (same repository) at ``source``; return the digest the tag
        named before (:data:`ABSENT` for a new tag). Writes nothing when it is already right."""
        tool = await self._tool([str(source)])
        dest = f"{source.repository}:{tag}"
        args = [tool.ref(str(source)), tool.ref(dest), source.digest, "--all" if all_ else ""]
        out = await self._run(tool, _TAG, args, "tag", dest)
        return out.strip().splitlines()[-1]

    async def manifests(self, refs: Sequence[str]) -> list[Manifest]:
        """What each of ``refs`` names now (read only; one run for all)."""
        if not refs:
            return []
        tool = await self._tool(refs)
        out = await self._run(tool, _MANIFESTS, [tool.ref(r) for r in refs], "read", "manifests")
        lines = out.strip().splitlines()
        found = []
        for ref, line in zip(refs, lines, strict=True):
            _, state, raw = line.split(" ", 2)
            found.append(Manifest(ref, None if state == ABSENT else base64.b64decode(raw)))
        return found

    async def config(self, ref: str) -> dict[str, Any]:
        """The image configuration of the image manifest ``ref``."""
        tool = await self._tool([ref])
        out = await self._run(tool, _CONFIG, [tool.ref(ref)], "read the config of", ref)
        doc = json.loads(out)
        if not isinstance(doc, dict):
            raise ValueError(f"{ref}: the image configuration is not a JSON object")
        return doc
