"""The benchmark's result: one plain-text table (plus its footnotes) and the same data as JSON."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from bench.docker import DockerResult
from bench.ours import OursRun, OursTarget

MB = 1_000_000
WARM_GOAL = 0.10  # a warm no-op build-all should take less than 10% of a cold one
# Images whose digests two cold runs must reproduce (the distroless ones).
REPRODUCIBLE = (("falco", "linux/amd64"), ("falco", "linux/arm64"))


@dataclass
class Bench:
    """Everything one ``bench/run`` measured; missing parts are None."""

    meta: dict[str, Any]
    cold: OursRun | None = None
    cold_repeat: OursRun | None = None
    prime: OursRun | None = None  # stands in for the cold run with --skip-cold (not timed)
    warm: OursRun | None = None
    rebuild: OursRun | None = None
    rebuild_file: str | None = None
    rebuild_dependents: tuple[str, ...] = ()
    prune_seconds: list[float] = field(default_factory=list)
    docker_wall: float | None = None
    docker: list[DockerResult] = field(default_factory=list)

    def first(self) -> OursRun | None:
        """The first full run: cold, or the priming run when cold was skipped."""
        return self.cold or self.prime

    def images(self) -> list[tuple[str, str]]:
        """Every (variant, platform) of the target set, in plan order."""
        for run in (self.first(), self.warm, self.rebuild):
            if run is not None:
                return [(t.variant, t.platform) for t in run.targets]
        return [(d.variant, d.platform) for d in self.docker]

    def warm_ratio(self) -> float | None:
        """Warm no-op seconds ÷ cold seconds."""
        if self.cold is None or self.warm is None or not self.cold.seconds:
            return None
        return self.warm.seconds / self.cold.seconds

    def cold_over_docker(self) -> float | None:
        """Our cold build-all seconds ÷ the Docker builds' wall clock."""
        if self.cold is None or not self.docker_wall:
            return None
        return self.cold.seconds / self.docker_wall

    def rebuild_changes(self) -> dict[str, list[str]]:
        """Images whose digest the rebuild changed / kept, vs the run before it."""
        before = self.warm or self.first()
        if before is None or self.rebuild is None:
            return {}
        old, new = before.digests(), self.rebuild.digests()
        changed = [f"{v} {p}" for (v, p), d in new.items() if d != old.get((v, p))]
        kept = [f"{v} {p}" for (v, p), d in new.items() if d == old.get((v, p))]
        return {"changed": changed, "unchanged": kept}

    def rebuild_as_expected(self) -> bool | None:
        """True when exactly the images that hold the changed file got new digests."""
        changes = self.rebuild_changes()
        if not changes:
            return None
        return all(
            (name.split(" ")[0] in self.rebuild_dependents) == (name in changes["changed"])
            for name in changes["changed"] + changes["unchanged"]
        )

    def reproducibility(self) -> dict[str, dict[str, Any]]:
        """Per image: the two cold runs' digests, layer contents and creation times."""
        if self.cold is None or self.cold_repeat is None:
            return {}
        out: dict[str, dict[str, Any]] = {}
        for one in self.cold.targets:
            two = self.cold_repeat.target(one.variant, one.platform)
            if two is None:
                continue
            out[f"{one.variant} {one.platform}"] = {
                "cold": one.digest,
                "cold_repeat": two.digest,
                "same": one.digest is not None and one.digest == two.digest,
                "layers_same": one.layers is not None and one.layers == two.layers,
                "created": [one.created, two.created],
            }
        return out

    def summary(self) -> dict[str, Any]:
        """The headline numbers."""
        ratio = self.warm_ratio()
        repro = self.reproducibility()
        return {
            "warm_ratio_to_cold": ratio,
            "warm_goal_met": None if ratio is None else ratio < WARM_GOAL,
            "ours_cold_over_docker": self.cold_over_docker(),
            "rebuild": self.rebuild_changes(),
            "rebuild_as_expected": self.rebuild_as_expected(),
            "distroless_reproducible": (
                all(repro[f"{v} {p}"]["same"] for v, p in REPRODUCIBLE if f"{v} {p}" in repro)
                if repro
                else None
            ),
            "reproducibility": repro,
        }

    def to_json(self) -> dict[str, Any]:
        """Everything, JSON-ready."""

        def run(r: OursRun | None) -> dict[str, Any] | None:
            return None if r is None else dataclasses.asdict(r)

        return {
            "meta": self.meta,
            "ours": {
                "cold": run(self.cold),
                "cold_repeat": run(self.cold_repeat),
                "prime": run(self.prime),
                "warm": run(self.warm),
                "rebuild": run(self.rebuild),
                "rebuild_file": self.rebuild_file,
                "rebuild_dependents": list(self.rebuild_dependents),
                "prune_seconds": self.prune_seconds,
            },
            "docker": None
            if not self.docker
            else {
                "wall_seconds": self.docker_wall,
                "builds": [dataclasses.asdict(d) for d in self.docker],
            },
            "summary": self.summary(),
        }


