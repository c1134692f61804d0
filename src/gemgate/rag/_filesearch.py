"""Gemini's own File Search as a store backend: the same API as :class:`~gemgate.rag.Stores`.

``stores_url = "gemini://file-search"`` makes ``AsyncGemini.stores`` a
:class:`FileSearchStores`: stores are ``fileSearchStores/…`` of the Gemini API, documents
are uploaded to them and chunked, embedded and searched by Gemini. Every call goes through
the engine (keys, quotas, retries, tracking; a store's calls go to the project that owns it).

Owners: a store of owner ``o`` is named ``o/name`` in its ``displayName``; a store of the
library (owner ``""``) has a display name without ``/``. Another owner's store looks absent
(:class:`~gemgate.errors.StoreNotFound`).

Dedup: each document keeps the SHA-256 of its bytes in its ``customMetadata``
(:data:`HASH_KEY`) and where it came from (:data:`SOURCE_KEY`); the same bytes are not
uploaded twice, and a path uploaded again with other bytes replaces its document.

Search: Gemini has no search endpoint, so :meth:`FileSearchStore.search` asks the model
(``generateContent`` with the ``fileSearch`` tool) and returns the chunks it retrieved, in
rank order (score ``1/rank``). It costs one generation.
"""

from __future__ import annotations

import io
import json
import mimetypes
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import anyio

from gemgate.documents import Chunking
from gemgate.errors import (
    APIStatusError,
    DocumentError,
    StoreNotFound,
    UsageError,
)
from gemgate.rag._backend import Filter
from gemgate.rag._filesearch_wire import (
    HASH_KEY,
    SOURCE_KEY,
    api_error,
    custom_metadata,
    document_info,
    is_missing,
    metadata_filter,
    metadata_of,
    store_info,
    store_name,
)
from gemgate.rag._ingest import Progress, ingest_all
from gemgate.rag._sources import MAX_DOCUMENT_BYTES, Source, SourceLike, read
from gemgate.rag._store import SearchMode, StoreHandle, search_stores
from gemgate.rag._types import Chunk, DocumentInfo, Hit, IngestReport, StoreInfo
from gemgate.upstream._calls import referenced_resources
from gemgate.upstream._pipeline import Call

if TYPE_CHECKING:
    from gemgate.rag._protocol import RetrievalStore
    from gemgate.upstream._engine import Engine

__all__ = [
    "FILE_SEARCH_URL",
    "HASH_KEY",
    "SOURCE_KEY",
    "FileSearchStore",
    "FileSearchStores",
    "file_search_tool",
    "local_stores",
    "metadata_filter",
    "retrieve",
]

FILE_SEARCH_URL = "gemini://file-search"
"""The ``stores_url`` that selects Gemini's File Search."""
_PAGE = 20
"""The largest page the API lists of stores and documents."""
_MIME = {".md": "text/markdown", ".markdown": "text/markdown", ".txt": "text/plain"}
_Rows = list[dict[str, Any]]
_POLL_FIRST = 0.05
_POLL_MAX = 2.0


