"""Stores: ingest documents (parse, chunk, embed, commit) and search them (hybrid)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import time
import uuid
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from gemgate.documents import Chunking, chunk_pages, parse
from gemgate.errors import EmbeddingMismatch, StoreNotFound, UsageError
from gemgate.rag._backend import Filter, StoreBackend
from gemgate.rag._embed import Embedder
from gemgate.rag._fusion import fuse
from gemgate.rag._ingest import Progress, ingest_all
from gemgate.rag._protocol import RetrievalStore
from gemgate.rag._sources import MAX_DOCUMENT_BYTES, Source, SourceLike, read
from gemgate.rag._types import Chunk, DocumentInfo, Hit, IngestReport, StoreInfo
from gemgate.upstream._together import together

__all__ = ["SearchMode", "Store", "StoreHandle", "Stores", "search_stores"]

SearchMode = Literal["hybrid", "keyword", "vector"]


class Stores:
    """Create, open, list and delete retrieval stores (``AsyncGemini.stores``).

    Every store belongs to ``owner`` ("" for the library; the gateway key's name on the
    gateway): :meth:`for_owner` gives another owner's view over the same backend.

    Example::

        store = await g.stores.create("handbook")
        await store.add("docs/", progress=True)
        for hit in await store.search("how do refunds work?", k=5):
            print(hit.score, hit.document.name, hit.chunk.page, hit.chunk.text[:80])
    """

    def __init__(self, backend: StoreBackend, embedder: Embedder, *, owner: str = "") -> None:
        self.backend = backend
        self.embedder = embedder
        self.owner = owner

    def for_owner(self, owner: str) -> Stores:
        """The stores of ``owner``, over the same backend and embedder."""
        return Stores(self.backend, self.embedder, owner=owner)

    async def create(self, name: str, *, metadata: Mapping[str, Any] | None = None) -> Store:
        """A new, empty store."""
        if not name or not name.strip():
            raise UsageError("a store needs a name")
        info = await self.backend.create_store(name, owner=self.owner, metadata=metadata)
        return Store(self, info)

    async def get(self, store_id: str) -> Store:
        """The store with this id (``StoreNotFound`` if there is none of this owner's)."""
        return Store(self, await self.backend.get_store(store_id, owner=self.owner))

    async def open(self, name: str) -> Store:
        """The store called ``name`` (or with this id), created if there is none."""
        found = await self.backend.find_store(name, owner=self.owner)
        if found is None and name.startswith("store_"):
            with contextlib.suppress(StoreNotFound):
                found = await self.backend.get_store(name, owner=self.owner)
        return Store(self, found) if found is not None else await self.create(name)

    async def find(self, name: str) -> Store | None:
        """The store called ``name`` (or with this id), or None."""
        found = await self.backend.find_store(name, owner=self.owner)
        if found is None:
            with contextlib.suppress(StoreNotFound):
                found = await self.backend.get_store(name, owner=self.owner)
        return Store(self, found) if found is not None else None

    async def list(self) -> list[StoreInfo]:
        """This owner's stores, newest first."""
        return await self.backend.list_stores(owner=self.owner)

    async def delete(self, store_id: str) -> None:
        """Delete a store with everything in it."""
        await self.backend.delete_store(store_id, owner=self.owner)

    async def aclose(self) -> None:
        """Close the backend's connections."""
        await self.backend.close()


class StoreHandle:
    """What every store handle has: the store's info as last read, its id and name."""

    def __init__(self, info: StoreInfo) -> None:
        self.info = info
        """What the store was when this handle last read it (see ``refresh``)."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.info.id} {self.info.name!r}>"

    @property
    def id(self) -> str:
        """The store's id."""
        return self.info.id

    @property
    def name(self) -> str:
        """The store's name."""
        return self.info.name


class Store(StoreHandle):
    """One retrieval store: add documents, search them, list, replace and delete them."""

    def __init__(self, stores: Stores, info: StoreInfo) -> None:
        super().__init__(info)
        self._stores = stores

    @property
    def _backend(self) -> StoreBackend:
        return self._stores.backend

    @property
    def _owner(self) -> str:
        return self._stores.owner

    async def refresh(self) -> StoreInfo:
        """Read the store again (counts, embedding model)."""
        self.info = await self._backend.get_store(self.id, owner=self._owner)
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
        """Ingest documents: paths (a directory means all files under it), URLs, bytes.

        Each document is parsed, chunked, embedded and committed with all its chunks in
        one transaction, or not at all. The same bytes already in the store are skipped;
        a path or URL ingested before with other bytes replaces its old document. A
        source that cannot be ingested is reported in ``failed`` and the others go on;
        a failure of the store itself (or of the embeddings) raises.

        ``progress=True`` draws a progress bar on the terminal (rich); a callable gets
        ``(source, chunks added)`` as each document is done.
        """
        by_origin = await self._by_origin() if sources else {}
        report = await ingest_all(
            sources,
            lambda found: self._ingest(found, chunking, metadata, by_origin),
            progress=progress,
            max_bytes=max_bytes,
            concurrency=concurrency,
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
        """Put new content in place of a document (one transaction; its old chunks go)."""
        old = await self.document(document_id)
        found = await read(source)
        document, _ = await self._ingest(
            found, chunking, metadata, {found.origin or "\0": old}, force=old.id
        )
        return document

    async def _by_origin(self) -> dict[str, DocumentInfo]:
        out: dict[str, DocumentInfo] = {}
        after: str | None = None
        while True:
            page = await self._backend.list_documents(
                self.id, owner=self._owner, limit=500, after=after
            )
            out.update((d.source, d) for d in page if d.source)
            if len(page) < 500:
                return out
            after = page[-1].id

    async def _ingest(
        self,
        source: Source,
        chunking: Chunking | None,
        metadata: Mapping[str, Any] | None,
        by_origin: Mapping[str, DocumentInfo],
        force: str | None = None,
    ) -> tuple[DocumentInfo, bool]:
        digest = source.content_hash
        if force is None:
            same = await self._backend.find_document(self.id, digest, owner=self._owner)
            if same is not None:
                return same, False
        previous = by_origin.get(source.origin) if source.origin else None
        replaces = force or (previous.id if previous is not None else None)
        mime, pages = await asyncio.to_thread(
            parse, source.data, name=source.name, mime_type=source.mime_type
        )
        spans = await asyncio.to_thread(chunk_pages, pages, chunking or Chunking())
        document_id = f"doc_{uuid.uuid4().hex[:20]}"
        chunks = [
            dataclasses.replace(c, id=f"{document_id}-{c.index}", document_id=document_id)
            for c in spans
        ]
        embedder = self._stores.embedder
        vectors = await embedder.embed(
            [c.text for c in chunks], "document", titles=[source.name] * len(chunks)
        )
        self.info = await self._backend.set_embedding(
            self.id, embedder.model, int(vectors.shape[1]), owner=self._owner
        )
        if self.info.embedding_model != embedder.model:
            raise EmbeddingMismatch(
                f"store {self.id} holds embeddings of {self.info.embedding_model!r}; "
                f"this client embeds with {embedder.model!r}"
            )
        document = DocumentInfo(
            id=document_id,
            store_id=self.id,
            name=source.name,
            content_hash=digest,
            mime_type=mime,
            size_bytes=len(source.data),
            chunk_count=len(chunks),
            created_at=time.time(),
            source=source.origin,
            metadata={**(metadata or {}), **source.metadata},
        )
        stored = await self._backend.put_document(
            document, chunks, vectors, owner=self._owner, replaces=replaces
        )
        return stored, True

    # -- search ----------------------------------------------------------------------

    async def search(
        self,
        query: str,
        k: int = 10,
        *,
        filter: Filter | None = None,
        mode: SearchMode = "hybrid",
    ) -> list[Hit]:
        """The ``k`` chunks that best answer ``query``, best first.

        ``hybrid`` fuses the top ``k`` of the keyword (BM25) ranking and the top ``k`` of
        the vector ranking by reciprocal rank (the window Elasticsearch fuses by default);
        ``keyword`` and ``vector`` use one of them. ``filter`` matches document metadata
        (``{"lang": "en"}``; a list value matches any of it).
        """
        if not query or not query.strip():
            raise UsageError("the search query is empty")
        if k < 1:
            raise UsageError("k must be at least 1")
        if mode not in ("hybrid", "keyword", "vector"):
            raise UsageError(f"mode must be 'hybrid', 'keyword' or 'vector', not {mode!r}")
        keyword: list[Hit] = []
        vector: list[Hit] = []

        async def by_keyword() -> None:
            keyword[:] = await self._backend.keyword_search(
                self.id, query, k, owner=self._owner, filter=filter
            )

        async def by_vector() -> None:
            vector[:] = await self._vector_search(query, k, filter)

        await together(
            *([by_keyword] if mode != "vector" else []),
            *([by_vector] if mode != "keyword" else []),
        )
        if mode == "keyword":
            return keyword[:k]
        if mode == "vector":
            return vector[:k]
        return fuse(keyword, vector, k)

    async def _vector_search(self, query: str, k: int, filter: Filter | None) -> list[Hit]:
        info = self.info if self.info.dimensions else await self.refresh()  # sizes never change
        if not info.dimensions:
            return []
        embedder = self._stores.embedder
        if info.embedding_model != embedder.model:
            raise EmbeddingMismatch(
                f"store {self.id} holds embeddings of {info.embedding_model!r}; "
                f"this client embeds with {embedder.model!r}"
            )
        vector = await embedder.embed([query], "query")
        return await self._backend.vector_search(
            self.id, vector[0], k, owner=self._owner, filter=filter
        )

    # -- documents -------------------------------------------------------------------

    async def documents(self, *, limit: int = 100, after: str | None = None) -> list[DocumentInfo]:
        """The store's documents, oldest first (``after``: the last id of the page before)."""
        return await self._backend.list_documents(
            self.id, owner=self._owner, limit=limit, after=after
        )

    async def document(self, document_id: str) -> DocumentInfo:
        """One document (``StoreNotFound`` if the store has none with this id)."""
        return await self._backend.get_document(self.id, document_id, owner=self._owner)

    async def chunks(self, document_id: str) -> list[Chunk]:
        """A document's chunks, in order."""
        return await self._backend.document_chunks(self.id, document_id, owner=self._owner)

    async def delete_document(self, document_id: str) -> None:
        """Delete a document with its chunks and vectors."""
        await self._backend.delete_document(self.id, document_id, owner=self._owner)

    async def delete(self) -> None:
        """Delete this store with everything in it."""
        await self._stores.delete(self.id)


async def search_stores(
    stores: Sequence[RetrievalStore], query: str, k: int, *, filter: Filter | None = None
) -> list[Hit]:
    """The ``k`` best hits of several stores together (each searched hybrid, at once)."""
    found: list[list[Hit]] = [[] for _ in stores]

    async def one(index: int, store: RetrievalStore) -> None:
        found[index] = await store.search(query, k, filter=filter)

    await together(*(functools.partial(one, i, store) for i, store in enumerate(stores)))
    merged = [hit for hits in found for hit in hits]
    merged.sort(key=lambda hit: -hit.score)
    return merged[:k]
