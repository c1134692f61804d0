"""What every kind of retrieval store offers: gemgate's own stores and Gemini's File Search."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

from gemgate.documents import Chunking
from gemgate.rag._backend import Filter
from gemgate.rag._sources import SourceLike
from gemgate.rag._types import Chunk, DocumentInfo, Hit, IngestReport, StoreInfo

__all__ = ["RetrievalStore", "RetrievalStores"]


@runtime_checkable
class RetrievalStore(Protocol):
    """One store: :class:`~gemgate.rag.Store` (local) or :class:`~gemgate.rag.FileSearchStore`.

    Code written against this surface works on both; ``search_stores``, ``chat(stores=…)``
    and ``chat_with_tools(stores=…)`` take either.
    """

    info: StoreInfo

    @property
    def id(self) -> str:
        """The store's id."""

    @property
    def name(self) -> str:
        """The store's name."""

    async def refresh(self) -> StoreInfo:
        """Read the store again."""

    async def add(
        self,
        *sources: SourceLike,
        chunking: Chunking | None = None,
        metadata: Mapping[str, Any] | None = None,
        progress: Any = False,
        max_bytes: int = ...,
        concurrency: int = 4,
    ) -> IngestReport:
        """Ingest documents; the same bytes twice are added once."""

    async def search(
        self, query: str, k: int = 10, *, filter: Filter | None = None, mode: Any = "hybrid"
    ) -> list[Hit]:
        """The ``k`` chunks that best answer ``query``, best first."""

    async def documents(self, *, limit: int = 100, after: str | None = None) -> list[DocumentInfo]:
        """The store's documents, oldest first."""

    async def document(self, document_id: str) -> DocumentInfo:
        """One document (``StoreNotFound`` if there is none with this id)."""

    async def chunks(self, document_id: str) -> list[Chunk]:
        """A document's chunks, in order (``UsageError`` where the backend hides them)."""

    async def replace(
        self,
        document_id: str,
        source: SourceLike,
        *,
        chunking: Chunking | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> DocumentInfo:
        """Put new content in place of a document."""

    async def delete_document(self, document_id: str) -> None:
        """Delete a document."""

    async def delete(self) -> None:
        """Delete the store with everything in it."""


class RetrievalStores(Protocol):
    """The stores of one owner: :class:`~gemgate.rag.Stores` or ``FileSearchStores``."""

    owner: str

    def for_owner(self, owner: str) -> RetrievalStores:
        """The stores of ``owner``."""

    async def create(
        self, name: str, *, metadata: Mapping[str, Any] | None = None
    ) -> RetrievalStore:
        """A new, empty store."""

    async def get(self, store_id: str) -> RetrievalStore:
        """The store with this id (``StoreNotFound`` if there is none of this owner's)."""

    async def open(self, name: str) -> RetrievalStore:
        """The store called ``name`` (or with this id), created if there is none."""

    async def find(self, name: str) -> RetrievalStore | None:
        """The store called ``name`` (or with this id), or None."""

    async def list(self) -> list[StoreInfo]:
        """This owner's stores, newest first."""

    async def delete(self, store_id: str) -> None:
        """Delete a store with everything in it."""

    async def aclose(self) -> None:
        """Release what the stores hold open."""
