"""The ELF dependency closure of a set of roots, resolved inside a root filesystem the way glibc's
dynamic loader resolves it at run time.

For each object: its interpreter (``PT_INTERP``), then every ``DT_NEEDED`` name searched in
``DT_RPATH`` (of the object and of the objects that loaded it, unless the object has a
``DT_RUNPATH``), ``DT_RUNPATH``, the directories of ``/etc/ld.so.conf`` when an
``/etc/ld.so.cache`` exists (the loader reads them only through the cache), and the loader's
built-in system directories (Debian's multiarch ones first). A candidate of another machine or
ELF class is skipped, as the loader skips it. Libraries in ``glibc-hwcaps/*`` subdirectories of
a search directory are kept beside the one found, since the loader prefers them on CPUs that
support them. ``$ORIGIN`` and ``$LIB`` are expanded; ``LD_LIBRARY_PATH`` and ``dlopen`` calls
are not visible here: such libraries must be roots.
"""

from __future__ import annotations

import posixpath
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

from .elf import ElfError, ElfFile, read_elf
from .globs import matches
from .rootfs import RootFs

MULTIARCH_TRIPLETS = {
    62: "x86_64-linux-gnu",
    183: "aarch64-linux-gnu",
    3: "i386-linux-gnu",
    40: "arm-linux-gnueabihf",
    21: "powerpc64le-linux-gnu",
    22: "s390x-linux-gnu",
    243: "riscv64-linux-gnu",
}
"""Debian's multiarch directory name for each ELF machine (the loader's first system dirs)."""


def system_directories(machine: int) -> tuple[str, ...]:
    """The directories Debian's glibc loader searches last, built in (``ld.so --help``)."""
    triplet = MULTIARCH_TRIPLETS.get(machine)
    multiarch = (f"/lib/{triplet}", f"/usr/lib/{triplet}") if triplet else ()
    return (*multiarch, "/lib", "/usr/lib")


@dataclass
class Closure:
    """Every object the roots load, by image path (free of links), and how they were reached."""

    objects: dict[str, ElfFile] = field(default_factory=dict)
    """Roots and every object they load, by resolved image path."""
    links: set[str] = field(default_factory=set)
    """Symbolic links followed to reach them (kept with them)."""
    loaded_by: dict[str, str] = field(default_factory=dict)
    """Object -> the object whose dependency first brought it in (roots have none)."""
    missing: list[str] = field(default_factory=list)
    """What could not be found, one readable message each."""

    def sonames(self) -> dict[str, str]:
        """Object path -> its DT_SONAME, or its file name when it has none."""
        return {path: elf.soname or posixpath.basename(path) for path, elf in self.objects.items()}


