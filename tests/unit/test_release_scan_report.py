"""Reading Trivy's JSON report, counting findings and applying the vulnerability gate."""

from __future__ import annotations

import json
from typing import Any

import pytest

from pipelines.errors import InputError
from pipelines.release.errors import ScanGateFailed
from pipelines.release.scan_report import (
    ScanReport,
    check_gate_severity,
    parse_trivy_report,
)

IMAGE = "127.0.0.1:5000/falco/falco@sha256:" + "cd" * 32


def vuln(vid: str, pkg: str, severity: str, fixed: str = "", title: str = "") -> dict[str, Any]:
    return {
        "VulnerabilityID": vid,
        "PkgName": pkg,
        "InstalledVersion": "1.0-1",
        "FixedVersion": fixed,
        "Severity": severity,
        "Title": title,
    }


def trivy_json(*results: dict[str, Any]) -> str:
    return json.dumps(
        {
            "SchemaVersion": 2,
            "ArtifactName": "alias:5000/falco/falco@sha256:...",
            "Metadata": {"OS": {"Family": "debian", "Name": "12.15"}},
            "Results": list(results),
        }
    )


REPORT = trivy_json(
    {
        "Target": "falco (debian 12.15)",
        "Class": "os-pkgs",
        "Vulnerabilities": [
            vuln("CVE-1", "bash", "MEDIUM"),
            vuln("CVE-2", "libjq1", "HIGH", "1.7", "jq: overflow"),
            vuln("CVE-2", "jq", "HIGH", "1.7", "jq: overflow"),
            vuln("CVE-3", "zlib1g", "LOW"),
            vuln("CVE-4", "tar", "NEGLIGIBLE"),
        ],
    },
    {"Target": "usr/bin/falcoctl", "Class": "lang-pkgs", "Vulnerabilities": None},
    {"Target": "Python", "Class": "lang-pkgs"},
    {
        "Target": "usr/bin/falcoctl",
        "Class": "lang-pkgs",
        "Vulnerabilities": [vuln("GHSA-x", "golang.org/x/net", "CRITICAL", "0.38.0")],
    },
)


def test_findings_are_read_most_severe_first() -> None:
    report = parse_trivy_report(IMAGE, REPORT, "HIGH")
    assert [(f.severity, f.vulnerability_id, f.package) for f in report.findings] == [
        ("CRITICAL", "GHSA-x", "golang.org/x/net"),
        ("HIGH", "CVE-2", "jq"),
        ("HIGH", "CVE-2", "libjq1"),
        ("MEDIUM", "CVE-1", "bash"),
        ("LOW", "CVE-3", "zlib1g"),
        ("UNKNOWN", "CVE-4", "tar"),
    ]
    assert report.findings[0].target == "usr/bin/falcoctl"
    assert report.operating_system == "debian 12.15"
    assert report.image_ref == IMAGE


def test_counts_cover_every_severity() -> None:
    report = parse_trivy_report(IMAGE, REPORT, None)
    assert report.counts() == {"CRITICAL": 1, "HIGH": 2, "MEDIUM": 1, "LOW": 1, "UNKNOWN": 1}
    assert list(report.counts()) == ["CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN"]


@pytest.mark.parametrize(
    ("fail_on", "breaches"),
    [(None, 0), ("CRITICAL", 1), ("HIGH", 3), ("MEDIUM", 4), ("LOW", 5)],
)
def test_gate_counts_findings_at_or_above_the_threshold(fail_on: str | None, breaches: int) -> None:
    report = parse_trivy_report(IMAGE, REPORT, check_gate_severity(fail_on))
    assert len(report.breaches()) == breaches
    assert report.passed is (breaches == 0)


def test_summary_is_readable() -> None:
    report = parse_trivy_report(IMAGE, REPORT, "HIGH")
    lines = report.summary(top=3).splitlines()
    assert lines[0] == (
        f"{IMAGE} (debian 12.15): 6 vulnerabilities "
        "(CRITICAL 1, HIGH 2, MEDIUM 1, LOW 1, UNKNOWN 1); gate HIGH and above: FAILED by 3"
    )
    assert lines[1] == "  CRITICAL GHSA-x  golang.org/x/net 1.0-1 (fixed in 0.38.0)"
    assert lines[2] == "  HIGH     CVE-2  jq 1.0-1 (fixed in 1.7)  jq: overflow"
    assert lines[4] == "  ... and 3 more"
    assert len(lines) == 5


def test_summary_of_a_clean_scan() -> None:
    report = ScanReport(IMAGE, (), "CRITICAL")
    assert report.summary() == (
        f"{IMAGE}: 0 vulnerabilities (CRITICAL 0, HIGH 0, MEDIUM 0, LOW 0, UNKNOWN 0); "
        "gate CRITICAL and above: passed"
    )
    assert "no gate" in ScanReport(IMAGE, (), None).summary()


def test_unfixed_findings_say_so() -> None:
    report = parse_trivy_report(IMAGE, REPORT, None)
    bash = next(f for f in report.findings if f.package == "bash")
    assert "(no fix yet)" in bash.line()


def test_gate_failure_carries_the_report_and_names_the_image() -> None:
    report = parse_trivy_report(IMAGE, REPORT, "CRITICAL")
    error = ScanGateFailed(report)
    assert error.report is report
    assert str(error).startswith(
        f"vulnerability gate failed for {IMAGE}: 1 finding(s) at or above CRITICAL\n"
    )
    assert "GHSA-x" in str(error)


def test_a_report_without_results_has_no_findings() -> None:
    report = parse_trivy_report(IMAGE, json.dumps({"SchemaVersion": 2}), "LOW")
    assert report.findings == ()
    assert report.passed
    assert report.operating_system == ""


def test_other_json_is_not_a_report() -> None:
    with pytest.raises(ValueError, match="schema version 2"):
        parse_trivy_report(IMAGE, json.dumps({"SchemaVersion": 1}), None)
    with pytest.raises(ValueError, match="schema version 2"):
        parse_trivy_report(IMAGE, "[]", None)


def test_unknown_gate_severity_is_refused() -> None:
    assert check_gate_severity("HIGH") == "HIGH"
    assert check_gate_severity(None) is None
    with pytest.raises(InputError, match="unknown vulnerability gate severity 'high'"):
        check_gate_severity("high")
    with pytest.raises(InputError, match="LOW, MEDIUM, HIGH, CRITICAL"):
        check_gate_severity("UNKNOWN")
