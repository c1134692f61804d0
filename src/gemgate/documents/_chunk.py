"""Token-aware chunking: a document's pages cut into overlapping spans of its whole text.

Tokens are estimated, not counted by a model: every word of up to six characters and
every punctuation mark is one token, a longer word one token per four characters
(:func:`count_tokens`). A chunk holds at most ``max_tokens`` of them and ends, by
preference, at a blank line, then a sentence end before a line break, a sentence end, a
line break, and last any whitespace, in the second half of its window; it cuts inside a
word only when no whitespace is left to cut at. The next chunk starts about ``overlap``
tokens before the previous one ended, at the best such boundary.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass

from gemgate.documents._parse import PAGE_SEPARATOR, document_text
from gemgate.documents._types import Chunk, Page
from gemgate.errors import UsageError

__all__ = ["MAX_CHUNK_TOKENS", "Chunking", "chunk_pages", "count_tokens"]

MAX_CHUNK_TOKENS = 8192
"""The largest ``Chunking.max_tokens`` accepted."""

_TOKEN = re.compile(r"\b\w{1,6}\b|\w{1,4}|[^\w\s]")
_BOUNDARIES = (
    re.compile(r"\n[^\S\n]*\n\s*"),
    re.compile(r"[.!?\u2026][\"'\u201d\u2019)\]]*[^\S\n]*\n\s*"),
    re.compile(r"[.!?\u2026][\"'\u201d\u2019)\]]*\s+|[\u3002\uff01\uff1f]\s*"),
    re.compile(r"\n\s*"),
)
"""Where a chunk may end, best first; a match ends where the next chunk may start."""


def count_tokens(text: str) -> int:
    """An estimate of ``text``'s token count: words and punctuation marks.

    Example:
        >>> count_tokens("Hello, world!")
        4
    """
    return len(_TOKEN.findall(text))


@dataclass(frozen=True)
class Chunking:
    """How documents are cut: at most ``max_tokens`` a chunk, ``overlap`` shared tokens.

    ``max_tokens`` is 16 to :data:`MAX_CHUNK_TOKENS`; ``overlap`` is 0 to less than half
    of ``max_tokens``.
    """

    max_tokens: int = 400
    overlap: int = 80

    def __post_init__(self) -> None:
        if type(self.max_tokens) is not int or not 16 <= self.max_tokens <= MAX_CHUNK_TOKENS:
            raise UsageError(
                f"Chunking.max_tokens must be an integer from 16 to {MAX_CHUNK_TOKENS}"
            )
        if type(self.overlap) is not int or not 0 <= self.overlap < self.max_tokens // 2:
            raise UsageError("Chunking.overlap must be an integer from 0 to below max_tokens / 2")


def chunk_pages(pages: Sequence[Page], chunking: Chunking = Chunking()) -> list[Chunk]:
    """Cut pages into chunks of the document's whole text (:func:`document_text`).

    Each chunk's ``text`` is ``document_text(pages)[start:end]`` without surrounding
    whitespace; ``page`` is the number of the page it starts on and ``tokens`` its
    :func:`count_tokens`. ``id`` and ``document_id`` are left empty for the caller.
    Page offsets are derived from the texts, so the pages' own ``offset`` is not needed.
    """
    text = document_text(pages)
    spans = _Spans(text)
    offsets, numbers = _page_numbers(pages)
    chunks: list[Chunk] = []
    for first, last in spans.windows(chunking):
        start, end = spans.starts[first], spans.ends[last - 1]
        body = text[start:end]
        chunks.append(
            Chunk(
                id="",
                document_id="",
                index=len(chunks),
                text=body,
                start=start,
                end=end,
                page=numbers[bisect_right(offsets, start) - 1],
                tokens=count_tokens(body),
            )
        )
    return chunks


def _page_numbers(pages: Sequence[Page]) -> tuple[list[int], list[int]]:
    offsets: list[int] = []
    offset = 0
    for page in pages:
        offsets.append(offset)
        offset += len(page.text) + len(PAGE_SEPARATOR)
    return offsets, [page.number for page in pages]


class _Spans:
    """A text's tokens as parallel start and end offsets, and where chunks may be cut."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.starts: list[int] = []
        self.ends: list[int] = []
        for match in _TOKEN.finditer(text):
            start, end = match.span()
            self.starts.append(start)
            self.ends.append(end)

    def windows(self, chunking: Chunking) -> list[tuple[int, int]]:
        """Each chunk's tokens as ``(first, last)``: tokens ``first`` to ``last - 1``."""
        size, overlap = chunking.max_tokens, chunking.overlap
        count = len(self.starts)
        windows: list[tuple[int, int]] = []
        first = 0
        while first < count:
            last = self._end(first, size)
            windows.append((first, last))
            if last >= count:
                break
            first = self._next_start(first, last, overlap)
        return windows

    def _end(self, first: int, size: int) -> int:
        limit = first + size
        if limit >= len(self.starts):
            return len(self.starts)
        cut = self._best_cut(first + max(1, size // 2), limit)
        if cut is None:
            cut = self._space_before(first + 1, first + max(1, size // 2) - 1)
        return limit if cut is None else cut

    def _next_start(self, first: int, last: int, overlap: int) -> int:
        if overlap == 0:
            return last
        low = max(first + 1, last - overlap)
        high = last - overlap // 2
        cut = self._best_cut(low, high) if low <= high else None
        return last if cut is None else cut

    def _best_cut(self, low: int, high: int) -> int | None:
        """The token index in ``[low, high]`` with the best boundary before it, latest first.

        ``None`` when no token there follows whitespace.
        """
        earliest, latest = self.starts[low], self.starts[high]
        lookback = max(0, self.ends[low - 1] - 8)
        for boundary in _BOUNDARIES:
            best = -1
            for match in boundary.finditer(self.text, lookback, latest):
                if earliest <= match.end():
                    best = match.end()
            if best >= 0:
                return bisect_left(self.starts, best)
        return self._space_before(low, high)

    def _space_before(self, low: int, high: int) -> int | None:
        """The latest token index in ``[low, high]`` that follows whitespace."""
        for index in range(high, low - 1, -1):
            if self.ends[index - 1] < self.starts[index]:
                return index
        return None
