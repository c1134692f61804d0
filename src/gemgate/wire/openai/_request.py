"""A whole OpenAI chat-completions body → a Gemini ``GenerateContentRequest``.

This is the request side both faces share: ``AsyncGemini.chat`` (through
:func:`gemini_request`) and the gateway's ``/v1/chat/completions`` (through
:func:`chat_request`), so one payload gives one Gemini request on both.

Accepted fields: OpenAI's (:data:`CHAT_FIELDS`), Google's extras under ``google`` or
``extra_body.google`` (the official ``openai`` SDK puts ``extra_body`` keys at the top
of the body), and the library's Gemini-flavoured ones (``safety_settings``,
``tool_config``, ``system_instruction``, ``cached_content``, ``top_k``, ``thinking`` …).
Any other field is refused with :class:`InvalidRequest` naming it.

Example:
    >>> chat = chat_request(
    ...     {
    ...         "model": "gemini-2.5-flash",
    ...         "messages": [{"role": "user", "content": "Hi"}],
    ...         "max_tokens": 64,
    ...         "extra_body": {"google": {"cached_content": "cachedContents/abc"}},
    ...     }
    ... )
    >>> chat.model, chat.stream
    ('gemini-2.5-flash', False)
    >>> chat.request["generationConfig"], chat.request["cachedContent"]
    ({'maxOutputTokens': 64}, 'cachedContents/abc')
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gemgate.wire.openai._checks import boolean, object_, sequence, string
from gemgate.wire.openai._errors import InvalidRequest
from gemgate.wire.openai._generation import GENERATION_PARAMS, generation_config
from gemgate.wire.openai._google import apply_google
from gemgate.wire.openai._messages import messages_to_contents
from gemgate.wire.openai._tools import tools_to_gemini

__all__ = [
    "CHAT_FIELDS",
    "ChatRequest",
    "REQUEST_FIELDS",
    "chat_request",
    "gemini_request",
    "thought_tag_of",
]

REQUEST_FIELDS = GENERATION_PARAMS | {
    "tools",
    "tool_choice",
    "tool_config",
    "safety_settings",
    "system_instruction",
    "cached_content",
    "extra_body",
    "google",
    "user",
    "parallel_tool_calls",
}
"""Fields that shape the Gemini request (besides the messages)."""
_BODY_ONLY = frozenset({"model", "messages", "stream", "stream_options"})
CHAT_FIELDS = REQUEST_FIELDS | _BODY_ONLY
"""Every field a chat-completions body may carry."""


@dataclass(frozen=True, slots=True)
class ChatRequest:
    """A chat-completions body, translated.

    Attributes:
        model: The ``model`` field as given (an id, an alias or ``NAME/model``).
        request: The Gemini ``GenerateContentRequest``.
        stream: Whether the answer streams.
        include_usage: ``stream_options.include_usage``: end the stream with usage.
        thought_tag: Google's ``thought_tag_marker``: thought summaries then also open
            ``content`` inside ``<tag>…</tag>``, as Gemini's own compatibility layer does.
    """

    model: str
    request: dict[str, Any]
    stream: bool = False
    include_usage: bool = False
    thought_tag: str | None = None


def _check_fields(fields: Mapping[str, Any], allowed: frozenset[str]) -> None:
    unknown = sorted(set(fields) - allowed)
    if unknown:
        raise InvalidRequest(f"Unrecognized request argument(s): {', '.join(unknown)}", unknown[0])
    if fields.get("user") is not None:
        string(fields["user"], "user")
    if fields.get("parallel_tool_calls") is not None:
        boolean(fields["parallel_tool_calls"], "parallel_tool_calls")


def _instruction(system: Mapping[str, Any] | None, override: Any) -> dict[str, Any] | None:
    """``system_instruction`` (text or a Gemini Content) replaces system messages."""
    if override is None or override == "":
        return dict(system) if system else None
    if isinstance(override, str):
        return {"parts": [{"text": override}]}
    return dict(object_(override, "system_instruction"))


def _google(fields: Mapping[str, Any]) -> tuple[Mapping[str, Any] | None, str]:
    """Google's extras and where they came from (``google`` or ``extra_body.google``)."""
    nested = None
    if fields.get("extra_body") is not None:
        extra = object_(fields["extra_body"], "extra_body")
        unknown = sorted(set(extra) - {"google"})
        if unknown:
            raise InvalidRequest(
                f"Unrecognized request argument(s): extra_body.{unknown[0]}",
                f"extra_body.{unknown[0]}",
            )
        nested = extra.get("google")
    top = fields.get("google")
    if nested is not None and top is not None:
        raise InvalidRequest("give 'google' or 'extra_body.google', not both", "google")
    if nested is not None:
        return object_(nested, "extra_body.google"), "extra_body.google"
    return (object_(top, "google") if top is not None else None), "google"


