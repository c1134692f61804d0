"""A whole Anthropic Messages body → a Gemini ``GenerateContentRequest``.

``max_tokens`` is required, as Anthropic requires it. ``thinking`` ``{"type":
"enabled", "budget_tokens": n}`` asks for a thinking budget of ``n`` with the thoughts
included; ``tools`` (``name``, ``description``, ``input_schema``) become function
declarations whose JSON Schema passes through, and Anthropic's web search tool becomes
Google Search. Fields Anthropic has and Gemini cannot honour are refused, naming them.

Example:
    >>> body = {"model": "gemini-2.5-flash", "max_tokens": 64, "system": "Be brief.",
    ...     "messages": [{"role": "user", "content": "Hi"}], "stop_sequences": ["END"]}
    >>> request = messages_request(body)
    >>> request.model, request.stream, request.request["generationConfig"]
    ('gemini-2.5-flash', False, {'maxOutputTokens': 64, 'stopSequences': ['END']})
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gemgate.wire.anthropic._checks import (
    boolean,
    integer,
    invalid,
    number,
    object_,
    sequence,
    string,
)
from gemgate.wire.anthropic._content import messages_to_contents

__all__ = ["COUNT_FIELDS", "MESSAGE_FIELDS", "MessagesRequest", "count_request", "messages_request"]

COUNT_FIELDS = frozenset({"model", "messages", "system", "tools", "tool_choice", "thinking"})
"""Every field a ``count_tokens`` body may carry."""
MESSAGE_FIELDS = COUNT_FIELDS | {
    "cache_control",
    "max_tokens",
    "metadata",
    "output_config",
    "service_tier",
    "stop_sequences",
    "stream",
    "temperature",
    "top_k",
    "top_p",
}
"""Every field a Messages body may carry."""
_MIN_BUDGET = 1024
_EFFORTS = ("low", "medium", "high", "xhigh", "max")
_CHOICES = {"auto": "AUTO", "any": "ANY", "tool": "ANY", "none": "NONE"}
_TOOL_KEYS = frozenset({"name", "description", "input_schema", "type", "cache_control"})


@dataclass(frozen=True, slots=True)
class MessagesRequest:
    """A Messages body, translated.

    Attributes:
        model: The ``model`` field as given (a Gemini id or an alias).
        request: The Gemini ``GenerateContentRequest``.
        stream: Whether the answer streams.
    """

    model: str
    request: dict[str, Any]
    stream: bool = False


def _check_fields(body: Mapping[str, Any], allowed: frozenset[str]) -> str:
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise invalid(unknown[0], "Extra inputs are not permitted")
    model = body.get("model")
    if model is None:
        raise invalid("model", "Field required")
    name = string(model, "model")
    if not name:
        raise invalid("model", "String should have at least 1 character")
    return name


def _thinking(value: Any, max_tokens: int | None) -> dict[str, Any] | None:
    thinking = object_(value, "thinking")
    kind = thinking.get("type")
    if kind == "disabled":
        return None
    if kind == "adaptive":
        return {"includeThoughts": True}
    if kind != "enabled":
        raise invalid("thinking.type", "Input should be 'enabled', 'disabled' or 'adaptive'")
    if thinking.get("budget_tokens") is None:
        raise invalid("thinking.budget_tokens", "Field required")
    budget = integer(thinking["budget_tokens"], "thinking.budget_tokens", minimum=_MIN_BUDGET)
    if max_tokens is not None and budget >= max_tokens:
        raise invalid("thinking.budget_tokens", "`max_tokens` must be greater than `budget_tokens`")
    return {"thinkingBudget": budget, "includeThoughts": True}


def _generation(body: Mapping[str, Any]) -> dict[str, Any]:
    if body.get("max_tokens") is None:
        raise invalid("max_tokens", "Field required")
    max_tokens = integer(body["max_tokens"], "max_tokens", minimum=1)
    config: dict[str, Any] = {"maxOutputTokens": max_tokens}
    for name, slot in (("temperature", "temperature"), ("top_p", "topP")):
        if body.get(name) is not None:
            config[slot] = number(body[name], name)
    if body.get("top_k") is not None:
        config["topK"] = integer(body["top_k"], "top_k", minimum=0)
    if body.get("stop_sequences") is not None:
        stops = sequence(body["stop_sequences"], "stop_sequences")
        config["stopSequences"] = [string(s, f"stop_sequences.{i}") for i, s in enumerate(stops)]
    if body.get("thinking") is not None:
        thinking = _thinking(body["thinking"], max_tokens)
        if thinking is not None:
            config["thinkingConfig"] = thinking
    return config


def _tool(value: Any, where: str) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """One tool → (a function declaration, or a Gemini tool of its own)."""
    tool = object_(value, where)
    kind = tool.get("type")
    if isinstance(kind, str) and kind.startswith("web_search"):
        return None, {"googleSearch": {}}
    if kind not in (None, "custom"):
        raise invalid(f"{where}.type", f"unsupported tool type: {kind!r}")
    unknown = sorted(set(tool) - _TOOL_KEYS)
    if unknown:
        raise invalid(f"{where}.{unknown[0]}", "Extra inputs are not permitted")
    declaration: dict[str, Any] = {"name": string(tool.get("name"), f"{where}.name")}
    if tool.get("description") is not None:
        declaration["description"] = string(tool["description"], f"{where}.description")
    if tool.get("input_schema") is None:
        raise invalid(f"{where}.input_schema", "Field required")
    declaration["parametersJsonSchema"] = dict(
        object_(tool["input_schema"], f"{where}.input_schema")
    )
    return declaration, None


def _tools(body: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    declarations: list[dict[str, Any]] = []
    others: list[dict[str, Any]] = []
    for i, value in enumerate(sequence(body.get("tools") or [], "tools")):
        declaration, other = _tool(value, f"tools.{i}")
        if declaration is not None:
            declarations.append(declaration)
        if other is not None:
            others.append(other)
    tools = ([{"functionDeclarations": declarations}] if declarations else []) + others
    if tools:
        out["tools"] = tools
    if body.get("tool_choice") is not None and declarations:
        out["toolConfig"] = {"functionCallingConfig": _choice(body["tool_choice"])}
    return out


def _choice(value: Any) -> dict[str, Any]:
    choice = object_(value, "tool_choice")
    kind = choice.get("type")
    if not isinstance(kind, str) or kind not in _CHOICES:
        raise invalid("tool_choice.type", "Input should be 'auto', 'any', 'tool' or 'none'")
    if choice.get("disable_parallel_tool_use") is not None:
        boolean(choice["disable_parallel_tool_use"], "tool_choice.disable_parallel_tool_use")
    calling: dict[str, Any] = {"mode": _CHOICES[kind]}
    if kind == "tool":
        calling["allowedFunctionNames"] = [string(choice.get("name"), "tool_choice.name")]
    return calling


def _output(value: Any) -> dict[str, Any]:
    """``output_config``: a ``json_schema`` format → JSON output with that schema.

    ``effort`` is checked and left to the model (Gemini's thinking budget is ``thinking``).
    """
    output = object_(value, "output_config")
    effort = output.get("effort")
    if effort is not None and effort not in _EFFORTS:
        raise invalid("output_config.effort", f"Input should be one of {', '.join(_EFFORTS)}")
    if output.get("format") is None:
        return {}
    fmt = object_(output["format"], "output_config.format")
    if fmt.get("type") != "json_schema":
        raise invalid("output_config.format.type", "Input should be 'json_schema'")
    schema = object_(fmt.get("schema"), "output_config.format.schema")
    return {"responseMimeType": "application/json", "responseJsonSchema": dict(schema)}


def _metadata(value: Any) -> None:
    metadata = object_(value, "metadata")
    user = metadata.get("user_id")
    if user is not None:
        string(user, "metadata.user_id")


def _contents(body: Mapping[str, Any]) -> dict[str, Any]:
    contents, system = messages_to_contents(body.get("messages"), body.get("system"))
    request: dict[str, Any] = {"contents": contents}
    if system is not None:
        request["systemInstruction"] = system
    request.update(_tools(body))
    return request


def messages_request(body: Any) -> MessagesRequest:
    """Validate and translate a whole Messages body.

    Raises:
        InvalidRequest: The body is not an object, has an unknown field, lacks
            ``model``, ``messages`` or ``max_tokens``, or has a value that cannot be
            translated; ``param`` names the field.
    """
    fields = object_(body, "body")
    model = _check_fields(fields, MESSAGE_FIELDS)
    request = _contents(fields)
    request["generationConfig"] = _generation(fields)
    if fields.get("output_config") is not None:
        request["generationConfig"].update(_output(fields["output_config"]))
    if fields.get("cache_control") is not None:
        object_(fields["cache_control"], "cache_control")  # Gemini caches implicitly
    if fields.get("metadata") is not None:
        _metadata(fields["metadata"])
    if fields.get("service_tier") is not None:
        string(fields["service_tier"], "service_tier")
    stream = fields.get("stream")
    return MessagesRequest(model, request, stream is not None and boolean(stream, "stream"))


def count_request(body: Any) -> MessagesRequest:
    """Validate and translate a ``count_tokens`` body (no ``max_tokens`` needed).

    The request holds what counts as input: contents, system instruction and tools.
    """
    fields = object_(body, "body")
    model = _check_fields(fields, COUNT_FIELDS)
    request = _contents(fields)
    if fields.get("thinking") is not None:
        _thinking(fields["thinking"], None)
    request.pop("toolConfig", None)
    return MessagesRequest(model, request)
