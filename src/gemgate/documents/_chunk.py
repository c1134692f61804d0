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
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass

from gemgate.documents._parse import PAGE_SEPARATOR, document_text
from gemgate.documents._types import Chunk, Page
from gemgate.errors import UsageError

__all__ = ["MAX_CHUNK_TOKENS", "Chunking", "chunk_pages", "count_tokens"]

MAX_CHUNK_TOKENS = 8192
"""The largest ``Chunking.max_tokens`` accepted."""

_TOKEN_PATTERN = r"\b\w{1,6}\b|\w{1,4}|[^\w\s]"
_TOKEN = re.compile(_TOKEN_PATTERN)
_STEPS = [
    (1 << power, re.compile(rf"(?:\s*(?:{_TOKEN_PATTERN})){{0,{1 << power}}}"))
    for power in range(MAX_CHUNK_TOKENS.bit_length() - 1, -1, -1)
]
"""Patterns that skip up to 2**k tokens at once, largest first."""
_BOUNDARIES = (
    re.compile(r"\n[^\S\n]*\n\s*"),
    re.compile(r"[.!?\u2026][\"'\u201d\u2019)\]]*[^\S\n]*\n\s*"),
    re.compile(r"[.!?\u2026][\"'\u201d\u2019)\]]*\s+|[\u3002\uff01\uff1f]\s*"),
    re.compile(r"\n\s*"),
)
"""Where a chunk may end, best first; a match ends where the next chunk may start."""
_LAST_SPACE = re.compile(r".*\s", re.DOTALL)
_NONSPACE = re.compile(r"\S")
_LAST_NONSPACE = re.compile(r".*\S", re.DOTALL)


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

    ``max_tokens`` is 1 to :data:`MAX_CHUNK_TOKENS`; ``overlap`` is 0 to less than half
    of ``max_tokens``.
    """

    max_tokens: int = 400
    overlap: int = 80

    def __post_init__(self) -> None:
        if type(self.max_tokens) is not int or not 1 <= self.max_tokens <= MAX_CHUNK_TOKENS:
            raise UsageError(f"Chunking.max_tokens must be an integer from 1 to {MAX_CHUNK_TOKENS}")
        ok = self.overlap == 0 or 0 < self.overlap < self.max_tokens // 2
        if type(self.overlap) is not int or not ok:
            raise UsageError("Chunking.overlap must be 0, or an integer below max_tokens / 2")


def chunk_pages(pages: Sequence[Page], chunking: Chunking = Chunking()) -> list[Chunk]:
    """Cut pages into chunks of the document's whole text (:func:`document_text`).

    Each chunk's ``text`` is ``document_text(pages)[start:end]`` without surrounding
    whitespace; ``page`` is the number of the page it starts on and ``tokens`` its
    :func:`count_tokens`. ``id`` and ``document_id`` are left empty for the caller.
    Page offsets are derived from the texts, so the pages' own ``offset`` is not needed.
    """
    text = document_text(pages)
    offsets, numbers = _page_numbers(pages)
    chunks: list[Chunk] = []
    for start, end, tokens in _Cutter(text).spans(chunking):
        chunks.append(
            Chunk(
                id="",
                document_id="",
                index=len(chunks),
                text=text[start:end],
                start=start,
                end=end,
                page=numbers[bisect_right(offsets, start) - 1],
                tokens=tokens,
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


class _Cutter:
    """Finds chunk spans in a text by skipping over tokens with regular expressions."""

    def __init__(self, text: str) -> None:
        self.text = text

    def spans(self, chunking: Chunking) -> list[tuple[int, int, int]]:
        """Each chunk as ``(start, end, tokens)``."""
        size, overlap = chunking.max_tokens, chunking.overlap
        spans: list[tuple[int, int, int]] = []
        start = self._next_token(0)
        while start is not None:
            half = self._advance(start, size // 2)
            limit = self._advance(half, size - size // 2)
            after = self._next_token(limit)
            end, following = (
                (limit, None) if after is None else self._cut(start, half, limit, after)
            )
            tokens = count_tokens(self.text[start:end])
            spans.append((start, end, tokens))
            if following is None:
                break
            start = self._overlap_start(start, tokens, following, overlap)
        return spans

    def _advance(self, position: int, count: int) -> int:
        """The end of the ``count``-th token from ``position`` (or of the text's last one)."""
        for step, pattern in _STEPS:
            if count >= step:
                count -= step
                match = pattern.match(self.text, position)
                position = position if match is None else match.end()
        return position

    def _next_token(self, position: int) -> int | None:
        match = _NONSPACE.search(self.text, position)
        return None if match is None else match.start()

    def _cut(self, start: int, half: int, limit: int, after: int) -> tuple[int, int]:
        """Where a chunk from ``start`` ends, and where the text after it begins.

        ``half`` and ``limit`` end the half-size and full-size chunks; ``after`` starts
        the token after the full one.
        """
        following = self._best_cut(half, after)
        if following is None:
            following = self._best_cut(self._advance(start, 1), half, spaces_only=True)
        if following is None or following <= start:  # no boundary past the start: cut at limit
            return limit, after
        match = _LAST_NONSPACE.match(self.text, start, following)
        return (following if match is None else match.end()), following

    def _overlap_start(self, start: int, tokens: int, following: int, overlap: int) -> int:
        if overlap == 0 or tokens <= overlap:
            return following
        low = self._advance(start, tokens - overlap)
        high = self._next_token(self._advance(low, overlap - overlap // 2))
        cut = None if high is None else self._best_cut(low, high)
        return following if cut is None or not start < cut <= following else cut

    def _best_cut(self, low: int, high: int, *, spaces_only: bool = False) -> int | None:
        """The start of the token in ``(low, high]`` with the best boundary before it.

        The latest of the best; ``None`` when no token there follows whitespace.
        """
        earliest = self._next_token(low)
        if earliest is None or earliest > high:
            return None
        for boundary in () if spaces_only else _BOUNDARIES:
            best = -1
            for match in boundary.finditer(self.text, max(0, low - 8), high):
                if earliest <= match.end():
                    best = match.end()
            if best >= 0:
                return best
        space = _LAST_SPACE.match(self.text, low, high)
        return None if space is None else space.end()
