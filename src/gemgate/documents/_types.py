"""Parsed pages and the chunks cut from them."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Chunk", "Page"]


@dataclass(frozen=True, slots=True)
class Page:
    """Parsed text of one page (PDF) or of a whole document (``number`` 0 otherwise)."""

    text: str
    number: int = 0
    offset: int = 0
    """Where this page's text starts in the document's whole text."""


@dataclass(frozen=True, slots=True)
class Chunk:
    """A span of a document's text: ``text == document_text[start:end]``."""

    id: str
    document_id: str
    index: int
    text: str
    start: int
    end: int
    page: int = 0
    """The page the chunk starts on (1-based for PDFs, 0 when the format has none)."""
    tokens: int = 0
