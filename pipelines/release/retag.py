"""Move a tag to an existing manifest, registry side, with skopeo (a real registry client).

Re-publishing a multi-platform container under a second tag does not always give the same
index digest (the engine may order the platforms differently), so floating tags are pointed at
the exact index digest instead: ``skopeo copy --all --preserve-digests repo@digest repo:tag``
pushes only the manifest (the blobs are already there).
"""

from __future__ import annotations

import uuid

import dagger

from pipelines.release.references import is_loopback_registry, registry_of
from pipelines.release.registry_access import with_loopback_registries
from pipelines.tools import tools_container, with_apt_packages

_COPY = r"""
set -eu
skopeo copy --quiet --all --preserve-digests $TLS $CREDS "docker://$SOURCE" "docker://$DEST"
skopeo inspect --raw $TLS2 $CREDS2 "docker://$DEST" | sha256sum | cut -d' ' -f1
"""


def registry_client(tools_image: str) -> dagger.Container:
    """The tools container with skopeo installed (a cached step)."""
    return with_apt_packages(
        tools_container(tools_image), ("skopeo",), f"tools-skopeo-{tools_image}"
    )


async def move_tag(
    source: str,
    dest: str,
    *,
    username: str | None = None,
    password: dagger.Secret | None = None,
    tools_image: str = "debian:12-slim",
) -> str:
    """Point ``dest`` (``repo:tag``) at the manifest ``source`` (``repo@sha256:…``); returns the
    digest ``dest`` now names. Never answered from the engine's cache."""
    ctr, routes = with_loopback_registries(registry_client(tools_image), [source, dest])
    insecure = is_loopback_registry(registry_of(dest))
    tls = "--src-tls-verify=false --dest-tls-verify=false" if insecure else ""
    ctr = (
        ctr.with_env_variable("SOURCE", routes.rewrite(source))
        .with_env_variable("DEST", routes.rewrite(dest))
        .with_env_variable("TLS", tls)
        .with_env_variable("TLS2", "--tls-verify=false" if insecure else "")
        .with_env_variable("RUN_ID", uuid.uuid4().hex)
    )
    if username and password is not None:
        ctr = ctr.with_env_variable("REG_USER", username).with_secret_variable("REG_PASS", password)
        script = (
            'CREDS="--src-creds $REG_USER:$REG_PASS --dest-creds $REG_USER:$REG_PASS"; '
            'CREDS2="--creds $REG_USER:$REG_PASS"\n' + _COPY
        )
    else:
        script = 'CREDS=""; CREDS2=""\n' + _COPY
    out = await ctr.with_exec(["sh", "-c", script]).stdout()
    return "sha256:" + out.strip().splitlines()[-1]
