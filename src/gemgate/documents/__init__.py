"""Document parsing and chunking (a minimal text-only stand-in for the real package).

``parse`` turns bytes into text pages, ``chunk_pages`` cuts pages into overlapping
token windows and ``count_tokens`` counts tokens the way the chunker does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from gemgate.errors import DocumentError

__all__ = ["Chunk", "Chunking", "Page", "chunk_pages", "count_tokens", "document_text", "parse"]

_TOKEN = re.compile(r"\S+")
_TEXT_TYPES = ("text/", "application/json", "application/xml", "application/x-yaml")
_TEXT_SUFFIXES = (".txt", ".md", ".markdown", ".csv", ".json", ".html", ".htm", ".xml", ".py")


@dataclass(frozen=True, slots=True)
class Page:
    """Parsed text of one page (``number`` 0 when the format has no pages)."""

    text: str
    number: int = 0
    offset: int = 0


@dataclass(frozen=True, slots=True)
class Chunking:
    """How to cut text: windows of ``max_tokens`` sharing ``overlap`` tokens."""

    max_tokens: int = 256
    overlap: int = 32


@dataclass(frozen=True, slots=True)
class Chunk:
    """A span of the document text: ``text == document_text[start:end]``."""

    text: str
    start: int
    end: int
    page: int
    tokens: int
    index: int


def count_tokens(text: str) -> int:
    """Tokens in ``text`` (whitespace-separated words)."""
    return len(_TOKEN.findall(text))


def parse(data: bytes, *, name: str, mime_type: str | None = None) -> tuple[str, list[Page]]:
    """Parse a text document; return its MIME type and pages.

    Raises:
        DocumentError: 415 for an unsupported type, 422 for undecodable or empty text.
    """
    mime = mime_type or ("text/plain" if name.lower().endswith(_TEXT_SUFFIXES) else "")
    if not mime.startswith(_TEXT_TYPES):
        raise DocumentError(f"{name}: unsupported file type {mime or 'unknown'}", status_code=415)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise DocumentError(f"{name}: not valid UTF-8 text", status_code=422) from None
    if not text.strip():
        raise DocumentError(f"{name}: the document has no text", status_code=422)
    return mime, [Page(text=text)]


def document_text(pages: list[Page]) -> str:
    """The whole text of a document's pages."""
    return "".join(page.text for page in pages)


def chunk_pages(pages: list[Page], chunking: Chunking) -> list[Chunk]:
    """Cut pages into windows of at most ``chunking.max_tokens`` tokens."""
    text = document_text(pages)
    spans = [m.span() for m in _TOKEN.finditer(text)]
    size = max(1, chunking.max_tokens)
    step = max(1, size - max(0, min(chunking.overlap, size - 1)))
    chunks: list[Chunk] = []
    for first in range(0, len(spans), step):
        window = spans[first : first + size]
        start, end = window[0][0], window[-1][1]
        page = next((p.number for p in reversed(pages) if p.offset <= start), 0)
        chunks.append(Chunk(text[start:end], start, end, page, len(window), len(chunks)))
        if first + size >= len(spans):
            break
    return chunks
