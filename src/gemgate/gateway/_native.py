"""``/gemini/...``: the native Gemini REST API, relayed through the upstream core.

Requests are handed to the same pipeline the SDK uses (keys, quotas, retries, affinity,
tracking); bodies are relayed as bytes and streams chunk by chunk. Upload URLs returned
by the upstream are rewritten to point back at this gateway.

Only API paths are relayed: a version (``v1beta``, or ``upload/v1beta``) then plain
segments. A path with a dot or empty segment, a backslash, a ``%``, ``?`` or ``#`` left
after decoding, a space or a control character is refused (400), so no spelling reaches
another upstream path; a ``key`` in the query (the client's gateway key) is not relayed.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, unquote_plus

import httpx2
from starlette.types import Receive, Scope, Send

from gemgate.gateway._asgi import header, read_body, send_bytes, send_stream
from gemgate.gateway._faces import Problem
from gemgate.gateway._native_owners import NativeOwners
from gemgate.upstream._engine import Engine
from gemgate.upstream._sdk import build_call, relay

__all__ = ["NativeRoute"]

PREFIX = "/gemini"
_API_PATH = re.compile(r"/(upload/)?v\d+[a-z0-9]*(/[^/\\%?#\x00-\x20\x7f]+)*")
"""A version then non-empty segments free of separators, escapes and control characters."""


class NativeRoute:
    """Relays ``/gemini/{version}/...`` and ``/gemini/upload/...`` to the upstream."""

    def __init__(self, engine: Engine, max_body: int) -> None:
        self.engine = engine
        self._max_body = max_body
        self._owners = NativeOwners(engine.owners)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one request."""
        body = await read_body(receive, self._max_body)
        path = scope["path"][len(PREFIX) :] or "/"
        if not _API_PATH.fullmatch(path) or any(s in (".", "..") for s in path.split("/")):
            raise Problem(400, "not a Gemini API path")
        query = _without_key(scope.get("query_string", b"").decode("latin-1"))
        raw = path + (f"?{query}" if query else "")
        owner = await self._owner(scope, query)
        if owner is not None:
            await self._owners.check(owner, raw, body)
        headers = [
            (k.decode("latin-1"), v.decode("latin-1"))
            for k, v in scope["headers"]
            if k not in (b"authorization", b"x-goog-api-key")  # gateway credentials stay here
        ]
        call = await build_call(self.engine, scope["method"], raw, headers, body)
        relayed = await relay(self.engine, call)
        if owner is not None:
            await self._started(owner, relayed.headers)
        out = [
            (k, self._rewrite(scope, v) if k.lower() == "x-goog-upload-url" else v)
            for k, v in relayed.headers
        ]
        if relayed.stream is None:
            await send_bytes(send, relayed.status, relayed.body or b"", out)
        elif relayed.stream.streaming:
            await send_stream(send, receive, relayed.status, _chunks(relayed.stream), out)
        else:  # one answer: one write with a length, no chunked framing
            body = b"".join([chunk async for chunk in _chunks(relayed.stream)])
            if owner is not None and relayed.status < 300:
                body = await self._owned(owner, scope["method"], raw, body)
            await send_bytes(send, relayed.status, body, out)

    async def _owner(self, scope: Scope, query: str) -> str | None:
        """The gateway key this request acts for (an upload's chunks: its starter's)."""
        key = scope.get("gemgate.key")
        if key is not None:
            return str(key.name)
        upload_id = parse_qs(query).get("upload_id", [""])[0]
        return await self._owners.uploader(upload_id) if upload_id else None

    async def _started(self, owner: str, headers: list[tuple[str, str]]) -> None:
        for name, value in headers:
            if name.lower() == "x-goog-upload-url":
                upload_id = httpx2.URL(value).params.get("upload_id")
                if upload_id:
                    await self._owners.started(owner, upload_id)

    async def _owned(self, owner: str, method: str, raw: str, body: bytes) -> bytes:
        """Record what a ``POST`` created; keep only the owner's entries of a list."""
        if method == "POST":
            await self._owners.created(owner, body)
            return body
        return await self._owners.only_own(owner, raw, body) if method == "GET" else body

    def _rewrite(self, scope: Scope, url: str) -> str:
        base = self.engine.driver.base_url
        if not url.startswith(base):
            return url
        host = header(scope, b"host") or "127.0.0.1"
        return f"{scope.get('scheme', 'http')}://{host}{PREFIX}{url[len(base) :]}"


def _without_key(query: str) -> str:
    """The query without its ``key`` parameters: the client's key is the gateway's."""
    kept = [p for p in query.split("&") if p and unquote_plus(p.partition("=")[0]) != "key"]
    return "&".join(kept)


async def _chunks(stream: Any) -> AsyncIterator[bytes]:
    try:
        async for chunk in stream:
            yield chunk
    finally:
        await stream.aclose()
