"""Documents to text: parsing (text, Markdown, HTML, PDF, DOCX) and token-aware chunking.

Pure functions with no I/O, shared by the retrieval stores and the emulator's File Search.
"""

from __future__ import annotations

from gemgate.documents._chunk import MAX_CHUNK_TOKENS, Chunking, chunk_pages, count_tokens
from gemgate.documents._parse import SUPPORTED_TYPES, document_text, mime_of, parse
from gemgate.documents._types import Chunk, Page

__all__ = [
    "MAX_CHUNK_TOKENS",
    "SUPPORTED_TYPES",
    "Chunk",
    "Chunking",
    "Page",
    "chunk_pages",
    "count_tokens",
    "document_text",
    "mime_of",
    "parse",
]
