"""The bytecode recompilation (pipelines.debian.bytecode) run by this machine's Python: bytecode
recompiled keeps its source, file name, optimisation level and invalidation mode, and is what
the interpreter compiles with the hash seed fixed."""

from __future__ import annotations

import marshal
import os
import subprocess
import sys
from pathlib import Path

from pipelines.debian import bytecode

_MODULE = 'def known(word):\n    return word in {"alpha", "beta", "gamma", "delta", "epsilon"}\n'


def _compile(source: Path, seed: str, *options: str) -> Path:
    """``source`` compiled the way Debian's postinst does, under hash seed ``seed``."""
    code = (
        "import py_compile, sys; "
        "print(py_compile.compile(sys.argv[1], doraise=True, dfile='/usr/lib/words.py', "
        "invalidation_mode=py_compile.PycInvalidationMode[sys.argv[2]]))"
    )
    env = {**os.environ, "PYTHONHASHSEED": seed}
    mode = options[0] if options else "TIMESTAMP"
    argv = [sys.executable, *options[1:], "-c", code, str(source), mode]
    out = subprocess.run(argv, env=env, check=True, capture_output=True, text=True)
    return Path(out.stdout.strip())


def _recompile(pyc: Path) -> bytes:
    subprocess.run(
        [sys.executable, "-S", "-c", bytecode.RECOMPILE],
        input=f"{pyc}\n",
        env={"PYTHONHASHSEED": "0"},
        check=True,
        text=True,
    )
    return pyc.read_bytes()


def test_recompiled_bytecode_is_what_the_interpreter_gives_with_seed_0(tmp_path: Path) -> None:
    """This machine's Python (3.11) marshals sets in a fixed order, so its bytecode does not
    vary with the seed (the engine test shows bullseye's 3.9 does): here the recompiled file
    is checked to be the seed-0 compilation, with the header and file name kept."""
    source = tmp_path / "words.py"
    source.write_text(_MODULE)
    seed_0 = _compile(source, "0").read_bytes()
    pyc = _compile(source, "7")
    recompiled = _recompile(pyc)
    assert recompiled == seed_0
    assert recompiled[4:8] == (0).to_bytes(4, "little")  # timestamp mode, as compiled
    assert marshal.loads(recompiled[16:]).co_filename == "/usr/lib/words.py"


def test_bytecode_without_its_source_is_left_alone(tmp_path: Path) -> None:
    source = tmp_path / "words.py"
    source.write_text(_MODULE)
    pyc = _compile(source, "5")
    before = pyc.read_bytes()
    source.unlink()
    assert _recompile(pyc) == before


def test_recompiling_keeps_optimisation_level_and_invalidation_mode(tmp_path: Path) -> None:
    source = tmp_path / "words.py"
    source.write_text('"""doc"""\nassert False, "gone with -O"\n' + _MODULE)
    pyc = _compile(source, "3", "CHECKED_HASH", "-OO")
    assert pyc.name.endswith(".opt-2.pyc")
    before = pyc.read_bytes()
    after = _recompile(pyc)
    assert after[4:8] == before[4:8] == (3).to_bytes(4, "little")  # checked hash
    assert after[8:16] == before[8:16]  # the source's hash
    code = marshal.loads(after[16:])
    assert "doc" not in code.co_consts  # still without docstrings (-OO)
