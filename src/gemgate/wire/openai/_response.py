"""Gemini responses → OpenAI ``chat.completion`` and ``chat.completion.chunk``.

Parts map as :mod:`~gemgate.wire.openai._candidate` reads them (thoughts to
``reasoning_content``, never ``content``; ``functionCall`` parts to ``tool_calls`` with
their thought signatures); ``finishReason`` and ``usageMetadata`` map as Gemini's own
OpenAI-compatibility layer maps them. Nothing is lost: what OpenAI has no field for
rides under ``extra_content.google`` (on the message: ``grounding_metadata``,
``url_context_metadata``, ``safety_ratings``, the raw ``finish_reason`` …; on the
completion: ``model_version``, ``prompt_feedback``, ``usage_metadata`` …). With a
``thought_tag`` (Google's ``thought_tag_marker``), the thoughts also open ``content``
inside ``<tag>…</tag>``, as Google's layer does. No clock is read here: the caller
passes ``created``.

Example:
    >>> response = {"candidates": [{"content": {"parts": [{"text": "Hi"}]},
    ...     "finishReason": "STOP"}], "responseId": "r1"}
    >>> completion(response, "gemini-2.5-flash", created=0)["choices"]
    [{'index': 0, 'message': {'role': 'assistant', 'content': 'Hi'}, 'finish_reason': 'stop'}]
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gemgate.wire._names import snake
from gemgate.wire.openai._candidate import PartsView
from gemgate.wire.openai._citations import citation_annotations, url_annotations

__all__ = ["completion", "completion_chunk", "finish_reason", "usage"]

_CANDIDATE_EXTRAS = (
    "finishReason",
    "finishMessage",
    "safetyRatings",
    "citationMetadata",
    "groundingMetadata",
    "groundingAttributions",
    "urlContextMetadata",
    "avgLogprobs",
    "logprobsResult",
    "tokenCount",
)
_PLAIN_FINISH = frozenset({"STOP", "MAX_TOKENS"})
_RESPONSE_EXTRAS = ("modelVersion", "createTime", "promptFeedback", "usageMetadata")

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


def candidate_extras(candidate: Mapping[str, Any]) -> dict[str, Any]:
    """What a candidate says beside its parts, snake-named, for ``extra_content.google``.

    The ``finishReason`` is there when OpenAI's cannot tell it (not ``STOP`` or
    ``MAX_TOKENS``).
    """
    out = {snake(k): candidate[k] for k in _CANDIDATE_EXTRAS if candidate.get(k) is not None}
    if out.get("finish_reason") in _PLAIN_FINISH:
        del out["finish_reason"]
    return out


def _tagged(fields: dict[str, Any], tag: str | None) -> None:
    if tag and fields.get("reasoning_content"):
        thoughts = fields["reasoning_content"]
        fields["content"] = f"<{tag}>{thoughts}</{tag}>" + fields.get("content", "")


def _message(candidate: Mapping[str, Any], tag: str | None) -> tuple[dict[str, Any], bool]:
    parts = candidate.get("content", {}).get("parts", [])
    view = PartsView()
    fields = view.feed(parts)
    _tagged(fields, tag)
    calls = fields.pop("tool_calls", [])
    message: dict[str, Any] = {
        "role": "assistant",
        "content": fields.pop("content", None) or (None if calls else ""),
    }
    message.update(fields)
    if calls:
        message["tool_calls"] = [{k: v for k, v in c.items() if k != "index"} for c in calls]
    text = "".join(p["text"] for p in parts if "text" in p and not p.get("thought"))
    cited = citation_annotations(candidate.get("groundingMetadata"), text)
    cited += url_annotations(candidate.get("urlContextMetadata"), text)
    if cited:
        message["annotations"] = cited
    google = message.get("extra_content", {}).get("google", {})
    if view.raw:
        google["parts"] = view.whole()
    google.update(candidate_extras(candidate))
    if google:
        message["extra_content"] = {"google": google}
    return message, bool(calls)


def response_extras(response: Mapping[str, Any]) -> dict[str, Any]:
    """What a response says beside its candidates, snake-named."""
    return {snake(k): response[k] for k in _RESPONSE_EXTRAS if response.get(k) is not None}


def completion(
    response: Mapping[str, Any], model: str, *, created: int, thought_tag: str | None = None
) -> dict[str, Any]:
    """A Gemini GenerateContentResponse as an OpenAI ``chat.completion``."""
    choices = []
    for index, candidate in enumerate(response.get("candidates", [])):
        message, has_calls = _message(candidate, thought_tag)
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
    out = {
        "id": response.get("responseId", ""),
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": choices,
        "usage": usage(response.get("usageMetadata")),
    }
    extras = response_extras(response)
    if extras:
        out["extra_content"] = {"google": extras}
    return out


def completion_chunk(
    chunk: Mapping[str, Any],
    model: str,
    *,
    first: bool,
    created: int,
    views: dict[int, PartsView] | None = None,
) -> dict[str, Any]:
    """One Gemini stream chunk as an OpenAI ``chat.completion.chunk``.

    ``views`` (one per choice, kept across a stream's chunks) tell where each piece
    sits in its turn; without them, each chunk is read on its own.
    """
    views = {} if views is None else views
    choices = []
    for position, candidate in enumerate(chunk.get("candidates", [])):
        index = candidate.get("index", position)
        view = views.setdefault(index, PartsView(stream=True))
        fields = view.feed(candidate.get("content", {}).get("parts", []))
        has_calls = view.calls > 0
        delta: dict[str, Any] = {"role": "assistant"} if first else {}
        delta.update(fields)
        extras = candidate_extras(candidate) if candidate.get("finishReason") else {}
        if extras:
            google = delta.setdefault("extra_content", {}).setdefault("google", {})
            google.update(extras)
        choices.append(
            {
                "index": index,
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
