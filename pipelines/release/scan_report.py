"""Vulnerability scan results: findings read from Trivy's JSON report, counts, and the gate."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal, get_args

from pipelines.errors import InputError

Severity = Literal["UNKNOWN", "LOW", "MEDIUM", "HIGH", "CRITICAL"]
GateSeverity = Literal["LOW", "MEDIUM", "HIGH", "CRITICAL"]
SEVERITIES: tuple[Severity, ...] = get_args(Severity)
"""From least to most severe."""
GATE_SEVERITIES: tuple[GateSeverity, ...] = get_args(GateSeverity)


def severity_rank(severity: Severity) -> int:
    """0 for UNKNOWN up to 4 for CRITICAL."""
    return SEVERITIES.index(severity)


def check_gate_severity(fail_on: str | None) -> GateSeverity | None:
    """``fail_on`` if it is a gate threshold (or None: no gate), else raise :class:`InputError`."""
    if fail_on is None:
        return None
    for allowed in GATE_SEVERITIES:
        if fail_on == allowed:
            return allowed
    raise InputError(
        f"unknown vulnerability gate severity {fail_on!r}; "
        f"choose one of {', '.join(GATE_SEVERITIES)} (or no gate)"
    )


@dataclass(frozen=True)
class Finding:
    """One vulnerability of one installed package."""

    vulnerability_id: str
    package: str
    installed_version: str
    fixed_version: str
    severity: Severity
    title: str
    target: str

    def line(self) -> str:
        """The finding on one line, as the summary lists it."""
        fix = f"fixed in {self.fixed_version}" if self.fixed_version else "no fix yet"
        title = f"  {self.title}" if self.title else ""
        return (
            f"{self.severity:<8} {self.vulnerability_id}  "
            f"{self.package} {self.installed_version} ({fix}){title}"
        )


@dataclass(frozen=True)
class ScanReport:
    """Every finding of a scan of one image, and the gate it was checked against."""

    image_ref: str
    findings: tuple[Finding, ...]
    fail_on: GateSeverity | None
    operating_system: str = ""

    def counts(self) -> dict[Severity, int]:
        """How many findings have each severity, most severe first."""
        counts = {severity: 0 for severity in reversed(SEVERITIES)}
        for finding in self.findings:
            counts[finding.severity] += 1
        return counts

    def breaches(self) -> tuple[Finding, ...]:
        """The findings at or above the gate's threshold (none when there is no gate)."""
        if self.fail_on is None:
            return ()
        threshold = severity_rank(self.fail_on)
        return tuple(f for f in self.findings if severity_rank(f.severity) >= threshold)

    @property
    def passed(self) -> bool:
        """Whether the gate passes."""
        return not self.breaches()

    def summary(self, top: int = 10) -> str:
        """A few lines for a person: counts per severity, the gate, and the worst findings."""
        counts = ", ".join(f"{severity} {n}" for severity, n in self.counts().items())
        where = f" ({self.operating_system})" if self.operating_system else ""
        if self.fail_on is None:
            gate = "no gate"
        else:
            verdict = "passed" if self.passed else f"FAILED by {len(self.breaches())}"
            gate = f"gate {self.fail_on} and above: {verdict}"
        lines = [
            f"{self.image_ref}{where}: {len(self.findings)} vulnerabilities ({counts}); {gate}"
        ]
        lines += [f"  {finding.line()}" for finding in self.findings[:top]]
        if len(self.findings) > top:
            lines.append(f"  ... and {len(self.findings) - top} more")
        return "\n".join(lines)


def normalize_severity(value: object) -> Severity:
    """Trivy's severity name as a :data:`Severity` (anything unknown is UNKNOWN)."""
    for severity in SEVERITIES:
        if value == severity:
            return severity
    return "UNKNOWN"


def findings_from_trivy(report: dict[str, Any]) -> tuple[Finding, ...]:
    """Every vulnerability in a Trivy JSON report (schema 2), most severe first."""
    findings = [
        Finding(
            vulnerability_id=str(vuln.get("VulnerabilityID", "")),
            package=str(vuln.get("PkgName", "")),
            installed_version=str(vuln.get("InstalledVersion", "")),
            fixed_version=str(vuln.get("FixedVersion", "")),
            severity=normalize_severity(vuln.get("Severity")),
            title=str(vuln.get("Title", "")),
            target=str(result.get("Target", "")),
        )
        for result in report.get("Results") or []
        for vuln in result.get("Vulnerabilities") or []
    ]
    findings.sort(key=lambda f: (-severity_rank(f.severity), f.vulnerability_id, f.package))
    return tuple(findings)


def operating_system_of(report: dict[str, Any]) -> str:
    """``debian 12.15``-style name of the scanned image's OS ('' when Trivy found none)."""
    os_info = (report.get("Metadata") or {}).get("OS") or {}
    return " ".join(str(os_info[key]) for key in ("Family", "Name") if os_info.get(key))


def parse_trivy_report(
    image_ref: str, report_json: str, fail_on: GateSeverity | None
) -> ScanReport:
    """A :class:`ScanReport` of ``image_ref`` from Trivy's ``--format json`` output."""
    report = json.loads(report_json)
    if not isinstance(report, dict) or report.get("SchemaVersion") != 2:
        raise ValueError("not a Trivy JSON report of schema version 2")
    return ScanReport(image_ref, findings_from_trivy(report), fail_on, operating_system_of(report))
