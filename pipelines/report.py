"""The readable report of a build: one line per image, then failures and verified artifacts."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pipelines.run import BuildResult

MB = 1_000_000


def _size(value: int) -> str:
    return f"{value / MB:.1f} MB"


def render_result(result: BuildResult) -> str:
    """The report of ``result`` as aligned text."""
    build_plan = result.plan
    passed = sum(1 for t in result.targets if t.passed)
    kind = "final release" if build_plan.is_final else "pre-release"
    lines = [
        f"{build_plan.family} {build_plan.version} ({kind}): {passed}/{len(result.targets)} "
        f"images passed in {result.seconds:.1f} s",
        "",
    ]
    rows = [("VARIANT", "PLATFORM", "RESULT", "CHECKS", "SIZE", "GZIP", "SECONDS", "TAGS")]
    for t in result.targets:
        report = t.report
        checks = (
            f"{len(report.results) - len(report.failures)}/{len(report.results)}" if report else "-"
        )
        size = report.size if report else None
        rows.append(
            (
                t.target.variant,
                t.target.platform,
                "PASS" if t.passed else "FAIL",
                checks,
                _size(size.uncompressed) if size else "-",
                _size(size.compressed) if size else "-",
                f"{t.seconds:.1f}",
                " ".join(t.target.tags),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines += [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    failures = []
    for t in result.targets:
        where = f"{t.target.variant} {t.target.platform}"
        if t.error is not None:
            failures.append(f"  {where}: build: {t.error}")
        elif t.report is not None:
            failures += [f"  {where}: {r.check}: {r.detail}" for r in t.report.failures]
    if failures:
        lines += ["", "failures:", *failures]
    if result.artifacts:
        lines += ["", "verified artifacts:"]
        lines += [
            f"  {a.ref.name} {a.ref.version} {a.ref.platform} sha256:{a.sha256} "
            f"({', '.join(a.checks)})"
            for a in result.artifacts
        ]
    return "\n".join(lines) + "\n"
