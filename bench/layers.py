"""Reading reproducible OCI tarballs: image digests per platform, and what differs between
two builds of the same image, file by file (pure: standard library only).

The tarballs are ``export-all``'s (:func:`pipelines.oci.reproducible.reproducible_tarball`):
one OCI layout per variant, a multi-platform index, gzip layers. When two cold builds give an
image two digests, :func:`diff_images` says where: the config's fields, then for each layer
whose content (diff_id) differs, every file that is only in one build or differs in content,
time, mode, owner or link target, with the first differing line of small text files and, for
files whose cause is well known, that cause.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from pipelines.oci.normalize_layout import INDEX_TYPES, MANIFEST_TYPES

# Files whose content is compared line by line when they differ (larger ones by hash only).
TEXT_LIMIT = 256 * 1024
# Files that differ between two builds for reasons known from Debian's reproducible-builds
# work; matched against the path inside the image (no leading slash).
KNOWN_CAUSES: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(r"^var/cache/ldconfig/aux-cache$"),
        "ldconfig's auxiliary cache records each library's inode and change time",
    ),
    (
        re.compile(r"^etc/g?shadow-?$"),
        "a user or group made by a maintainer script carries the day it was made "
        "(last password change, in days since 1970)",
    ),
    (
        re.compile(r"^(etc/machine-id|var/lib/dbus/machine-id)$"),
        "a random machine id generated at install time",
    ),
    (re.compile(r"^var/log/"), "a log written during the build, with its times"),
    (
        re.compile(r"\.pyc$"),
        "Python bytecode compiled by a maintainer script: marshal's output depends on "
        "the string-hashing seed (the pipeline recompiles such files with a fixed seed, "
        "see pipelines/debian/bytecode.py: a file still differing escaped it)",
    ),
    (
        re.compile(r"^var/cache/debconf/"),
        "debconf's database, rewritten by every maintainer script that asks a question",
    ),
    (
        re.compile(r"^var/lib/dpkg/"),
        "dpkg's database (status, triggers, file lists), written while packages install",
    ),
)


@dataclass(frozen=True)
class ImageDigest:
    """One platform's image in a layout: its manifest digest and what it is made of."""

    platform: str
    digest: str  # the manifest's digest (what a registry would report for the image)
    config: str  # the config's digest
    layers: tuple[str, ...]  # the layers' digests (gzip bytes)
    diff_ids: tuple[str, ...]  # the layers' uncompressed digests (content)
    compressed: int  # bytes: the config and the gzip layers, as the manifest describes them

    @property
    def content(self) -> str:
        """sha256 of the diff_ids: the files, whatever the compression and the config."""
        return "sha256:" + hashlib.sha256("\n".join(self.diff_ids).encode()).hexdigest()


class Layout:
    """An OCI layout tarball, read in place (blobs are members ``blobs/<alg>/<hex>``)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._tar = tarfile.open(path)  # noqa: SIM115 - closed by close()/__exit__
        self._names = set(self._tar.getnames())

    def __enter__(self) -> Layout:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the tarball."""
        self._tar.close()

    def open(self, name: str) -> IO[bytes]:
        """A member's content as a stream."""
        stream = self._tar.extractfile(self._member(name))
        if stream is None:
            raise ValueError(f"{self.path}: {name} is not a file")
        return stream

    def _member(self, name: str) -> str:
        for candidate in (name, f"./{name}"):
            if candidate in self._names:
                return candidate
        raise KeyError(f"{self.path}: no {name}")

    def json(self, name: str) -> dict[str, Any]:
        """A JSON member."""
        with self.open(name) as stream:
            loaded: dict[str, Any] = json.load(stream)
        return loaded

    def blob(self, digest: str) -> dict[str, Any]:
        """A JSON blob by digest."""
        return self.json(blob_name(digest))

    def images(self) -> dict[str, ImageDigest]:
        """Every image of the layout by platform (``os/arch[/variant]``), in index order."""
        found: dict[str, ImageDigest] = {}
        for descriptor in self._manifests(self.json("index.json")):
            manifest = self.blob(descriptor["digest"])
            config = self.blob(manifest["config"]["digest"])
            platform = platform_of(config, descriptor)
            found[platform] = ImageDigest(
                platform=platform,
                digest=descriptor["digest"],
                config=manifest["config"]["digest"],
                layers=tuple(layer["digest"] for layer in manifest["layers"]),
                diff_ids=tuple(config.get("rootfs", {}).get("diff_ids", [])),
                compressed=int(manifest["config"]["size"])
                + sum(int(layer["size"]) for layer in manifest["layers"]),
            )
        return found

    def _manifests(self, document: dict[str, Any]) -> Iterator[dict[str, Any]]:
        for descriptor in document.get("manifests", []):
            media = descriptor.get("mediaType")
            if media in INDEX_TYPES:
                yield from self._manifests(self.blob(descriptor["digest"]))
            elif media in MANIFEST_TYPES:
                yield descriptor


