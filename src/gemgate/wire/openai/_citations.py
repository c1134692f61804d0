"""Gemini's sources → OpenAI message ``annotations``.

``groundingMetadata`` (Google Search, File Search, retrieval) gives one annotation per
supported span and source; ``urlContextMetadata`` (the URL context tool) one
``url_citation`` per page retrieved, spanning the whole answer.

Example:
    >>> url_annotations({"urlMetadata": [{"retrievedUrl": "https://a.example/",
    ...     "urlRetrievalStatus": "URL_RETRIEVAL_STATUS_SUCCESS"}]}, "Hi")
    [{'type': 'url_citation', 'url_citation': {'start_index': 0, 'end_index': 2, \
'url': 'https://a.example/', 'title': ''}}]
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["citation_annotations", "url_annotations"]

_RETRIEVED = "URL_RETRIEVAL_STATUS_SUCCESS"


def citation_annotations(grounding: Mapping[str, Any] | None, text: str) -> list[dict[str, Any]]:
    """Gemini ``groundingMetadata`` → OpenAI message ``annotations``.

    Each supported span of ``text`` gets one annotation per source: ``url_citation``
    for web sources and sources with a URL, ``file_citation`` (``file_id`` is the
    document's name) for retrieved documents. Gemini's UTF-8 byte offsets become the
    character offsets OpenAI uses.
    """
    if not grounding:
        return []
    chunks = grounding.get("groundingChunks") or []
    data = text.encode()
    out: list[dict[str, Any]] = []
    for support in grounding.get("groundingSupports") or []:
        segment = support.get("segment") or {}
        end_byte = int(segment.get("endIndex", 0))
        start = len(data[: int(segment.get("startIndex", 0))].decode(errors="ignore"))
        end = len(data[:end_byte].decode(errors="ignore"))
        for index in support.get("groundingChunkIndices") or []:
            if not 0 <= index < len(chunks):
                continue
            chunk = chunks[index]
            source = chunk.get("web") or chunk.get("retrievedContext") or {}
            title = source.get("title", "")
            if source.get("uri"):
                citation = {"start_index": start, "end_index": end, "url": source["uri"]}
                out.append({"type": "url_citation", "url_citation": {**citation, "title": title}})
            else:
                cited = {
                    "start_index": start,
                    "end_index": end,
                    "file_id": source.get("documentName", ""),
                    "filename": title,
                }
                out.append({"type": "file_citation", "file_citation": cited})
    return out


def url_annotations(metadata: Mapping[str, Any] | None, text: str) -> list[dict[str, Any]]:
    """Gemini ``urlContextMetadata`` → a ``url_citation`` per page retrieved."""
    out: list[dict[str, Any]] = []
    for entry in (metadata or {}).get("urlMetadata") or []:
        url = entry.get("retrievedUrl")
        if url and entry.get("urlRetrievalStatus", _RETRIEVED) == _RETRIEVED:
            cited = {"start_index": 0, "end_index": len(text), "url": url, "title": ""}
            out.append({"type": "url_citation", "url_citation": cited})
    return out
