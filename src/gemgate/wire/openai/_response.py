"""Gemini responses → OpenAI ``chat.completion`` and ``chat.completion.chunk``.

Thought parts are left out of ``content``; ``functionCall`` parts become ``tool_calls``
(with their thought signatures under ``extra_content.google``); ``finishReason`` and
``usageMetadata`` map as Gemini's own OpenAI-compatibility layer maps them. No clock is
read here: the caller passes ``created``.

Example:
    >>> response = {"candidates": [{"content": {"parts": [{"text": "Hi"}]},
    ...     "finishReason": "STOP"}], "responseId": "r1"}
    >>> completion(response, "gemini-2.5-flash", created=0)["choices"]
    [{'index': 0, 'message': {'role': 'assistant', 'content': 'Hi'}, 'finish_reason': 'stop'}]
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

__all__ = ["citation_annotations", "completion", "completion_chunk", "finish_reason", "usage"]

_FINISH = {
    "STOP": "stop",
    "MAX_TOKENS": "length",
    "SAFETY": "content_filter",
    "RECITATION": "content_filter",
    "BLOCKLIST": "content_filter",
    "PROHIBITED_CONTENT": "content_filter",
    "SPII": "content_filter",
    "IMAGE_SAFETY": "content_filter",
}


def finish_reason(reason: str | None, has_calls: bool) -> str | None:
    """Gemini ``finishReason`` → OpenAI ``finish_reason``."""
    if reason is None:
        return None
    if has_calls:
        return "tool_calls"
    return _FINISH.get(reason, "stop")


def usage(metadata: Mapping[str, Any] | None) -> dict[str, Any]:
    """Gemini ``usageMetadata`` → OpenAI ``usage``."""
    meta = metadata or {}
    prompt = int(meta.get("promptTokenCount", 0))
    total = int(meta.get("totalTokenCount", prompt))
    out: dict[str, Any] = {
        "prompt_tokens": prompt,
        "completion_tokens": total - prompt,
        "total_tokens": total,
    }
    if meta.get("thoughtsTokenCount"):
        out["completion_tokens_details"] = {"reasoning_tokens": int(meta["thoughtsTokenCount"])}
    if meta.get("cachedContentTokenCount"):
        out["prompt_tokens_details"] = {"cached_tokens": int(meta["cachedContentTokenCount"])}
    return out


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


def _message(candidate: Mapping[str, Any]) -> tuple[dict[str, Any], bool]:
    parts = candidate.get("content", {}).get("parts", [])
    text = "".join(p["text"] for p in parts if "text" in p and not p.get("thought"))
    calls = []
    for i, part in enumerate(p for p in parts if "functionCall" in p):
        call = part["functionCall"]
        entry: dict[str, Any] = {
            "id": call.get("id") or f"function-call-{i}",
            "type": "function",
            "function": {"name": call["name"], "arguments": json.dumps(call.get("args", {}))},
        }
        if part.get("thoughtSignature"):
            entry["extra_content"] = {"google": {"thought_signature": part["thoughtSignature"]}}
        calls.append(entry)
    message: dict[str, Any] = {"role": "assistant", "content": text or (None if calls else "")}
    if calls:
        message["tool_calls"] = calls
    cited = citation_annotations(candidate.get("groundingMetadata"), text)
    if cited:
        message["annotations"] = cited
    return message, bool(calls)


def completion(response: Mapping[str, Any], model: str, *, created: int) -> dict[str, Any]:
    """A Gemini GenerateContentResponse as an OpenAI ``chat.completion``."""
    choices = []
    for index, candidate in enumerate(response.get("candidates", [])):
        message, has_calls = _message(candidate)
        choices.append(
            {
                "index": candidate.get("index", index),
                "message": message,
                "finish_reason": finish_reason(candidate.get("finishReason", "STOP"), has_calls),
            }
        )
    if not choices and response.get("promptFeedback", {}).get("blockReason"):
        choices.append(
            {
                "index": 0,
                "message": {"role": "assistant", "content": ""},
                "finish_reason": "content_filter",
            }
        )
    return {
        "id": response.get("responseId", ""),
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": choices,
        "usage": usage(response.get("usageMetadata")),
    }


def completion_chunk(
    chunk: Mapping[str, Any], model: str, *, first: bool, created: int
) -> dict[str, Any]:
    """One Gemini stream chunk as an OpenAI ``chat.completion.chunk``."""
    choices = []
    for index, candidate in enumerate(chunk.get("candidates", [])):
        message, has_calls = _message(candidate)
        delta: dict[str, Any] = {"role": "assistant"} if first else {}
        if message.get("content"):
            delta["content"] = message["content"]
        if has_calls:
            delta["tool_calls"] = [dict(c, index=i) for i, c in enumerate(message["tool_calls"])]
        choices.append(
            {
                "index": candidate.get("index", index),
                "delta": delta,
                "finish_reason": finish_reason(candidate.get("finishReason"), has_calls),
            }
        )
    if not choices and chunk.get("promptFeedback", {}).get("blockReason"):
        delta = {"role": "assistant", "content": ""} if first else {}
        choices.append({"index": 0, "delta": delta, "finish_reason": "content_filter"})
    out: dict[str, Any] = {
        "id": chunk.get("responseId", ""),
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": choices,
    }
    if chunk.get("usageMetadata"):
        out["usage"] = usage(chunk["usageMetadata"])
    return out
