"""A root filesystem seen from inside: image paths resolved the way a process in it would.

Absolute symbolic link targets are relative to the root (as after ``chroot``), so
``/lib64/ld-linux-x86-64.so.2 -> /lib/x86_64-linux-gnu/...`` and merged-``/usr`` links such as
``/lib -> usr/lib`` resolve inside the directory, never on the machine running the code.
"""

from __future__ import annotations

import os
import posixpath
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

MAX_LINKS = 40  # as the kernel's limit on symbolic links in one lookup


@dataclass(frozen=True)
class Resolved:
    """Where an image path leads: the entry itself and the links followed on the way."""

    path: str
    """The image path of the entry reached, free of symbolic links."""
    links: tuple[str, ...]
    """Every symbolic link followed, in order (image paths)."""


class RootFs:
    """The root filesystem in ``root`` (a directory of the machine running the code)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def host(self, path: str) -> Path:
        """Where the image path ``path`` is stored on this machine (links not followed)."""
        return self.root / path.lstrip("/")

    def resolve(self, path: str) -> Resolved | None:
        """Follow ``path`` through every symbolic link; None when it leads nowhere (a
        missing entry, a dangling link, a loop, or a file used as a directory)."""
        pending = deque(_parts(path))
        current, links = "/", []
        while pending:
            part = pending.popleft()
            if part == "..":
                current = posixpath.dirname(current)
                continue
            candidate = posixpath.join(current, part)
            host = self.host(candidate)
            if host.is_symlink():
                links.append(candidate)
                if len(links) > MAX_LINKS:
                    return None
                target = os.readlink(host)
                if target.startswith("/"):
                    current = "/"
                pending.extendleft(reversed(_parts(target)))
                continue
            if not host.exists() or (pending and not host.is_dir()):
                return None
            current = candidate
        return Resolved(current, tuple(links))

    def canonical_glob(self, pattern: str) -> str:
        """``pattern`` with its leading literal directories resolved, so that
        ``/lib/x86_64-linux-gnu/*.so`` names the files stored under ``/usr/lib`` when ``/lib``
        links there (merged /usr); components from the first wildcard on are kept as they are."""
        parts = pattern.split("/")[1:]
        literal = 0
        while literal < len(parts) - 1 and not any(c in parts[literal] for c in "*?"):
            literal += 1
        prefix = "/" + "/".join(parts[:literal])
        resolved = self.resolve(prefix)
        return posixpath.join(resolved.path if resolved else prefix, *parts[literal:])

    def entries(self) -> Iterator[tuple[str, str]]:
        """Every entry below the root as ``(image path, kind)``, kind one of ``dir``,
        ``file``, ``link`` or ``other``, parents before children; links are not followed."""
        for directory, dirnames, filenames in os.walk(self.root):
            dirnames.sort()
            relative = os.path.relpath(directory, self.root)
            base = "/" if relative == "." else "/" + relative
            for name in [*dirnames, *sorted(filenames)]:
                image_path = posixpath.join(base, name)
                yield image_path, _kind(self.host(image_path))


def _kind(host: Path) -> str:
    if host.is_symlink():
        return "link"
    if host.is_dir():
        return "dir"
    if host.is_file():
        return "file"
    return "other"


def _parts(path: str) -> list[str]:
    return [part for part in path.split("/") if part not in ("", ".")]
