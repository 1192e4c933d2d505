"""A stand-in release of the example family ``hello`` (tests/examples/valid/hello), laid out as
its catalog's URLs say: ``downloads.example.org/hello/<version>/`` holds one tarball per
architecture (``hello-<version>/usr/bin/hello`` inside), ``motd.txt`` and ``SHA256SUMS``."""

from __future__ import annotations

import gzip
import io
import tarfile
from dataclasses import dataclass
from pathlib import Path

from ._util import SOURCE_DATE_EPOCH, sha256_bytes, write_if_changed
from .elf import build_hello
from .platforms import get_platform

HOST = "downloads.example.org"
ARCH = {"linux/amd64": "amd64", "linux/arm64": "arm64"}


@dataclass(frozen=True)
class HelloRelease:
    """The files of one stand-in ``hello`` release under ``root`` (served as is)."""

    root: Path
    version: str
    sha256: dict[str, str]  # file name -> sha256, as SHA256SUMS lists them

    @property
    def directory(self) -> Path:
        """Where the release's files are, under the server root."""
        return self.root / HOST / "hello" / self.version


def _tarball(binary: bytes, version: str) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for name, data, mode in ((f"hello-{version}/usr/bin/hello", binary, 0o755),):
            parent = f"hello-{version}"
            for directory in (parent, f"{parent}/usr", f"{parent}/usr/bin"):
                info = tarfile.TarInfo(directory)
                info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, SOURCE_DATE_EPOCH
                tar.addfile(info)
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), mode, SOURCE_DATE_EPOCH
            tar.addfile(info, io.BytesIO(data))
    return gzip.compress(out.getvalue(), mtime=0)  # byte-identical for the same inputs


def build_hello_release(root: Path, version: str = "1.2.3") -> HelloRelease:
    """Write the stand-in ``hello`` release under ``root`` (idempotent) and return it."""
    directory = root / HOST / "hello" / version
    files: dict[str, bytes] = {"motd.txt": f"hello from {version}\n".encode()}
    for platform, arch in ARCH.items():
        binary = build_hello(get_platform(platform), version, root.parent / ".cache")
        files[f"hello-{version}.linux-{arch}.tar.gz"] = _tarball(binary.read_bytes(), version)
    sums = {name: sha256_bytes(data) for name, data in files.items()}
    for name, data in files.items():
        write_if_changed(directory / name, data)
    listing = "".join(f"{sha}  {name}\n" for name, sha in sorted(sums.items()))
    write_if_changed(directory / "SHA256SUMS", listing.encode())
    return HelloRelease(root=root, version=version, sha256=sums)
