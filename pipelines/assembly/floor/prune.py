"""Prune an assembled distroless root filesystem down to its floor.

``python3 -m <package>.prune --base BASE --image IMAGE --spec SPEC.json --report OUT.json``
compares ``IMAGE`` (the whole chain assembled) with ``BASE`` (the unpacked packages alone): what
the chain's layers installed is the application and stays whole; of the packages' files, only
the ELF closure of the roots, the files of :mod:`.policy` and the catalog's ``keep`` globs stay.
Problems (a library nobody installs, a root that is not ELF, a package without its copyright
file, a glob that matches nothing) are printed as ``error:`` lines and nothing is removed.
"""

from __future__ import annotations

import argparse
import filecmp
import json
import os
import posixpath
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from .closure import Closure, dependency_closure
from .elf import ElfError, read_elf
from .globs import has_wildcards, matches
from .policy import (
    GCONV,
    MANDATORY,
    NOT_MANDATORY,
    TOP_LEVEL_LINKS,
    gconv_decision,
    license_references,
    nss_modules,
)
from .rootfs import RootFs

FLOOR_CATEGORIES = ("application", "closure", "mandatory")
"""What the floor is made of: the chain's own files, what they load, what every image keeps."""
EXTRA_CATEGORIES = ("nss", "gconv", "keep")
"""Kept beyond the floor: NSS modules libc may load, iconv modules, the catalog's keep globs."""
STATUS_DIRECTORY = "/var/lib/dpkg/status.d"


@dataclass(frozen=True)
class FloorSpec:
    """The catalog's floor settings (``base.distroless.floor``)."""

    roots: tuple[str, ...] | None = None
    keep: tuple[str, ...] = ()
    gconv: str = "auto"

    @classmethod
    def from_json(cls, text: str) -> FloorSpec:
        """The spec written by the pipeline (``{"roots": [...] | null, "keep": [...], ...}``)."""
        data = json.loads(text)
        roots = data.get("roots")
        return cls(
            roots=None if roots is None else tuple(roots),
            keep=tuple(data.get("keep", ())),
            gconv=data.get("gconv", "auto"),
        )


@dataclass
class FloorPlan:
    """What stays (by category), what goes, and what was wrong."""

    kept: dict[str, str] = field(default_factory=dict)
    """Kept files and links -> category."""
    protected: set[str] = field(default_factory=set)
    """Directories that must stay even if emptied (link targets, installed directories)."""
    remove: list[str] = field(default_factory=list)
    remove_directories: list[str] = field(default_factory=list)
    roots: list[str] = field(default_factory=list)
    closure: Closure = field(default_factory=Closure)
    gconv: str = ""
    errors: list[str] = field(default_factory=list)


