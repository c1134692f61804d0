"""``/v1/vector_stores``: OpenAI's vector stores over gemgate's retrieval stores.

A vector store is a retrieval store of the caller's key (the same one ``/api/v1/stores``
shows); its files are ``/v1/files`` uploads, ingested at once (status ``completed`` or
``failed`` with ``last_error``), their ``attributes`` the documents' metadata. Search
maps OpenAI ``filters`` onto metadata matches: ``eq``, ``in``, an ``or`` of ``eq`` on one
key, and an ``and`` of those; any other filter is a 400.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import Receive, Scope, Send

from gemgate.client._async_client import AsyncGemini
from gemgate.documents import Chunking
from gemgate.errors import StoreNotFound, UsageError
from gemgate.gateway._asgi import read_json, send_json
from gemgate.gateway._faces import Problem
from gemgate.gateway._files import Attachment, Files
from gemgate.gateway._files_api import limit_of, missing_file, page
from gemgate.gateway._sessions_api import owner_of
from gemgate.gateway._stores_api import failure_status, stores_of
from gemgate.rag import RetrievalStore, Source, StoreInfo

__all__ = ["VectorStoresRoute", "openai_filter"]

_MAX_BODY = 1024 * 1024
_AUTO = Chunking()


class VectorStoresRoute:
    """Serves ``/v1/vector_stores`` and its ``files`` and ``search``."""

    def __init__(self, client: AsyncGemini, files: Files) -> None:
        self._client = client
        self._files = files

    async def create(self, scope: Scope, receive: Receive, send: Send) -> None:
        """``POST /v1/vector_stores``: ``{"name"?, "file_ids"?, "metadata"?}``."""
        body = await read_json(receive, _MAX_BODY, empty_ok=True)
        name = body.get("name") or "vector store"
        if not isinstance(name, str):
            raise Problem(400, "'name' must be a string", "name")
        file_ids = body.get("file_ids") or []
        if not isinstance(file_ids, list) or not all(isinstance(f, str) for f in file_ids):
            raise Problem(400, "'file_ids' must be an array of strings", "file_ids")
        metadata = _object(body, "metadata")
        chunking = _chunking(body.get("chunking_strategy"))
        owner = owner_of(scope) or ""
        for file_id in file_ids:  # every file must exist before anything is made
            if await self._files.get(owner, file_id) is None:
                raise missing_file(file_id)
        store = await stores_of(self._client, scope).create(name, metadata=metadata)
        for file_id in file_ids:
            await self._attach(owner, store, file_id, {}, chunking)
        await send_json(send, 200, await self._store_json(owner, await store.refresh()))

    async def list_all(self, scope: Scope, receive: Receive, send: Send) -> None:
        """``GET /v1/vector_stores?limit=&after=``."""
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
        limit = limit_of(query.get("limit", "10000"))
        infos = await stores_of(self._client, scope).list()
        after = query.get("after")
        if after:
            ids = [i.id for i in infos]
            infos = infos[ids.index(after) + 1 :] if after in ids else []
        owner = owner_of(scope) or ""
        data = [await self._store_json(owner, info) for info in infos[: limit + 1]]
        await send_json(send, 200, page(data, limit))

    async def read(self, scope: Scope, receive: Receive, send: Send) -> None:
        """``GET /v1/vector_stores/{store_id}``."""
        store = await self._store(scope)
        await send_json(send, 200, await self._store_json(owner_of(scope) or "", store.info))

    async def delete(self, scope: Scope, receive: Receive, send: Send) -> None:
        """``DELETE /v1/vector_stores/{store_id}``."""
        store = await self._store(scope)
        await store.delete()
        await self._files.detach(owner_of(scope) or "", store.id)
        await send_json(
            send, 200, {"id": store.id, "object": "vector_store.deleted", "deleted": True}
        )

    async def add_file(self, scope: Scope, receive: Receive, send: Send) -> None:
        """``POST /v1/vector_stores/{store_id}/files``: ``{"file_id", "attributes"?}``."""
        store = await self._store(scope)
        body = await read_json(receive, _MAX_BODY)
        file_id = body.get("file_id")
        if not isinstance(file_id, str) or not file_id:
            raise Problem(400, "'file_id' is required and must be a string", "file_id")
        attributes = _attributes(body.get("attributes"))
        chunking = _chunking(body.get("chunking_strategy"))
        owner = owner_of(scope) or ""
        if await self._files.get(owner, file_id) is None:
            raise missing_file(file_id)
        attached = await self._attach(owner, store, file_id, attributes, chunking)
        await send_json(send, 200, _file_json(attached, chunking))

    async def list_files(self, scope: Scope, receive: Receive, send: Send) -> None:
        """``GET /v1/vector_stores/{store_id}/files?limit=&after=&filter=``."""
        store = await self._store(scope)
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
        limit = limit_of(query.get("limit", "10000"))
        attached = await self._files.attachments(
            owner_of(scope) or "",
            store.id,
            limit=limit + 1,
            after=query.get("after") or None,
            status=query.get("filter") or None,
        )
        data = [_file_json(a) for a in attached]
        await send_json(send, 200, page(data, limit))

    async def read_file(self, scope: Scope, receive: Receive, send: Send) -> None:
        """``GET /v1/vector_stores/{store_id}/files/{file_id}``."""
        await send_json(send, 200, _file_json(await self._attachment(scope)))

    async def delete_file(self, scope: Scope, receive: Receive, send: Send) -> None:
        """``DELETE /v1/vector_stores/{store_id}/files/{file_id}``: its document goes too."""
        store = await self._store(scope)
        attached = await self._attachment(scope)
        owner = owner_of(scope) or ""
        others = [
            a
            for a in await self._files.attachments(owner, store.id)
            if a.file_id != attached.file_id and a.document_id == attached.document_id
        ]
        if attached.document_id and not others:
            with contextlib.suppress(StoreNotFound):  # already deleted through /api/v1/stores
                await store.delete_document(attached.document_id)
        await self._files.detach(owner, store.id, attached.file_id)
        await send_json(
            send,
            200,
            {"id": attached.file_id, "object": "vector_store.file.deleted", "deleted": True},
        )

    async def search(self, scope: Scope, receive: Receive, send: Send) -> None:
        """``POST /v1/vector_stores/{store_id}/search``."""
        store = await self._store(scope)
        body = await read_json(receive, _MAX_BODY)
        query = body.get("query")
        if isinstance(query, list) and query and all(isinstance(q, str) for q in query):
            query = " ".join(query)
        if not isinstance(query, str) or not query.strip():
            raise Problem(400, "'query' must be a non-empty string (or strings)", "query")
        k = body.get("max_num_results", 10)
        if type(k) is not int or not 1 <= k <= 50:
            raise Problem(
                400, "'max_num_results' must be an integer from 1 to 50", "max_num_results"
            )
        filters = body.get("filters")
        hits = await store.search(query, k, filter=openai_filter(filters) if filters else None)
        files = {
            a.document_id: a.file_id
            for a in await self._files.attachments(owner_of(scope) or "", store.id)
        }
        data = [
            {
                "file_id": files.get(hit.document.id, hit.document.id),
                "filename": hit.document.name,
                "score": hit.score,
                "attributes": hit.document.metadata,
                "content": [{"type": "text", "text": hit.chunk.text}],
            }
            for hit in hits
        ]
        await send_json(
            send,
            200,
            {
                "object": "vector_store.search_results.page",
                "search_query": query,
                "data": data,
                "has_more": False,
                "next_page": None,
            },
        )

    async def _store(self, scope: Scope) -> RetrievalStore:
        return await stores_of(self._client, scope).get(scope["path_params"]["store_id"])

    async def _attachment(self, scope: Scope) -> Attachment:
        store = await self._store(scope)
        file_id = scope["path_params"]["file_id"]
        found = await self._files.attachment(owner_of(scope) or "", store.id, file_id)
        if found is None:
            raise missing_file(file_id)
        return found

    async def _attach(
        self,
        owner: str,
        store: RetrievalStore,
        file_id: str,
        attributes: dict[str, Any],
        chunking: Chunking | None,
    ) -> Attachment:
        """Ingest a file into a store and record how it went."""
        record = await self._files.get(owner, file_id)
        data = await self._files.content(owner, file_id)
        if record is None or data is None:
            raise missing_file(file_id)
        source = Source(record.filename, data)
        report = await store.add(source, chunking=chunking, metadata=attributes)
        now = int(time.time())
        documents = [*report.added, *report.unchanged]
        if report.unchanged and report.unchanged[0].metadata != attributes:
            same = report.unchanged[0]  # the bytes were there: give them these attributes
            documents = [
                await store.replace(same.id, source, chunking=chunking, metadata=attributes)
            ]
        if documents:
            attached = Attachment(
                store.id,
                file_id,
                "completed",
                now,
                usage_bytes=documents[0].size_bytes,
                document_id=documents[0].id,
                attributes=attributes,
            )
        else:
            status = await failure_status(source)
            attached = Attachment(
                store.id,
                file_id,
                "failed",
                now,
                error_code="unsupported_file" if status == 415 else "invalid_file",
                error_message=report.failed[0][1] if report.failed else "the file failed",
                attributes=attributes,
            )
        await self._files.attach(owner, attached)
        return attached

    async def _store_json(self, owner: str, info: StoreInfo) -> dict[str, Any]:
        attached = await self._files.attachments(owner, info.id)
        counts = {"in_progress": 0, "completed": 0, "failed": 0, "cancelled": 0}
        for a in attached:
            counts[a.status] = counts.get(a.status, 0) + 1
        return {
            "id": info.id,
            "object": "vector_store",
            "name": info.name,
            "created_at": int(info.created_at),
            "file_counts": {**counts, "total": len(attached)},
            "status": "completed",
            "usage_bytes": sum(a.usage_bytes for a in attached),
            "last_active_at": None,
            "metadata": info.metadata,
            "expires_after": None,
            "expires_at": None,
        }


def _file_json(attached: Attachment, chunking: Chunking | None = None) -> dict[str, Any]:
    chunking = chunking or _AUTO
    error = (
        {"code": attached.error_code, "message": attached.error_message}
        if attached.status == "failed"
        else None
    )
    return {
        "id": attached.file_id,
        "object": "vector_store.file",
        "created_at": attached.created_at,
        "usage_bytes": attached.usage_bytes,
        "vector_store_id": attached.store_id,
        "status": attached.status,
        "last_error": error,
        "attributes": attached.attributes,
        "chunking_strategy": {
            "type": "static",
            "static": {
                "max_chunk_size_tokens": chunking.max_tokens,
                "chunk_overlap_tokens": chunking.overlap,
            },
        },
    }


def openai_filter(value: Any) -> dict[str, Any]:
    """OpenAI ``filters`` as a metadata match (a list value matches any of it).

    ``eq`` and ``in`` on one key; ``or`` of ``eq``/``in`` on one key; ``and`` of those on
    different keys. Anything else is a 400 naming what is not supported.
    """
    if not isinstance(value, dict):
        raise Problem(400, "'filters' must be an object", "filters")
    kind = value.get("type")
    if kind in ("eq", "in"):
        key, wanted = value.get("key"), value.get("value")
        if not isinstance(key, str) or not key:
            raise Problem(400, "a filter needs a string 'key'", "filters")
        if kind == "in" and not isinstance(wanted, list):
            raise Problem(400, "an 'in' filter's 'value' must be an array", "filters")
        if kind == "eq" and not isinstance(wanted, (str, int, float, bool)):
            raise Problem(400, "an 'eq' filter's 'value' must be a string, number or boolean")
        return {key: wanted}
    parts = value.get("filters")
    if kind not in ("and", "or") or not isinstance(parts, list) or not parts:
        raise Problem(
            400,
            f"filter type {kind!r} is not supported (use eq, in, or/and of them)",
            "filters",
        )
    matches = [openai_filter(p) for p in parts]
    if kind == "or":
        keys = {k for m in matches for k in m}
        if len(keys) != 1:
            raise Problem(400, "an 'or' filter must compare one key", "filters")
        key = keys.pop()
        values: list[Any] = []
        for m in matches:
            values.extend(m[key] if isinstance(m[key], list) else [m[key]])
        return {key: values}
    merged: dict[str, Any] = {}
    for m in matches:
        if set(m) & set(merged):
            raise Problem(400, "an 'and' filter may compare each key once", "filters")
        merged.update(m)
    return merged


def _object(body: Mapping[str, Any], name: str) -> dict[str, Any] | None:
    value = body.get(name)
    if value is not None and not isinstance(value, dict):
        raise Problem(400, f"'{name}' must be an object", name)
    return value


def _attributes(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, (str, int, float, bool)) for k, v in value.items()
    ):
        raise Problem(
            400, "'attributes' must map strings to strings, numbers or booleans", "attributes"
        )
    return value


def _chunking(value: Any) -> Chunking | None:
    """OpenAI's ``chunking_strategy`` (``auto``, or ``static`` with its sizes)."""
    if value is None:
        return None
    if not isinstance(value, dict) or value.get("type") not in ("auto", "static"):
        raise Problem(400, "'chunking_strategy' must be auto or static", "chunking_strategy")
    if value["type"] == "auto":
        return None
    static = value.get("static")
    if not isinstance(static, dict):
        raise Problem(400, "a static chunking_strategy needs 'static'", "chunking_strategy")
    try:
        return Chunking(
            max_tokens=static.get("max_chunk_size_tokens", _AUTO.max_tokens),
            overlap=static.get("chunk_overlap_tokens", _AUTO.overlap),
        )
    except UsageError as exc:
        raise Problem(400, str(exc), "chunking_strategy") from None
