"""``build-all`` as users run it: the command line (`scripts/call`, the line `dagger call` takes),
one process per call, so the figure holds Python's start, the session and the function cache
(:mod:`pipelines.cli.call_cache`), which serves a call with the same inputs as a recent one the
way Dagger's function cache serves `dagger call build-all` in module mode.

A call's images must all pass for its result to be kept, so the calls cover the images that
passed the run before: one call per set of platforms whose passing variants are the same.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import anyio

from bench.inputs import Inputs
from bench.matrix import LEGACY
from pipelines.cli.call_cache import ENV as CALL_CACHE_ENV
from pipelines.cli.call_cache import SERVED_PHRASE
from tests.engine.family import LEGACY_RELEASE, REPO_ROOT, TOOLS_IMAGE, mirrors


@dataclass(frozen=True)
class CallGroup:
    """The variants of one ``build-all`` call, for its platforms."""

    variants: tuple[str, ...]
    platforms: tuple[str, ...]


@dataclass(frozen=True)
class CommandLineRun:
    """The calls of one round, all at once, each a process of its own."""

    label: str
    seconds: float  # wall clock: the first process started to the last one exited
    calls: int
    images: int  # (variant, platform) images the calls build
    served: int  # calls the function cache answered
    passed: bool  # every call exited 0
    logs: tuple[str, ...]


def call_groups(passed: Sequence[tuple[str, str]]) -> list[CallGroup]:
    """Calls that build exactly the (variant, platform) images of ``passed`` (in its order):
    one per distinct set of variants, with every platform that passed all of them."""
    by_platform: dict[str, list[str]] = {}
    for variant, platform in passed:
        by_platform.setdefault(platform, []).append(variant)
    groups: dict[tuple[str, ...], list[str]] = {}
    for platform, variants in by_platform.items():
        groups.setdefault(tuple(variants), []).append(platform)
    return [CallGroup(variants, tuple(platforms)) for variants, platforms in groups.items()]


def argv(inputs: Inputs, base_url: str, group: CallGroup) -> list[str]:
    """The command line of ``group``: the bench's catalog copy, stand-in release and mirrors."""
    line = ["build-all", "--catalog", str(inputs.catalog), "--version", inputs.version,
            "--variants", ",".join(group.variants), "--platforms", ",".join(group.platforms),
            "--mirrors", ",".join(mirrors(base_url)), "--tools-image", TOOLS_IMAGE]  # fmt: skip
    if LEGACY in group.variants:
        line += ["--params", f"release={LEGACY_RELEASE}"]
    return line


async def command_line(
    label: str,
    inputs: Inputs,
    base_url: str,
    groups: Sequence[CallGroup],
    cache_directory: Path,
    logs: Path,
) -> CommandLineRun:
    """Run every group's ``python -m pipelines build-all`` at once, its function cache in
    ``cache_directory``; each call's stderr (progress log) under ``logs``."""
    logs.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), CALL_CACHE_ENV: str(cache_directory)}
    codes: list[int] = [1] * len(groups)
    served = [False] * len(groups)
    paths = [logs / f"ours-{label}-{index}.log" for index in range(len(groups))]

    async def one(index: int, group: CallGroup) -> None:
        done = await anyio.run_process(
            [sys.executable, "-m", "pipelines", *argv(inputs, base_url, group)],
            cwd=REPO_ROOT,
            env=env,
            check=False,
        )
        stderr = done.stderr.decode(errors="replace")
        paths[index].write_text(stderr + "\n--- stdout ---\n" + done.stdout.decode())
        codes[index], served[index] = done.returncode, SERVED_PHRASE in stderr

    started = time.monotonic()
    async with anyio.create_task_group() as tasks:
        for index, group in enumerate(groups):
            tasks.start_soon(one, index, group)
    return CommandLineRun(
        label=label,
        seconds=round(time.monotonic() - started, 2),
        calls=len(groups),
        images=sum(len(g.variants) * len(g.platforms) for g in groups),
        served=sum(served),
        passed=all(code == 0 for code in codes),
        logs=tuple(str(p) for p in paths),
    )
