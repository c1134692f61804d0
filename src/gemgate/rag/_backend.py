"""The storage behind retrieval stores: one protocol, SQLite and PostgreSQL implementations.

A backend keeps stores, documents, chunks and their vectors, and answers the two halves
of a hybrid search (keyword and nearest-vector); :class:`~gemgate.rag.Store` parses,
chunks, embeds and fuses on top of it. Every method is scoped by ``owner``: a store is
only ever seen by the owner that created it, and a missing or foreign one is
:class:`~gemgate.errors.StoreNotFound` alike.

``put_document`` is atomic: the document, all its chunks and their vectors are committed
together or not at all (a process killed mid-way leaves nothing behind), and ``replaces``
(a document id) is deleted in the same transaction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from gemgate.rag._types import Chunk, DocumentInfo, Hit, StoreInfo

__all__ = ["Filter", "StoreBackend", "Vectors"]

Vectors = npt.NDArray[np.float32]
"""A ``(rows, dimensions)`` float32 matrix of unit vectors."""

Filter = Mapping[str, Any]
"""Document metadata that must match: ``{"lang": "en"}``; a list value matches any of it."""


class StoreBackend(Protocol):
    """Where stores live. Implementations: ``SQLiteBackend``, ``PostgresBackend``."""

    async def create_store(
        self, name: str, *, owner: str = "", metadata: Mapping[str, Any] | None = None
    ) -> StoreInfo:
        """A new, empty store (names need not be unique; ids are)."""
        ...

    async def get_store(self, store_id: str, *, owner: str = "") -> StoreInfo:
        """The store with its current document and chunk counts, or ``StoreNotFound``."""
        ...

    async def find_store(self, name: str, *, owner: str = "") -> StoreInfo | None:
        """The owner's most recent store called ``name``, if any."""
        ...

    async def list_stores(self, *, owner: str = "") -> list[StoreInfo]:
        """The owner's stores, newest first."""
        ...

    async def delete_store(self, store_id: str, *, owner: str = "") -> None:
        """Delete a store with all its documents, chunks and vectors."""
        ...

    async def set_embedding(
        self, store_id: str, model: str, dimensions: int, *, owner: str = ""
    ) -> StoreInfo:
        """Fix the store's embedding model and size on first use.

        ``EmbeddingMismatch`` if the store already has another size.
        """
        ...

    async def find_document(
        self, store_id: str, content_hash: str, *, owner: str = ""
    ) -> DocumentInfo | None:
        """The document with these exact bytes, if the store has it."""
        ...

    async def put_document(
        self,
        document: DocumentInfo,
        chunks: Sequence[Chunk],
        vectors: Vectors,
        *,
        owner: str = "",
        replaces: str | None = None,
    ) -> DocumentInfo:
        """Commit a document, its chunks and their vectors in one transaction.

        Row ``i`` of ``vectors`` is chunk ``i``; ``replaces`` is deleted in the same one.
        """
        ...

    async def get_document(
        self, store_id: str, document_id: str, *, owner: str = ""
    ) -> DocumentInfo:
        """One document, or ``StoreNotFound`` (naming the document)."""
        ...

    async def list_documents(
        self, store_id: str, *, owner: str = "", limit: int = 100, after: str | None = None
    ) -> list[DocumentInfo]:
        """The store's documents, oldest first, ``limit`` at a time after id ``after``."""
        ...

    async def document_chunks(
        self, store_id: str, document_id: str, *, owner: str = ""
    ) -> list[Chunk]:
        """A document's chunks in order."""
        ...

    async def delete_document(self, store_id: str, document_id: str, *, owner: str = "") -> None:
        """Delete a document with its chunks and vectors."""
        ...

    async def keyword_search(
        self, store_id: str, query: str, k: int, *, owner: str = "", filter: Filter | None = None
    ) -> list[Hit]:
        """The ``k`` best chunks by full-text relevance (BM25 or the engine's nearest)."""
        ...

    async def vector_search(
        self,
        store_id: str,
        vector: Vectors,
        k: int,
        *,
        owner: str = "",
        filter: Filter | None = None,
    ) -> list[Hit]:
        """The ``k`` chunks whose vectors have the highest cosine similarity to ``vector``."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...
