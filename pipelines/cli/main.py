"""Entry point of the command line: parse, then one Dagger session for the call."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import anyio
import dagger

from pipelines.cli.call_cache import CallCache, Served, default_directory
from pipelines.cli.invoke import find_module_root, run_call
from pipelines.cli.parse import parse_call, render_function_help, render_functions
from pipelines.cli.signatures import module_functions
from pipelines.errors import InputError, PipelineError
from pipelines.main import ImageFamily

PROG = os.environ.get("IMAGE_FAMILY_PROG", "python -m pipelines")


def main(argv: list[str] | None = None) -> int:
    """Run ``argv`` (default: the process's) as ``dagger call`` would; return the exit code."""
    args = sys.argv[1:] if argv is None else argv
    functions = module_functions(ImageFamily)
    if not args or args[0] in ("-h", "--help", "functions"):
        print(render_functions(functions, PROG), end="")
        return 0
    by_command = {f.command: f for f in functions}
    if args[0] in by_command and ("-h" in args[1:] or "--help" in args[1:]):
        print(render_function_help(by_command[args[0]], PROG), end="")
        return 0
    try:
        call = parse_call(functions, args)
        module_root = find_module_root(Path.cwd())
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    directory = default_directory()
    cache = CallCache(directory) if directory is not None else None

    async def session() -> Served:
        async with dagger.connection(dagger.Config(log_output=sys.stderr)):
            return await run_call(ImageFamily(), call, module_root, cache)

    try:
        served = anyio.run(session)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except PipelineError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    if (notice := served.notice()) is not None:
        print(notice, file=sys.stderr)
    output = served.output
    print(output, end="" if output.endswith("\n") else "\n")
    return 0
