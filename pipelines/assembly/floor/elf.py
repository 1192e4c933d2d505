"""What the dynamic loader reads of an ELF file: interpreter, needed libraries, search paths.

Only the program headers and the dynamic segment are read, as ``ld.so`` reads them, so files
stripped of their section headers are read too. The size of the dynamic symbol table comes from
its ``DT_HASH`` or ``DT_GNU_HASH`` table, again as the loader finds it.
"""

from __future__ import annotations

import mmap
import struct
from dataclasses import dataclass
from pathlib import Path

ELF_MAGIC = b"\x7fELF"
ET_EXEC, ET_DYN = 2, 3
PT_LOAD, PT_DYNAMIC, PT_INTERP = 1, 2, 3
DT_NULL, DT_NEEDED, DT_HASH, DT_STRTAB, DT_SYMTAB = 0, 1, 4, 5, 6
DT_SONAME, DT_RPATH, DT_RUNPATH, DT_GNU_HASH = 14, 15, 29, 0x6FFFFEF5
SHN_UNDEF = 0


class ElfError(ValueError):
    """The file starts like ELF but cannot be read the way the loader reads it."""


@dataclass(frozen=True)
class ElfFile:
    """The loader-relevant facts of one ELF executable or shared object."""

    machine: int
    """``e_machine``: 62 for x86-64, 183 for AArch64."""
    wide: bool
    """True for ELFCLASS64."""
    interpreter: str | None = None
    """``PT_INTERP``: the dynamic loader an executable asks for."""
    needed: tuple[str, ...] = ()
    """``DT_NEEDED`` entries, in order."""
    soname: str | None = None
    rpath: tuple[str, ...] = ()
    """``DT_RPATH`` directories (the loader ignores them when ``DT_RUNPATH`` is present)."""
    runpath: tuple[str, ...] | None = None
    """``DT_RUNPATH`` directories; None when the file has no ``DT_RUNPATH``."""
    imports: frozenset[str] = frozenset()
    """Names of the undefined dynamic symbols: what the file expects another object to define."""
    exports: frozenset[str] = frozenset()
    """Names of the defined dynamic symbols: what the file offers the objects it is loaded with."""


def read_elf(path: Path) -> ElfFile | None:
    """The loader's view of the file at ``path``; None for anything that is not an ELF
    executable or shared object (other files, relocatable objects, core dumps).

    Raises :class:`ElfError` (naming ``path``) when an ELF file is truncated or inconsistent.
    """
    with path.open("rb") as handle:
        if handle.read(4) != ELF_MAGIC:
            return None
        if path.stat().st_size < 52:
            raise ElfError(f"{path}: too short for an ELF header")
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
            try:
                return _Reader(data).read()
            except (ElfError, struct.error, UnicodeDecodeError, IndexError) as error:
                raise ElfError(f"{path}: not a readable ELF file: {error}") from None


@dataclass(frozen=True)
class _Segment:
    kind: int
    offset: int
    vaddr: int
    filesz: int


