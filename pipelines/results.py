"""What a run built: one result per target, the whole result, and its readable report."""

from __future__ import annotations

from dataclasses import dataclass

import dagger

from pipelines.catalog.artifacts import ArtifactRef
from pipelines.errors import PipelineError
from pipelines.plan import BuildPlan, BuildTarget
from pipelines.smoke.checks import SmokeReport


class BuildFailed(PipelineError):
    """At least one target failed to build or failed a smoke test; carries the whole result."""

    def __init__(self, result: BuildResult) -> None:
        self.result = result
        super().__init__(result.render())


@dataclass(frozen=True)
class ArtifactDigest:
    """An artifact that verified, its sha256 and what vouched for it."""

    ref: ArtifactRef
    sha256: str
    checks: tuple[str, ...]


@dataclass(frozen=True)
class TargetResult:
    """One variant on one platform: its container, smoke report, or the error that stopped it."""

    target: BuildTarget
    container: dagger.Container | None
    report: SmokeReport | None
    error: str | None
    seconds: float

    @property
    def passed(self) -> bool:
        """Built, and every smoke test passed."""
        return self.error is None and self.report is not None and self.report.passed


@dataclass(frozen=True)
class BuildResult:
    """Everything one run built, in plan order."""

    plan: BuildPlan
    targets: tuple[TargetResult, ...]
    artifacts: tuple[ArtifactDigest, ...]
    seconds: float

    @property
    def passed(self) -> bool:
        """True when every target of the plan passed."""
        return all(t.passed for t in self.targets)

    def containers(self, variant: str) -> list[dagger.Container]:
        """The containers of ``variant``, one per platform in plan order (built ones only)."""
        return [
            t.container
            for t in self.targets
            if t.target.variant == variant and t.container is not None
        ]

    def render(self) -> str:
        """A readable report: one line per target, failures, verified artifacts."""
        return render_result(self)


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
                _size(size.compressed) if size and size.compressed is not None else "-",
                f"{t.seconds:.1f}",
                " ".join(t.target.tags),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines += [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    if any(t.report and t.report.size and t.report.size.compressed is None for t in result.targets):
        lines += ["", "GZIP: not measured (--gzip-sizes measures it: one gzip export per image)"]
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
