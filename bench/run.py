"""``python -m bench.run``: the benchmark in one run (see bench/README.md; use ``bench/run``).

Order: stand-in release and catalog copy; the pipeline's cold build-all twice (engine cache
pruned before each: time, and the reproducibility of digests), a warm no-op, a rebuild after
one catalog file changed; then Docker builds of the same image set from ``bench/dockerfiles``.
Everything is served from one loopback server that stays up for the whole run.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
from pathlib import Path

import anyio

from bench import docker, ours
from bench.inputs import Inputs, prepare
from bench.report import Bench, render
from tests.standin import serve

DEFAULT_WORK = Path(os.environ.get("BENCH_WORK", "/var/tmp/image-family-bench"))


def parse_args(argv: list[str]) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(prog="bench/run", description=__doc__)
    parser.add_argument(
        "--skip-cold",
        action="store_true",
        help="keep the engine cache: no cold runs, no reproducibility check (a priming "
        "build-all runs instead, untimed)",
    )
    parser.add_argument("--skip-docker", action="store_true", help="no Dockerfile builds")
    parser.add_argument("--skip-ours", action="store_true", help="only the Dockerfile builds")
    parser.add_argument(
        "--docker-jobs",
        type=int,
        default=6,
        help="docker builds at once (default 6: all, as the pipeline builds every target at once)",
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


async def _ours(bench: Bench, args: argparse.Namespace, inputs: Inputs, base_url: str) -> None:
    logs = args.work / "logs"
    if args.skip_cold:
        _log("priming build-all (cache kept, not a cold run)")
        bench.prime = await ours.build_all("prime", inputs, base_url, logs)
    else:
        for label in ("cold", "cold_repeat"):
            _log(f"pruning the engine's local cache, then {label} build-all")
            bench.prune_seconds.append(await ours.prune_engine_cache(logs))
            run = await ours.build_all(label, inputs, base_url, logs)
            setattr(bench, label, run)
            _log(f"{label}: {run.seconds:.1f} s")
    _log("warm no-op build-all")
    bench.warm = await ours.build_all("warm", inputs, base_url, logs)
    _log(f"warm: {bench.warm.seconds:.1f} s")
    bench.rebuild_file = ours.change_one_file(inputs)
    bench.rebuild_dependents = tuple(sorted(ours.REBUILD_DEPENDENTS))
    _log(f"rebuild after changing {bench.rebuild_file}")
    bench.rebuild = await ours.build_all("rebuild", inputs, base_url, logs)
    _log(f"rebuild: {bench.rebuild.seconds:.1f} s")


async def _docker(bench: Bench, args: argparse.Namespace, inputs: Inputs, base_url: str) -> None:
    bench.meta["docker"] = await anyio.to_thread.run_sync(docker.version)
    _log(f"docker builds ({args.docker_jobs} at once, --no-cache, cache and images removed)")
    specs = docker.specs(inputs.version, base_url)
    bench.docker_wall, bench.docker = await docker.build_all(
        specs, inputs.catalog, args.work, args.docker_jobs, keep=args.keep_docker_images
    )
    _log(f"docker: {bench.docker_wall:.1f} s")


async def main_async(args: argparse.Namespace) -> Bench:
    """Run every requested part and return the results."""
    args.work.mkdir(parents=True, exist_ok=True)
    _log(f"stand-in release and catalog copy under {args.work}")
    inputs = await anyio.to_thread.run_sync(prepare, args.work)
    bench = Bench(
        meta={
            "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "cpus": os.cpu_count(),
            "engine": "-",
            "falco_version": inputs.version,
            "docker_jobs": args.docker_jobs,
            "skip_cold": args.skip_cold,
            "work": str(args.work),
        }
    )
    if not args.skip_ours:
        bench.meta["engine"] = await ours.engine_version(args.work / "logs")
    with serve(inputs.release.root) as base_url:
        if not args.skip_ours:
            await _ours(bench, args, inputs, base_url)
        if not args.skip_docker:
            await _docker(bench, args, inputs, base_url)
    return bench


def main(argv: list[str] | None = None) -> int:
    """Entry point: print the table; write JSON when asked; exit 1 if anything failed."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    bench = anyio.run(main_async, args)
    print(render(bench), end="")
    if args.json is not None:
        args.json.write_text(json.dumps(bench.to_json(), indent=2) + "\n")
    runs = [bench.cold, bench.cold_repeat, bench.prime, bench.warm, bench.rebuild]
    failed = any(r is not None and not r.passed for r in runs) or any(
        not d.ok for d in bench.docker
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
