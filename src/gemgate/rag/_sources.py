"""What ``Store.add`` accepts: paths, directories, URLs, bytes, or a :class:`Source`."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from gemgate.errors import DocumentError, UsageError

__all__ = ["MAX_DOCUMENT_BYTES", "Source", "SourceLike", "expand", "read"]

MAX_DOCUMENT_BYTES = 100 * 1024 * 1024
"""The largest document ``Store.add`` takes by default (larger: ``DocumentError`` 413)."""


@dataclass(frozen=True)
class Source:
    """A document to ingest, given as bytes with a name (``origin``: where it came from)."""

    name: str
    data: bytes
    mime_type: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    origin: str = ""

    @property
    def content_hash(self) -> str:
        """The SHA-256 of the bytes: the same bytes are never stored twice in a store."""
        return hashlib.sha256(self.data).hexdigest()


SourceLike = str | os.PathLike[str] | bytes | Source
"""A path (a directory means every file under it), an http(s) URL, bytes, or a Source."""


def expand(source: SourceLike) -> Iterator[SourceLike]:
    """``source``, with a directory replaced by its files (sorted, hidden ones skipped)."""
    if isinstance(source, (bytes, Source)) or _is_url(source):
        yield source
        return
    path = Path(source)
    if path.is_dir():
        for child in sorted(path.rglob("*")):
            hidden = any(p.startswith(".") for p in child.relative_to(path).parts)
            if child.is_file() and not hidden:
                yield child
    else:
        yield path


def _is_url(source: str | os.PathLike[str]) -> bool:
    return isinstance(source, str) and source.startswith(("http://", "https://"))


async def read(source: SourceLike, max_bytes: int = MAX_DOCUMENT_BYTES) -> Source:
    """The bytes and name of one (expanded) source, or ``DocumentError``."""
    if isinstance(source, Source):
        data = source.data
        found = source
    elif isinstance(source, bytes):
        data = source
        found = Source(name=f"document-{hashlib.sha256(data).hexdigest()[:12]}", data=data)
    elif _is_url(source):
        found = await _fetch(str(source), max_bytes)
        data = found.data
    else:
        found = _read_file(Path(source), max_bytes)
        data = found.data
    if len(data) > max_bytes:
        raise DocumentError(
            f"{found.name}: {len(data)} bytes is over the limit of {max_bytes}", status_code=413
        )
    return found


def _read_file(path: Path, max_bytes: int) -> Source:
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise DocumentError(
                f"{path.name}: {size} bytes is over the limit of {max_bytes}", status_code=413
            )
        data = path.read_bytes()
    except FileNotFoundError:
        raise DocumentError(f"{path}: no such file", status_code=404) from None
    except IsADirectoryError:
        raise UsageError(f"{path} is a directory") from None
    except OSError as exc:
        raise DocumentError(f"{path}: cannot be read ({exc.strerror})") from None
    return Source(name=path.name, data=data, origin=str(path))


async def _fetch(url: str, max_bytes: int) -> Source:
    import httpx2

    name = unquote(urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1]) or urlsplit(url).hostname
    body = bytearray()
    try:
        async with (
            httpx2.AsyncClient(follow_redirects=True, timeout=30.0) as client,
            client.stream("GET", url) as response,
        ):
            if response.status_code != 200:
                raise DocumentError(
                    f"{url}: fetching it gave HTTP {response.status_code}", status_code=422
                )
            mime = response.headers.get("content-type", "").split(";")[0].strip() or None
            async for piece in response.aiter_bytes():
                body += piece
                if len(body) > max_bytes:
                    raise DocumentError(
                        f"{url}: over the limit of {max_bytes} bytes", status_code=413
                    )
    except httpx2.HTTPError as exc:
        raise DocumentError(f"{url}: fetching it failed ({type(exc).__name__})") from None
    if mime in ("application/octet-stream", "binary/octet-stream"):
        mime = None
    return Source(name=name or "document", data=bytes(body), mime_type=mime, origin=url)