class FileSearchStores:
    """Create, open, list and delete Gemini File Search stores (``AsyncGemini.stores``).

    Same methods as :class:`~gemgate.rag.Stores`; a store's id is its resource name
    without ``fileSearchStores/`` (``FileSearchStore.resource`` is the whole name).

    Example::

        async with AsyncGemini(stores_url="gemini://file-search") as g:
            store = await g.stores.open("handbook")
            await store.add("docs/")
            reply = await g.chat([{"role": "user", "content": "Refunds?"}], stores=[store])
    """

    def __init__(self, engine: Engine, *, model: str, owner: str = "") -> None:
        self.engine = engine
        self.model = model
        """The model that searches (``Store.search`` asks it with the ``fileSearch`` tool)."""
        self.owner = owner

    def for_owner(self, owner: str) -> FileSearchStores:
        """The stores of ``owner``, through the same engine."""
        return FileSearchStores(self.engine, model=self.model, owner=owner)

    async def create(
        self, name: str, *, metadata: Mapping[str, Any] | None = None
    ) -> FileSearchStore:
        """A new, empty store (File Search stores hold no metadata of their own)."""
        if not name or not name.strip():
            raise UsageError("a store needs a name")
        if metadata:
            raise UsageError("a File Search store cannot hold metadata")
        if not self.owner and "/" in name:
            raise UsageError("a File Search store's name cannot contain '/'")
        display = f"{self.owner}/{name}" if self.owner else name
        from google.genai import errors

        try:  # through the SDK, so that the store's project is remembered as its owner
            made = await self.engine.sdk.aio.file_search_stores.create(
                config={"display_name": display}
            )
        except errors.APIError as exc:
            raise api_error(exc) from None
        raw = {"name": made.name or "", "displayName": made.display_name or display}
        if made.create_time is not None:
            raw["createTime"] = made.create_time.isoformat()
        if made.embedding_model:
            raw["embeddingModel"] = made.embedding_model
        return FileSearchStore(self, store_info(raw))

    async def get(self, store_id: str) -> FileSearchStore:
        """The store with this id (``StoreNotFound`` if there is none of this owner's)."""
        return FileSearchStore(self, await self._read(store_id))

    async def open(self, name: str) -> FileSearchStore:
        """The store called ``name`` (or with this id), created if there is none."""
        found = await self.find(name)
        return found if found is not None else await self.create(name)

    async def find(self, name: str) -> FileSearchStore | None:
        """The store called ``name`` (or with this id), or None."""
        for info in await self.list():
            if info.name == name or store_name(info.id) == store_name(name):
                return FileSearchStore(self, info)
        return None

    async def list(self) -> list[StoreInfo]:
        """This owner's stores, newest first."""
        raw = await self._pages(f"/{self.engine.version}/fileSearchStores", "fileSearchStores")
        mine = [info for info in map(store_info, raw) if info.owner == self.owner]
        return sorted(mine, key=lambda info: -info.created_at)

    async def delete(self, store_id: str) -> None:
        """Delete a store with everything in it."""
        info = await self._read(store_id)
        await self._call("DELETE", f"/{self.engine.version}/{store_name(info.id)}?force=true")

    async def aclose(self) -> None:
        """Nothing to close: the engine belongs to the client."""

    async def _read(self, store_id: str) -> StoreInfo:
        name = store_name(store_id)
        info = store_info(await self._call("GET", f"/{self.engine.version}/{name}", missing=name))
        if info.owner != self.owner:
            raise StoreNotFound(f"no store {store_id!r}")
        return info

    async def _call(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None = None,
        *,
        missing: str | None = None,
    ) -> dict[str, Any]:
        """One call through the engine; a 403/404 for ``missing`` is ``StoreNotFound``."""
        raw = json.dumps(body, separators=(",", ":")).encode() if body is not None else None
        headers = {"content-type": "application/json"} if raw is not None else {}
        call = Call(method, path, raw, headers, resources=referenced_resources(path, raw))
        try:
            return await self.engine.call_json(call)
        except APIStatusError as exc:
            if missing is not None and is_missing(exc):
                raise StoreNotFound(f"no store or document {missing!r}") from None
            raise

    async def _pages(self, path: str, key: str) -> _Rows:
        out: _Rows = []
        token = ""
        while True:
            query = f"?pageSize={_PAGE}" + (f"&pageToken={quote(token)}" if token else "")
            page = await self._call("GET", path + query, missing=path.rsplit("/", 1)[0])
            out += page.get(key, [])
            token = page.get("nextPageToken", "")
            if not token:
                return out


