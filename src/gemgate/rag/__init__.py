"""Retrieval stores: documents parsed, chunked, embedded and searched (keyword + vectors).

``AsyncGemini.stores`` opens them in ``stores_url`` (the embedded default is one SQLite
file: FTS5 BM25 plus float32 vectors, fused by reciprocal rank; ``postgresql://…`` uses
pgvector; ``gemini://file-search`` is Gemini's own File Search, with the same API). Answers
grounded on them carry Gemini's ``groundingMetadata``.
"""

from __future__ import annotations

from gemgate.documents import Chunking
from gemgate.rag._backend import Filter, StoreBackend, Vectors
from gemgate.rag._embed import Embedder, GeminiEmbedder, Task, unit_rows
from gemgate.rag._filesearch import (
    FILE_SEARCH_URL,
    FileSearchStore,
    FileSearchStores,
    file_search_tool,
    local_stores,
    metadata_filter,
    retrieve,
)
from gemgate.rag._fusion import RRF_K, fuse
from gemgate.rag._ground import (
    GroundedStream,
    citations,
    ground_response,
    grounded_request,
    grounding_metadata,
    sources_text,
)
from gemgate.rag._ingest import Progress
from gemgate.rag._open import DEFAULT_STORES_URL, is_file_search, open_backend, stores_url_of
from gemgate.rag._protocol import RetrievalStore, RetrievalStores
from gemgate.rag._sources import MAX_DOCUMENT_BYTES, Source, SourceLike
from gemgate.rag._store import SearchMode, Store, Stores, search_stores
from gemgate.rag._types import Chunk, Citation, DocumentInfo, Hit, IngestReport, Page, StoreInfo

__all__ = [
    "DEFAULT_STORES_URL",
    "FILE_SEARCH_URL",
    "MAX_DOCUMENT_BYTES",
    "RRF_K",
    "Chunk",
    "Chunking",
    "Citation",
    "DocumentInfo",
    "Embedder",
    "FileSearchStore",
    "FileSearchStores",
    "Filter",
    "GeminiEmbedder",
    "GroundedStream",
    "Hit",
    "IngestReport",
    "Page",
    "Progress",
    "RetrievalStore",
    "RetrievalStores",
    "SearchMode",
    "Source",
    "SourceLike",
    "Store",
    "StoreBackend",
    "StoreInfo",
    "Stores",
    "Task",
    "Vectors",
    "citations",
    "file_search_tool",
    "fuse",
    "ground_response",
    "grounded_request",
    "grounding_metadata",
    "is_file_search",
    "local_stores",
    "metadata_filter",
    "open_backend",
    "retrieve",
    "search_stores",
    "sources_text",
    "stores_url_of",
    "unit_rows",
]
