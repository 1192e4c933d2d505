"""``python -m bench.run``: the benchmark in one run (see bench/README.md; use ``bench/run``).

Order: stand-in release and catalog copy; the lock step (once, timed apart); the former target
set cold, for comparison; the default matrix cold twice (engine cache pruned before each: time,
and the reproducibility of export-all's tarballs), a warm no-op, a rebuild after one catalog
file changed; then Docker builds of the former set and of the matrix from
``bench/dockerfiles``. Everything is served from one loopback server that stays up throughout.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import sys
from pathlib import Path

import anyio

from bench import calls, docker, ours
from bench.inputs import Inputs, prepare
from bench.layers import diff_images
from bench.matrix import FULL, SUBSET, ImageSet, holders, images, restrict
from bench.report import Bench, failures, render
from pipelines.catalog.loader import load_family
from tests.engine.family import FALCO_CATALOG
from tests.standin import serve

DEFAULT_WORK = Path(os.environ.get("BENCH_WORK", "/var/tmp/image-family-bench"))
PLATFORMS = ("linux/amd64", "linux/arm64")


def parse_args(argv: list[str]) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(prog="bench/run", description=__doc__)
    parser.add_argument(
        "--skip-cold",
        action="store_true",
        help="keep the engine cache: no cold runs, no reproducibility check, no former-set "
        "cold run (an untimed priming build-all runs instead)",
    )
    parser.add_argument("--skip-docker", action="store_true", help="no Dockerfile builds")
    parser.add_argument("--skip-ours", action="store_true", help="only the Dockerfile builds")
    sets = parser.add_mutually_exclusive_group()
    sets.add_argument(
        "--subset-only",
        action="store_true",
        help="quick run: the former target set only (every variant amd64, falco and "
        "falco-debian arm64) instead of the default matrix",
    )
    sets.add_argument(
        "--skip-subset",
        action="store_true",
        help="no extra cold run and Docker builds of the former target set",
    )
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="NAME",
        help="only this variant (repeatable; default: every variant)",
    )
    parser.add_argument(
        "--platform",
        action="append",
        default=[],
        choices=PLATFORMS,
        help="only this platform (repeatable; default: both)",
    )
    parser.add_argument(
        "--docker-jobs",
        type=int,
        default=None,
        help="docker builds at once (default: all, as the pipeline builds every target at once)",
    )
    parser.add_argument(
        "--keep-docker-images",
        action="store_true",
        help="leave the bench-dockerfile/* images in Docker (removed by default: several GB)",
    )
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK, help="scratch directory")
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    return parser.parse_args(argv)


def _log(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


def image_sets(args: argparse.Namespace) -> tuple[ImageSet, ImageSet | None]:
    """The set to measure and the former target set to compare with (None: not measured)."""
    known = load_family(FALCO_CATALOG).variant_names
    unknown = [v for v in args.variant if v not in known]
    if unknown:
        raise SystemExit(f"bench/run: unknown variant(s) {', '.join(unknown)}: {', '.join(known)}")
    main = restrict(SUBSET if args.subset_only else FULL, args.variant, args.platform)
    if not main.groups:
        raise SystemExit("bench/run: --variant/--platform leave nothing to build")
    compare = None
    if not args.subset_only and not args.skip_subset:
        compare = restrict(SUBSET, args.variant, args.platform)
        if not compare.groups:
            compare = None
    return main, compare


def _same_images(inputs: Inputs, base_url: str, one: ImageSet, two: ImageSet | None) -> bool:
    if two is None:
        return True
    plans_one = ours.plans(inputs.catalog, inputs.version, base_url, one)
    plans_two = ours.plans(inputs.catalog, inputs.version, base_url, two)
    return set(images(plans_one)) == set(images(plans_two))


async def _ours(
    bench: Bench,
    args: argparse.Namespace,
    inputs: Inputs,
    base_url: str,
    main: ImageSet,
    compare: ImageSet | None,
) -> None:
    work, logs = args.work, args.work / "logs"
    if not args.skip_cold:
        _log("pruning the engine's local cache, then the lock step")
        bench.prune_seconds.append(await ours.prune_engine_cache(logs))
    else:
        _log("lock step (engine cache kept)")
    bench.lock = await ours.lock(inputs, base_url, main, logs, pruned=not args.skip_cold)
    _log(f"lock: {bench.lock.seconds:.1f} s, {bench.lock.sets} package sets")
    if args.skip_cold:
        _log("priming build-all (cache kept, not a cold run)")
        bench.prime = await ours.build_all("prime", inputs, base_url, main, work, digests=False)
    else:
        if compare is not None:
            _log("pruning the engine's local cache, then the former target set cold")
            bench.prune_seconds.append(await ours.prune_engine_cache(logs))
            bench.subset_cold = await ours.build_all(
                "subset-cold", inputs, base_url, compare, work, digests=False
            )
            _log(f"subset-cold: {bench.subset_cold.seconds:.1f} s")
        for label in ("cold", "cold_repeat"):
            _log(f"pruning the engine's local cache, then {label} build-all")
            bench.prune_seconds.append(await ours.prune_engine_cache(logs))
            run = await ours.build_all(label, inputs, base_url, main, work)
            setattr(bench, label, run)
            _log(f"{label}: {run.seconds:.1f} s")
    _log("warm no-op build-all")
    bench.warm = await ours.build_all("warm", inputs, base_url, main, work)
    _log(f"warm: {bench.warm.seconds:.1f} s")
    failed = frozenset((t.variant, t.platform) for t in bench.warm.targets if not t.passed)
    if failed:  # a failed step is not cached: the warm run above re-ran it
        _log(f"warm no-op build-all without the {len(failed)} image(s) that failed")
        bench.warm_passing = await ours.build_all(
            "warm-passing", inputs, base_url, main, work, digests=False, leave_out=failed
        )
        _log(f"warm-passing: {bench.warm_passing.seconds:.1f} s")
    await _command_line(bench, inputs, base_url, work)
    bench.rebuild_file = ours.change_one_file(inputs)
    build_plans = ours.plans(inputs.catalog, inputs.version, base_url, main)
    bench.rebuild_holders = tuple(f"{v} {p}" for v, p in holders(build_plans, bench.rebuild_file))
    _log(f"rebuild after changing {bench.rebuild_file}")
    bench.rebuild = await ours.build_all("rebuild", inputs, base_url, main, work)
    _log(f"rebuild: {bench.rebuild.seconds:.1f} s")
    await _differences(bench)
    for run in (bench.warm, bench.rebuild):  # read: only the cold runs' are kept
        if run.tarballs:
            shutil.rmtree(run.tarballs, ignore_errors=True)


async def _command_line(bench: Bench, inputs: Inputs, base_url: str, work: Path) -> None:
    """The warm no-op as users run it: build-all on the command line, twice (the second call
    has the same inputs: the function cache answers it), over the images that passed."""
    assert bench.warm is not None
    groups = calls.call_groups([(t.variant, t.platform) for t in bench.warm.targets if t.passed])
    if not groups:
        return
    cache_directory = work / "calls"
    shutil.rmtree(cache_directory, ignore_errors=True)
    for label in ("call_first", "call_again"):
        _log(f"{label}: build-all on the command line ({len(groups)} call(s) at once)")
        run = await calls.command_line(
            label, inputs, base_url, groups, cache_directory, work / "logs"
        )
        setattr(bench, label, run)
        _log(f"{label}: {run.seconds:.1f} s, {run.served}/{run.calls} served")


async def _differences(bench: Bench) -> None:
    """Diff the two cold runs' tarballs of every image whose digest differs."""
    if bench.cold is None or bench.cold_repeat is None:
        return
    for one in bench.cold.targets:
        two = bench.cold_repeat.target(one.variant, one.platform)
        if two is None or one.digest is None or two.digest is None or one.digest == two.digest:
            continue
        assert bench.cold.tarballs and bench.cold_repeat.tarballs
        first = Path(bench.cold.tarballs) / f"{one.variant}.tar"
        second = Path(bench.cold_repeat.tarballs) / f"{one.variant}.tar"
        _log(f"diffing {one.variant} {one.platform} between the two cold runs")
        bench.differences[f"{one.variant} {one.platform}"] = await anyio.to_thread.run_sync(
            diff_images, first, second, one.platform, bench.cold.epoch
        )


