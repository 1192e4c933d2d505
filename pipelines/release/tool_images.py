"""Which images run the release tools: pinned upstream images, or the dev registry's builds.

Every release function takes its tool's image reference as a parameter. The contract is small:
the image's entrypoint is the tool (true of the upstream images below and of the images that
``scripts/seed_tool_images.py`` builds from the same versions), and it may run as any user.
"""

from __future__ import annotations

from dataclasses import dataclass

COSIGN_VERSION = "v2.6.5"
SYFT_VERSION = "v1.57.1"
TRIVY_VERSION = "v0.74.0"
"""Tool versions; ``scripts/seed_tool_images.py`` pins the same ones (a unit test checks)."""

DEFAULT_COSIGN_IMAGE = f"ghcr.io/sigstore/cosign/cosign:{COSIGN_VERSION}"
DEFAULT_SYFT_IMAGE = f"docker.io/anchore/syft:{SYFT_VERSION}"
DEFAULT_TRIVY_IMAGE = f"docker.io/aquasec/trivy:{TRIVY_VERSION.removeprefix('v')}"

TRIVY_DB_FIXTURE_REPOSITORY = "tools/trivy-db-fixture:2"
"""Where the seed script pushes the test vulnerability DB (in the dev registry)."""


@dataclass(frozen=True)
class ToolImages:
    """The image of each release tool."""

    cosign: str = DEFAULT_COSIGN_IMAGE
    syft: str = DEFAULT_SYFT_IMAGE
    trivy: str = DEFAULT_TRIVY_IMAGE

    @classmethod
    def seeded(cls, registry: str) -> ToolImages:
        """The images ``scripts/seed_tool_images.py`` pushed to ``registry`` (``host:port``)."""
        return cls(
            cosign=f"{registry}/tools/cosign:{COSIGN_VERSION}",
            syft=f"{registry}/tools/syft:{SYFT_VERSION}",
            trivy=f"{registry}/tools/trivy:{TRIVY_VERSION}",
        )
