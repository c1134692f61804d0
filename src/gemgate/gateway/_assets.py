"""``GET /static/…``: the web page's scripts and styles, served from the package.

Only files of the package's ``static`` folder are served, and only those of the types
below: the folder is listed once into a table, and a request can only name an entry of
it (so ``..``, hidden files or absolute paths never reach the disk). Each answer carries
its content type, ``cache-control: no-cache`` and a strong ``ETag``, so a browser
revalidates cheaply (``304``) and always sees the assets of the installed version.
"""

from __future__ import annotations

import functools
import hashlib
import re
from pathlib import Path
from typing import NamedTuple

from starlette.types import Receive, Scope, Send

from gemgate.gateway._asgi import header, send_bytes
from gemgate.gateway._faces import Problem

__all__ = ["PREFIX", "STATIC", "serve_asset"]

PREFIX = "/static/"
STATIC = Path(__file__).parent / "static"
"""The folder the assets come from."""
_TYPES = {
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".woff2": "font/woff2",
}
_SEGMENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


class Asset(NamedTuple):
    """One file's bytes with the headers that describe it."""

    body: bytes
    content_type: str
    etag: str


async def serve_asset(scope: Scope, receive: Receive, send: Send) -> None:
    """``GET /static/{name}`` (and ``/static/vendor/{name}``): one asset, or 404."""
    path: str = scope["path"]
    asset = _asset(path[len(PREFIX) :])
    if asset is None:
        raise Problem(404, f"no such asset: {path}")
    headers = [("etag", asset.etag), ("cache-control", "no-cache")]
    if asset.etag in _etags(header(scope, b"if-none-match")):
        await send_bytes(send, 304, b"", headers)
        return
    await send_bytes(send, 200, asset.body, [("content-type", asset.content_type), *headers])


def _asset(relative: str) -> Asset | None:
    """The asset at ``relative`` (``app.js``, ``vendor/marked.min.js``), if there is one."""
    return _catalog().get(relative)


@functools.cache
def _catalog() -> dict[str, Asset]:
    """Every servable file of the static folder, by its path there (read once).

    A request can only name a file of this table, so no path it sends reaches the disk.
    """
    root = STATIC.resolve()
    catalog: dict[str, Asset] = {}
    for file in sorted(root.rglob("*")):
        content_type = _TYPES.get(file.suffix)
        relative = file.relative_to(root).as_posix()
        if content_type is None or not file.is_file() or not _plain(relative):
            continue
        body = file.read_bytes()
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        catalog[relative] = Asset(body, content_type, etag)
    return catalog


def _plain(relative: str) -> bool:
    """Whether every segment is a plain, visible name (``vendor/marked.min.js``)."""
    return all(_SEGMENT.fullmatch(segment) for segment in relative.split("/"))


def _etags(value: str | None) -> list[str]:
    """The entity tags of an ``If-None-Match`` header (weak ones compared as strong)."""
    if not value:
        return []
    return [tag.strip().removeprefix("W/") for tag in value.split(",")]