def gemini_request(
    contents: list[dict[str, Any]],
    system: Mapping[str, Any] | None,
    fields: Mapping[str, Any],
    *,
    model: str | None = None,
) -> dict[str, Any]:
    """A GenerateContentRequest from contents, a system instruction and request fields.

    Args:
        contents: Gemini contents (see :func:`messages_to_contents`).
        system: A ``systemInstruction``, or None.
        fields: Any of :data:`REQUEST_FIELDS`; None values count as not given.
        model: The model id the request goes to: ``reasoning_effort`` maps to a
            ``thinkingLevel`` for Gemini 3 models, to a ``thinkingBudget`` otherwise.

    Raises:
        InvalidRequest: An unknown field, or a value that cannot be translated.
    """
    _check_fields(fields, REQUEST_FIELDS)
    request: dict[str, Any] = {"contents": contents}
    instruction = _instruction(system, fields.get("system_instruction"))
    if instruction:
        request["systemInstruction"] = instruction
    config = generation_config(fields, model)
    if config:
        request["generationConfig"] = config
    request.update(
        tools_to_gemini(fields.get("tools"), fields.get("tool_choice"), fields.get("tool_config"))
    )
    if fields.get("safety_settings") is not None:
        request["safetySettings"] = list(sequence(fields["safety_settings"], "safety_settings"))
    if fields.get("cached_content") is not None:
        request["cachedContent"] = string(fields["cached_content"], "cached_content")
    google, where = _google(fields)
    if google:
        apply_google(request, google, where)
    return request


def _include_usage(options: Any) -> bool:
    if options is None:
        return False
    flag = object_(options, "stream_options").get("include_usage")
    return flag is not None and boolean(flag, "stream_options.include_usage")


def chat_request(body: Any) -> ChatRequest:
    """Validate and translate a whole chat-completions body.

    Raises:
        InvalidRequest: The body is not an object, has an unknown field, lacks ``model``
            or ``messages``, or has a value that cannot be translated.
    """
    fields = object_(body, "body")
    _check_fields(fields, CHAT_FIELDS)
    model = fields.get("model")
    if not isinstance(model, str) or not model:
        raise InvalidRequest("'model' is required and must be a string", "model")
    stream = fields.get("stream")
    contents, system = messages_to_contents(fields.get("messages"))
    request = gemini_request(
        contents,
        system,
        {k: v for k, v in fields.items() if k not in _BODY_ONLY},
        model=model.rsplit("/", 1)[-1],
    )
    return ChatRequest(
        model,
        request,
        stream=stream is not None and boolean(stream, "stream"),
        include_usage=_include_usage(fields.get("stream_options")),
        thought_tag=thought_tag_of(fields),
    )


def thought_tag_of(fields: Mapping[str, Any]) -> str | None:
    """Google's ``thought_tag_marker`` among the extras of ``fields``, if any."""
    google, where = _google(fields)
    for key in ("thought_tag_marker", "thoughtTagMarker"):
        if google and google.get(key) is not None:
            return string(google[key], f"{where}.{key}")
    return None
