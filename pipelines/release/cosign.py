"""What every cosign step shares: its container, key files, password and offline verification."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

import dagger
from dagger import dag

from pipelines.release.registry_access import RegistryAccess
from pipelines.release.tool_container import OUTPUT_DIR, WORK_DIR, ToolContainer, tool_container
from pipelines.release.tool_images import DEFAULT_COSIGN_IMAGE

PRIVATE_KEY_PATH = f"{WORK_DIR}/cosign.key"
PUBLIC_KEY_PATH = f"{WORK_DIR}/cosign.pub"
TRUSTED_ROOT_PATH = f"{WORK_DIR}/trusted_root.json"

EMPTY_TRUSTED_ROOT = json.dumps(
    {"mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1"}
)
"""A Sigstore trusted root that trusts no certificate authority, log or timestamp authority.

Given to key-based verification, it keeps cosign from fetching Sigstore's public trusted root
from its TUF repository (a network call), and proves only what the public key proves."""


@dataclass(frozen=True)
class KeyPair:
    """A cosign key pair: the encrypted private key (PEM) and the public key (PEM)."""

    private_key: dagger.Secret
    public_key: dagger.File


async def cosign_container(
    image: str, refs: Iterable[str], access: RegistryAccess
) -> ToolContainer:
    """A cosign container that reaches the registries of ``refs``."""
    return await tool_container("cosign", image, refs, access)


def registry_flags(cosign: ToolContainer) -> list[str]:
    """Flags that let cosign use plain HTTP or unverified TLS when a registry needs it."""
    return ["--allow-insecure-registry", "--allow-http-registry"] if cosign.insecure else []


def with_password(cosign: ToolContainer, password: dagger.Secret | None) -> ToolContainer:
    """Give cosign the private key's password (empty when None), so it never prompts."""
    if password is None:
        return cosign.with_env("COSIGN_PASSWORD", "")
    return cosign.replace(cosign.container.with_secret_variable("COSIGN_PASSWORD", password))


def with_private_key(
    cosign: ToolContainer, key: dagger.Secret, password: dagger.Secret | None
) -> ToolContainer:
    """Mount the private key at :data:`PRIVATE_KEY_PATH` and give its password."""
    return with_password(cosign.with_secret_file(PRIVATE_KEY_PATH, key), password)


def key_verification(
    cosign: ToolContainer, public_key: dagger.File
) -> tuple[ToolContainer, list[str]]:
    """Mount ``public_key`` for verification that needs nothing else; return the flags to use.

    No transparency log entry is required (signing used ``--tlog-upload=false``) and no Sigstore
    trusted root is fetched: the signature is checked against the public key alone.
    """
    trusted_root = dag.directory().with_new_file("trusted_root.json", EMPTY_TRUSTED_ROOT)
    cosign = cosign.with_file(PUBLIC_KEY_PATH, public_key).with_file(
        TRUSTED_ROOT_PATH, trusted_root.file("trusted_root.json")
    )
    flags = [
        "--key",
        PUBLIC_KEY_PATH,
        "--insecure-ignore-tlog=true",
        "--trusted-root",
        TRUSTED_ROOT_PATH,
    ]
    return cosign, flags


async def generate_key_pair(
    password: dagger.Secret | None, *, cosign_image: str = DEFAULT_COSIGN_IMAGE
) -> KeyPair:
    """A fresh cosign key pair whose private key is encrypted with ``password`` (None: empty).

    Meant for tests and throw-away keys: the private key passes through this process on its way
    into a Dagger secret. Real release keys come from the CI's secret store.
    """
    cosign = with_password(await cosign_container(cosign_image, [], RegistryAccess()), password)
    cosign = cosign.with_output_dir().uncached()
    ran = await cosign.run(
        ["generate-key-pair", "--output-key-prefix", f"{OUTPUT_DIR}/cosign"],
        action="generate",
        subject="a key pair",
    )
    private_pem = await ran.file(f"{OUTPUT_DIR}/cosign.key").contents()
    public_pem = await ran.file(f"{OUTPUT_DIR}/cosign.pub").contents()
    # Both leave the run as plain values, so using them later never runs cosign again.
    private_key = dag.set_secret(f"cosign-private-key-{uuid.uuid4().hex}", private_pem)
    public_key = dag.directory().with_new_file("cosign.pub", public_pem).file("cosign.pub")
    return KeyPair(private_key, public_key)
