"""Gemini ``groundingMetadata`` → Anthropic ``web_search_result_location`` citations.

Example:
    >>> grounding = {"groundingChunks": [{"web": {"uri": "https://a.example", "title": "A"}}],
    ...     "groundingSupports": [{"segment": {"startIndex": 0, "endIndex": 5},
    ...     "groundingChunkIndices": [0]}]}
    >>> [c["cited_text"] for c in citations(grounding, "Paris is lovely.")]
    ['Paris']
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["citations"]


def citations(grounding: Mapping[str, Any] | None, text: str) -> list[dict[str, Any]]:
    """Web sources of ``groundingMetadata`` → ``web_search_result_location`` citations."""
    if not grounding:
        return []
    chunks = grounding.get("groundingChunks") or []
    data = text.encode()
    out: list[dict[str, Any]] = []
    for support in grounding.get("groundingSupports") or []:
        segment = support.get("segment") or {}
        start, end = int(segment.get("startIndex", 0)), int(segment.get("endIndex", 0))
        cited = segment.get("text") or data[start:end].decode(errors="ignore")
        for index in support.get("groundingChunkIndices") or []:
            web = chunks[index].get("web") if 0 <= index < len(chunks) else None
            if web and web.get("uri"):
                out.append(
                    {
                        "type": "web_search_result_location",
                        "cited_text": cited,
                        "url": web["uri"],
                        "title": web.get("title"),
                        "encrypted_index": "",
                    }
                )
    return out
