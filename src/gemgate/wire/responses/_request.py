"""A whole Responses API body (``POST /v1/responses``) → a Gemini ``GenerateContentRequest``.

The fields beside ``input`` are rewritten as the chat-completions fields they mean and go
through :func:`gemgate.wire.openai.gemini_request`, so both OpenAI faces share one
translation of tools, tool choice and generation settings:

* ``tools``: flat function tools → chat function tools; ``web_search`` (and its dated
  and ``_preview`` names) → Gemini's ``googleSearch``; ``code_interpreter`` →
  ``codeExecution``; a Gemini ``Tool`` (no ``type``) passes through. A ``file_search``
  tool must be taken out by the caller (it names stores of the gateway);
* ``reasoning`` → ``thinkingConfig`` (``effort`` as a token budget, like
  ``reasoning_effort``; ``summary`` asks for the model's thoughts);
* ``text.format`` → ``response_format`` (``json_schema`` → ``responseJsonSchema``);
* ``max_output_tokens``, ``temperature``, ``top_p``, ``parallel_tool_calls``, ``user``
  as in chat; ``google``/``extra_body.google`` as in chat.

Example:
    >>> parsed = responses_request({"model": "gemini-2.5-flash", "input": "Hi",
    ...     "reasoning": {"effort": "low", "summary": "auto"}})
    >>> parsed.request["generationConfig"]
    {'thinkingConfig': {'thinkingBudget': 1024, 'includeThoughts': True}}
    >>> parsed.store, parsed.echo["tool_choice"]
    (True, 'auto')
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from gemgate.wire.openai import InvalidRequest, gemini_request, generation_config
from gemgate.wire.openai._checks import boolean, integer, number, object_, sequence, string
from gemgate.wire.responses._items import KnownCall, input_contents, input_items

__all__ = ["RESPONSE_FIELDS", "ResponsesRequest", "previous_response_id", "responses_request"]

_IGNORED = frozenset(
    {
        "include",
        "truncation",
        "service_tier",
        "prompt_cache_key",
        "safety_identifier",
        "top_logprobs",
    }
)
"""Accepted, checked for shape at most, and without effect on Gemini."""
_UNSUPPORTED = frozenset({"background", "conversation", "prompt", "max_tool_calls"})
RESPONSE_FIELDS = frozenset(
    {
        "model",
        "input",
        "instructions",
        "tools",
        "tool_choice",
        "temperature",
        "top_p",
        "max_output_tokens",
        "reasoning",
        "text",
        "store",
        "stream",
        "stream_options",
        "previous_response_id",
        "metadata",
        "parallel_tool_calls",
        "user",
        "google",
        "extra_body",
        *_IGNORED,
        *_UNSUPPORTED,
    }
)
"""Every field a Responses body may carry."""
_SEARCH = frozenset(
    {"web_search", "web_search_preview", "web_search_2025_08_26", "web_search_preview_2025_03_11"}
)
_SUMMARIES = frozenset({"auto", "concise", "detailed"})


@dataclass(frozen=True, slots=True)
class ResponsesRequest:
    """A Responses body, translated.

    Attributes:
        model: The ``model`` field as given.
        request: The Gemini request, its ``contents`` this turn's only (the caller puts
            the stored conversation before them).
        items: The ``input`` items as given (a string input is one user message).
        stream: Whether the answer streams.
        store: Whether the response is kept (for retrieval and ``previous_response_id``).
        echo: The request fields a Response object repeats (``tools``, ``tool_choice``…).
    """

    model: str
    request: dict[str, Any]
    items: list[dict[str, Any]]
    stream: bool = False
    store: bool = True
    echo: dict[str, Any] = field(default_factory=dict)


def previous_response_id(body: Mapping[str, Any]) -> str | None:
    """The body's ``previous_response_id`` (None when not given)."""
    value = body.get("previous_response_id")
    return None if value is None else string(value, "previous_response_id")


