"""Gemini answers → Responses API ``output`` items, ``usage`` and the Response object.

A candidate's parts become, in order: a ``reasoning`` item (thought parts, as a summary),
a ``message`` item (text parts, one ``output_text`` with its ``annotations``) and a
``function_call`` item per ``functionCall`` part. ``finishReason`` decides ``status``:
``MAX_TOKENS`` and the safety reasons make an ``incomplete`` response. No clock is read
here: the caller passes ``created_at``.

Example:
    >>> gemini = {"candidates": [{"content": {"parts": [{"text": "Hi"}]},
    ...     "finishReason": "STOP"}], "usageMetadata": {"promptTokenCount": 2,
    ...     "candidatesTokenCount": 1, "totalTokenCount": 3}}
    >>> answer = response_object(gemini, "resp_1", "gemini-2.5-flash", created_at=0)
    >>> answer["status"], answer["output"][0]["content"][0]["text"], answer["usage"]["total_tokens"]
    ('completed', 'Hi', 3)
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from gemgate.wire.openai import citation_annotations, usage

__all__ = [
    "output_annotations",
    "function_call_item",
    "message_item",
    "new_id",
    "output_items",
    "reasoning_item",
    "response_object",
    "response_usage",
    "status_of",
]

_INCOMPLETE = {
    "MAX_TOKENS": "max_output_tokens",
    "SAFETY": "content_filter",
    "RECITATION": "content_filter",
    "BLOCKLIST": "content_filter",
    "PROHIBITED_CONTENT": "content_filter",
    "SPII": "content_filter",
    "IMAGE_SAFETY": "content_filter",
}


def new_id(prefix: str) -> str:
    """A fresh id in OpenAI's style: ``resp_…``, ``msg_…``, ``fc_…``, ``call_…``, ``rs_…``."""
    return f"{prefix}_{uuid.uuid4().hex}"


def output_annotations(grounding: Mapping[str, Any] | None, text: str) -> list[dict[str, Any]]:
    """Gemini ``groundingMetadata`` → Responses ``output_text`` annotations (flat citations)."""
    out: list[dict[str, Any]] = []
    for note in citation_annotations(grounding, text):
        if note["type"] == "url_citation":
            out.append({"type": "url_citation", **note["url_citation"]})
        else:
            cited = note["file_citation"]
            out.append(
                {
                    "type": "file_citation",
                    "file_id": cited["file_id"],
                    "filename": cited["filename"],
                    "index": cited["end_index"],
                }
            )
    return out


def response_usage(metadata: Mapping[str, Any] | None) -> dict[str, Any]:
    """Gemini ``usageMetadata`` → Responses ``usage`` (thoughts count as output)."""
    chat = usage(metadata)
    reasoning = chat.get("completion_tokens_details", {}).get("reasoning_tokens", 0)
    cached = chat.get("prompt_tokens_details", {}).get("cached_tokens", 0)
    return {
        "input_tokens": chat["prompt_tokens"],
        "input_tokens_details": {"cached_tokens": cached, "cache_write_tokens": 0},
        "output_tokens": chat["completion_tokens"],
        "output_tokens_details": {"reasoning_tokens": reasoning},
        "total_tokens": chat["total_tokens"],
    }


def reasoning_item(item_id: str, summary: str) -> dict[str, Any]:
    """A ``reasoning`` item whose summary is the model's thoughts."""
    parts = [{"type": "summary_text", "text": summary}] if summary else []
    return {"id": item_id, "type": "reasoning", "summary": parts, "status": "completed"}


def message_item(
    item_id: str, text: str | None, notes: Sequence[Mapping[str, Any]] = (), *, done: bool = True
) -> dict[str, Any]:
    """An assistant ``message`` item (no content part while ``text`` is None)."""
    content = (
        []
        if text is None
        else [{"type": "output_text", "text": text, "annotations": list(notes), "logprobs": []}]
    )
    return {
        "id": item_id,
        "type": "message",
        "role": "assistant",
        "status": "completed" if done else "in_progress",
        "content": content,
    }


def function_call_item(
    item_id: str, call_id: str, name: str, arguments: str, *, done: bool = True
) -> dict[str, Any]:
    """A ``function_call`` item."""
    return {
        "id": item_id,
        "type": "function_call",
        "call_id": call_id,
        "name": name,
        "arguments": arguments,
        "status": "completed" if done else "in_progress",
    }


def output_items(candidate: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One candidate's parts as output items: reasoning, then the message, then calls."""
    parts = candidate.get("content", {}).get("parts", [])
    thoughts = "".join(p["text"] for p in parts if "text" in p and p.get("thought"))
    text = "".join(p["text"] for p in parts if "text" in p and not p.get("thought"))
    out: list[dict[str, Any]] = []
    if thoughts:
        out.append(reasoning_item(new_id("rs"), thoughts))
    if text:
        notes = output_annotations(candidate.get("groundingMetadata"), text)
        out.append(message_item(new_id("msg"), text, notes))
    for part in parts:
        if "functionCall" in part:
            call = part["functionCall"]
            arguments = json.dumps(call.get("args", {}))
            out.append(function_call_item(new_id("fc"), new_id("call"), call["name"], arguments))
    return out


def status_of(reason: str | None, blocked: bool = False) -> tuple[str, dict[str, Any] | None]:
    """``finishReason`` (or a blocked prompt) → ``status`` and ``incomplete_details``."""
    if blocked:
        return "incomplete", {"reason": "content_filter"}
    why = _INCOMPLETE.get(reason or "")
    return ("incomplete", {"reason": why}) if why else ("completed", None)


def response_object(
    gemini: Mapping[str, Any],
    response_id: str,
    model: str,
    *,
    created_at: int,
    echo: Mapping[str, Any] | None = None,
    output: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A Gemini GenerateContentResponse as a Responses API ``response`` object.

    Args:
        gemini: The Gemini response (or, streamed, the last chunk: its finish and usage).
        response_id: The response's id (``resp_…``).
        model: The model name the response reports.
        created_at: Epoch seconds.
        echo: The request fields the object repeats (see ``ResponsesRequest.echo``).
        output: The output items, when already made (a stream's); else from ``gemini``.
    """
    candidates = gemini.get("candidates") or []
    first = candidates[0] if candidates else {}
    blocked = not candidates and bool(gemini.get("promptFeedback", {}).get("blockReason"))
    status, incomplete = status_of(first.get("finishReason"), blocked)
    return {
        "id": response_id,
        "object": "response",
        "created_at": created_at,
        "status": status,
        "error": None,
        "incomplete_details": incomplete,
        "model": model,
        "output": output_items(first) if output is None else output,
        "usage": response_usage(gemini.get("usageMetadata")),
        **(echo or {}),
    }
