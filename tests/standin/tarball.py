"""Reproducible ``.tar.gz`` archives: sorted members, root ownership, fixed times."""

from __future__ import annotations

import gzip
import io
import tarfile
from collections.abc import Sequence

from ._util import SOURCE_DATE_EPOCH
from .content import Entry


def _member(name: str, entry_mode: int, size: int, is_dir: bool) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE if is_dir else tarfile.REGTYPE
    info.mode = entry_mode
    info.size = 0 if is_dir else size
    info.mtime = SOURCE_DATE_EPOCH
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    return info


def build_targz(entries: Sequence[Entry], top_dir: str | None = None) -> bytes:
    """Return a gzip-compressed tar of ``entries``, optionally under ``top_dir/``.

    The output only depends on the entries: members are sorted by name, owned by
    0:0 ("root"), stamped with a fixed mtime, and the gzip header has mtime 0 and
    no file name.
    """
    members: list[tuple[str, Entry | None]] = []
    if top_dir is not None:
        members.append((top_dir, None))
    for entry in entries:
        name = entry.path if top_dir is None else f"{top_dir}/{entry.path}"
        members.append((name, entry))
    members.sort(key=lambda item: item[0])

    buffer = io.BytesIO()
    with (
        gzip.GzipFile(filename="", mode="wb", fileobj=buffer, compresslevel=6, mtime=0) as gz,
        tarfile.open(fileobj=gz, mode="w", format=tarfile.GNU_FORMAT) as tar,
    ):
        for name, member in members:
            if member is None or member.data is None:
                mode = 0o755 if member is None else member.mode
                tar.addfile(_member(name, mode, 0, is_dir=True))
            else:
                info = _member(name, member.mode, len(member.data), is_dir=False)
                tar.addfile(info, io.BytesIO(member.data))
    return buffer.getvalue()