def _function(tool: Mapping[str, Any], where: str) -> dict[str, Any]:
    unknown = sorted(set(tool) - {"type", "name", "description", "parameters", "strict"})
    if unknown:
        raise InvalidRequest(f"unknown field in '{where}': {unknown[0]}", f"{where}.{unknown[0]}")
    function = {k: v for k, v in tool.items() if k != "type" and k != "strict" and v is not None}
    return {"type": "function", "function": function}


def _tools(value: Any) -> list[dict[str, Any]] | None:
    """Responses tools → the chat tools :func:`gemini_request` reads."""
    if value is None:
        return None
    out: list[dict[str, Any]] = []
    for i, entry in enumerate(sequence(value, "tools")):
        where = f"tools[{i}]"
        tool = object_(entry, where)
        kind = tool.get("type")
        if "type" not in tool:  # a Gemini Tool already
            out.append(dict(tool))
        elif kind == "function":
            out.append(_function(tool, where))
        elif isinstance(kind, str) and kind in _SEARCH:
            out.append({"googleSearch": {}})
        elif kind == "code_interpreter":
            out.append({"codeExecution": {}})
        elif kind == "file_search":
            raise InvalidRequest(
                "'file_search' needs 'vector_store_ids'", f"{where}.vector_store_ids"
            )
        else:
            raise InvalidRequest(f"unsupported tool type: {kind!r}", f"{where}.type")
    return out


def _tool_choice(value: Any) -> Any:
    """Responses ``tool_choice`` → chat ``tool_choice`` (a hosted tool's: none, Gemini's own)."""
    if value is None or isinstance(value, str):
        return value
    choice = object_(value, "tool_choice")
    kind = choice.get("type")
    if kind == "function":
        return {
            "type": "function",
            "function": {"name": string(choice.get("name"), "tool_choice.name")},
        }
    if kind in _SEARCH or kind in ("file_search", "code_interpreter"):
        return None
    raise InvalidRequest(f"unsupported tool_choice type: {kind!r}", "tool_choice.type")


def _thinking(value: Any) -> dict[str, Any] | None:
    """``reasoning`` → the ``thinking`` mapping :func:`generation_config` reads."""
    if value is None:
        return None
    reasoning = object_(value, "reasoning")
    effort = reasoning.get("effort")
    summary = reasoning.get("summary", reasoning.get("generate_summary"))
    if summary is not None and (not isinstance(summary, str) or summary not in _SUMMARIES):
        raise InvalidRequest(
            f"'reasoning.summary' must be one of {sorted(_SUMMARIES)}: {summary!r}",
            "reasoning.summary",
        )
    thinking: dict[str, Any] = {}
    if effort is not None:
        try:
            config = generation_config({"reasoning_effort": effort})
        except InvalidRequest as exc:
            raise InvalidRequest(
                exc.message.replace("'reasoning_effort'", "'reasoning.effort'"), "reasoning.effort"
            ) from None
        thinking["thinking_budget"] = config["thinkingConfig"]["thinkingBudget"]
    if summary is not None and effort != "none":
        thinking["include_thoughts"] = True
    return thinking or None


def _response_format(value: Any) -> dict[str, Any] | None:
    """``text`` (``{"format": …}``) → a chat ``response_format``."""
    if value is None:
        return None
    fmt = object_(value, "text").get("format")
    if fmt is None:
        return None
    spec = object_(fmt, "text.format")
    kind = spec.get("type")
    if kind in ("text", "json_object"):
        return {"type": kind}
    if kind != "json_schema":
        raise InvalidRequest(
            "'text.format.type' must be 'text', 'json_object' or 'json_schema'", "text.format.type"
        )
    schema = object_(spec.get("schema"), "text.format.schema")
    name = spec.get("name")
    return {"type": "json_schema", "json_schema": {"name": name, "schema": dict(schema)}}


def _metadata(value: Any) -> dict[str, str] | None:
    if value is None:
        return None
    metadata = object_(value, "metadata")
    if len(metadata) > 16 or not all(
        isinstance(v, str) and len(k) <= 64 and len(v) <= 512 for k, v in metadata.items()
    ):
        raise InvalidRequest(
            "'metadata' must be at most 16 string pairs (keys up to 64, values up to 512)",
            "metadata",
        )
    return dict(metadata)


