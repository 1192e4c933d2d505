"""Python bytecode that maintainer scripts compile, made the same in every build.

Debian's Python packages compile their modules in their postinst (``python3.9 -E -S
py_compile.py …``). ``-E`` leaves string hashing randomised, and marshal's output depends on
it (the reference flags of interned strings vary with the seed): two builds of the same
packages give ``.pyc`` files that differ in a few bits. Measured on the legacy driver loader
(bullseye, Python 3.9): 22 to 25 of its 520 ``.pyc`` files differed between two builds, and
setting ``PYTHONHASHSEED`` for the step changes nothing (``-E`` ignores it); compiled twice with
the seed fixed, all 520 were the same.

So after ``dpkg --configure``, the ``.pyc`` files the step wrote are compiled again by the
same interpreter with ``PYTHONHASHSEED=0``, keeping what each file records (its source, the
file name in its code, its optimisation level and its invalidation mode): the same bytecode,
with the reference flags of seed 0. Nothing else changes, and a step that compiled nothing
costs one ``find``.
"""

from __future__ import annotations

# Run by the image's own interpreter (Python 3.7 or later: invalidation modes), one .pyc path
# per line on stdin.
RECOMPILE = r"""
import marshal, os, py_compile, sys
if not hasattr(py_compile, "PycInvalidationMode"):
    sys.exit(0)
MODES = {0: py_compile.PycInvalidationMode.TIMESTAMP,
         1: py_compile.PycInvalidationMode.UNCHECKED_HASH,
         3: py_compile.PycInvalidationMode.CHECKED_HASH}
for line in sys.stdin:
    pyc = line.rstrip("\n")
    with open(pyc, "rb") as f:
        head = f.read(16)
        code = marshal.load(f)
    cache, name = os.path.split(pyc)
    parts = name.split(".")
    source = os.path.join(os.path.dirname(cache), parts[0] + ".py")
    if not os.path.isfile(source):
        continue
    opt = [p[len("opt-"):] for p in parts if p.startswith("opt-")]
    py_compile.compile(source, cfile=pyc, dfile=code.co_filename, doraise=True,
                       optimize=int(opt[0]) if opt else 0,
                       invalidation_mode=MODES[int.from_bytes(head[4:8], "little")])
"""

# Shell functions for the configure step: ``bytecode_mark`` before dpkg runs, then
# ``bytecode_fixed`` after it.
FIXED_BYTECODE = rf"""
bytecode_mark() {{ bytecode_stamp=$(mktemp); }}
bytecode_fixed() {{
  compiled=$(find / -xdev -path '*/__pycache__/*.cpython-*.pyc' -newer "$bytecode_stamp")
  rm -f "$bytecode_stamp"
  [ -n "$compiled" ] || return 0
  for version in $(echo "$compiled" | sed -n 's/.*\.cpython-\([0-9]\)\([0-9]*\)\..*/\1.\2/p' |
                   sort -u); do
    interpreter=/usr/bin/python$version
    [ -x "$interpreter" ] || continue
    echo "$compiled" | grep -F ".cpython-$(echo "$version" | tr -d .)." |
      env -i PYTHONHASHSEED=0 "$interpreter" -S -c '{RECOMPILE}'
  done
}}
"""
