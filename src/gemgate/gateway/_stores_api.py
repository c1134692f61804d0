"""``/api/v1/stores``: retrieval stores, their documents, and search.

Each gateway key has its own stores (`gemgate.rag.RetrievalStores.for_owner`): another key's store
is 404, as if it did not exist. Documents come as ``multipart/form-data`` (``file``
fields, an optional ``metadata`` JSON field) or as JSON (``{"name", "text"}``,
``{"name", "data"}`` in base64, or ``{"url"}``, fetched from public addresses only).
An upload where every document failed is answered with that failure's status (415 an
unsupported type, 422 a corrupt or empty file, 413 one over the cap); nothing of a
failed document is stored.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import dataclasses
import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from starlette.types import Receive, Scope, Send

from gemgate.client._async_client import AsyncGemini
from gemgate.documents import Chunking, parse
from gemgate.errors import DocumentError, UsageError
from gemgate.gateway._asgi import read_json, send_bytes, send_json
from gemgate.gateway._faces import Problem
from gemgate.gateway._fetch import FetchError, fetch_document
from gemgate.gateway._multipart import is_multipart, read_form
from gemgate.gateway._sessions_api import owner_of
from gemgate.rag import (
    MAX_DOCUMENT_BYTES,
    DocumentInfo,
    Hit,
    IngestReport,
    RetrievalStore,
    RetrievalStores,
    Source,
    StoreInfo,
)

__all__ = [
    "PREFIX",
    "StoresRoute",
    "chunking_of",
    "document_json",
    "failure_status",
    "ingest",
    "stores_of",
]

PREFIX = "/api/v1/stores"
_MAX_BODY = 1024 * 1024
"""The cap of a body that carries no document."""
_MODES = ("hybrid", "keyword", "vector")


def stores_of(client: AsyncGemini, scope: Scope) -> RetrievalStores:
    """The stores the request's gateway key may see (all library stores without keys)."""
    return client.stores.for_owner(owner_of(scope) or "")


