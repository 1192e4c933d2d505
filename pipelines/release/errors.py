"""Errors of the release steps (signing, SBOMs, scanning), all :class:`PipelineError` subclasses."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pipelines.errors import PipelineError

if TYPE_CHECKING:
    from pipelines.release.scan_report import ScanReport

STDERR_TAIL_LINES = 15
"""How many of a failed tool's last stderr lines an error message quotes."""


def stderr_tail(stderr: str, lines: int = STDERR_TAIL_LINES) -> str:
    """The last ``lines`` non-blank lines of a tool's stderr, indented for an error message."""
    kept = [line for line in stderr.splitlines() if line.strip()][-lines:]
    return "\n".join(f"  {line}" for line in kept) or "  (no output on stderr)"


class ReleaseToolFailed(PipelineError):
    """A release tool (cosign, syft, trivy) exited non-zero.

    ``str(error)`` names the tool, what it worked on and the end of its stderr.
    """

    def __init__(self, tool: str, action: str, subject: str, exit_code: int, stderr: str) -> None:
        self.tool = tool
        self.action = action
        self.subject = subject
        self.exit_code = exit_code
        self.stderr = stderr
        super().__init__(
            f"{tool} could not {action} {subject} (exit code {exit_code}):\n{stderr_tail(stderr)}"
        )


class SignatureVerificationFailed(ReleaseToolFailed):
    """``cosign verify`` (or ``verify-attestation``) found no valid signature for a reference."""


class ScanGateFailed(PipelineError):
    """The vulnerability scan found findings at or above the gate's severity threshold.

    ``report`` holds every finding; ``str(error)`` is the report's summary.
    """

    def __init__(self, report: ScanReport) -> None:
        self.report = report
        super().__init__(
            f"vulnerability gate failed for {report.image_ref}: "
            f"{len(report.breaches())} finding(s) at or above {report.fail_on}\n{report.summary()}"
        )
