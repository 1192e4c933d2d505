"""The distroless floor as a pipeline step: the assembled root filesystem in, the pruned one out.

The pruning code (:mod:`pipelines.assembly.floor`, standard library only) runs with Python in the
native tools container, beside the unpacked packages alone (to tell them from what the chain's
layers installed) and the assembled root; its report (bytes kept per category, the closure, the
gconv decision) is a file of the same step, for the bench and the tests.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import dagger
from dagger import dag

from pipelines.assembly import floor as floor_package
from pipelines.catalog.variant import DistrolessBase, DistrolessFloor
from pipelines.tools import python_tools

CODE = "/opt/floor"
REPORT = "/out/floor.json"
DirectoryStep = Callable[[dagger.Directory], dagger.Directory]


def floor_code() -> dagger.Directory:
    """The pruning package's source files as a directory ``floor/`` (changes bust the cache)."""
    code = dag.directory()
    for source in sorted(Path(floor_package.__file__).parent.glob("*.py")):
        code = code.with_new_file(f"floor/{source.name}", source.read_text())
    return code


def spec_json(floor: DistrolessFloor) -> str:
    """What the pruning script reads of the catalog's floor settings."""
    return json.dumps(
        {"roots": floor.roots, "keep": floor.keep, "gconv": floor.gconv}, sort_keys=True
    )


@dataclass(frozen=True)
class FloorRun:
    """One run of the pruning script: its results are files of the same step."""

    container: dagger.Container

    @property
    def rootfs(self) -> dagger.Directory:
        """The pruned root filesystem."""
        return self.container.directory("/image")

    @property
    def report(self) -> dagger.File:
        """The JSON report: bytes and entries kept per category, the closure, gconv."""
        return self.container.file(REPORT)


def floor_run(
    floor: DistrolessFloor, base: dagger.Directory, assembled: dagger.Directory, tools_image: str
) -> FloorRun:
    """Prune ``assembled`` (the chain installed on ``base``, the unpacked packages)."""
    return FloorRun(
        python_tools(tools_image)
        .with_directory(CODE, floor_code())
        .with_new_file("/in/spec.json", spec_json(floor))
        .with_mounted_directory("/base", base)
        .with_directory("/image", assembled)
        .with_env_variable("PYTHONDONTWRITEBYTECODE", "1")
        .with_workdir(CODE)
        .with_exec(
            [
                *("python3", "-m", "floor.prune", "--base", "/base", "--image", "/image"),
                *("--spec", "/in/spec.json", "--report", REPORT),
            ]
        )
    )


def with_floor(spec: DistrolessBase, base: dagger.Directory, tools_image: str) -> DirectoryStep:
    """The step that prunes an assembled root to its floor (none when the catalog sets none)."""

    def apply(assembled: dagger.Directory) -> dagger.Directory:
        if spec.floor is None:
            return assembled
        return floor_run(spec.floor, base, assembled, tools_image).rootfs

    return apply
