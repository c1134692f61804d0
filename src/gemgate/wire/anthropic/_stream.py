r"""Gemini answers → Anthropic's stream events, and the SSE framing of those events.

:class:`MessageStream` turns one answer's Gemini chunks, in order, into Anthropic's
events: ``message_start``, ``ping``, then per content block ``content_block_start``,
``content_block_delta`` (``text_delta``, ``thinking_delta``, ``signature_delta``,
``input_json_delta``) and ``content_block_stop``, then ``message_delta`` (stop reason,
usage) and ``message_stop``. The non-streamed message is these events accumulated
(:func:`~gemgate.wire.anthropic._response.message`), so both agree block for block.

Blocks:

* thought parts → ``thinking`` blocks (fragments of one thought join; a signature on
  the thought is the block's ``signature``);
* text parts → ``text`` blocks; ``functionCall`` parts → ``tool_use`` blocks;
* a thought signature on a text or ``functionCall`` part → a ``thinking`` block with no
  text whose ``signature`` is it: just before a ``tool_use`` block, just after the text
  it signs;
* web sources of ``groundingMetadata`` → ``citations_delta`` events on the open text
  block (``web_search_result_location`` citations).

Clients send assistant content back as they got it, and
:func:`~gemgate.wire.anthropic._content.messages_to_contents` puts signatures back in place.

Example:
    >>> stream = MessageStream("gemini-2.5-flash", "msg_1")
    >>> chunk = {"candidates": [{"content": {"parts": [{"text": "Hi"}]},
    ...     "finishReason": "STOP"}], "usageMetadata": {"promptTokenCount": 3,
    ...     "candidatesTokenCount": 1, "totalTokenCount": 4}}
    >>> events = [*stream.start(chunk), *stream.convert(chunk), *stream.finish()]
    >>> [e["type"] for e in events]  # doctest: +NORMALIZE_WHITESPACE
    ['message_start', 'ping', 'content_block_start', 'content_block_delta',
     'content_block_stop', 'message_delta', 'message_stop']
    >>> events[-2]["delta"], events[-2]["usage"]["output_tokens"]
    ({'stop_reason': 'end_turn', 'stop_sequence': None}, 1)
    >>> sse_event(events[-1])
    b'event: message_stop\ndata: {"type":"message_stop"}\n\n'
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from gemgate.wire.anthropic._citations import citations

__all__ = ["MessageStream", "sse_event", "stop_reason", "usage"]

_STOP = {
    "STOP": "end_turn",
    "MAX_TOKENS": "max_tokens",
    "SAFETY": "refusal",
    "RECITATION": "refusal",
    "BLOCKLIST": "refusal",
    "PROHIBITED_CONTENT": "refusal",
    "SPII": "refusal",
    "IMAGE_SAFETY": "refusal",
}


def stop_reason(finish: str | None, used_tools: bool) -> str:
    """Gemini ``finishReason`` → Anthropic ``stop_reason`` (``tool_use`` after calls)."""
    if used_tools and finish in (None, "STOP"):
        return "tool_use"
    return _STOP.get(finish or "STOP", "end_turn")


def usage(metadata: Mapping[str, Any] | None) -> dict[str, Any]:
    """Gemini ``usageMetadata`` → Anthropic ``usage`` (thoughts count as output)."""
    meta = metadata or {}
    cached = int(meta.get("cachedContentTokenCount", 0))
    prompt = int(meta.get("promptTokenCount", 0)) + int(meta.get("toolUsePromptTokenCount", 0))
    output = int(meta.get("candidatesTokenCount", 0)) + int(meta.get("thoughtsTokenCount", 0))
    return {
        "input_tokens": max(prompt - cached, 0),
        "output_tokens": output,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": cached,
    }


def sse_event(event: Mapping[str, Any]) -> bytes:
    r"""One event as Anthropic frames it: ``event: <type>\ndata: <json>\n\n``."""
    data = json.dumps(event, separators=(",", ":"), ensure_ascii=False)
    return f"event: {event['type']}\ndata: {data}\n\n".encode()


class MessageStream:
    """Converts one answer's Gemini chunks, in order, to Anthropic stream events.

    Args:
        model: The model name the message reports.
        message_id: The message's id (``msg_…``); tool call ids derive from it.
    """

    def __init__(self, model: str, message_id: str) -> None:
        self.model = model
        self.id = message_id
        self._index = -1
        self._open: str | None = None
        """The kind of the open block (``text``/``thinking``), or None."""
        self._signed = False
        self._calls = 0
        self._finish: str | None = None
        self._blocked = False
        self._usage: Mapping[str, Any] | None = None
        self._said: list[str] = []
        """The text so far (grounding segments index into it)."""
        self._pending: str | None = None
        """A signature for the open text block, sent once the block is done."""

    def start(self, first: Mapping[str, Any] | None) -> list[dict[str, Any]]:
        """``message_start`` (input usage from ``first``, the first chunk) and a ``ping``."""
        counted = usage((first or {}).get("usageMetadata"))
        message: dict[str, Any] = {
            "id": self.id,
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {**counted, "output_tokens": 0},
        }
        return [{"type": "message_start", "message": message}, {"type": "ping"}]

    def convert(self, chunk: Mapping[str, Any]) -> list[dict[str, Any]]:
        """The events for the next Gemini chunk (only the first candidate counts)."""
        if chunk.get("usageMetadata"):
            self._usage = chunk["usageMetadata"]
        if chunk.get("promptFeedback", {}).get("blockReason"):
            self._blocked = True
        candidates = chunk.get("candidates") or []
        if not candidates:
            return []
        candidate = candidates[0]
        if candidate.get("finishReason"):
            self._finish = candidate["finishReason"]
        events: list[dict[str, Any]] = []
        for part in (candidate.get("content") or {}).get("parts") or []:
            if part.get("thought"):
                self._thought(part, events)
            elif "functionCall" in part:
                self._call(part, events)
            elif "text" in part:
                self._text(part, events)
        if candidate.get("groundingMetadata") and self._open == "text":
            for citation in citations(candidate["groundingMetadata"], "".join(self._said)):
                self._delta({"type": "citations_delta", "citation": citation}, events)
        self._sign(events)
        return events

    def finish(self) -> list[dict[str, Any]]:
        """Close the open block; then ``message_delta`` and ``message_stop``."""
        events: list[dict[str, Any]] = []
        self._sign(events)
        self._close(events)
        reason = "refusal" if self._blocked else stop_reason(self._finish, self._calls > 0)
        delta = {"stop_reason": reason, "stop_sequence": None}
        events.append({"type": "message_delta", "delta": delta, "usage": usage(self._usage)})
        events.append({"type": "message_stop"})
        return events

    def _open_block(self, block: dict[str, Any], events: list[dict[str, Any]]) -> None:
        self._sign(events)
        self._close(events)
        self._index += 1
        self._open, self._signed = block["type"], False
        events.append({"type": "content_block_start", "index": self._index, "content_block": block})

    def _sign(self, events: list[dict[str, Any]]) -> None:
        """The pending text signature, in a block of its own after the text."""
        signature, self._pending = self._pending, None
        if signature:
            self._signature(signature, events)

    def _close(self, events: list[dict[str, Any]]) -> None:
        if self._open is not None:
            events.append({"type": "content_block_stop", "index": self._index})
            self._open = None

    def _delta(self, delta: dict[str, Any], events: list[dict[str, Any]]) -> None:
        events.append({"type": "content_block_delta", "index": self._index, "delta": delta})

    def _signature(self, signature: str, events: list[dict[str, Any]]) -> None:
        """A thinking block that only carries ``signature``."""
        self._open_block({"type": "thinking", "thinking": "", "signature": ""}, events)
        self._delta({"type": "signature_delta", "signature": signature}, events)
        self._close(events)

    def _thought(self, part: Mapping[str, Any], events: list[dict[str, Any]]) -> None:
        if self._open != "thinking" or self._signed:
            self._open_block({"type": "thinking", "thinking": "", "signature": ""}, events)
        if part.get("text"):
            self._delta({"type": "thinking_delta", "thinking": part["text"]}, events)
        if part.get("thoughtSignature"):
            self._delta({"type": "signature_delta", "signature": part["thoughtSignature"]}, events)
            self._signed = True

    def _text(self, part: Mapping[str, Any], events: list[dict[str, Any]]) -> None:
        if part.get("text"):
            if self._open != "text":
                self._open_block({"type": "text", "text": ""}, events)
            self._delta({"type": "text_delta", "text": part["text"]}, events)
            self._said.append(part["text"])
        if part.get("thoughtSignature"):
            self._pending = part["thoughtSignature"]

    def _call(self, part: Mapping[str, Any], events: list[dict[str, Any]]) -> None:
        if part.get("thoughtSignature"):
            self._signature(part["thoughtSignature"], events)
        call = part["functionCall"]
        call_id = call.get("id") or f"toolu_{self.id.removeprefix('msg_')}_{self._calls}"
        self._calls += 1
        block = {"type": "tool_use", "id": call_id, "name": call.get("name", ""), "input": {}}
        self._open_block(block, events)
        arguments = json.dumps(call.get("args") or {}, separators=(",", ":"))
        self._delta({"type": "input_json_delta", "partial_json": arguments}, events)
        self._close(events)