async def _docker(
    bench: Bench,
    args: argparse.Namespace,
    inputs: Inputs,
    base_url: str,
    main: ImageSet,
    compare: ImageSet | None,
) -> None:
    bench.meta["docker"] = await anyio.to_thread.run_sync(docker.version)
    jobs = "all" if args.docker_jobs is None else str(args.docker_jobs)
    keep = args.keep_docker_images
    if compare is not None:
        plans = ours.plans(inputs.catalog, inputs.version, base_url, compare)
        specs = docker.specs(inputs.version, base_url, images(plans))
        _log(f"docker builds of the former set ({jobs} at once, --no-cache, cache removed)")
        bench.docker_subset_wall, bench.docker_subset = await docker.build_all(
            specs, inputs.catalog, args.work, args.docker_jobs, keep=keep, label="docker-subset"
        )
        _log(f"docker (former set): {bench.docker_subset_wall:.1f} s")
    plans = ours.plans(inputs.catalog, inputs.version, base_url, main)
    specs = docker.specs(inputs.version, base_url, images(plans))
    _log(f"docker builds ({jobs} at once, --no-cache, cache and images removed)")
    bench.docker_wall, bench.docker = await docker.build_all(
        specs, inputs.catalog, args.work, args.docker_jobs, keep=keep, label="docker"
    )
    _log(f"docker: {bench.docker_wall:.1f} s")


