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

import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any
from urllib.parse import quote, unquote_plus

from starlette.types import Receive, Scope, Send

from gemgate.errors import GemgateError
from gemgate.gateway._asgi import header, read_body, send_bytes, send_stream
from gemgate.gateway._faces import Problem, google_body, problem_of
from gemgate.gateway._native_owners import (
    COLLECTIONS,
    NativeOwners,
    created_names,
    deleted_resource,
    filter_list,
    finished_batch,
    listed,
    resource_of,
    results_file,
    upload_id,
    used_names,
)
from gemgate.upstream._engine import Engine
from gemgate.upstream._sdk import build_call, relay

__all__ = ["NativeRoute"]

PREFIX = "/gemini"
_API_PATH = re.compile(r"/(upload/)?v\d+[a-z0-9]*(/[^/\\\x00-\x1f\x7f]+)*")
"""A version then non-empty segments free of separators, escapes and control characters."""


class NativeRoute:
    """Relays ``/gemini/{version}/...`` and ``/gemini/upload/...`` to the upstream."""

    def __init__(
        self,
        engine: Engine,
        max_body: int,
        owners: NativeOwners | None = None,
        charge_batch: Callable[[str, str], Awaitable[None]] | None = None,
    ) -> None:
        self.engine = engine
        self._max_body = max_body
        self.owners = owners
        """With gateway keys: who made each batch, file, cache and File Search store."""
        self._charge_batch = charge_batch
        """``(owner, batch)``: charge a succeeded batch's results to its owner, once."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one request."""
        body = await read_body(receive, self._max_body)
        path = scope["path"][len(PREFIX) :] or "/"
        if not _API_PATH.fullmatch(path) or any(s in (".", "..") for s in path.split("/")):
            raise Problem(400, "not a Gemini API path")
        path = quote(path, safe="/:@!$&'()*+,;=")
        query = _without_key(scope.get("query_string", b"").decode("latin-1"))
        raw = path + (f"?{query}" if query else "")
        owner = await self._owner(scope, raw)
        if owner is not None and self.owners is not None:
            for name in filter(None, [resource_of(path), *self._uses(scope, body, query)]):
                if await self.owners.owner(name) != owner:
                    raise Problem(404, f"{name} not found", google_status="NOT_FOUND")
        headers = [
            (k.decode("latin-1"), v.decode("latin-1"))
            for k, v in scope["headers"]
            if k not in (b"authorization", b"x-goog-api-key")  # gateway credentials stay here
        ]
        call = await build_call(self.engine, scope["method"], raw, headers, body)
        relayed = await relay(self.engine, call)
        out = [
            (k, self._rewrite(scope, v) if k.lower() == "x-goog-upload-url" else v)
            for k, v in relayed.headers
        ]
        if relayed.stream is not None and relayed.stream.streaming:
            sse = any(k.lower() == "content-type" and "event-stream" in v for k, v in out)
            chunks = _chunks(relayed.stream, sse=sse)
            await send_stream(send, receive, relayed.status, chunks, out)
            return
        if relayed.stream is None:
            answer = relayed.body or b""
        else:  # one answer: one write with a length, no chunked framing
            answer = b"".join([chunk async for chunk in _chunks(relayed.stream)])
        if owner is not None and relayed.status == 200:
            answer = await self._own(scope["method"], path, owner, answer, out)
        await send_bytes(send, relayed.status, answer, out)

    async def _owner(self, scope: Scope, raw: str) -> str | None:
        """The gateway key this request acts for (a resumed upload: the one that began it)."""
        if self.owners is None:
            return None
        key = scope.get("gemgate.key")
        if key is not None:
            return str(key.name)
        started = upload_id(raw) if raw.startswith("/upload/") else None
        return await self.owners.owner(f"upload:{started}") if started else None

    async def _own(
        self, method: str, path: str, owner: str, answer: bytes, headers: list[tuple[str, str]]
    ) -> bytes:
        """Record what ``owner`` made; keep only ``owner``'s entries in a list."""
        assert self.owners is not None
        if (deleted := deleted_resource(method, path)) is not None:
            await self.owners.forget(deleted, owner)  # Google lets a client choose names
            return answer
        collection = listed(path) if method == "GET" else None
        read_batch = method == "GET" and (resource_of(path) or "").startswith("batches/")
        if method not in ("POST", "PUT") and collection is None and not read_batch:
            return answer  # a read of anything else (a download, say): nothing to record
        data = _json(answer)
        if method in ("POST", "PUT"):
            uploads = [upload_id(v) for k, v in headers if k.lower() == "x-goog-upload-url"]
            names = [f"upload:{u}" for u in uploads if u] + created_names(data)
            await self.owners.claim(names, owner)
        elif (batch := finished_batch(method, path, data)) is not None:
            output = results_file(data)  # Google made it: it is the batch's owner's
            if output is not None:
                await self.owners.claim([output], owner)
            if self._charge_batch is not None and await self.owners.first_charge(batch):
                await self._charge_batch(owner, batch)
        elif collection is not None:
            field = COLLECTIONS[collection]
            entries = data.get(field) if isinstance(data, dict) else None
            if not isinstance(entries, list):
                return answer
            names = [
                e["name"] for e in entries if isinstance(e, dict) and isinstance(e.get("name"), str)
            ]
            return filter_list(answer, field, await self.owners.mine(names, owner))
        return answer

    @staticmethod
    def _uses(scope: Scope, body: bytes, query: str) -> list[str]:
        """The resources a body names; an upload's bytes are a file's, and name none.

        Raises:
            Problem: 415 for a compressed body, which the gateway could not read.
        """
        if "upload_id=" in query:
            return []
        encoding = header(scope, b"content-encoding")
        if encoding not in (None, "identity"):
            raise Problem(415, f"request bodies in {encoding} are not supported")
        return used_names(body)

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


def _json(answer: bytes) -> Any:
    try:
        return json.loads(answer) if answer else None
    except ValueError:
        return None


async def _chunks(stream: Any, *, sse: bool = False) -> AsyncIterator[bytes]:
    """The upstream body; an SSE stream cut by gemgate (a deadline) ends in an error event.

    A JSON-array stream has no place for one: its connection is cut, as Google's would be.
    """
    try:
        async for chunk in stream:
            yield chunk
    except GemgateError as exc:
        if not sse:
            raise
        error = json.dumps(google_body(problem_of(exc)), separators=(",", ":"))
        yield f"data: {error}\r\n\r\n".encode()
    finally:
        await stream.aclose()
