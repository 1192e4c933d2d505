"""Command line: the module's functions through dagger-io, for engines that cannot load modules.

    python -m pipelines plan      [--catalog images/falco] [--version V] [...]
    python -m pipelines build-all [--catalog images/falco] [--version V] [--export DIR] [...]

The same functions as ``dagger call plan`` / ``dagger call build-all``, with the same options;
the engine is the one dagger-io finds (``_EXPERIMENTAL_DAGGER_RUNNER_HOST``, or the CLI's).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import anyio
import dagger
from dagger import dag

from pipelines.catalog.loader import load_family
from pipelines.errors import PipelineError
from pipelines.plan import BuildPlan, plan, render_plan
from pipelines.run import DEFAULT_TOOLS_IMAGE, build_and_test, oci_tarballs


def parse_args(argv: list[str]) -> argparse.Namespace:
    """The command line, with the options of the Dagger functions."""
    parser = argparse.ArgumentParser(prog="python -m pipelines", description=__doc__)
    parser.add_argument("command", choices=["plan", "build-all"])
    parser.add_argument("--catalog", type=Path, default=Path("images/falco"))
    parser.add_argument("--version", default=None, help="release version (default: catalog's)")
    parser.add_argument("--variant", action="append", dest="variants", help="repeatable")
    parser.add_argument("--platform", action="append", dest="platforms", help="repeatable")
    parser.add_argument("--param", action="append", dest="params", default=[], help="KEY=VALUE")
    parser.add_argument(
        "--mirror", action="append", dest="mirrors", default=[], help="PREFIX=REPLACEMENT"
    )
    parser.add_argument("--artifact", action="append", type=Path, default=[], help="local file")
    parser.add_argument("--tools-image", default=DEFAULT_TOOLS_IMAGE)
    parser.add_argument("--export", type=Path, help="write report.txt and OCI tarballs here")
    return parser.parse_args(argv)


async def build_all_command(args: argparse.Namespace, build_plan: BuildPlan) -> int:
    """Build and test in one Dagger session; print the report; exit 1 if anything failed."""
    async with dagger.connection(dagger.Config(log_output=sys.stderr)):
        result = await build_and_test(
            build_plan,
            dag.host().directory(str(args.catalog)),
            tools_image=args.tools_image,
            local_artifacts=[dag.host().file(str(p)) for p in args.artifact],
        )
        if args.export is not None and result.passed:
            await oci_tarballs(result).export(str(args.export))
    print(result.render())
    return 0 if result.passed else 1


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m pipelines``."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        build_plan = plan(
            load_family(args.catalog),
            variants=args.variants,
            platforms=args.platforms,
            version=args.version,
            params=args.params,
            mirrors=args.mirrors,
        )
        if args.command == "plan":
            print(render_plan(build_plan))
            return 0
        return anyio.run(build_all_command, args, build_plan)
    except PipelineError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
