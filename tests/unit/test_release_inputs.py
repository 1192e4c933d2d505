"""Release functions refuse bad input before any container runs (no engine needed)."""

from __future__ import annotations

import base64
import importlib.util
import io
import json
import sys
import tarfile
from pathlib import Path
from types import ModuleType

import pytest

from pipelines.errors import InputError
from pipelines.release import attested_statements, sbom, scan, sign_keyless
from pipelines.release.errors import ReleaseToolFailed, SignatureVerificationFailed, stderr_tail
from pipelines.release.signing import annotation_flags
from pipelines.release.tool_images import (
    COSIGN_VERSION,
    SYFT_VERSION,
    TRIVY_VERSION,
    ToolImages,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
DIGEST_REF = "127.0.0.1:5000/falco/falco@sha256:" + "ef" * 32


def load_seed_script() -> ModuleType:
    path = REPO_ROOT / "scripts" / "seed_tool_images.py"
    if str(path.parent) not in sys.path:  # as when run as a script: its helpers beside it
        sys.path.insert(0, str(path.parent))
    spec = importlib.util.spec_from_file_location("seed_tool_images", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while decorating
    spec.loader.exec_module(module)
    return module


async def test_keyless_signing_without_a_token_fails_first() -> None:
    with pytest.raises(InputError, match="needs an OIDC identity token: none was given") as error:
        await sign_keyless(DIGEST_REF, None)
    assert DIGEST_REF in str(error.value)


async def test_keyless_signing_needs_a_digest() -> None:
    with pytest.raises(InputError, match="not a digest reference"):
        await sign_keyless("127.0.0.1:5000/falco/falco:0.44.0", None)


async def test_sbom_format_is_checked() -> None:
    with pytest.raises(InputError, match="unknown SBOM format 'spdx'"):
        await sbom(DIGEST_REF, format="spdx")  # type: ignore[arg-type]


async def test_scan_threshold_is_checked() -> None:
    with pytest.raises(InputError, match="unknown vulnerability gate severity 'SEVERE'"):
        await scan(DIGEST_REF, fail_on="SEVERE")  # type: ignore[arg-type]


def test_annotations_become_sorted_flags() -> None:
    assert annotation_flags({"b": "2", "a": "1"}) == ["-a", "a=1", "-a", "b=2"]


def test_attested_statements_are_decoded_from_dsse_envelopes() -> None:
    statement = {"_type": "https://in-toto.io/Statement/v0.1", "predicate": {"name": "x"}}
    envelope = {
        "payloadType": "application/vnd.in-toto+json",
        "payload": base64.b64encode(json.dumps(statement).encode()).decode(),
        "signatures": [{"sig": "..."}],
    }
    output = json.dumps(envelope) + "\n\n" + json.dumps(envelope) + "\n"
    assert attested_statements(output) == [statement, statement]


def test_tool_failures_quote_the_end_of_stderr() -> None:
    stderr = "\n".join(f"line {i}" for i in range(30)) + "\nError: no matching signatures\n"
    error = SignatureVerificationFailed("cosign", "verify a signature of", DIGEST_REF, 10, stderr)
    assert isinstance(error, ReleaseToolFailed)
    text = str(error)
    assert text.startswith(f"cosign could not verify a signature of {DIGEST_REF} (exit code 10):")
    assert text.endswith("  Error: no matching signatures")
    assert "line 15" not in text
    assert stderr_tail("") == "  (no output on stderr)"


def test_seed_script_pins_the_versions_the_pipeline_defaults_to() -> None:
    seed = load_seed_script()
    versions = {tool.name: tool.version for tool in seed.TOOLS}
    assert versions == {"cosign": COSIGN_VERSION, "syft": SYFT_VERSION, "trivy": TRIVY_VERSION}
    seeded = ToolImages.seeded("127.0.0.1:5000")
    assert seeded.cosign == f"127.0.0.1:5000/tools/cosign:{COSIGN_VERSION}"
    assert seeded.trivy.endswith(f"tools/trivy:{TRIVY_VERSION}")
    upstream = ToolImages()
    assert upstream.syft == f"docker.io/anchore/syft:{SYFT_VERSION}"
    assert upstream.trivy == f"docker.io/aquasec/trivy:{TRIVY_VERSION.removeprefix('v')}"


def test_seed_script_layers_are_reproducible() -> None:
    seed = load_seed_script()
    files = {"usr/local/bin/tool": (b"\x7fELF...", 0o755)}
    first = seed.single_file_tar_gz(files)
    assert first == seed.single_file_tar_gz(files)
    with tarfile.open(fileobj=io.BytesIO(first[0])) as tar:
        (member,) = tar.getmembers()
    assert (member.name, member.mode, member.uid, member.gid, member.mtime) == (
        "usr/local/bin/tool",
        0o755,
        0,
        0,
        0,
    )
