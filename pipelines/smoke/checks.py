"""Smoke tests declared next to each variant, run against a built container.

Each check is a small async function that returns a :class:`CheckResult`; nothing needs a
shell in the image under test (distroless images have none): files are inspected through
Dagger's own API, and what needs a tool (ELF headers, link targets) runs in the tools
container with the image's files mounted.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial

import anyio
import dagger

from pipelines.cache_race import is_cache_race
from pipelines.catalog.variant import (
    CommandTest,
    ElfTest,
    FileContentTest,
    FileTest,
    MetadataTest,
    SizeBudget,
)
from pipelines.errors import PipelineError
from pipelines.oci.sizes import ImageSize, image_size
from pipelines.plan import BuildTarget
from pipelines.platforms import machine_name
from pipelines.smoke.check_result import CheckResult
from pipelines.smoke.loads import check_loads
from pipelines.smoke.security_updates import check_security_updates
from pipelines.tools import tools_container

__all__ = ["CheckResult", "ImageSize", "SmokeReport", "SmokeTestFailure", "run_smoke_tests"]

MB = 1_000_000


@dataclass(frozen=True)
class SmokeReport:
    """Every check of one target, and its size."""

    variant: str
    platform: str
    results: tuple[CheckResult, ...]
    size: ImageSize | None

    @property
    def failures(self) -> tuple[CheckResult, ...]:
        """The checks that failed."""
        return tuple(r for r in self.results if not r.passed)

    @property
    def passed(self) -> bool:
        """True when every check passed."""
        return not self.failures


class SmokeTestFailure(PipelineError):
    """One or more smoke tests of a target failed; the message names variant, platform, check."""

    def __init__(self, report: SmokeReport) -> None:
        self.report = report
        lines = [
            f"{report.variant} {report.platform}: {r.check}: {r.detail}" for r in report.failures
        ]
        super().__init__("smoke tests failed:\n" + "\n".join(lines))


async def _command(ctr: dagger.Container, test: CommandTest) -> CheckResult:
    name = f"command {test.name!r}"
    run = ctr.with_exec(test.command, expect=dagger.ReturnType.ANY)
    try:
        code = await run.exit_code()
        both = await run.combined_output()  # stdout and stderr as the command wrote them
    except dagger.QueryError as exc:
        if is_cache_race(exc):
            raise
        return CheckResult(name, False, f"could not run {test.command}: {exc}")
    problems = []
    if code != test.exit_code:
        problems.append(f"exit code {code}, expected {test.exit_code}")
    problems += [
        f"output does not match {p!r}" for p in test.expected_output if not re.search(p, both)
    ]
    problems += [
        f"output matches excluded {p!r}" for p in test.excluded_output if re.search(p, both)
    ]
    if problems:
        return CheckResult(name, False, "; ".join(problems) + f"; output: {both.strip()[:400]!r}")
    return CheckResult(name, True)


async def _file(ctr: dagger.Container, test: FileTest, tools_image: str) -> CheckResult:
    name = f"file {test.path}"
    exists = await ctr.exists(test.path, do_not_follow_symlinks=bool(test.is_symlink_to))
    if not exists:
        return CheckResult(name, not test.should_exist, "" if not test.should_exist else "missing")
    if not test.should_exist:
        return CheckResult(name, False, "exists but should not")
    stat = ctr.stat(test.path, do_not_follow_symlinks=bool(test.is_symlink_to))
    if test.executable is not None:
        mode = await stat.permissions()
        if bool(mode & 0o100) != test.executable:
            want = "executable" if test.executable else "not executable"
            return CheckResult(name, False, f"mode {mode:o}, expected {want}")
    if test.is_symlink_to:
        if await stat.file_type() != dagger.FileType.SYMLINK:
            return CheckResult(name, False, f"not a symlink (expected -> {test.is_symlink_to})")
        target = await (
            tools_container(tools_image)
            .with_mounted_directory("/target", ctr.rootfs())
            .with_exec(["readlink", "/target" + test.path])
            .stdout()
        )
        if target.strip() != test.is_symlink_to:
            return CheckResult(name, False, f"-> {target.strip()}, expected {test.is_symlink_to}")
    return CheckResult(name, True)


async def _file_content(ctr: dagger.Container, test: FileContentTest) -> CheckResult:
    name = f"content of {test.path}"
    try:
        text = await ctr.file(test.path).contents()
    except dagger.QueryError as exc:
        if is_cache_race(exc):
            raise
        return CheckResult(name, False, f"cannot read: {exc}")
    problems = [f"no match for {p!r}" for p in test.expected_contents if not re.search(p, text)]
    problems += [f"matches excluded {p!r}" for p in test.excluded_contents if re.search(p, text)]
    return CheckResult(name, not problems, "; ".join(problems))


async def _metadata(ctr: dagger.Container, test: MetadataTest) -> CheckResult:
    problems: list[str] = []
    for key, want in (test.env or {}).items():
        got = await ctr.env_variable(key)
        if got != want:
            problems.append(f"env {key}={got!r}, expected {want!r}")
    for key, want in (test.labels or {}).items():
        got = await ctr.label(key)
        if got != want:
            problems.append(f"label {key}={got!r}, expected {want!r}")
    if test.entrypoint is not None and (got_ep := await ctr.entrypoint()) != test.entrypoint:
        problems.append(f"entrypoint {got_ep}, expected {test.entrypoint}")
    if test.cmd is not None and (got_cmd := await ctr.default_args()) != test.cmd:
        problems.append(f"cmd {got_cmd}, expected {test.cmd}")
    if test.user is not None and (got_user := await ctr.user()) != test.user:
        problems.append(f"user {got_user!r}, expected {test.user!r}")
    if test.workdir is not None and (got_wd := await ctr.workdir()) != test.workdir:
        problems.append(f"workdir {got_wd!r}, expected {test.workdir!r}")
    return CheckResult("metadata", not problems, "; ".join(problems))


def parse_elf_machine(header_hex: str) -> int | None:
    """e_machine of an ELF header given as hex bytes (``od -An -tx1``), None if not ELF."""
    data = bytes.fromhex("".join(header_hex.split()))
    if len(data) < 20 or data[:4] != b"\x7fELF":
        return None
    return int.from_bytes(data[18:20], "little" if data[5] == 1 else "big")


async def _elf(ctr: dagger.Container, test: ElfTest, want: int, tools_image: str) -> CheckResult:
    name = f"ELF machine of {test.path}"
    try:
        header = await (
            tools_container(tools_image)
            .with_mounted_file("/probe", ctr.file(test.path))
            .with_exec(["od", "-An", "-tx1", "-N20", "/probe"])
            .stdout()
        )
    except dagger.QueryError as exc:
        if is_cache_race(exc):
            raise
        return CheckResult(name, False, f"cannot read: {exc}")
    got = parse_elf_machine(header)
    if got is None:
        return CheckResult(name, False, "not an ELF file")
    if got != want:
        detail = f"{machine_name(got)}, expected {machine_name(want)} for the platform"
        return CheckResult(name, False, detail)
    return CheckResult(name, True, machine_name(got))


def _size(size: ImageSize, budget: SizeBudget) -> CheckResult:
    problems = []
    if (
        budget.max_uncompressed_mb is not None
        and size.uncompressed > budget.max_uncompressed_mb * MB
    ):
        problems.append(
            f"{size.uncompressed / MB:.1f} MB uncompressed > {budget.max_uncompressed_mb} MB"
        )
    if (
        budget.max_compressed_mb is not None
        and size.compressed is not None
        and size.compressed > budget.max_compressed_mb * MB
    ):
        problems.append(f"{size.compressed / MB:.1f} MB compressed > {budget.max_compressed_mb} MB")
    return CheckResult("size budget", not problems, "; ".join(problems))


async def _one_result(check: Callable[[], Awaitable[CheckResult]]) -> list[CheckResult]:
    return [await check()]


async def run_smoke_tests(
    target: BuildTarget, ctr: dagger.Container, tools_image: str, *, gzip_sizes: bool = False
) -> SmokeReport:
    """Run every smoke test of ``target`` against ``ctr`` concurrently; never raises on a
    failed check (the report carries it).

    The image's size is measured unpacked; its gzip size too with ``gzip_sizes`` or when the
    variant's size budget has a compressed limit (:func:`pipelines.oci.sizes.image_size`)."""
    tests = target.tests
    gzip = gzip_sizes or (tests.size is not None and tests.size.max_compressed_mb is not None)
    checks: list[Callable[[], Awaitable[CheckResult]]] = []
    checks += [partial(_command, ctr, t) for t in tests.commands]
    checks += [partial(_file, ctr, t, tools_image) for t in tests.files]
    checks += [partial(_file_content, ctr, t) for t in tests.file_contents]
    if tests.metadata is not None:
        checks.append(partial(_metadata, ctr, tests.metadata))
    checks += [partial(_elf, ctr, t, target.elf_machine, tools_image) for t in tests.elf]
    if tests.security_updates is not None:
        checks.append(
            partial(
                check_security_updates, ctr, tests.security_updates, target.platform, tools_image
            )
        )
    # Checks with one result per file they match (a glob may match several).
    everything = [partial(_one_result, check) for check in checks]
    everything += [partial(check_loads, ctr, t, target.elf_machine) for t in tests.loads]
    results: list[list[CheckResult]] = [[] for _ in everything]

    async def run(index: int, check: Callable[[], Awaitable[list[CheckResult]]]) -> None:
        results[index] = await check()

    sizes: list[ImageSize] = []

    async def size_of() -> None:
        sizes.append(await image_size(ctr, tools_image, gzip=gzip))

    async with anyio.create_task_group() as group:  # the tarball is written meanwhile
        group.start_soon(size_of)
        for index, check in enumerate(everything):
            group.start_soon(run, index, check)
    done = [result for found in results for result in found]
    [size] = sizes
    if tests.size is not None:
        done.append(_size(size, tests.size))
    return SmokeReport(target.variant, target.platform, tuple(done), size)


def render_smoke_report(report: SmokeReport) -> str:
    """One line per check of ``report``."""
    lines = [f"{report.variant} {report.platform}: {len(report.results)} checks"]
    for r in report.results:
        lines.append(
            f"  {'PASS' if r.passed else 'FAIL'} {r.check}" + (f": {r.detail}" if r.detail else "")
        )
    return "\n".join(lines) + "\n"