class StoresRoute:
    """Create, list, read and delete stores; add, list, replace, delete and search documents."""

    def __init__(self, client: AsyncGemini, max_body: int) -> None:
        self._client = client
        self._max_body = max_body

    async def create(self, scope: Scope, receive: Receive, send: Send) -> None:
        """``POST /api/v1/stores``: ``{"name", "metadata"?}``."""
        body = await read_json(receive, _MAX_BODY)
        name = body.get("name")
        if not isinstance(name, str) or not name.strip():
            raise Problem(400, "'name' is required and must be a non-empty string")
        metadata = _object(body, "metadata")
        store = await stores_of(self._client, scope).create(name.strip(), metadata=metadata)
        await send_json(send, 201, store_json(store.info))

    async def list_all(self, scope: Scope, receive: Receive, send: Send) -> None:
        """``GET /api/v1/stores``."""
        infos = await stores_of(self._client, scope).list()
        await send_json(send, 200, {"stores": [store_json(i) for i in infos]})

    async def read(self, scope: Scope, receive: Receive, send: Send) -> None:
        """``GET /api/v1/stores/{store_id}``."""
        store = await self._store(scope)
        await send_json(send, 200, store_json(store.info))

    async def delete(self, scope: Scope, receive: Receive, send: Send) -> None:
        """``DELETE /api/v1/stores/{store_id}``."""
        store = await self._store(scope)
        await store.delete()
        await send_bytes(send, 204, b"")

    async def add(self, scope: Scope, receive: Receive, send: Send) -> None:
        """``POST /api/v1/stores/{store_id}/documents``: multipart files or one JSON document."""
        store = await self._store(scope)
        sources, metadata, chunking = await self._sources(scope, receive)
        report = await ingest(store, sources, metadata, chunking)
        await send_json(send, 201, report_json(report))

    async def documents(self, scope: Scope, receive: Receive, send: Send) -> None:
        """``GET /api/v1/stores/{store_id}/documents?limit=&after=``."""
        store = await self._store(scope)
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
        limit = _limit(query.get("limit", "100"))
        page = await store.documents(limit=limit + 1, after=query.get("after") or None)
        data = [document_json(d) for d in page[:limit]]
        await send_json(send, 200, {"documents": data, "has_more": len(page) > limit})

    async def document(self, scope: Scope, receive: Receive, send: Send) -> None:
        """``GET /api/v1/stores/{store_id}/documents/{document_id}`` (``?chunks=true``)."""
        store = await self._store(scope)
        document_id = scope["path_params"]["document_id"]
        info = await store.document(document_id)
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
        out = document_json(info)
        if query.get("chunks", "").lower() in ("1", "true", "yes"):
            out["chunks"] = [dataclasses.asdict(c) for c in await store.chunks(document_id)]
        await send_json(send, 200, out)

    async def replace(self, scope: Scope, receive: Receive, send: Send) -> None:
        """``PUT /api/v1/stores/{store_id}/documents/{document_id}``: new content for it."""
        store = await self._store(scope)
        document_id = scope["path_params"]["document_id"]
        await store.document(document_id)
        sources, metadata, chunking = await self._sources(scope, receive)
        if len(sources) != 1:
            raise Problem(400, "a replacement is exactly one document")
        info = await store.replace(document_id, sources[0], chunking=chunking, metadata=metadata)
        await send_json(send, 200, document_json(info))

    async def delete_document(self, scope: Scope, receive: Receive, send: Send) -> None:
        """``DELETE /api/v1/stores/{store_id}/documents/{document_id}``."""
        store = await self._store(scope)
        document_id = scope["path_params"]["document_id"]
        await store.document(document_id)
        await store.delete_document(document_id)
        await send_bytes(send, 204, b"")

    async def search(self, scope: Scope, receive: Receive, send: Send) -> None:
        """``POST /api/v1/stores/{store_id}/search``: ``{"query", "k"?, "filter"?, "mode"?}``."""
        store = await self._store(scope)
        body = await read_json(receive, _MAX_BODY)
        query = body.get("query")
        if not isinstance(query, str) or not query.strip():
            raise Problem(400, "'query' is required and must be a non-empty string")
        k = body.get("k", 10)
        if type(k) is not int or not 1 <= k <= 100:
            raise Problem(400, "'k' must be an integer from 1 to 100")
        mode = body.get("mode", "hybrid")
        if mode not in _MODES:
            raise Problem(400, f"'mode' must be one of {list(_MODES)}")
        hits = await store.search(query, k, filter=_object(body, "filter"), mode=mode)
        await send_json(send, 200, {"hits": [hit_json(h) for h in hits]})

    async def _store(self, scope: Scope) -> RetrievalStore:
        return await stores_of(self._client, scope).get(scope["path_params"]["store_id"])

    async def _sources(
        self, scope: Scope, receive: Receive
    ) -> tuple[list[Source], dict[str, Any] | None, Chunking | None]:
        """The documents of a request, with their metadata and chunking."""
        if is_multipart(scope):
            form = await read_form(scope, receive, self._max_body)
            files = [f for f in form.files if f.field == "file"]
            if not files:
                raise Problem(400, "send one or more 'file' fields")
            fields: dict[str, Any] = {}
            for name in ("metadata", "chunking"):
                if name in form.fields:
                    try:
                        fields[name] = json.loads(form.fields[name])
                    except (ValueError, RecursionError):
                        raise Problem(400, f"'{name}' must be a JSON object") from None
            sources = [
                Source(f.filename or "document", f.data, _mime(f.content_type)) for f in files
            ]
            return sources, _object(fields, "metadata"), chunking_of(fields.get("chunking"))
        body = await read_json(receive, self._max_body)
        source = await self._json_source(body)
        return [source], _object(body, "metadata"), chunking_of(body.get("chunking"))

    async def _json_source(self, body: Mapping[str, Any]) -> Source:
        given = [k for k in ("text", "data", "url") if k in body]
        if len(given) != 1:
            raise Problem(400, "send exactly one of 'text', 'data' (base64) or 'url'")
        name = body.get("name")
        if name is not None and (not isinstance(name, str) or not name.strip()):
            raise Problem(400, "'name' must be a non-empty string")
        mime = body.get("mime_type")
        if mime is not None and not isinstance(mime, str):
            raise Problem(400, "'mime_type' must be a string")
        value = body[given[0]]
        if not isinstance(value, str):
            raise Problem(400, f"'{given[0]}' must be a string")
        if given[0] == "url":
            return await self._fetched(value, name, mime)
        if name is None:
            raise Problem(400, "'name' is required with 'text' or 'data'")
        if given[0] == "text":
            return Source(name, value.encode(), mime or "text/plain")
        try:
            data = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise Problem(400, "'data' is not valid base64") from None
        return Source(name, data, mime)

    async def _fetched(self, url: str, name: str | None, mime: str | None) -> Source:
        settings = self._client.settings
        try:
            kind, data = await fetch_document(
                url,
                max_bytes=min(self._max_body, MAX_DOCUMENT_BYTES),
                allow_private=settings.image_fetch_private,
            )
        except FetchError as exc:
            raise Problem(exc.status, str(exc)) from None
        if kind in ("application/octet-stream", "binary/octet-stream"):
            kind = ""
        last = unquote(urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1])
        return Source(name or last or "document", data, mime or kind or None, origin=url)