class _Planner:
    def __init__(self, base: RootFs, image: RootFs, spec: FloorSpec) -> None:
        self.base, self.image, self.spec = base, image, spec
        self.entries = dict(image.entries())
        self.base_entries = dict(base.entries())
        self.plan = FloorPlan()

    def keep(self, path: str, category: str) -> bool:
        """Keep the entry ``path`` leads to and the links on the way; False if it leads nowhere."""
        resolved = self.image.resolve(path)
        if resolved is None:
            return False
        for link in resolved.links:
            self.plan.kept.setdefault(link, category)
        if self.entries.get(resolved.path) == "dir":
            self.plan.protected.add(resolved.path)
        else:
            self.plan.kept.setdefault(resolved.path, category)
        return True

    def named(self, pattern: str) -> list[str]:
        """The entries ``pattern`` names: a literal path as it resolves (a directory with all
        it holds), a glob matched against the stored paths once its literal leading
        directories are resolved (``/lib/*/gconv/**`` names files under ``/usr/lib``)."""
        if not has_wildcards(pattern):
            resolved = self.image.resolve(pattern)
            if resolved is None:
                return []
            if self.entries.get(resolved.path) != "dir":
                return [pattern]
            inside = [p for p in self.entries if p.startswith(resolved.path + "/")]
            return [pattern, *inside]
        canonical = self.image.canonical_glob(pattern)
        return [path for path in self.entries if matches(canonical, path)]

    def keep_glob(self, pattern: str, category: str) -> int:
        """Keep what ``pattern`` names; how many entries it named."""
        found = self.named(pattern)
        for path in found:
            self.keep(path, category)
        return len(found)

    def installed(self) -> list[str]:
        """Entries the chain's layers added or changed (the application)."""
        return [path for path, kind in self.entries.items() if not self.from_packages(path, kind)]

    def from_packages(self, path: str, kind: str) -> bool:
        if self.base_entries.get(path) != kind:
            return False
        mine, theirs = self.image.host(path), self.base.host(path)
        if kind == "link":
            return os.readlink(mine) == os.readlink(theirs)
        if kind == "file":
            return filecmp.cmp(mine, theirs, shallow=False)
        return True

    def roots(self, installed: list[str]) -> list[str]:
        if self.spec.roots is None:
            return [p for p in installed if self.entries[p] == "file" and self.is_program(p)]
        roots: list[str] = []
        for pattern in self.spec.roots:
            self.keep_glob(pattern, "application")
            found = [p for p in self.named(pattern) if self.is_program(p)]
            if not found:
                self.plan.errors.append(
                    f"roots: {pattern!r} matches no ELF executable or shared object"
                )
            roots += found
        return list(dict.fromkeys(roots))

    def is_program(self, path: str) -> bool:
        try:
            return read_elf(self.image.host(path)) is not None
        except (ElfError, OSError):
            return False

    def copyright_files(self) -> list[str]:
        """Each installed package's copyright file (an error for each one missing)."""
        status = self.image.resolve(STATUS_DIRECTORY)
        packages = sorted(p.name for p in self.image.host(status.path).iterdir()) if status else []
        found = []
        for package in packages:
            path = f"/usr/share/doc/{package}/copyright"
            resolved = self.image.resolve(path)
            if resolved is not None and self.entries.get(resolved.path) == "file":
                self.keep(path, "mandatory")
                found.append(resolved.path)
                continue
            hint = ""
            doc = self.image.host(f"/usr/share/doc/{package}")
            if doc.is_symlink():
                owner = posixpath.basename(os.readlink(doc).rstrip("/"))
                hint = f" (/usr/share/doc/{package} links to {owner}: list package {owner!r})"
            self.plan.errors.append(f"package {package}: no {path}{hint}")
        return found

    def run(self) -> FloorPlan:
        plan = self.plan
        installed = self.installed()
        for path in installed:
            if self.entries[path] == "dir":
                plan.protected.add(path)
            else:
                plan.kept[path] = "application"
        plan.roots = self.roots(installed)
        plan.closure = dependency_closure(self.image, plan.roots)
        for path in sorted(plan.closure.objects):
            self.keep(path, "closure")
        for link in sorted(plan.closure.links):
            plan.kept.setdefault(link, "closure")
        for pattern in MANDATORY:
            for path in self.named(pattern):
                if not any(matches(other, path) for other in NOT_MANDATORY):
                    self.keep(path, "mandatory")
        for path in license_references(self.image, self.copyright_files()):
            self.keep(path, "mandatory")
        for path in TOP_LEVEL_LINKS:
            if self.entries.get(path) == "link":
                plan.kept.setdefault(path, "mandatory")
                self.keep(path, "mandatory")  # and its directory, when there is one
        modules = nss_modules(self.image, plan.closure)
        with_nss = dependency_closure(self.image, [*plan.roots, *modules])
        for path in sorted([*with_nss.objects, *with_nss.links]):
            self.keep(path, "nss")
        plan.errors += with_nss.missing
        keep_gconv, plan.gconv = gconv_decision(plan.closure, self.spec.gconv)
        if keep_gconv:
            for pattern in GCONV:
                self.keep_glob(pattern, "gconv")
        for pattern in self.spec.keep:
            if not self.keep_glob(pattern, "keep"):
                plan.errors.append(f"keep: {pattern!r} matches nothing in the image")
        self.schedule_removals()
        return plan

    def schedule_removals(self) -> None:
        plan = self.plan
        plan.remove = [p for p, k in self.entries.items() if k != "dir" and p not in plan.kept]
        children: dict[str, list[str]] = {}
        for path in self.entries:
            children.setdefault(posixpath.dirname(path), []).append(path)
        gone = set(plan.remove)
        for path in sorted(self.entries, key=lambda p: p.count("/"), reverse=True):
            inside = children.get(path, [])
            emptied = inside and all(child in gone for child in inside)
            if self.entries[path] == "dir" and emptied and path not in plan.protected:
                gone.add(path)
                plan.remove_directories.append(path)


