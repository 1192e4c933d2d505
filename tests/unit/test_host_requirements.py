"""scripts/host-requirements names every host command the scripts, bench and tests run.

A fresh machine has only what the project's own scripts install (`.ci/run` failed once on a
package installed by hand), so a command run from Python that the list lacks is a defect here,
before it is one on CI.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
REQUIREMENTS = ROOT / "scripts" / "host-requirements"
GROUPS = {"engine", "tests", "bench"}
# On every machine of the project's kind before any script runs (checked by dev-engine's
# preflight or part of Debian's essential set), so not installed from the list.
PRESENT = {"go", "python3", "sh", "bash", "tar"}
# Installed from PyPI by the test that runs them (at the version the test pins).
FROM_PYPI = {"uv"}
RUNNERS = {"run", "_run", "Popen", "check_output", "check_call"}
COMMAND_VARIABLES = {"cmd", "argv", "command"}


def requirements() -> dict[str, tuple[str, str]]:
    """command -> (package, group), from the requirements file."""
    rows: dict[str, tuple[str, str]] = {}
    for line in REQUIREMENTS.read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        command, package, group, *why = line.split()
        assert group in GROUPS, f"{command}: group {group!r} is not one of {sorted(GROUPS)}"
        assert why, f"{command}: say what needs it"
        rows[command] = (package, group)
    return rows


def _first_word(node: ast.expr) -> str | None:
    if isinstance(node, ast.List | ast.Tuple) and node.elts:
        first = node.elts[0]
        if isinstance(first, ast.Constant) and isinstance(first.value, str):
            return first.value
    return None


def commands_run_from_python() -> dict[str, set[str]]:
    """command -> files, for argv literals passed to subprocess-like calls or shutil.which."""
    found: dict[str, set[str]] = {}
    files = [
        *ROOT.glob("scripts/*.py"),
        *ROOT.glob("bench/*.py"),
        *ROOT.glob("tests/**/*.py"),
    ]
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            word = None
            if isinstance(node, ast.Call) and node.args:
                func = node.func
                name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                if name in RUNNERS:
                    word = _first_word(node.args[0])
                elif name == "which" and isinstance(node.args[0], ast.Constant):
                    word = str(node.args[0].value)
            elif isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id in COMMAND_VARIABLES for t in node.targets
            ):
                word = _first_word(node.value)
            if word:
                found.setdefault(word, set()).add(str(path.relative_to(ROOT)))
    return found


def test_requirements_file_is_well_formed() -> None:
    rows = requirements()
    assert {"arch-test", "mmdebstrap", "qemu-aarch64-static", "skopeo"} <= set(rows)


def test_every_command_the_python_code_runs_is_installed_by_the_project() -> None:
    rows = requirements()
    found = commands_run_from_python()
    # the scanner sees what it must: a direct argv, a `cmd = [...]` and a `which`
    assert {"skopeo", "mmdebstrap", "qemu-aarch64-static", "go"} <= set(found)
    missing = {
        c: sorted(files)
        for c, files in found.items()
        if c not in rows and c not in PRESENT | FROM_PYPI
    }
    # qemu-aarch64 is only a fallback name beside qemu-aarch64-static
    missing.pop("qemu-aarch64", None)
    assert not missing, f"add these to scripts/host-requirements: {missing}"
