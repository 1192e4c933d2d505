"""Smoke check: the image's dynamic loader loads a program or plugin and all it needs.

The loader runs in trace mode, as ``ldd -r`` runs it (``LD_TRACE_LOADED_OBJECTS``, with
``LD_WARN``/``LD_BIND_NOW``/``LD_LIBRARY_VERSION`` to bind symbols): it maps every library the
file needs, resolved in the image exactly as at run time, and binds the symbols, but runs
nothing. A missing library makes it exit non-zero; an unbound symbol is reported in its output.
"""

from __future__ import annotations

import dagger

from pipelines.cache_race import is_cache_race
from pipelines.catalog.variant import LoadTest
from pipelines.smoke.check_result import CheckResult

GLIBC_LOADERS = {
    62: "/lib64/ld-linux-x86-64.so.2",
    183: "/lib/ld-linux-aarch64.so.1",
    3: "/lib/ld-linux.so.2",
    40: "/lib/ld-linux-armhf.so.3",
    21: "/lib64/ld64.so.2",
    22: "/lib/ld64.so.1",
    243: "/lib/ld-linux-riscv64-lp64d.so.1",
}
"""glibc's dynamic loader for each ELF machine (its PT_INTERP in programs built for it)."""

TRACE = {"LD_TRACE_LOADED_OBJECTS": "1"}
BIND = {"LD_WARN": "yes", "LD_BIND_NOW": "yes", "LD_LIBRARY_VERSION": "1"}  # as ldd -r sets them
MISSING = ("not found", "error while loading", "cannot open")
UNBOUND = "undefined symbol"


async def _matches(ctr: dagger.Container, pattern: str) -> list[str]:
    """The image paths ``pattern`` names (itself when it has no wildcard)."""
    if not any(char in pattern for char in "*?"):
        return [pattern]
    found = await ctr.rootfs().glob(pattern.lstrip("/"))
    return sorted("/" + path.lstrip("/") for path in found)


async def _load(ctr: dagger.Container, path: str, loader: str, test: LoadTest) -> CheckResult:
    name = f"loads {path}"
    traced = ctr
    for key, value in {**TRACE, **(BIND if test.bind_symbols else {})}.items():
        traced = traced.with_env_variable(key, value)
    run = traced.with_exec([loader, path], expect=dagger.ReturnType.ANY)
    try:
        code, both = await run.exit_code(), await run.combined_output()
    except dagger.QueryError as exc:
        if is_cache_race(exc):
            raise
        return CheckResult(name, False, f"could not run {loader}: {exc}")
    lines = [line.strip() for line in both.splitlines() if line.strip()]
    missing = [line for line in lines if any(p in line for p in MISSING)]
    unbound = [line for line in lines if UNBOUND in line]
    if code != 0 or missing or unbound:
        problems = missing or ([] if unbound else lines[-3:])
        if unbound:
            problems.append(f"{len(unbound)} undefined symbol(s), first: {unbound[0]}")
        return CheckResult(name, False, f"{loader} exited {code}: {'; '.join(problems)[:400]}")
    libraries = [line.split()[0] for line in lines if "=>" in line]
    return CheckResult(name, True, f"{len(libraries)} libraries: {' '.join(libraries)}"[:400])


async def check_loads(ctr: dagger.Container, test: LoadTest, machine: int) -> list[CheckResult]:
    """One result per file ``test.path`` names (a failed one when it names nothing)."""
    loader = test.loader or GLIBC_LOADERS.get(machine)
    if loader is None:
        return [CheckResult(f"loads {test.path}", False, f"no known loader for machine {machine}")]
    paths = await _matches(ctr, test.path)
    if not paths:
        return [CheckResult(f"loads {test.path}", False, "no file matches")]
    return [await _load(ctr, path, loader, test) for path in paths]