def _target(run: OursRun | None, variant: str, platform: str) -> OursTarget | None:
    if run is None:
        return None
    return next((t for t in run.targets if (t.variant, t.platform) == (variant, platform)), None)


def _docker(bench: Bench, variant: str, platform: str) -> DockerResult | None:
    return next((d for d in bench.docker if (d.variant, d.platform) == (variant, platform)), None)


def _s(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _mb(value: int | None) -> str:
    return "-" if value is None else f"{value / MB:.1f}"


def _ratio(num: float | None, den: float | None) -> str:
    return "-" if num is None or not den else f"{num / den:.2f}"


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def _short(digest: str | None) -> str:
    return "-" if digest is None else digest.removeprefix("sha256:")[:12]


def _secs(target: OursTarget | None) -> str:
    if target is None:
        return "-"
    return _s(target.seconds) + ("" if target.passed else " FAIL")


def render(bench: Bench) -> str:
    """The table and its footnotes."""
    first = bench.first()
    changes = bench.rebuild_changes()
    repro = bench.reproducibility()
    header = [
        "image",
        "platform",
        "cold s",
        "warm s",
        "rebuild s",
        "rebuild",
        "docker s",
        "cold/docker",
        "ours MB",
        "ours gz MB",
        "docker MB",
        "docker gz MB",
        "digest",
        "2nd cold",
    ]
    rows: list[list[str]] = []
    for variant, platform in bench.images():
        cold = _target(bench.cold, variant, platform)
        warm = _target(bench.warm, variant, platform)
        rebuilt = _target(bench.rebuild, variant, platform)
        sized = cold or _target(first, variant, platform) or warm
        dock = _docker(bench, variant, platform)
        name = f"{variant} {platform}"
        rebuild_cell = "-"
        if changes:
            rebuild_cell = "changed" if name in changes["changed"] else "same"
        repro_cell = "-"
        if name in repro:
            repro_cell = "same" if repro[name]["same"] else "DIFFERS"
        rows.append(
            [
                variant,
                platform.split("/")[1],
                _secs(cold),
                _secs(warm),
                _secs(rebuilt),
                rebuild_cell,
                "-" if dock is None else _s(dock.seconds) + ("" if dock.ok else " FAIL"),
                _ratio(cold.seconds if cold else None, dock.seconds if dock else None),
                _mb(sized.uncompressed if sized else None),
                _mb(sized.compressed if sized else None),
                _mb(dock.uncompressed if dock else None),
                _mb(dock.compressed if dock else None),
                _short(sized.digest if sized else None),
                repro_cell,
            ]
        )
    rows.append(
        [
            "all (wall clock)",
            "",
            _s(bench.cold.seconds if bench.cold else None),
            _s(bench.warm.seconds if bench.warm else None),
            _s(bench.rebuild.seconds if bench.rebuild else None),
            f"{len(changes.get('changed', []))} changed" if changes else "-",
            _s(bench.docker_wall),
            _ratio(bench.cold.seconds if bench.cold else None, bench.docker_wall),
            *(["-"] * 4),
            "",
            "-" if not repro else ("same" if all(r["same"] for r in repro.values()) else "DIFFERS"),
        ]
    )
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    left = {0, 1, 5, 12, 13}

    def line(cells: list[str]) -> str:
        return "  ".join(
            c.ljust(w) if i in left else c.rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    out = [line(header), line(["-" * w for w in widths])]
    out += [line(r) for r in rows[:-1]]
    out += [line(["-" * w for w in widths]), line(rows[-1])]
    return "\n".join([*_heading(bench), *out, "", *_notes(bench)]) + "\n"


def _heading(bench: Bench) -> list[str]:
    meta = bench.meta
    return [
        f"image-family bench  {meta.get('date', '')}  {meta.get('cpus', '?')} CPUs  "
        f"engine {meta.get('engine', '?')}  docker {meta.get('docker', '-')}  "
        f"falco {meta.get('falco_version', '?')} (stand-in)",
        "ours = pipeline build-all (verify, build, smoke tests, sizes) in one session; "
        "docker = docker build --no-cache per image (BuildKit), "
        f"{meta.get('docker_jobs', '?')} at once",
        "cold/docker = ours cold seconds / docker seconds (below 1: ours faster); sizes in MB "
        "(10^6 bytes) of an OCI tarball (ours) or `docker save` (docker), gz = gzip layers",
        "",
    ]


def _notes(bench: Bench) -> list[str]:
    notes = []
    for cold in (bench.cold, bench.cold_repeat):
        if cold is not None:
            steps = cold.steps
            warning = "" if len(steps.ran) > steps.cached else "  WARNING: the cache was not empty"
            notes.append(
                f"{cold.label}: {cold.seconds:.1f} s, execs run {len(steps.ran)}, "
                f"cached {steps.cached}{warning}"
            )
    ratio = bench.warm_ratio()
    if bench.warm is not None:
        goal = (
            ""
            if ratio is None
            else ("  goal < 10%: met" if ratio < WARM_GOAL else "  goal < 10%: NOT met")
        )
        base = "of cold" if ratio is not None else "(no cold run: --skip-cold)"
        notes.append(
            f"warm no-op build-all: {bench.warm.seconds:.1f} s = {_pct(ratio)} {base}{goal}; "
            f"execs run {len(bench.warm.steps.ran)}, cached {bench.warm.steps.cached}"
        )
    if bench.rebuild is not None:
        changes = bench.rebuild_changes()
        expected = {True: "as expected", False: "NOT as expected", None: "?"}[
            bench.rebuild_as_expected()
        ]
        notes.append(
            f"rebuild after appending a comment to {bench.rebuild_file} "
            f"(in: {', '.join(bench.rebuild_dependents)}): {bench.rebuild.seconds:.1f} s = "
            f"{_pct(None if not bench.cold else bench.rebuild.seconds / bench.cold.seconds)} "
            f"of cold; digests changed: {', '.join(changes.get('changed', [])) or 'none'} "
            f"({expected})"
        )
        notes.append(
            f"  execs that ran ({len(bench.rebuild.steps.ran)}, "
            f"{bench.rebuild.steps.cached} cached): "
            + "; ".join(bench.rebuild.steps.ran[:12])
            + (" ..." if len(bench.rebuild.steps.ran) > 12 else "")
        )
    cod = bench.cold_over_docker()
    if bench.docker:
        ok = sum(1 for d in bench.docker if d.ok)
        notes.append(
            f"docker: {ok}/{len(bench.docker)} images built in {_s(bench.docker_wall)} s wall "
            f"clock (sum of builds {sum(d.seconds for d in bench.docker):.1f} s)"
            + ("" if cod is None else f"; ours cold / docker = {cod:.2f}")
        )
    repro = bench.reproducibility()
    if repro:
        for variant, platform in REPRODUCIBLE:
            entry = repro.get(f"{variant} {platform}")
            if entry:
                notes.append(
                    f"reproducible {variant} {platform}: cold#1 {entry['cold']}  "
                    f"cold#2 {entry['cold_repeat']}  {'same' if entry['same'] else 'DIFFERENT'}"
                    f"; layer content {'same' if entry['layers_same'] else 'DIFFERENT'}"
                    f"; config created {entry['created'][0]} / {entry['created'][1]}"
                )
    elif bench.cold is None:
        notes.append("reproducibility: not checked (--skip-cold)")
    for run in (bench.cold, bench.cold_repeat, bench.prime, bench.warm, bench.rebuild):
        if run is not None and not run.passed:
            failed = [f"{t.variant} {t.platform}" for t in run.targets if not t.passed]
            notes.append(
                f"FAILED in {run.label}: {', '.join(failed) or 'no targets'} (see {run.log})"
            )
    for d in bench.docker:
        if not d.ok:
            notes.append(f"docker FAILED {d.variant} {d.platform}: see {d.log}")
    return notes
