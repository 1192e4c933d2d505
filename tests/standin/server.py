"""A quiet, threaded loopback HTTP server standing in for the real download sites.

The first path segment is the host name (``/download.falco.org/...``,
``/falco.org/...``, ``/github.com/...``), so one server stands in for all of
them. Paths are percent-decoded (``%2B`` -> ``+``). Like github.com, release
downloads answer ``302 Found`` pointing at an ``objects.githubusercontent.com``
URL (on this same server) that serves the bytes. Like the real sites (S3 behind
download.falco.org, GitHub's asset store, falco.org), every file carries an ``ETag``, and a
request whose ``If-None-Match`` names it is answered ``304 Not Modified``: that is how a
client such as Dagger's ``http`` revalidates a download it already holds.
"""

from __future__ import annotations

import functools
import io
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import BinaryIO, cast
from urllib.parse import quote, unquote, urlsplit

_GITHUB_RELEASE_PREFIX = "/github.com/"
_GITHUB_ASSET_PREFIX = "/objects.githubusercontent.com/github-production-release-asset-2e65be/"


@dataclass(frozen=True)
class Answer:
    """What the server answered one request with."""

    path: str
    status: int


def _file_etag(path: str) -> str:
    """A strong validator that changes whenever the file does (modification time and size,
    as nginx makes it)."""
    stat = os.stat(path)
    return f'"{stat.st_mtime_ns:x}-{stat.st_size:x}"'


def _etags(header: str) -> set[str]:
    """The ETags an ``If-None-Match`` header lists (weak ones compare as strong)."""
    return {tag.strip().removeprefix("W/") for tag in header.split(",") if tag.strip()}


class _Handler(SimpleHTTPRequestHandler):
    """Serve regular files only; directories and missing files are 404."""

    github_redirects = True
    answers: list[Answer] | None = None
    _etag: str | None = None  # the ETag of the file this request is answered with

    def log_message(self, format: str, *args: object) -> None:
        """Keep test output quiet."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Record the answer when asked to (``serve(answers=...)``)."""
        if self.answers is not None and isinstance(code, int):  # HTTPStatus is an int
            self.answers.append(Answer(self._raw_path(), int(code)))

    def _raw_path(self) -> str:
        return unquote(urlsplit(self.path).path, errors="surrogatepass")

    def translate_path(self, path: str) -> str:
        """Map a GitHub asset URL back onto the ``github.com/`` tree on disk."""
        raw = unquote(urlsplit(path).path, errors="surrogatepass")
        if raw.startswith(_GITHUB_ASSET_PREFIX):
            path = _GITHUB_RELEASE_PREFIX + quote(raw[len(_GITHUB_ASSET_PREFIX) :])
        return super().translate_path(path)

    def _is_github_release_download(self, raw: str) -> bool:
        return raw.startswith(_GITHUB_RELEASE_PREFIX) and "/releases/download/" in raw

    def send_head(self) -> io.BytesIO | BinaryIO | None:
        """Answer 404 for anything but a file, and 302 for GitHub release downloads."""
        self._etag = None
        local = self.translate_path(self.path)
        if not os.path.isfile(local):
            self.send_error(HTTPStatus.NOT_FOUND, "File not found")
            return None
        raw = self._raw_path()
        if self.github_redirects and self._is_github_release_download(raw):
            asset = raw[len(_GITHUB_RELEASE_PREFIX) :]
            name = asset.rsplit("/", 1)[-1]
            port = cast(ThreadingHTTPServer, self.server).server_port
            host = self.headers.get("Host") or f"127.0.0.1:{port}"
            location = (
                f"http://{host}{quote(_GITHUB_ASSET_PREFIX + asset)}"
                f"?response-content-disposition={quote(f'attachment; filename={name}', safe='')}"
                "&response-content-type=application%2Foctet-stream"
            )
            self.send_response(HTTPStatus.FOUND)
            self.send_header("Location", location)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        self._etag = _file_etag(local)
        if self._etag in _etags(self.headers.get("If-None-Match", "")):
            self.send_response(HTTPStatus.NOT_MODIFIED)
            self.end_headers()
            return None
        return super().send_head()

    def end_headers(self) -> None:
        """Every answer about a file names its ETag (200 and 304 alike)."""
        if self._etag is not None:
            self.send_header("ETag", self._etag)
        super().end_headers()

    def guess_type(self, path: str | os.PathLike[str]) -> str:
        """GitHub assets are served as octet-stream; otherwise use the stdlib guess."""
        if self._raw_path().startswith(_GITHUB_ASSET_PREFIX):
            return "application/octet-stream"
        return super().guess_type(path)


@contextmanager
def serve(
    root: Path, *, github_redirects: bool = True, answers: list[Answer] | None = None
) -> Iterator[str]:
    """Serve ``root`` on 127.0.0.1 (ephemeral port) for the duration of the block.

    Yields the base URL, e.g. ``"http://127.0.0.1:41234"``; a file at
    ``root/download.falco.org/packages/...`` is at ``{base}/download.falco.org/packages/...``.
    Requests are handled in threads, logging is silent, and anything that is
    not a regular file under ``root`` is 404. With ``github_redirects`` (the
    default) ``/github.com/<owner>/<repo>/releases/download/...`` answers with a
    302 to an asset URL on this server, as github.com does. ``answers``, when given, receives
    each request's path and status as it is answered.
    """
    handler = type(
        "StandinHandler",
        (_Handler,),
        {"github_redirects": github_redirects, "answers": answers},
    )
    factory = functools.partial(handler, directory=str(Path(root).resolve()))
    server = ThreadingHTTPServer(("127.0.0.1", 0), factory)
    server.daemon_threads = True
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