def blob_name(digest: str) -> str:
    """The layout member of a blob."""
    algorithm, _, hex_digest = digest.partition(":")
    return f"blobs/{algorithm}/{hex_digest}"


def platform_of(config: dict[str, Any], descriptor: dict[str, Any]) -> str:
    """``os/architecture[/variant]`` of an image, from its config (else its descriptor)."""
    source = config if "architecture" in config else descriptor.get("platform", {})
    parts = [source.get("os", "?"), source.get("architecture", "?")]
    if source.get("variant"):
        parts.append(source["variant"])
    return "/".join(parts)


def image_digests(path: Path) -> dict[str, ImageDigest]:
    """Every image of the OCI layout tarball ``path`` by platform."""
    with Layout(path) as layout:
        return layout.images()


@dataclass(frozen=True)
class Entry:
    """What a layer says about one path."""

    kind: str  # file, dir, symlink, hardlink, char, block, fifo
    mode: int
    owner: str  # uid:gid (uname:gname)
    mtime: int
    size: int
    link: str
    sha256: str  # of the content (files only)
    extra: str  # PAX headers other than times, sorted


_KINDS = {
    tarfile.REGTYPE: "file",
    tarfile.AREGTYPE: "file",
    tarfile.DIRTYPE: "dir",
    tarfile.SYMTYPE: "symlink",
    tarfile.LNKTYPE: "hardlink",
    tarfile.CHRTYPE: "char",
    tarfile.BLKTYPE: "block",
    tarfile.FIFOTYPE: "fifo",
}


def _entry(member: tarfile.TarInfo, data: IO[bytes] | None) -> Entry:
    digest = hashlib.sha256()
    if data is not None:
        while chunk := data.read(1 << 20):
            digest.update(chunk)
    extra = {k: v for k, v in member.pax_headers.items() if k not in ("mtime", "atime", "ctime")}
    return Entry(
        kind=_KINDS.get(member.type, repr(member.type)),
        mode=member.mode,
        owner=f"{member.uid}:{member.gid} ({member.uname}:{member.gname})",
        mtime=int(member.mtime),
        size=member.size,
        link=member.linkname,
        sha256=digest.hexdigest() if data is not None else "",
        extra=json.dumps(extra, sort_keys=True) if extra else "",
    )


def layer_entries(layout: Layout, digest: str) -> tuple[list[str], dict[str, Entry]]:
    """The member names of a layer in order and what each one is (gzip or plain tar)."""
    order: list[str] = []
    entries: dict[str, Entry] = {}
    with layout.open(blob_name(digest)) as stream, tarfile.open(fileobj=stream, mode="r|*") as tar:
        for member in tar:
            name = _clean(member.name)
            data = tar.extractfile(member) if member.isfile() else None
            order.append(name)
            entries[name] = _entry(member, data)
    return order, entries