async def main_async(args: argparse.Namespace) -> Bench:
    """Run every requested part and return the results."""
    args.work.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(args.work / "tarballs", ignore_errors=True)
    main, compare = image_sets(args)
    _log(f"stand-in release and catalog copy under {args.work}")
    inputs = await anyio.to_thread.run_sync(prepare, args.work)
    bench = Bench(
        image_set=main.name,
        limited=bool(args.variant or args.platform),
        meta={
            "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "cpus": os.cpu_count(),
            "engine": "-",
            "falco_version": inputs.version,
            "image_set": main.name,
            "image_set_description": main.description,
            "variants": args.variant or "all",
            "platforms": args.platform or "all",
            "docker_jobs": args.docker_jobs,
            "skip_cold": args.skip_cold,
            "work": str(args.work),
        },
    )
    if args.variant or args.platform:
        bench.meta["image_set_description"] += (
            f"; limited to {', '.join(args.variant) or 'every variant'} on "
            f"{', '.join(args.platform) or 'both platforms'}"
        )
    if not args.skip_ours:
        bench.meta["engine"] = await ours.engine_version(args.work / "logs")
    with serve(inputs.release.root) as base_url:
        if compare is not None and _same_images(inputs, base_url, main, compare):
            compare = None  # the limits made both sets the same images
        if not args.skip_ours:
            await _ours(bench, args, inputs, base_url, main, compare)
        if not args.skip_docker:
            await _docker(bench, args, inputs, base_url, main, compare)
    return bench


def main(argv: list[str] | None = None) -> int:
    """Entry point: print the tables; write JSON when asked; exit 1 if anything failed."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    bench = anyio.run(main_async, args)
    print(render(bench), end="")
    if args.json is not None:
        args.json.write_text(json.dumps(bench.to_json(), indent=2) + "\n")
    return 1 if failures(bench) else 0


if __name__ == "__main__":
    sys.exit(main())