class _Reader:
    """One pass over an ELF file mapped in memory."""

    def __init__(self, data: mmap.mmap) -> None:
        self.data = data
        elf_class, byte_order = data[4], data[5]
        if elf_class not in (1, 2) or byte_order not in (1, 2):
            raise ElfError(f"unknown ELF class {elf_class} or byte order {byte_order}")
        self.wide = elf_class == 2
        self.endian = "<" if byte_order == 1 else ">"
        self.segments: list[_Segment] = []
        self.strtab = 0

    def unpack(self, fmt: str, offset: int) -> tuple[int, ...]:
        values: tuple[int, ...] = struct.unpack_from(self.endian + fmt, self.data, offset)
        return values

    def read(self) -> ElfFile | None:
        e_type, machine = self.unpack("HH", 16)
        if e_type not in (ET_EXEC, ET_DYN):
            return None
        if self.wide:
            (phoff,) = self.unpack("Q", 32)
            phentsize, phnum = self.unpack("HH", 54)
        else:
            (phoff,) = self.unpack("I", 28)
            phentsize, phnum = self.unpack("HH", 42)
        self.segments = [self.segment(phoff + index * phentsize) for index in range(phnum)]
        interpreter = next(
            (
                self.c_string(s.offset, s.offset + s.filesz)
                for s in self.segments
                if s.kind == PT_INTERP
            ),
            None,
        )
        dynamic = next((s for s in self.segments if s.kind == PT_DYNAMIC), None)
        if dynamic is None:  # statically linked
            return ElfFile(machine, self.wide, interpreter)
        entries = self.dynamic_entries(dynamic)
        tags = {tag: value for tag, value in reversed(entries)}  # the first of each tag wins
        if DT_STRTAB not in tags:
            raise ElfError("dynamic segment without DT_STRTAB")
        self.strtab = self.file_offset(tags[DT_STRTAB])

        def strings(tag: int) -> list[str]:
            return [self.dynamic_string(value) for t, value in entries if t == tag]

        def directories(tag: int) -> tuple[str, ...]:
            return tuple(part for text in strings(tag) for part in text.split(":") if part)

        symbols = self.symbols(tags)

        return ElfFile(
            machine=machine,
            wide=self.wide,
            interpreter=interpreter,
            needed=tuple(strings(DT_NEEDED)),
            soname=self.dynamic_string(tags[DT_SONAME]) if DT_SONAME in tags else None,
            rpath=directories(DT_RPATH),
            runpath=directories(DT_RUNPATH) if DT_RUNPATH in tags else None,
            imports=frozenset(name for name, defined in symbols if not defined),
            exports=frozenset(name for name, defined in symbols if defined),
        )

    def segment(self, at: int) -> _Segment:
        if self.wide:
            kind, _flags, offset, vaddr, _paddr, filesz = self.unpack("IIQQQQ", at)
        else:
            kind, offset, vaddr, _paddr, filesz = self.unpack("IIIII", at)
        return _Segment(kind, offset, vaddr, filesz)

    def dynamic_entries(self, dynamic: _Segment) -> list[tuple[int, int]]:
        """The (d_tag, d_val) pairs of the dynamic segment, up to DT_NULL."""
        fmt = "qQ" if self.wide else "iI"
        step = struct.calcsize(self.endian + fmt)
        entries = []
        for at in range(dynamic.offset, dynamic.offset + dynamic.filesz - step + 1, step):
            tag, value = self.unpack(fmt, at)
            if tag == DT_NULL:
                break
            entries.append((tag, value))
        return entries

    def file_offset(self, address: int) -> int:
        """Where the virtual ``address`` lies in the file."""
        for s in self.segments:
            if s.kind == PT_LOAD and s.vaddr <= address < s.vaddr + s.filesz:
                return address - s.vaddr + s.offset
        raise ElfError(f"address {address:#x} is in no loadable segment")

    def c_string(self, start: int, limit: int | None = None) -> str:
        end = self.data.find(b"\0", start, limit if limit is not None else len(self.data))
        if end < 0:
            raise ElfError(f"unterminated string at offset {start}")
        return self.data[start:end].decode("utf-8", errors="surrogateescape")

    def dynamic_string(self, index: int) -> str:
        return self.c_string(self.strtab + index)

    def symbol_count(self, tags: dict[int, int]) -> int:
        """How many entries the dynamic symbol table has, from its hash table."""
        if DT_HASH in tags:
            return self.unpack("I", self.file_offset(tags[DT_HASH]) + 4)[0]
        if DT_GNU_HASH not in tags:
            return 0
        at = self.file_offset(tags[DT_GNU_HASH])
        nbuckets, symoffset, bloom_size, _shift = self.unpack("IIII", at)
        buckets_at = at + 16 + bloom_size * (8 if self.wide else 4)
        buckets = self.unpack(f"{nbuckets}I", buckets_at) if nbuckets else ()
        last = max(buckets, default=0)
        if last < symoffset:
            return symoffset
        chains_at = buckets_at + 4 * nbuckets
        while not self.unpack("I", chains_at + 4 * (last - symoffset))[0] & 1:
            last += 1
        return last + 1

    def symbols(self, tags: dict[int, int]) -> list[tuple[str, bool]]:
        """Every named entry of the dynamic symbol table, and whether the file defines it."""
        if DT_SYMTAB not in tags:
            return []
        symtab = self.file_offset(tags[DT_SYMTAB])
        size = 24 if self.wide else 16
        found = []
        for index in range(1, self.symbol_count(tags)):
            at = symtab + index * size
            if self.wide:
                name, _info, _other, shndx = self.unpack("IBBH", at)
            else:
                name, _value, _size, _info, _other, shndx = self.unpack("IIIBBH", at)
            if name:
                found.append((self.dynamic_string(name), shndx != SHN_UNDEF))
        return found
