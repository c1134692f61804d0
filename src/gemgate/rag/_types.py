"""What retrieval stores hold and return: stores, documents, chunks, hits and citations."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gemgate.documents._types import Chunk, Page

__all__ = ["Chunk", "Citation", "DocumentInfo", "Hit", "IngestReport", "Page", "StoreInfo"]


@dataclass(frozen=True, slots=True)
class StoreInfo:
    """A store: a named collection of documents searched together.

    ``owner`` is the gateway key's name that created it ("" for library use): a store is
    only ever found by its owner. ``embedding_model`` and ``dimensions`` are fixed when the
    first document is embedded (``dimensions`` 0 until then); a later embedding of another
    size is refused (:class:`~gemgate.errors.EmbeddingMismatch`).
    """

    id: str
    name: str
    owner: str = ""
    embedding_model: str = ""
    dimensions: int = 0
    created_at: float = 0.0
    document_count: int = 0
    chunk_count: int = 0
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class DocumentInfo:
    """One ingested document. ``content_hash`` is the SHA-256 of its bytes (dedup key)."""

    id: str
    store_id: str
    name: str
    content_hash: str
    mime_type: str
    size_bytes: int
    chunk_count: int = 0
    created_at: float = 0.0
    source: str = ""
    """Where it came from: a path, a URL, or "" for bytes."""
    metadata: dict[str, Any] = field(default_factory=dict)
    """The caller's attributes; ``search(filter=…)`` matches them."""


@dataclass(frozen=True, slots=True)
class Hit:
    """One search result: a chunk, its document and its score (higher is better)."""

    chunk: Chunk
    document: DocumentInfo
    score: float
    keyword_rank: int | None = None
    """1-based rank in the keyword (BM25) list, None when it was not there."""
    vector_rank: int | None = None
    """1-based rank in the vector list, None when it was not there."""


@dataclass(frozen=True, slots=True)
class Citation:
    """A span of an answer and the retrieved chunks that support it.

    ``start``/``end`` are character offsets into the answer text; ``sources`` are indexes
    into the hits the answer was given (the ``[n]`` the model saw, 0-based here).
    """

    start: int
    end: int
    text: str
    sources: tuple[int, ...]
    score: float = 0.0


@dataclass(slots=True)
class IngestReport:
    """What one ``Store.add`` did."""

    added: list[DocumentInfo] = field(default_factory=list)
    unchanged: list[DocumentInfo] = field(default_factory=list)
    """Documents whose bytes were already in the store: nothing was done."""
    failed: list[tuple[str, str]] = field(default_factory=list)
    """``(source, reason)`` of each source that could not be ingested."""
    chunks: int = 0
    seconds: float = 0.0