def layer_files(layout: Layout, digest: str, names: set[str]) -> dict[str, bytes]:
    """The content of the regular files ``names`` of a layer."""
    found: dict[str, bytes] = {}
    with layout.open(blob_name(digest)) as stream, tarfile.open(fileobj=stream, mode="r|*") as tar:
        for member in tar:
            name = _clean(member.name)
            if name in names and member.isfile():
                data = tar.extractfile(member)
                found[name] = data.read() if data is not None else b""
    return found


def _clean(name: str) -> str:
    return name.removeprefix("./").rstrip("/")


@dataclass(frozen=True)
class FileDifference:
    """One path that differs between the two layers."""

    path: str
    what: str  # e.g. "content", "only in the first", "mtime 1700000000 / 1700000100"
    detail: str = ""  # the first differing line of a text file, or the two hashes
    cause: str = ""  # a known cause, when the path has one


@dataclass(frozen=True)
class LayerDifference:
    """One layer position whose content differs."""

    index: int
    diff_ids: tuple[str | None, str | None]
    files: tuple[FileDifference, ...] = ()
    order_only: bool = False  # same entries, another member order


@dataclass(frozen=True)
class ImageDifference:
    """Why two builds of one image got different digests."""

    platform: str
    digests: tuple[str | None, str | None]
    config: tuple[str, ...] = ()  # config fields that differ, as JSON paths
    layers: tuple[LayerDifference, ...] = ()
    compression_only: tuple[int, ...] = field(default=())  # same diff_id, other gzip bytes
    summary: str = ""

    @property
    def files(self) -> list[FileDifference]:
        """Every differing file, across layers."""
        return [f for layer in self.layers for f in layer.files]


def json_paths(a: Any, b: Any, path: str = "") -> list[str]:  # noqa: ANN401 - JSON values
    """The JSON paths where ``a`` and ``b`` differ (``config.Env[3]``, ``created``...)."""
    if isinstance(a, dict) and isinstance(b, dict):
        out: list[str] = []
        for key in sorted(set(a) | set(b), key=str):
            sub = f"{path}.{key}" if path else str(key)
            if key not in a or key not in b:
                out.append(sub)
            else:
                out += json_paths(a[key], b[key], sub)
        return out
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{path} (length {len(a)} / {len(b)})"]
        return [
            p
            for i, (x, y) in enumerate(zip(a, b, strict=True))
            for p in json_paths(x, y, f"{path}[{i}]")
        ]
    return [] if a == b else [path]


def known_cause(path: str) -> str:
    """The well-known reason ``path`` differs between builds, or ''."""
    return next((cause for pattern, cause in KNOWN_CAUSES if pattern.search(path)), "")


def compare_entries(
    first: dict[str, Entry], second: dict[str, Entry], epoch: int | None = None
) -> list[FileDifference]:
    """Every path whose entry differs, in path order, with what differs."""
    out = []
    for path in sorted(set(first) | set(second)):
        a, b = first.get(path), second.get(path)
        if a == b:
            continue
        if a is None or b is None:
            what = "only in the second build" if a is None else "only in the first build"
            out.append(FileDifference(path, what, cause=known_cause(path)))
            continue
        parts = []
        if a.kind != b.kind:
            parts.append(f"type {a.kind} / {b.kind}")
        if a.sha256 != b.sha256 or a.size != b.size:
            parts.append(f"content ({a.size} / {b.size} bytes)")
        if a.link != b.link:
            parts.append(f"link {a.link} / {b.link}")
        if a.mode != b.mode:
            parts.append(f"mode {a.mode:o} / {b.mode:o}")
        if a.owner != b.owner:
            parts.append(f"owner {a.owner} / {b.owner}")
        if a.mtime != b.mtime:
            times = f"mtime {a.mtime} / {b.mtime}"
            if epoch is not None and max(a.mtime, b.mtime) < epoch:
                times += " (both before the lock date: not made by this build)"
            parts.append(times)
        if a.extra != b.extra:
            parts.append(f"PAX headers {a.extra or '{}'} / {b.extra or '{}'}")
        out.append(FileDifference(path, "; ".join(parts), cause=known_cause(path)))
    return out