async def ingest(
    store: RetrievalStore,
    sources: list[Source],
    metadata: Mapping[str, Any] | None,
    chunking: Chunking | None,
) -> IngestReport:
    """Add ``sources``; when every one failed, raise the first failure as its own status."""
    report = await store.add(*sources, chunking=chunking, metadata=metadata)
    if report.failed and not report.added and not report.unchanged:
        status = await failure_status(sources[0])
        raise Problem(status, report.failed[0][1])
    return report


async def failure_status(source: Source) -> int:
    """The status of a document that failed to ingest: 413, 415 or 422."""
    if len(source.data) > MAX_DOCUMENT_BYTES:
        return 413
    try:
        await asyncio.to_thread(parse, source.data, name=source.name, mime_type=source.mime_type)
    except DocumentError as exc:
        return exc.status_code
    return 422


def chunking_of(value: Any) -> Chunking | None:
    """``{"max_tokens", "overlap"}`` as a `Chunking` (400 when it is not one)."""
    if value is None:
        return None
    if not isinstance(value, dict) or set(value) - {"max_tokens", "overlap"}:
        raise Problem(400, "'chunking' must be an object with 'max_tokens' and/or 'overlap'")
    try:
        return Chunking(**value)
    except (UsageError, TypeError) as exc:
        raise Problem(400, str(exc)) from None


def _mime(content_type: str) -> str | None:
    kind = content_type.split(";")[0].strip().lower()
    if kind in ("", "application/octet-stream", "binary/octet-stream"):
        return None
    return kind


def _object(body: Mapping[str, Any], name: str) -> dict[str, Any] | None:
    value = body.get(name)
    if value is not None and not isinstance(value, dict):
        raise Problem(400, f"'{name}' must be a JSON object")
    return value


def _limit(value: str) -> int:
    if not value.isdigit() or not 1 <= int(value) <= 1000:
        raise Problem(400, "'limit' must be an integer from 1 to 1000")
    return int(value)


def store_json(info: StoreInfo) -> dict[str, Any]:
    """A store as the API answers it (its owner is the caller, so not repeated)."""
    out = dataclasses.asdict(info)
    out.pop("owner")
    return out


def document_json(info: DocumentInfo) -> dict[str, Any]:
    """A document as the API answers it."""
    return dataclasses.asdict(info)


def hit_json(hit: Hit) -> dict[str, Any]:
    """A search hit: the chunk's text and span, its document, score and ranks."""
    chunk = hit.chunk
    return {
        "text": chunk.text,
        "chunk_id": chunk.id,
        "document_id": hit.document.id,
        "document_name": hit.document.name,
        "page": chunk.page,
        "start": chunk.start,
        "end": chunk.end,
        "score": hit.score,
        "keyword_rank": hit.keyword_rank,
        "vector_rank": hit.vector_rank,
        "metadata": hit.document.metadata,
    }


def report_json(report: IngestReport) -> dict[str, Any]:
    """An ingest report: documents added, unchanged, and failures with their reasons."""
    return {
        "added": [document_json(d) for d in report.added],
        "unchanged": [document_json(d) for d in report.unchanged],
        "failed": [{"source": s, "reason": r} for s, r in report.failed],
        "chunks": report.chunks,
    }