def plan_floor(base: RootFs, image: RootFs, spec: FloorSpec) -> FloorPlan:
    """What the floor of ``image`` keeps and removes (nothing is changed)."""
    return _Planner(base, image, spec).run()


def apply_floor(image: RootFs, plan: FloorPlan) -> None:
    """Remove what ``plan`` removes: files and links, then the directories it emptied."""
    for path in plan.remove:
        image.host(path).unlink()
    for path in plan.remove_directories:
        image.host(path).rmdir()


def file_size(image: RootFs, path: str) -> int:
    """Bytes of a regular file (links and directories weigh nothing here)."""
    host = image.host(path)
    return 0 if host.is_symlink() or not host.is_file() else host.stat().st_size


def tar_bytes(image: RootFs, paths: Iterable[str]) -> int:
    """What a tar holding exactly ``paths`` and their directories weighs: a 512-byte header
    per entry, data in 512-byte blocks, two blocks at the end (the format of image layers)."""
    entries: set[str] = set()
    for path in paths:
        while path != "/" and path not in entries:
            entries.add(path)
            path = posixpath.dirname(path)
    return 1024 + sum(512 + -(-file_size(image, path) // 512) * 512 for path in entries)


def report(image: RootFs, plan: FloorPlan, before: Iterable[str]) -> dict[str, object]:
    """What the floor kept and removed, in bytes per category (computed before removal); the
    floor is the chain's own files, their closure and the mandatory files, also weighed as a
    tar (the image's layer format adds a header and padding to every entry)."""
    sizes = {category: 0 for category in (*FLOOR_CATEGORIES, *EXTRA_CATEGORIES)}
    counts = dict.fromkeys(sizes, 0)
    for path, category in plan.kept.items():
        sizes[category] += file_size(image, path)
        counts[category] += 1
    before_bytes = sum(file_size(image, path) for path in before)
    floor_bytes = sum(sizes[c] for c in FLOOR_CATEGORIES)
    return {
        "roots": plan.roots,
        "closure": {
            path: {"needed": list(elf.needed), "loaded_by": plan.closure.loaded_by.get(path)}
            for path, elf in sorted(plan.closure.objects.items())
        },
        "gconv": plan.gconv,
        "bytes": sizes,
        "entries": counts,
        "floor_bytes": floor_bytes,
        "floor_tar_bytes": tar_bytes(
            image, [p for p, category in plan.kept.items() if category in FLOOR_CATEGORIES]
        ),
        "kept_bytes": sum(sizes.values()),
        "before_bytes": before_bytes,
        "removed": {
            "entries": len(plan.remove) + len(plan.remove_directories),
            "bytes": sum(file_size(image, path) for path in plan.remove),
        },
    }


def main(argv: list[str] | None = None) -> int:
    """Plan, check, prune and report; the exit status is 1 when the plan has errors."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--base", type=Path, required=True, help="the unpacked packages")
    parser.add_argument("--image", type=Path, required=True, help="the assembled root (pruned)")
    parser.add_argument("--spec", type=Path, required=True, help="FloorSpec as JSON")
    parser.add_argument("--report", type=Path, required=True, help="where to write the report")
    args = parser.parse_args(argv)
    image = RootFs(args.image)
    plan = plan_floor(RootFs(args.base), image, FloorSpec.from_json(args.spec.read_text()))
    if plan.errors:
        for error in plan.errors:
            print(f"error: distroless floor: {error}", file=sys.stderr)
        return 1
    summary = report(image, plan, [p for p, kind in image.entries() if kind == "file"])
    apply_floor(image, plan)
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    print(
        f"floor: kept {summary['kept_bytes']} of {summary['before_bytes']} bytes "
        f"(floor {summary['floor_bytes']}); gconv {plan.gconv}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
