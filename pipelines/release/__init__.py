"""Release steps over Dagger: publish a release in phases (content by digest, tags last), sign
image digests, attach SBOM attestations, gate on a scan.

Each tool (cosign, syft, trivy) runs in a container whose image is a parameter (pinned
upstream images by default, see :mod:`pipelines.release.tool_images`); registry-side work
(pushes by digest, tags) is skopeo's, from Debian (:mod:`pipelines.release.registry_client`).
Registries on the host's loopback (the dev registry) are reached through a Dagger host service
and over plain HTTP; others with the credentials of :class:`RegistryAccess`, which stay Dagger
secrets (mounted files) from end to end.
"""

from __future__ import annotations

from pipelines.release.cosign import KeyPair, generate_key_pair
from pipelines.release.errors import ReleaseToolFailed, ScanGateFailed, SignatureVerificationFailed
from pipelines.release.floating import MoveFloatingTags
from pipelines.release.references import DigestReference, parse_digest_reference
from pipelines.release.registry_access import RegistryAccess, RegistryAuth
from pipelines.release.sbom import (
    attest_sbom,
    attested_statements,
    sbom,
    sbom_of_archive,
    verify_sbom_attestation,
)
from pipelines.release.scan import scan, scan_archive
from pipelines.release.scan_report import Finding, GateSeverity, ScanReport, Severity
from pipelines.release.signing import sign, sign_keyless, verify
from pipelines.release.tool_images import ToolImages

__all__ = [
    "DigestReference",
    "Finding",
    "GateSeverity",
    "KeyPair",
    "MoveFloatingTags",
    "RegistryAccess",
    "RegistryAuth",
    "ReleaseToolFailed",
    "ScanGateFailed",
    "ScanReport",
    "Severity",
    "SignatureVerificationFailed",
    "ToolImages",
    "attest_sbom",
    "attested_statements",
    "generate_key_pair",
    "parse_digest_reference",
    "sbom",
    "sbom_of_archive",
    "scan",
    "scan_archive",
    "sign",
    "sign_keyless",
    "verify",
    "verify_sbom_attestation",
]