def _check(fields: Mapping[str, Any]) -> None:
    unknown = sorted(set(fields) - RESPONSE_FIELDS)
    if unknown:
        raise InvalidRequest(f"Unrecognized request argument(s): {', '.join(unknown)}", unknown[0])
    for name in sorted(_UNSUPPORTED):
        if fields.get(name) not in (None, False):
            raise InvalidRequest(f"'{name}' is not supported by this gateway", name)
    if fields.get("include") is not None:
        sequence(fields["include"], "include")
    if fields.get("top_logprobs") is not None:
        integer(fields["top_logprobs"], "top_logprobs", minimum=0)
    for name in ("temperature", "top_p"):
        if fields.get(name) is not None:
            number(fields[name], name)


def _echo(fields: Mapping[str, Any], store: bool) -> dict[str, Any]:
    """The request fields every Response object repeats, with OpenAI's defaults."""
    reasoning = dict(object_(fields["reasoning"], "reasoning")) if fields.get("reasoning") else {}
    text = dict(fields["text"]) if isinstance(fields.get("text"), Mapping) else {}
    text.setdefault("format", {"type": "text"})
    return {
        "instructions": fields.get("instructions"),
        "metadata": _metadata(fields.get("metadata")) or {},
        "parallel_tool_calls": fields.get("parallel_tool_calls", True) is not False,
        "temperature": fields.get("temperature"),
        "top_p": fields.get("top_p"),
        "tool_choice": fields.get("tool_choice") or "auto",
        "tools": list(fields.get("tools") or []),
        "max_output_tokens": fields.get("max_output_tokens"),
        "previous_response_id": fields.get("previous_response_id"),
        "reasoning": {"effort": reasoning.get("effort"), "summary": reasoning.get("summary")},
        "text": text,
        "store": store,
        "truncation": fields.get("truncation") or "disabled",
        "user": fields.get("user"),
    }


def responses_request(
    body: Any,
    *,
    history: Sequence[Mapping[str, Any]] = (),
    calls: Mapping[str, KnownCall] | None = None,
) -> ResponsesRequest:
    """Validate and translate a whole Responses body.

    Args:
        body: The JSON body.
        history: The stored conversation (Gemini contents) ``previous_response_id`` names;
            it comes before this turn's contents.
        calls: Calls of stored responses by call id, for ``function_call_output`` items
            whose call is not in ``input`` (and the thought signatures of those that are).

    Raises:
        InvalidRequest: An unknown field, a missing ``model`` or ``input``, or a value that
            cannot be translated; ``param`` names it.
    """
    fields = object_(body, "body")
    _check(fields)
    model = fields.get("model")
    if not isinstance(model, str) or not model:
        raise InvalidRequest("'model' is required and must be a string", "model")
    previous_response_id(fields)
    instructions = fields.get("instructions")
    if instructions is not None:
        string(instructions, "instructions")
    items = input_items(fields.get("input"))
    contents, system = input_contents(items, instructions=instructions, calls=calls)
    chat_fields = {
        "temperature": fields.get("temperature"),
        "top_p": fields.get("top_p"),
        "max_output_tokens": fields.get("max_output_tokens"),
        "tools": _tools(fields.get("tools")),
        "tool_choice": _tool_choice(fields.get("tool_choice")),
        "thinking": _thinking(fields.get("reasoning")),
        "response_format": _response_format(fields.get("text")),
        "parallel_tool_calls": fields.get("parallel_tool_calls"),
        "user": fields.get("user"),
        "google": fields.get("google"),
        "extra_body": fields.get("extra_body"),
    }
    request = gemini_request(
        [*(dict(c) for c in history), *contents],
        system,
        {k: v for k, v in chat_fields.items() if v is not None},
    )
    stream, store = fields.get("stream"), fields.get("store")
    store_flag = store is None or boolean(store, "store")
    return ResponsesRequest(
        model,
        request,
        items,
        stream=stream is not None and boolean(stream, "stream"),
        store=store_flag,
        echo=_echo(fields, store_flag),
    )
