"""The benchmark's result: plain-text tables (plus their notes) and the same data as JSON."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from bench.calls import CommandLineRun
from bench.docker import DockerResult
from bench.layers import ImageDifference
from bench.matrix import AMD64, ARM64
from bench.ours import LockRun, OursRun, OursTarget

MB = 1_000_000
# Issue 14's goals, on the default matrix (same machine, one run).
GOAL_COLD_OVER_DOCKER = 0.5  # full family cold <= 0.5 x the Docker/BuildKit build
GOAL_WARM_SECONDS = 2.5  # warm no-op build-all
GOAL_REBUILD_SECONDS = 10.0  # rebuild after one catalog file changed
GOAL_ARM_OVER_AMD = 1.5  # arm64 cold of each Debian-based image <= 1.5 x its amd64
FILES_SHOWN = 8  # differing files printed per image (the JSON has them all)


@dataclass
class Bench:
    """Everything one ``bench/run`` measured; missing parts are None or empty."""

    meta: dict[str, Any]
    image_set: str = "full"  # the set the cold, warm and rebuild runs build
    limited: bool = False  # --variant/--platform left part of the set out
    lock: LockRun | None = None
    subset_cold: OursRun | None = None  # the former target set, cold, for comparison
    cold: OursRun | None = None
    cold_repeat: OursRun | None = None
    prime: OursRun | None = None  # stands in for the cold run with --skip-cold (not timed)
    warm: OursRun | None = None
    warm_passing: OursRun | None = None  # warm again, less the images that failed (if any)
    call_first: CommandLineRun | None = None  # build-all on the command line (passing images)
    call_again: CommandLineRun | None = None  # the same calls again: the function cache
    rebuild: OursRun | None = None
    rebuild_file: str | None = None
    rebuild_holders: tuple[str, ...] = ()  # "variant platform" of the images holding the file
    prune_seconds: list[float] = field(default_factory=list)
    docker_wall: float | None = None
    docker: list[DockerResult] = field(default_factory=list)
    docker_subset_wall: float | None = None
    docker_subset: list[DockerResult] = field(default_factory=list)
    differences: dict[str, ImageDifference] = field(default_factory=dict)  # "variant platform"

    def first(self) -> OursRun | None:
        """The first full run: cold, or the priming run when cold was skipped."""
        return self.cold or self.prime

    def images(self) -> list[tuple[str, str]]:
        """Every (variant, platform) of the measured set, in plan order."""
        for run in (self.first(), self.warm, self.rebuild):
            if run is not None:
                return [(t.variant, t.platform) for t in run.targets]
        return [(d.variant, d.platform) for d in self.docker]

    def warm_ratio(self) -> float | None:
        """Warm no-op seconds / cold seconds."""
        if self.cold is None or self.warm is None or not self.cold.seconds:
            return None
        return self.warm.seconds / self.cold.seconds

    def warm_served(self) -> CommandLineRun | None:
        """The command line's warm no-op, when every call passed and was served from the
        function cache (what a user's second `build-all` does), else None."""
        run = self.call_again
        if run is None or not run.passed or run.served != run.calls:
            return None
        return run

    def cold_over_docker(self) -> float | None:
        """Our cold build-all seconds / the Docker builds' wall clock (same image set)."""
        return ratio(self.cold.seconds if self.cold else None, self.docker_wall)

    def subset_over_docker(self) -> float | None:
        """The former target set's cold seconds / its Docker builds' wall clock."""
        cold = self.subset_cold or (self.cold if self.image_set == "subset" else None)
        wall = self.docker_subset_wall if self.docker_subset else None
        if self.image_set == "subset":
            wall = self.docker_wall
        return ratio(cold.seconds if cold else None, wall)

    def rebuild_changes(self) -> dict[str, list[str]]:
        """Images whose digest the rebuild changed / kept, vs the run before it."""
        before = self.warm or self.first()
        if before is None or self.rebuild is None:
            return {}
        old, new = before.digests(), self.rebuild.digests()
        changed = [f"{v} {p}" for (v, p), d in new.items() if d is None or d != old.get((v, p))]
        kept = [f"{v} {p}" for (v, p), d in new.items() if d is not None and d == old.get((v, p))]
        return {"changed": changed, "unchanged": kept}

    def rebuild_as_expected(self) -> bool | None:
        """True when exactly the images that hold the changed file got new digests."""
        changes = self.rebuild_changes()
        if not changes:
            return None
        return set(changes["changed"]) == set(self.rebuild_holders) & set(
            changes["changed"] + changes["unchanged"]
        )

    def arm_over_amd(self) -> list[dict[str, Any]]:
        """Per Debian-based variant built for both platforms: arm64 / amd64 cold seconds,
        ours and Docker's."""
        run = self.cold
        out = []
        variants = dict.fromkeys(v for v, _ in self.images())
        for variant in variants:
            amd, arm = _target(run, variant, AMD64), _target(run, variant, ARM64)
            sample = amd or arm or _target(self.first() or self.warm, variant, AMD64)
            if sample is not None and not sample.debian_based:
                continue
            d_amd, d_arm = (
                _docker(self.docker, variant, AMD64),
                _docker(self.docker, variant, ARM64),
            )
            if (amd is None or arm is None) and (d_amd is None or d_arm is None):
                continue
            # a failed image's seconds time its failure, not its build: no ratio
            ours = ratio(
                arm.seconds if arm and arm.passed else None,
                amd.seconds if amd and amd.passed else None,
            )
            out.append(
                {
                    "variant": variant,
                    "ours": ours,
                    "ours_seconds": [t.seconds if t else None for t in (amd, arm)],
                    "docker": ratio(
                        d_arm.seconds if d_arm and d_arm.ok else None,
                        d_amd.seconds if d_amd and d_amd.ok else None,
                    ),
                    "goal_met": None if ours is None else ours <= GOAL_ARM_OVER_AMD,
                }
            )
        return out

    def reproducibility(self) -> dict[str, dict[str, Any]]:
        """Per image: the two cold runs' digests and content digests, and what differs."""
        if self.cold is None or self.cold_repeat is None:
            return {}
        out: dict[str, dict[str, Any]] = {}
        for one in self.cold.targets:
            two = self.cold_repeat.target(one.variant, one.platform)
            if two is None:
                continue
            name = f"{one.variant} {one.platform}"
            diff = self.differences.get(name)
            out[name] = {
                "cold": one.digest,
                "cold_repeat": two.digest,
                "same": one.digest is not None and one.digest == two.digest,
                "content_same": one.content is not None and one.content == two.content,
                "why": diff.summary if diff else None,
            }
        return out

    def goals(self) -> dict[str, Any]:
        """Issue 14's goals: the figure, the goal and whether it was met (None: not measured)."""
        cod = self.cold_over_docker()
        served = self.warm_served()
        engine = self.warm.seconds if self.warm else None
        whole = served is not None and served.images == len(self.images())
        warm = served.seconds if served is not None and whole else engine
        rebuild = self.rebuild.seconds if self.rebuild else None
        arm = [r for r in self.arm_over_amd() if r["ours"] is not None]
        full = self.image_set == "full" and not self.limited
        return {
            "cold_over_docker": {
                "value": cod,
                "goal": GOAL_COLD_OVER_DOCKER,
                "met": None if cod is None or not full else cod <= GOAL_COLD_OVER_DOCKER,
            },
            "warm_seconds": {
                "value": warm,
                "goal": GOAL_WARM_SECONDS,
                "met": None if warm is None or not full else warm <= GOAL_WARM_SECONDS,
                "passing_images_only": self.warm_passing.seconds if self.warm_passing else None,
                "measured": "command line, function cache" if whole else "library session",
                "engine_no_op": engine,
                "command_line_passing_images_only": (
                    served.seconds if served is not None and not whole else None
                ),
            },
            "rebuild_seconds": {
                "value": rebuild,
                "goal": GOAL_REBUILD_SECONDS,
                "met": None if rebuild is None or not full else rebuild <= GOAL_REBUILD_SECONDS,
            },
            "arm_over_amd": {
                "value": {r["variant"]: r["ours"] for r in arm},
                "goal": GOAL_ARM_OVER_AMD,
                "met": None if not arm or not full else all(r["goal_met"] for r in arm),
            },
        }

    def summary(self) -> dict[str, Any]:
        """The headline numbers."""
        return {
            "image_set": self.image_set,
            "lock_seconds": self.lock.seconds if self.lock else None,
            "warm_ratio_to_cold": self.warm_ratio(),
            "ours_cold_over_docker": self.cold_over_docker(),
            "subset_cold_over_docker": self.subset_over_docker(),
            "arm_over_amd": self.arm_over_amd(),
            "goals": self.goals(),
            "rebuild": self.rebuild_changes(),
            "rebuild_as_expected": self.rebuild_as_expected(),
            "reproducibility": self.reproducibility(),
        }

    def to_json(self) -> dict[str, Any]:
        """Everything, JSON-ready."""

        def run(r: OursRun | CommandLineRun | None) -> dict[str, Any] | None:
            return None if r is None else dataclasses.asdict(r)

        def builds(wall: float | None, results: list[DockerResult]) -> dict[str, Any] | None:
            if not results:
                return None
            return {"wall_seconds": wall, "builds": [dataclasses.asdict(d) for d in results]}

        return {
            "meta": self.meta,
            "ours": {
                "image_set": self.image_set,
                "lock": None if self.lock is None else dataclasses.asdict(self.lock),
                "subset_cold": run(self.subset_cold),
                "cold": run(self.cold),
                "cold_repeat": run(self.cold_repeat),
                "prime": run(self.prime),
                "warm": run(self.warm),
                "warm_passing": run(self.warm_passing),
                "call_first": run(self.call_first),
                "call_again": run(self.call_again),
                "rebuild": run(self.rebuild),
                "rebuild_file": self.rebuild_file,
                "rebuild_holders": list(self.rebuild_holders),
                "prune_seconds": self.prune_seconds,
            },
            "docker": builds(self.docker_wall, self.docker),
            "docker_subset": builds(self.docker_subset_wall, self.docker_subset),
            "differences": {k: dataclasses.asdict(v) for k, v in self.differences.items()},
            "summary": self.summary(),
        }


def ratio(num: float | None, den: float | None) -> float | None:
    """``num / den``, None when either is missing or ``den`` is 0."""
    return None if num is None or not den else num / den


def _target(run: OursRun | None, variant: str, platform: str) -> OursTarget | None:
    return None if run is None else run.target(variant, platform)


def _docker(results: Sequence[DockerResult], variant: str, platform: str) -> DockerResult | None:
    return next((d for d in results if (d.variant, d.platform) == (variant, platform)), None)


def _s(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _mb(value: int | None) -> str:
    return "-" if value is None else f"{value / MB:.1f}"


def _r(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def _short(digest: str | None) -> str:
    return "-" if digest is None else digest.removeprefix("sha256:")[:12]


def _digest(target: OursTarget | None) -> str | None:
    return None if target is None else target.digest


def _secs(target: OursTarget | None) -> str:
    if target is None:
        return "-"
    return _s(target.seconds) + ("" if target.passed else " FAIL")


def _dsecs(result: DockerResult | None) -> str:
    if result is None:
        return "-"
    return _s(result.seconds) + ("" if result.ok else " FAIL")


def _met(met: bool | None) -> str:
    return {True: "met", False: "NOT met", None: "not measured"}[met]


def table(header: list[str], rows: list[list[str]], total: list[str], left: set[int]) -> list[str]:
    """Aligned columns (``left`` ones left-aligned), a rule, the rows, a rule, the total."""
    widths = [max(len(r[i]) for r in [header, *rows, total]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return "  ".join(
            c.ljust(w) if i in left else c.rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    rule = line(["-" * w for w in widths])
    return [line(header), rule, *(line(r) for r in rows), rule, line(total)]


def _main_table(bench: Bench) -> list[str]:
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
    rows = []
    for variant, platform in bench.images():
        cold = _target(bench.cold, variant, platform)
        warm = _target(bench.warm, variant, platform)
        rebuilt = _target(bench.rebuild, variant, platform)
        sized = cold or _target(first, variant, platform) or warm
        dock = _docker(bench.docker, variant, platform)
        name = f"{variant} {platform}"
        rebuild_cell = "-"
        if changes:
            rebuild_cell = "changed" if name in changes["changed"] else "same"
            if (name in bench.rebuild_holders) != (name in changes["changed"]):
                rebuild_cell += " (!)"
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
                _dsecs(dock),
                _r(
                    ratio(
                        cold.seconds if cold else None, dock.seconds if dock and dock.ok else None
                    )
                ),
                _mb(sized.uncompressed if sized else None),
                _mb(sized.compressed if sized else None),
                _mb(dock.uncompressed if dock else None),
                _mb(dock.compressed if dock else None),
                _short(_digest(cold or warm)),
                repro_cell,
            ]
        )
    total = [
        "all (wall clock)",
        "",
        _s(bench.cold.seconds if bench.cold else None),
        _s(bench.warm.seconds if bench.warm else None),
        _s(bench.rebuild.seconds if bench.rebuild else None),
        f"{len(changes.get('changed', []))} changed" if changes else "-",
        _s(bench.docker_wall),
        _r(bench.cold_over_docker()),
        *(["-"] * 4),
        "",
        "-" if not repro else ("same" if all(r["same"] for r in repro.values()) else "DIFFERS"),
    ]
    return table(header, rows, total, {0, 1, 5, 12, 13})


def _subset_table(bench: Bench) -> list[str]:
    cold_run = bench.subset_cold
    if cold_run is None and not bench.docker_subset:
        return []
    names = (
        [(t.variant, t.platform) for t in cold_run.targets]
        if cold_run
        else [(d.variant, d.platform) for d in bench.docker_subset]
    )
    rows = []
    for variant, platform in names:
        cold = _target(cold_run, variant, platform)
        dock = _docker(bench.docker_subset, variant, platform)
        rows.append(
            [
                variant,
                platform.split("/")[1],
                _secs(cold),
                _dsecs(dock),
                _r(
                    ratio(
                        cold.seconds if cold else None, dock.seconds if dock and dock.ok else None
                    )
                ),
            ]
        )
    total = [
        "all (wall clock)",
        "",
        _s(cold_run.seconds if cold_run else None),
        _s(bench.docker_subset_wall),
        _r(bench.subset_over_docker()),
    ]
    header = ["image", "platform", "cold s", "docker s", "cold/docker"]
    return [
        "former target set (every variant amd64, falco + falco-debian arm64), for comparison "
        "with earlier runs:",
        *table(header, rows, total, {0, 1}),
        "",
    ]


def render(bench: Bench) -> str:
    """The tables and their notes."""
    return (
        "\n".join(
            [
                *_heading(bench),
                *_main_table(bench),
                "",
                *_subset_table(bench),
                *_lock_notes(bench),
                *_goal_notes(bench),
                *_notes(bench),
                *_reproducibility_notes(bench),
                *failures(bench),
            ]
        )
        + "\n"
    )


def _heading(bench: Bench) -> list[str]:
    meta = bench.meta
    return [
        f"image-family bench  {meta.get('date', '')}  {meta.get('cpus', '?')} CPUs  "
        f"engine {meta.get('engine', '?')}  docker {meta.get('docker', '-')}  "
        f"falco {meta.get('falco_version', '?')} (stand-in)",
        f"images: {meta.get('image_set_description', bench.image_set)}",
        "ours = pipeline build-all (verify, build, smoke tests, sizes) in one session, per image "
        "while all build at once; docker = docker build --no-cache per image (BuildKit), "
        f"{meta.get('docker_jobs') or 'all'} at once",
        "cold/docker = ours cold seconds / docker seconds (below 1: ours faster); sizes in MB "
        "(10^6 bytes): ours = config + layers from the manifest, docker = `docker save`; "
        "gz = gzip layers (ours: export-all's tarball, made after the timed run); "
        "digest = the image's manifest in export-all's reproducible tarball",
        "",
    ]


def _lock_notes(bench: Bench) -> list[str]:
    lock = bench.lock
    if lock is None:
        return []
    cache = "engine cache pruned first" if lock.pruned else "engine cache kept"
    return [
        f"lock (once, before the builds; not part of build-all): {lock.seconds:.1f} s for "
        f"{lock.sets} Debian package sets ({cache}); lock date {lock.date} = the tarballs' times"
    ]


def _goal_notes(bench: Bench) -> list[str]:
    goals = bench.goals()
    out = []
    cod = goals["cold_over_docker"]
    out.append(
        f"goal cold <= {GOAL_COLD_OVER_DOCKER} x docker (full matrix): {_r(cod['value'])} "
        f"{_met(cod['met'])}"
    )
    warm = goals["warm_seconds"]
    warm_line = (
        f"goal warm no-op <= {GOAL_WARM_SECONDS} s: {_s(warm['value'])} s {_met(warm['met'])}"
    )
    served = bench.warm_served()
    if served is not None and bench.call_first is not None:
        whole = served.images == len(bench.images())
        warm_line += (
            f" ({'' if whole else 'passing images only: '}build-all on the command line "
            f"again: {served.seconds:.1f} s for {served.images} image(s) in {served.calls} "
            f"call(s), all served from the function cache as `dagger call` serves them; "
            f"the first time {_s(bench.call_first.seconds)} s)"
        )
    elif bench.call_again is not None:
        warm_line += (
            f" (the command line's calls: {bench.call_again.served}/{bench.call_again.calls} "
            f"served, {'passed' if bench.call_again.passed else 'FAILED'})"
        )
    if bench.warm is not None:
        warm_line += (
            f"; the engine's no-op without the function cache (one library session): "
            f"{_s(bench.warm.seconds)} s ({_pct(bench.warm_ratio())} of cold; execs run "
            f"{len(bench.warm.steps.ran)}, cached {bench.warm.steps.cached})"
        )
    if bench.warm_passing is not None:
        left_out = len(bench.warm.targets) - len(bench.warm_passing.targets) if bench.warm else 0
        warm_line += (
            f"; without the {left_out} failed image(s), whose failed step re-runs: "
            f"{_s(bench.warm_passing.seconds)} s (execs run {len(bench.warm_passing.steps.ran)})"
        )
    out.append(warm_line)
    rebuild = goals["rebuild_seconds"]
    out.append(
        f"goal one-file rebuild <= {GOAL_REBUILD_SECONDS:.0f} s: {_s(rebuild['value'])} s "
        f"{_met(rebuild['met'])}"
    )
    arm = bench.arm_over_amd()
    if arm:
        cells = "; ".join(
            f"{r['variant']} {_r(r['ours'])} ({_s(r['ours_seconds'][1])} / "
            f"{_s(r['ours_seconds'][0])} s; docker {_r(r['docker'])})"
            for r in arm
        )
        out.append(
            f"goal arm64 <= {GOAL_ARM_OVER_AMD} x amd64 cold per Debian-based image, ours: "
            f"{cells}: {_met(goals['arm_over_amd']['met'])}"
        )
    if bench.image_set != "full" or bench.limited:
        out.append(
            "  (goals are for the whole default matrix: this run measured "
            + ("part of it)" if bench.image_set == "full" else "the former target set)")
        )
    return [*out, ""]


def _notes(bench: Bench) -> list[str]:
    notes = []
    for cold in (bench.subset_cold, bench.cold, bench.cold_repeat):
        if cold is not None:
            steps = cold.steps
            warning = "" if len(steps.ran) > steps.cached else "  WARNING: the cache was not empty"
            notes.append(
                f"{cold.label} ({cold.image_set}): {cold.seconds:.1f} s, execs run "
                f"{len(steps.ran)}, cached {steps.cached}{warning}"
            )
    if bench.prime is not None:
        notes.append(
            f"prime (untimed stand-in for cold, --skip-cold): {bench.prime.seconds:.1f} s, execs "
            f"run {len(bench.prime.steps.ran)}, cached {bench.prime.steps.cached}"
        )
    if bench.rebuild is not None:
        changes = bench.rebuild_changes()
        expected = {True: "as expected", False: "NOT as expected", None: "?"}[
            bench.rebuild_as_expected()
        ]
        notes.append(
            f"rebuild after appending a comment to {bench.rebuild_file} "
            f"(held by: {', '.join(bench.rebuild_holders) or 'no image of this set'}): "
            f"{bench.rebuild.seconds:.1f} s; digests changed: "
            f"{', '.join(changes.get('changed', [])) or 'none'} ({expected})"
        )
        notes.append(
            f"  execs that ran ({len(bench.rebuild.steps.ran)}, "
            f"{bench.rebuild.steps.cached} cached): "
            + "; ".join(bench.rebuild.steps.ran[:12])
            + (" ..." if len(bench.rebuild.steps.ran) > 12 else "")
        )
    for label, wall, results in (
        ("docker", bench.docker_wall, bench.docker),
        ("docker (former set)", bench.docker_subset_wall, bench.docker_subset),
    ):
        if results:
            ok = sum(1 for d in results if d.ok)
            notes.append(
                f"{label}: {ok}/{len(results)} images built in {_s(wall)} s wall clock "
                f"(sum of builds {sum(d.seconds for d in results):.1f} s)"
            )
    runs = (bench.cold, bench.cold_repeat, bench.prime, bench.warm, bench.rebuild)
    digest_times = [f"{r.label} {r.digest_seconds:.1f} s" for r in runs if r and r.digest_seconds]
    if digest_times:
        notes.append(
            "reproducible tarballs made, exported and read after each run (untimed): "
            + ", ".join(digest_times)
        )
    return notes


def _reproducibility_notes(bench: Bench) -> list[str]:
    repro = bench.reproducibility()
    if not repro:
        return ["reproducibility: not checked (needs two cold runs: no --skip-cold)"]
    same = [name for name, entry in repro.items() if entry["same"]]
    out = [
        f"reproducibility (export-all's tarballs of two cold runs): {len(same)}/{len(repro)} "
        "images identical"
    ]
    for name, entry in repro.items():
        if entry["same"]:
            continue
        out.append(
            f"  {name}: {_short(entry['cold'])} / {_short(entry['cold_repeat'])}; files "
            f"{'same' if entry['content_same'] else 'differ'}: {entry['why'] or '?'}"
        )
        diff = bench.differences.get(name)
        if diff is None:
            continue
        for path in diff.config[:FILES_SHOWN]:
            out.append(f"    config {path}")
        files = diff.files
        for f in files[:FILES_SHOWN]:
            line = f"    /{f.path}: {f.what}"
            if f.detail:
                line += f" [{f.detail}]"
            if f.cause:
                line += f" -- likely: {f.cause}"
            out.append(line)
        if len(files) > FILES_SHOWN:
            out.append(f"    ... {len(files) - FILES_SHOWN} more (see --json)")
        for layer in diff.layers:
            if layer.order_only:
                out.append(f"    layer {layer.index}: same entries in another order")
    return out


def failures(bench: Bench) -> list[str]:
    """One line per failed build, smoke test or Docker build of the run (none: all passed)."""
    out = []
    runs = (
        bench.subset_cold,
        bench.cold,
        bench.cold_repeat,
        bench.prime,
        bench.warm,
        bench.warm_passing,
        bench.rebuild,
    )
    for run in runs:
        if run is not None and not run.passed:
            failed = [f"{t.variant} {t.platform}" for t in run.targets if not t.passed]
            out.append(
                f"FAILED in {run.label}: {', '.join(failed) or 'no targets'} (see {run.log})"
            )
    for d in [*bench.docker_subset, *bench.docker]:
        if not d.ok:
            out.append(f"docker FAILED {d.variant} {d.platform}: see {d.log}")
    return out
