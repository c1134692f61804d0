"""The ``fileSearch`` tool: ranking stored chunks and grounding an answer in them.

Chunks of the named stores' active documents that pass ``metadataFilter`` are scored
against the question: BM25 over stemmed words plus the cosine of the emulator's
deterministic embeddings. Only chunks sharing a content word with the question count.
The answer quotes the most relevant sentence of each of the best chunks; each sentence
is a ``groundingSupport`` whose segment gives UTF-8 byte offsets into the answer text.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from gemgate.documents import Chunk
from gemgate.emulator._embedding import embed_text
from gemgate.emulator._errors import invalid_argument
from gemgate.emulator._file_search import SearchStore, StoredDocument
from gemgate.emulator._metadata_filter import parse_filter
from gemgate.emulator._tokens import count_text
from gemgate.emulator._words import best_sentence, terms

__all__ = ["DEFAULT_TOP_K", "Grounding", "Hit", "search"]

DEFAULT_TOP_K = 5
_QUOTED = 3
_DIMENSIONS = 256
_WORD = re.compile(r"\w+", re.UNICODE)
_K1 = 1.2
_B = 0.75


def _cosine(a: Sequence[float], b: Sequence[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


@dataclass(frozen=True)
class Hit:
    """One retrieved chunk with its document, store and score."""

    chunk: Chunk
    document: StoredDocument
    store: str
    score: float

    def grounding_chunk(self) -> dict[str, Any]:
        """The wire ``GroundingChunk`` (``retrievedContext``)."""
        context: dict[str, Any] = {}
        if self.document.display_name:
            context["title"] = self.document.display_name
        context["text"] = self.chunk.text
        context["fileSearchStore"] = self.store
        if self.document.custom_metadata:
            context["customMetadata"] = self.document.custom_metadata
        if self.chunk.page:
            context["pageNumber"] = self.chunk.page
        return {"retrievedContext": context}


def search(
    stores: Sequence[SearchStore], tool: Mapping[str, Any], question: str, now: float
) -> list[Hit]:
    """The best chunks for ``question`` under one ``fileSearch`` tool's settings."""
    top_k = tool.get("topK", DEFAULT_TOP_K)
    if top_k < 0:
        raise invalid_argument("file_search.top_k must not be negative.")
    top_k = top_k or DEFAULT_TOP_K
    accept = parse_filter(tool["metadataFilter"]) if tool.get("metadataFilter") else None
    pool = [
        (chunk, document, store.name)
        for store in stores
        for document in store.documents.values()
        if document.state(now) == "STATE_ACTIVE" and (accept is None or accept(document.metadata))
        for chunk in document.chunks
    ]
    query = set(terms(question))
    if not pool or not query:
        return []
    bags = [terms(chunk.text) for chunk, _, _ in pool]
    average = sum(len(b) for b in bags) / len(bags) or 1.0
    frequency = {t: sum(1 for b in bags if t in b) for t in query}
    wanted = embed_text(question, _DIMENSIONS)
    hits = []
    for (chunk, document, store), bag in zip(pool, bags, strict=True):
        bm25 = 0.0
        for term in query:
            count = bag.count(term)
            if not count:
                continue
            idf = math.log(1 + (len(bags) - frequency[term] + 0.5) / (frequency[term] + 0.5))
            bm25 += idf * count * (_K1 + 1) / (count + _K1 * (1 - _B + _B * len(bag) / average))
        if bm25 > 0:
            score = bm25 + _cosine(wanted, embed_text(chunk.text, _DIMENSIONS))
            hits.append(Hit(chunk, document, store, score))
    hits.sort(key=lambda h: (-h.score, h.document.name, h.chunk.index))
    return hits[:top_k]


@dataclass(frozen=True)
class _Claim:
    sentence: str
    chunks: tuple[int, ...]
    scores: tuple[float, ...]


class Grounding:
    """What ``fileSearch`` found for one request: the hits and the answer built on them."""

    def __init__(self, hits: Sequence[Hit], question: str) -> None:
        self.hits = list(hits)
        query = set(terms(question))
        best = max((h.score for h in self.hits), default=1.0) or 1.0
        claims: list[_Claim] = []
        seen: set[str] = set()
        for hit in self.hits[:_QUOTED]:
            sentence = best_sentence(hit.chunk.text, query)
            if not sentence or sentence in seen:
                continue
            seen.add(sentence)
            holders = [i for i, h in enumerate(self.hits) if sentence in h.chunk.text]
            scores = tuple(round(min(1.0, self.hits[i].score / best), 4) for i in holders)
            claims.append(_Claim(sentence, tuple(holders), scores))
        self._claims = claims

    @property
    def answer(self) -> str:
        """The grounded answer: the quoted sentences, one after another."""
        return " ".join(c.sentence for c in self._claims)

    @property
    def tool_tokens(self) -> int:
        """Tokens of the retrieved chunks the model read (``toolUsePromptTokenCount``)."""
        return sum(count_text(h.chunk.text) for h in self.hits)

    def metadata(self, text: str) -> dict[str, Any]:
        """``groundingMetadata`` for the final ``text`` (supports cut short are dropped)."""
        supports = []
        for claim in self._claims:
            at = text.find(claim.sentence)
            if at < 0:
                continue
            start = len(text[:at].encode())
            segment: dict[str, Any] = {} if start == 0 else {"startIndex": start}
            segment["endIndex"] = start + len(claim.sentence.encode())
            segment["text"] = claim.sentence
            supports.append(
                {
                    "segment": segment,
                    "groundingChunkIndices": list(claim.chunks),
                    "confidenceScores": list(claim.scores),
                }
            )
        return {
            "groundingChunks": [h.grounding_chunk() for h in self.hits],
            "groundingSupports": supports,
        }
