r"""Streamed answers: Gemini chunks → ``chat.completion.chunk`` dicts, and OpenAI's SSE.

:class:`ChunkStream` keeps what a stream needs across chunks (is this the first chunk,
the stream's id, the latest usage). OpenAI frames each chunk as ``data: <json>\n\n``
(:func:`sse_frame`) and ends a clean stream with :data:`SSE_DONE`.

Example:
    >>> chunks = ChunkStream("gemini-2.5-flash", created=0, usage_on_chunks=False)
    >>> gemini = {"candidates": [{"content": {"parts": [{"text": "Hi"}]},
    ...     "finishReason": "STOP"}], "responseId": "r1",
    ...     "usageMetadata": {"promptTokenCount": 2, "totalTokenCount": 3}}
    >>> sse_frame(chunks.convert(gemini))[:60]
    b'data: {"id":"r1","object":"chat.completion.chunk","created":'
    >>> chunks.usage_chunk()["usage"]
    {'prompt_tokens': 2, 'completion_tokens': 1, 'total_tokens': 3}
    >>> SSE_DONE
    b'data: [DONE]\n\n'
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from gemgate.wire.openai._candidate import PartsView
from gemgate.wire.openai._citations import citation_annotations, url_annotations
from gemgate.wire.openai._response import completion_chunk

__all__ = ["SSE_DONE", "ChunkStream", "sse_frame"]

SSE_DONE = b"data: [DONE]\n\n"
"""The frame that ends a clean OpenAI stream."""


def sse_frame(value: Any) -> bytes:
    r"""One server-sent event carrying ``value`` as compact JSON: ``data: …\n\n``."""
    return b"data: " + json.dumps(value, separators=(",", ":")).encode() + b"\n\n"


class ChunkStream:
    """Converts one stream's Gemini chunks, in order, to ``chat.completion.chunk`` dicts.

    Args:
        model: The model name the chunks report.
        created: The stream's creation time (epoch seconds), the same on every chunk.
        usage_on_chunks: Keep ``usage`` on the chunks that carry it (the library's
            way); False moves it to :meth:`usage_chunk` (OpenAI's ``include_usage``).
        thought_tag: Google's ``thought_tag_marker``: thoughts also stream in
            ``content``, inside ``<tag>…</tag>``.
    """

    def __init__(
        self,
        model: str,
        *,
        created: int,
        usage_on_chunks: bool = True,
        thought_tag: str | None = None,
    ) -> None:
        self.model = model
        self.created = created
        self.usage_on_chunks = usage_on_chunks
        self.thought_tag = thought_tag
        self.id: str | None = None
        """The stream's id (the first chunk's ``responseId``)."""
        self.usage: dict[str, Any] | None = None
        """The latest usage seen."""
        self._texts: dict[int, list[str]] = {}
        self._views: dict[int, PartsView] = {}
        self._thinking: set[int] = set()

    def _tag(self, index: int, delta: dict[str, Any], finished: bool) -> None:
        """``<tag>`` before a choice's first thought; ``</tag>`` before its answer or end."""
        tag = self.thought_tag
        if not tag:
            return
        thoughts, content = delta.get("reasoning_content"), delta.get("content")
        text = ""
        if thoughts:
            text += thoughts if index in self._thinking else f"<{tag}>{thoughts}"
            self._thinking.add(index)
        if (content or finished) and index in self._thinking:
            self._thinking.discard(index)
            text += f"</{tag}>"
        if text:
            delta["content"] = text + (content or "")

    def convert(self, chunk: Mapping[str, Any]) -> dict[str, Any]:
        """The next Gemini chunk as a ``chat.completion.chunk``."""
        out = completion_chunk(
            chunk, self.model, first=self.id is None, created=self.created, views=self._views
        )
        for candidate, choice in zip(chunk.get("candidates", []), out["choices"], strict=False):
            delta = choice["delta"]
            seen = self._texts.setdefault(choice["index"], [])
            seen += [p["text"] for p in _parts(candidate) if "text" in p and not p.get("thought")]
            self._tag(choice["index"], delta, choice["finish_reason"] is not None)
            text = "".join(seen)
            cited = citation_annotations(candidate.get("groundingMetadata"), text)
            cited += url_annotations(candidate.get("urlContextMetadata"), text)
            if cited:
                delta["annotations"] = cited
        if self.id is None:
            self.id = out["id"]
        if "usage" in out:
            self.usage = out["usage"] if self.usage_on_chunks else out.pop("usage")
        return out

    def usage_chunk(self) -> dict[str, Any] | None:
        """The closing chunk OpenAI sends with ``include_usage``: no choices, the usage."""
        if self.usage is None:
            return None
        return {
            "id": self.id or "",
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [],
            "usage": self.usage,
        }


def _parts(candidate: Mapping[str, Any]) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = candidate.get("content", {}).get("parts", [])
    return parts
