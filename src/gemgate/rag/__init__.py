"""Retrieval stores: documents parsed, chunked, embedded and searched (keyword + vectors).

Work in progress: the public names are filled in as the pieces land.
"""

from __future__ import annotations

from gemgate.rag._types import Chunk, Citation, DocumentInfo, Hit, IngestReport, Page, StoreInfo

__all__ = ["Chunk", "Citation", "DocumentInfo", "Hit", "IngestReport", "Page", "StoreInfo"]