class _Resolver:
    def __init__(self, fs: RootFs) -> None:
        self.fs = fs
        self.closure = Closure()
        self.queue: deque[str] = deque()
        self.executable_rpaths: list[tuple[str, ElfFile]] = []
        cache = fs.resolve("/etc/ld.so.cache")
        self.conf_directories = _ld_so_conf_directories(fs) if cache else []

    def add(self, path: str, loaded_by: str | None) -> str | None:
        """Follow ``path`` into the closure; its resolved path, or None if it is not there."""
        resolved = self.fs.resolve(path)
        if resolved is None:
            return None
        self.closure.links.update(resolved.links)
        if resolved.path not in self.closure.objects:
            elf = read_elf(self.fs.host(resolved.path))
            if elf is None:
                return None
            self.closure.objects[resolved.path] = elf
            if loaded_by is not None:
                self.closure.loaded_by[resolved.path] = loaded_by
            self.queue.append(resolved.path)
        return resolved.path

    def run(self, roots: Iterable[str]) -> Closure:
        for root in roots:
            if self.add(root, None) is None:
                self.closure.missing.append(f"{root}: not an ELF executable or shared object")
        for path in list(self.closure.objects):
            elf = self.closure.objects[path]
            if elf.interpreter is not None and elf.runpath is None:
                self.executable_rpaths.append((path, elf))
        while self.queue:
            self.load_dependencies(self.queue.popleft())
        return self.closure

    def load_dependencies(self, path: str) -> None:
        elf = self.closure.objects[path]
        if elf.interpreter is not None and self.add(elf.interpreter, path) is None:
            self.closure.missing.append(f"{path}: its interpreter {elf.interpreter} is missing")
        for name in elf.needed:
            if self.find(name, path, elf) is None:
                searched = ", ".join(self.directories(path, elf))
                self.closure.missing.append(f"{path} needs {name}, found in none of: {searched}")

    def find(self, name: str, path: str, elf: ElfFile) -> str | None:
        if "/" in name:
            return self.add(name if name.startswith("/") else "/" + name, path)
        for directory in self.directories(path, elf):
            candidate = posixpath.join(directory, name)
            if self.fits(candidate, elf):
                for variant in self.hwcaps_variants(directory, name, elf):
                    self.add(variant, path)
                return self.add(candidate, path)
        return None

    def fits(self, candidate: str, needer: ElfFile) -> bool:
        """True when ``candidate`` is a library the loader would accept for ``needer``."""
        resolved = self.fs.resolve(candidate)
        if resolved is None:
            return False
        try:
            found = read_elf(self.fs.host(resolved.path))
        except (ElfError, OSError):
            return False
        return found is not None and (found.machine, found.wide) == (needer.machine, needer.wide)

    def hwcaps_variants(self, directory: str, name: str, needer: ElfFile) -> list[str]:
        base = self.fs.resolve(posixpath.join(directory, "glibc-hwcaps"))
        if base is None or not self.fs.host(base.path).is_dir():
            return []
        subdirs = sorted(p.name for p in self.fs.host(base.path).iterdir())
        found = [posixpath.join(base.path, sub, name) for sub in subdirs]
        return [path for path in found if self.fits(path, needer)]

    def directories(self, path: str, elf: ElfFile) -> list[str]:
        """Where the loader looks for the libraries ``elf`` (at ``path``) needs, in order."""
        found: list[str] = []
        if elf.runpath is None:
            chain, current = [(path, elf)], path
            while current in self.closure.loaded_by:
                current = self.closure.loaded_by[current]
                chain.append((current, self.closure.objects[current]))
            for owner, obj in [*chain, *self.executable_rpaths]:
                if obj.runpath is None:
                    found += self.expand(obj.rpath, owner, obj)
        found += self.expand(elf.runpath or (), path, elf)
        found += self.conf_directories
        found += system_directories(elf.machine)
        return list(dict.fromkeys(found))

    def expand(self, directories: Iterable[str], owner: str, elf: ElfFile) -> list[str]:
        triplet = MULTIARCH_TRIPLETS.get(elf.machine)
        libs = [f"lib/{triplet}", "lib"] if triplet else ["lib"]
        origin = posixpath.dirname(owner)
        out = []
        for directory in directories:
            text = directory.replace("${ORIGIN}", origin).replace("$ORIGIN", origin)
            for lib in libs if "LIB" in text else [""]:
                out.append(text.replace("${LIB}", lib).replace("$LIB", lib))
        return [posixpath.normpath(d) for d in out if d.startswith("/")]


def dependency_closure(fs: RootFs, roots: Iterable[str]) -> Closure:
    """The objects ``roots`` load in ``fs``, roots included; what is missing is listed in
    :attr:`Closure.missing` rather than raised, so that every problem is reported at once."""
    return _Resolver(fs).run(roots)


def _ld_so_conf_directories(fs: RootFs) -> list[str]:
    """Directories listed by /etc/ld.so.conf and the files it includes."""
    found: list[str] = []
    pending, seen = deque(["/etc/ld.so.conf"]), set()
    while pending:
        conf = pending.popleft()
        resolved = fs.resolve(conf)
        if resolved is None or conf in seen:
            continue
        seen.add(conf)
        for line in fs.host(resolved.path).read_text(errors="replace").splitlines():
            line = line.split("#", 1)[0].strip()
            if line.startswith("include "):
                pattern = line.split(None, 1)[1]
                parent = fs.resolve(posixpath.dirname(pattern))
                if parent is not None:
                    for child in sorted(fs.host(parent.path).iterdir()):
                        image_path = posixpath.join(posixpath.dirname(pattern), child.name)
                        if matches(pattern, image_path):
                            pending.append(image_path)
            elif line.startswith("/"):
                found.append(line)
    return found
