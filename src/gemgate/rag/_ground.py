"""Grounded answers: sources into the request, citations out of the answer.

The retrieved chunks go into the request's system instruction as numbered sources,
with the instruction to cite them as ``[n]``. Citations are then read off the answer:
a sentence's ``[n]`` markers name its sources; a sentence without markers is credited
to the source that shares most of its words, when that is most of them. The result is
reported in Gemini's own shape (``groundingMetadata`` with ``groundingChunks`` and
``groundingSupports``, offsets in UTF-8 bytes), so answers grounded here and by
Gemini's File Search read the same on every face.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from gemgate.rag._types import Citation, Hit

__all__ = [
    "GroundedStream",
    "citations",
    "ground_response",
    "grounded_request",
    "grounding_metadata",
    "sources_text",
]

INSTRUCTION = (
    "Answer from the numbered sources below. After each sentence that uses a source, "
    "cite it as [n] (several as [1][3]). If the sources do not hold the answer, say so."
)
_SENTENCE = re.compile(r"[^.!?\n]+(?:[.!?]+(?:\s*\[[\d,\s]+\])*|\n|$)")
_MARKER = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")
_WORD = re.compile(r"\w+", re.UNICODE)
_MIN_WORDS = 3
_MIN_SHARE = 0.5
_STOP = frozenset(
    [
        "the",
        "a",
        "an",
        "and",
        "or",
        "of",
        "to",
        "in",
        "on",
        "for",
        "with",
        "by",
        "as",
        "at",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "it",
        "its",
        "this",
        "that",
        "these",
        "those",
        "from",
        "which",
        "who",
        "what",
        "when",
        "where",
        "how",
        "not",
        "no",
        "but",
        "if",
        "then",
        "than",
        "so",
    ]
)


def sources_text(hits: Sequence[Hit]) -> str:
    """The numbered sources block: ``[n] name (page p): chunk text``."""
    lines = []
    for n, hit in enumerate(hits, 1):
        where = f", page {hit.chunk.page}" if hit.chunk.page else ""
        body = " ".join(hit.chunk.text.split())
        lines.append(f"[{n}] {hit.document.name}{where}: {body}")
    return "\n".join(lines)


def grounded_request(request: Mapping[str, Any], hits: Sequence[Hit]) -> dict[str, Any]:
    """``request`` with ``hits`` as numbered sources in its system instruction."""
    out = dict(request)
    if not hits:
        return out
    block = {"text": f"{INSTRUCTION}\n\nSources:\n{sources_text(hits)}"}
    system = out.get("systemInstruction") or out.get("system_instruction")
    out.pop("system_instruction", None)
    parts = list(system.get("parts", [])) if isinstance(system, Mapping) else []
    out["systemInstruction"] = {"parts": [*parts, block]}
    return out


def _words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if len(w) > 2 and w not in _STOP}


def citations(answer: str, hits: Sequence[Hit]) -> list[Citation]:
    """The answer's sentences that the hits support, with the hits (0-based) of each."""
    if not hits:
        return []
    chunk_words = [_words(hit.chunk.text) for hit in hits]
    out: list[Citation] = []
    for match in _SENTENCE.finditer(answer):
        sentence = match.group().strip()
        if not sentence:
            continue
        start = match.start() + match.group().index(sentence)
        end = start + len(sentence)
        marked = sorted(
            {
                int(n) - 1
                for group in _MARKER.findall(sentence)
                for n in group.split(",")
                if 1 <= int(n) <= len(hits)
            }
        )
        if marked:
            out.append(Citation(start, end, sentence, tuple(marked), 1.0))
            continue
        words = _words(sentence)
        if len(words) < _MIN_WORDS:
            continue
        shares = [len(words & chunk) / len(words) for chunk in chunk_words]
        best = max(range(len(hits)), key=lambda i: shares[i])
        if shares[best] >= _MIN_SHARE:
            out.append(Citation(start, end, sentence, (best,), round(shares[best], 3)))
    return out


def grounding_metadata(answer: str, hits: Sequence[Hit]) -> dict[str, Any]:
    """Gemini's ``groundingMetadata`` for ``answer`` grounded on ``hits``.

    ``groundingChunks`` lists every hit the model was given (``retrievedContext`` with
    the document's name as title, the chunk's text, ``documentName``
    ``stores/{store}/documents/{document}``, the page and the source URL when there is
    one); ``groundingSupports`` has one entry per cited sentence, with UTF-8 byte offsets
    into the answer as Gemini gives them.
    """
    chunks = []
    for hit in hits:
        context: dict[str, Any] = {
            "title": hit.document.name,
            "text": hit.chunk.text,
            "documentName": f"stores/{hit.document.store_id}/documents/{hit.document.id}",
        }
        if hit.chunk.page:
            context["pageNumber"] = hit.chunk.page
        if hit.document.source.startswith(("http://", "https://")):
            context["uri"] = hit.document.source
        chunks.append({"retrievedContext": context})
    supports = []
    for cite in citations(answer, hits):
        start = len(answer[: cite.start].encode())
        end = start + len(cite.text.encode())
        supports.append(
            {
                "segment": {"startIndex": start, "endIndex": end, "text": cite.text},
                "groundingChunkIndices": list(cite.sources),
                "confidenceScores": [cite.score] * len(cite.sources),
            }
        )
    return {"groundingChunks": chunks, "groundingSupports": supports}


def ground_response(response: dict[str, Any], hits: Sequence[Hit]) -> dict[str, Any]:
    """Ground each candidate of a GenerateContentResponse on ``hits``, in place.

    A candidate the model grounded itself (File Search) keeps its own metadata.
    """
    for candidate in response.get("candidates", []):
        if candidate.get("groundingMetadata"):
            continue
        parts = candidate.get("content", {}).get("parts", [])
        text = "".join(p.get("text", "") for p in parts if not p.get("thought"))
        if text:
            candidate["groundingMetadata"] = grounding_metadata(text, hits)
    return response


class GroundedStream:
    """Grounds a stream of GenerateContentResponse chunks on ``hits``, chunk by chunk.

    Texts are gathered per candidate; the chunk that finishes a candidate gets the
    ``groundingMetadata`` of the whole text (unless the model grounded it itself).
    """

    def __init__(self, hits: Sequence[Hit]) -> None:
        self._hits = hits
        self._texts: dict[int, list[str]] = {}

    def feed(self, chunk: dict[str, Any]) -> dict[str, Any]:
        """``chunk``, grounded in place if it finishes a candidate."""
        for position, candidate in enumerate(chunk.get("candidates", [])):
            seen = self._texts.setdefault(candidate.get("index", position), [])
            for part in candidate.get("content", {}).get("parts", []):
                if "text" in part and not part.get("thought"):
                    seen.append(part["text"])
            done = candidate.get("finishReason") and not candidate.get("groundingMetadata")
            if done and self._hits and seen:
                candidate["groundingMetadata"] = grounding_metadata("".join(seen), self._hits)
        return chunk