def _lines(data: bytes) -> list[str] | None:
    """The lines of a text file; None for binary data (a NUL byte, or not UTF-8)."""
    if b"\0" in data:
        return None
    try:
        return data.decode().splitlines()
    except UnicodeDecodeError:
        return None


def first_difference(a: bytes, b: bytes) -> str:
    """The first differing lines of two text files, or the first differing byte offset."""
    lines_a, lines_b = _lines(a), _lines(b)
    if lines_a is None or lines_b is None:
        offset = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), None)
        return (
            f"binary, first difference at byte {min(len(a), len(b)) if offset is None else offset}"
        )
    diff = [
        line
        for line in difflib.unified_diff(lines_a, lines_b, lineterm="", n=0)
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]
    return " | ".join(line[:160] for line in diff[:4])


def diff_images(
    first: Path, second: Path, platform: str, epoch: int | None = None
) -> ImageDifference:
    """What differs between the ``platform`` images of two layout tarballs: config fields and,
    layer by layer (by position), every differing file."""
    with Layout(first) as one, Layout(second) as two:
        a, b = one.images().get(platform), two.images().get(platform)
        if a is None or b is None:
            missing = "first" if a is None else "second"
            return ImageDifference(
                platform,
                (a.digest if a else None, b.digest if b else None),
                summary=f"no {platform} image in the {missing} build",
            )
        digests = (a.digest, b.digest)
        if a.digest == b.digest:
            return ImageDifference(platform, digests, summary="identical")
        config_a, config_b = one.blob(a.config), two.blob(b.config)
        # the layers' diff_ids are compared layer by layer below
        config = tuple(p for p in json_paths(config_a, config_b) if not p.startswith("rootfs."))
        layers: list[LayerDifference] = []
        compression: list[int] = []
        for index in range(max(len(a.diff_ids), len(b.diff_ids))):
            id_a = a.diff_ids[index] if index < len(a.diff_ids) else None
            id_b = b.diff_ids[index] if index < len(b.diff_ids) else None
            if id_a == id_b:
                same_bytes = index < len(a.layers) and index < len(b.layers)
                if same_bytes and a.layers[index] != b.layers[index]:
                    compression.append(index)
                continue
            if id_a is None or id_b is None:
                layers.append(LayerDifference(index, (id_a, id_b)))
                continue
            layers.append(_layer_difference(one, two, a, b, index, epoch))
    parts = []
    if config:
        parts.append(f"config: {', '.join(config[:6])}")
    if layers:
        count = sum(len(layer.files) for layer in layers)
        parts.append(f"{len(layers)} layer(s) differ, {count} file(s)")
    if compression:
        parts.append(f"same content, other gzip bytes in layer(s) {compression}")
    return ImageDifference(
        platform,
        digests,
        config=config,
        layers=tuple(layers),
        compression_only=tuple(compression),
        summary="; ".join(parts) or "manifest differs (annotations or media types)",
    )


def _layer_difference(
    one: Layout, two: Layout, a: ImageDigest, b: ImageDigest, index: int, epoch: int | None
) -> LayerDifference:
    order_a, entries_a = layer_entries(one, a.layers[index])
    order_b, entries_b = layer_entries(two, b.layers[index])
    files = compare_entries(entries_a, entries_b, epoch)
    ids = (a.diff_ids[index], b.diff_ids[index])
    if not files:
        return LayerDifference(index, ids, order_only=order_a != order_b)
    texts = {
        f.path
        for f in files
        if f.what.startswith("content")
        and entries_a[f.path].kind == "file"
        and max(entries_a[f.path].size, entries_b[f.path].size) <= TEXT_LIMIT
    }
    if texts:
        content_a = layer_files(one, a.layers[index], texts)
        content_b = layer_files(two, b.layers[index], texts)
        files = [
            FileDifference(
                f.path, f.what, first_difference(content_a[f.path], content_b[f.path]), f.cause
            )
            if f.path in texts
            else f
            for f in files
        ]
    return LayerDifference(index, ids, tuple(files))