class FileSearchStore(StoreHandle):
    """One File Search store: the same methods as :class:`~gemgate.rag.Store`.

    Its id is its resource name without ``fileSearchStores/`` (so it fits in a URL path).
    """

    def __init__(self, stores: FileSearchStores, info: StoreInfo) -> None:
        super().__init__(info)
        self._stores = stores

    @property
    def resource(self) -> str:
        """The store's resource name, ``fileSearchStores/…``."""
        return store_name(self.info.id)

    @property
    def _version(self) -> str:
        return self._stores.engine.version

    async def refresh(self) -> StoreInfo:
        """Read the store again (document counts)."""
        self.info = await self._stores._read(self.id)
        return self.info

    # -- ingest ----------------------------------------------------------------------

    async def add(
        self,
        *sources: SourceLike,
        chunking: Chunking | None = None,
        metadata: Mapping[str, Any] | None = None,
        progress: bool | Progress = False,
        max_bytes: int = MAX_DOCUMENT_BYTES,
        concurrency: int = 4,
    ) -> IngestReport:
        """Upload documents: paths (a directory means all files under it), URLs, bytes.

        Each is uploaded with its hash and origin in ``customMetadata`` and waited for
        until Gemini has processed it. The same bytes already in the store are skipped; a
        path or URL uploaded before with other bytes replaces its old document. A source
        Gemini cannot process is reported in ``failed`` (its failed document is removed)
        and the others go on. ``chunks`` stays 0: the API does not tell how many it made.
        """
        present = await self._all_documents() if sources else []
        by_hash = {d.content_hash: d for d in present if d.content_hash}
        by_origin = {d.source: d for d in present if d.source}
        uploading: dict[str, anyio.Lock] = {}

        async def one(found: Source) -> tuple[DocumentInfo, bool]:
            async with uploading.setdefault(found.content_hash, anyio.Lock()):
                same = by_hash.get(found.content_hash)
                if same is not None:
                    return same, False
                document = await self._upload(found, chunking, metadata)
                by_hash[found.content_hash] = document
                previous = by_origin.get(found.origin) if found.origin else None
                if previous is not None:
                    await self.delete_document(previous.id)
                return document, True

        report = await ingest_all(
            sources, one, progress=progress, max_bytes=max_bytes, concurrency=concurrency
        )
        await self.refresh()
        return report

    async def replace(
        self,
        document_id: str,
        source: SourceLike,
        *,
        chunking: Chunking | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> DocumentInfo:
        """Upload new content in place of a document (the old one goes once it is in)."""
        old = await self.document(document_id)
        document = await self._upload(await read(source), chunking, metadata)
        await self.delete_document(old.id)
        return document

    async def _upload(
        self, source: Source, chunking: Chunking | None, metadata: Mapping[str, Any] | None
    ) -> DocumentInfo:
        from google.genai import errors, types

        custom = custom_metadata({**(metadata or {}), **source.metadata})
        custom.append(types.CustomMetadata(key=HASH_KEY, string_value=source.content_hash))
        if source.origin:
            custom.append(types.CustomMetadata(key=SOURCE_KEY, string_value=source.origin))
        config = types.UploadToFileSearchStoreConfig(
            mime_type=_mime_of(source),
            display_name=source.name,
            custom_metadata=custom,
        )
        if chunking is not None:
            config.chunking_config = types.ChunkingConfig(
                white_space_config=types.WhiteSpaceConfig(
                    max_tokens_per_chunk=chunking.max_tokens, max_overlap_tokens=chunking.overlap
                )
            )
        sdk = self._stores.engine.sdk
        try:
            started = await sdk.aio.file_search_stores.upload_to_file_search_store(
                file_search_store_name=self.resource, file=io.BytesIO(source.data), config=config
            )
        except errors.APIError as exc:
            if exc.code in (403, 404):
                raise StoreNotFound(f"no store {self.id!r}") from None
            if exc.code is not None and 400 <= exc.code < 500 and exc.code != 429:
                raise DocumentError(f"{source.name}: {exc.message}", status_code=422) from None
            raise api_error(exc) from None
        operation = await self._finished(started.name or "")
        if "error" in operation:
            await self._drop_failed(source.content_hash)
            message = str(operation["error"].get("message", "processing failed"))
            named = message if source.name in message else f"{source.name}: {message}"
            raise DocumentError(named, status_code=422)
        return await self.document(operation.get("response", {}).get("documentName", ""))

    async def _finished(self, operation: str) -> dict[str, Any]:
        """The operation once it is done, polled with a growing pause."""
        engine = self._stores.engine
        deadline = engine.clock() + engine.settings.timeouts.total
        pause = _POLL_FIRST
        while True:
            found = await self._stores._call("GET", f"/{self._version}/{operation}")
            if found.get("done"):
                return found
            if engine.clock() > deadline:
                raise DocumentError(f"{operation} did not finish in time", status_code=422)
            await engine.sleep(pause)
            pause = min(pause * 1.5, _POLL_MAX)

    async def _drop_failed(self, digest: str) -> None:
        for document in await self._all_documents(states=("STATE_FAILED",)):
            if document.content_hash == digest:
                await self.delete_document(document.id)

    async def _all_documents(
        self, states: Sequence[str] = ("STATE_ACTIVE", "STATE_PENDING")
    ) -> list[DocumentInfo]:
        raw = await self._stores._pages(f"/{self._version}/{self.resource}/documents", "documents")
        return [document_info(self.id, d) for d in raw if d.get("state", "") in states]

    # -- search ----------------------------------------------------------------------

    async def search(
        self,
        query: str,
        k: int = 10,
        *,
        filter: Filter | None = None,
        mode: SearchMode = "hybrid",
    ) -> list[Hit]:
        """The chunks File Search retrieves for ``query`` (at most ``k``), best first.

        File Search decides how it ranks, so ``mode`` must be ``hybrid``. ``filter``
        matches document metadata (``{"lang": "en"}``; a list value matches any of it).
        Chunks carry no offsets (``start`` 0, ``end`` their length).
        """
        if not query or not query.strip():
            raise UsageError("the search query is empty")
        if k < 1:
            raise UsageError("k must be at least 1")
        if mode != "hybrid":
            raise UsageError("File Search stores rank by themselves: mode must be 'hybrid'")
        tool: dict[str, Any] = {"fileSearchStoreNames": [self.resource], "topK": k}
        if filter:
            tool["metadataFilter"] = metadata_filter(filter)
        request = {
            "contents": [{"role": "user", "parts": [{"text": query}]}],
            "tools": [{"fileSearch": tool}],
        }
        try:
            response = await self._stores.engine.generate(request, self._stores.model)
        except APIStatusError as exc:
            if is_missing(exc):
                raise StoreNotFound(f"no store {self.id!r}") from None
            raise
        candidates = response.get("candidates") or [{}]
        grounding = candidates[0].get("groundingMetadata") or {}
        hits: list[Hit] = []
        for entry in grounding.get("groundingChunks", []):
            context = entry.get("retrievedContext")
            if context is None or context.get("fileSearchStore", self.resource) != self.resource:
                continue
            hits.append(self._hit(context, len(hits) + 1))
        return hits[:k]

    def _hit(self, context: Mapping[str, Any], rank: int) -> Hit:
        text = context.get("text", "")
        custom = metadata_of(context.get("customMetadata", []))
        document_id = str(context.get("documentName", "")).rsplit("/", 1)[-1]
        document = DocumentInfo(
            id=document_id,
            store_id=self.id,
            name=context.get("title", ""),
            content_hash=str(custom.pop(HASH_KEY, "")),
            mime_type="",
            size_bytes=0,
            source=str(custom.pop(SOURCE_KEY, "")),
            metadata=custom,
        )
        chunk = Chunk(
            id=f"{document_id or document.name}#{rank}",
            document_id=document_id,
            index=rank - 1,
            text=text,
            start=0,
            end=len(text),
            page=int(context.get("pageNumber", 0)),
        )
        return Hit(chunk=chunk, document=document, score=1.0 / rank)

    # -- documents -------------------------------------------------------------------

    async def documents(self, *, limit: int = 100, after: str | None = None) -> list[DocumentInfo]:
        """The store's documents in the API's order (``after``: the last id of the page before)."""
        found = await self._all_documents(states=("STATE_ACTIVE", "STATE_PENDING", "STATE_FAILED"))
        if after is not None:
            ids = [d.id for d in found]
            found = found[ids.index(after) + 1 :] if after in ids else []
        return found[:limit]

    async def document(self, document_id: str) -> DocumentInfo:
        """One document (``StoreNotFound`` if the store has none with this id)."""
        name = self._document_name(document_id)
        raw = await self._stores._call("GET", f"/{self._version}/{name}", missing=name)
        return document_info(self.id, raw)

    async def chunks(self, document_id: str) -> list[Chunk]:
        """Not available: the File Search API does not hand out a document's chunks."""
        raise UsageError("File Search does not list a document's chunks")

    async def delete_document(self, document_id: str) -> None:
        """Delete a document with its chunks."""
        name = self._document_name(document_id)
        await self._stores._call("DELETE", f"/{self._version}/{name}?force=true", missing=name)

    async def delete(self) -> None:
        """Delete this store with everything in it."""
        await self._stores.delete(self.id)

    def _document_name(self, document_id: str) -> str:
        if not document_id:
            raise StoreNotFound("no document ''")
        if document_id.startswith("fileSearchStores/"):
            if not document_id.startswith(f"{self.resource}/documents/"):
                raise StoreNotFound(f"no document {document_id!r} in {self.id}")
            return document_id
        return f"{self.resource}/documents/{document_id}"


def file_search_tool(stores: Sequence[RetrievalStore], top_k: int) -> dict[str, Any] | None:
    """The ``fileSearch`` tool over the File Search stores among ``stores``, or None."""
    names = [s.resource for s in stores if isinstance(s, FileSearchStore)]
    if not names:
        return None
    return {"fileSearch": {"fileSearchStoreNames": names, "topK": top_k}}


def local_stores(stores: Sequence[RetrievalStore]) -> list[RetrievalStore]:
    """The stores among ``stores`` that gemgate searches itself (not File Search)."""
    return [s for s in stores if not isinstance(s, FileSearchStore)]


def _mime_of(source: Source) -> str:
    if source.mime_type:
        return source.mime_type
    suffix = "." + source.name.rsplit(".", 1)[-1].lower() if "." in source.name else ""
    guessed = _MIME.get(suffix) or mimetypes.guess_type(source.name)[0]
    if guessed:
        return guessed
    try:
        source.data.decode("utf-8")
    except UnicodeDecodeError:
        return "application/octet-stream"
    return "text/plain"


async def retrieve(
    stores: Sequence[RetrievalStore], contents: Sequence[Mapping[str, Any]], k: int
) -> list[Hit]:
    """The ``k`` best chunks of the local ``stores`` for the last user message's text.

    File Search stores are left out: Gemini searches them itself, as a tool.
    """
    question: Mapping[str, Any] = next(
        (c for c in reversed(contents) if c.get("role") == "user"), {}
    )
    text = " ".join(p.get("text", "") for p in question.get("parts", [])).strip()
    local = local_stores(stores)
    return await search_stores(local, text, k) if text and local else []
