"""A Gemini ``GenerateContentRequest`` → the OpenAI chat-completions body that makes it.

:func:`chat_request_of` is the inverse of :func:`~gemgate.wire.openai.chat_request`:
``chat_request(chat_request_of(request, model)).request == request`` for any request
whose contents have roles. What OpenAI's own fields hold exactly goes there (system
message, text/image/audio content, ``tool_calls`` with their signatures,
``reasoning_content``, tool messages, ``temperature``, ``tools``/``tool_choice`` …);
the rest keeps Gemini's shape: a turn's parts under ``extra_content.google.parts``,
Gemini tools and ``tool_config`` as they are, other fields in ``extra_body.google``.

Example:
    >>> chat_request_of({"contents": [{"role": "user", "parts": [{"text": "Hi"}]}],
    ...     "generationConfig": {"temperature": 0.5, "thinkingConfig": {"thinkingBudget": 0}}},
    ...     "gemini-2.5-flash")
    {'model': 'gemini-2.5-flash', 'messages': [{'role': 'user', 'content': 'Hi'}], \
'temperature': 0.5, 'extra_body': {'google': {'thinking_config': {'thinkingBudget': 0}}}}
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from gemgate.wire._names import snake
from gemgate.wire.openai._errors import InvalidRequest

__all__ = ["chat_request_of"]

_NUMBERS = {
    "temperature": "temperature",
    "topP": "top_p",
    "presencePenalty": "presence_penalty",
    "frequencyPenalty": "frequency_penalty",
}
_INTEGERS = {"maxOutputTokens": ("max_completion_tokens", 0), "seed": ("seed", None)}
_INTEGERS_AT_LEAST_ONE = {"candidateCount": "n", "topK": "top_k"}
_MODES = {"AUTO": "auto", "NONE": "none", "ANY": "required"}
_TOP = frozenset(
    {
        "contents",
        "systemInstruction",
        "tools",
        "toolConfig",
        "safetySettings",
        "generationConfig",
        "cachedContent",
        "serviceTier",
        "store",
        "labels",
    }
)


def _is_int(value: Any, minimum: int | None = None) -> bool:
    ok = isinstance(value, int) and not isinstance(value, bool)
    return ok and (minimum is None or value >= minimum)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _raw(role: str, parts: Sequence[Any]) -> dict[str, Any]:
    message: dict[str, Any] = {"role": role, "extra_content": {"google": {"parts": list(parts)}}}
    if role == "assistant":
        message["content"] = None
    return message


def _user_part(part: Any) -> dict[str, Any] | None:
    """An OpenAI content part that makes exactly ``part``, or None."""
    if not isinstance(part, Mapping):
        return None
    if set(part) == {"text"} and isinstance(part["text"], str):
        return {"type": "text", "text": part["text"]}
    blob = part.get("inlineData")
    if set(part) != {"inlineData"} or not isinstance(blob, Mapping):
        return None
    mime, data = blob.get("mimeType"), blob.get("data")
    if set(blob) != {"mimeType", "data"} or not isinstance(mime, str) or not isinstance(data, str):
        return None
    kind, _, sub = mime.partition("/")
    if (
        kind == "image"
        and sub
        and "\n" not in mime
        and all(c.isalnum() or c in "/+.-_" for c in mime)
    ):
        return {"type": "image_url", "image_url": {"url": f"data:{mime};base64,{data}"}}
    if kind == "audio" and sub:
        return {"type": "input_audio", "input_audio": {"data": data, "format": sub}}
    return None


def _user(parts: Sequence[Any]) -> dict[str, Any]:
    made = [_user_part(p) for p in parts]
    if any(m is None for m in made):
        return _raw("user", parts)
    if len(made) == 1 and made[0] is not None and made[0]["type"] == "text":
        return {"role": "user", "content": made[0]["text"]}
    return {"role": "user", "content": made}


def _plain_response(part: Any) -> bool:
    if not isinstance(part, Mapping) or set(part) != {"functionResponse"}:
        return False
    answer = part["functionResponse"]
    return (
        isinstance(answer, Mapping)
        and set(answer) == {"name", "response"}
        and isinstance(answer["name"], str)
        and isinstance(answer["response"], dict)
    )


def _tools_turn(parts: Sequence[Any], calls: Sequence[tuple[str, str]]) -> list[dict[str, Any]]:
    """A turn of ``functionResponse`` parts as tool messages, one a part."""
    out = []
    for i, part in enumerate(parts):
        if not _plain_response(part):
            message = _raw("tool", [part])
            message["tool_call_id"] = f"gemini-response-{i}"
            out.append(message)
            continue
        answer = part["functionResponse"]
        call_id = calls[i][0] if i < len(calls) and calls[i][1] == answer["name"] else None
        out.append(
            {
                "role": "tool",
                "tool_call_id": call_id or f"gemini-response-{i}",
                "name": answer["name"],
                "content": json.dumps(answer["response"]),
            }
        )
    return out


def _plain_call(part: Mapping[str, Any]) -> bool:
    call = part.get("functionCall")
    return (
        set(part) <= {"functionCall", "thoughtSignature"}
        and isinstance(call, Mapping)
        and set(call) == {"name", "args"}
        and isinstance(call["name"], str)
        and isinstance(call["args"], dict)
        and isinstance(part.get("thoughtSignature", "-"), str)
        and part.get("thoughtSignature", "-") != ""
    )


def _model_parts(parts: Sequence[Any]) -> tuple[list[Any], list[Any], list[Any]] | None:
    """Split a model turn into (thought, text, call) parts if OpenAI's fields hold it."""
    groups: tuple[list[Any], list[Any], list[Any]] = ([], [], [])
    stage = 0
    for part in parts:
        if not isinstance(part, Mapping):
            return None
        text = part.get("text")
        if set(part) == {"text", "thought"} and part["thought"] is True and text:
            kind = 0
        elif set(part) <= {"text", "thoughtSignature"} and isinstance(text, str):
            signature = part.get("thoughtSignature")
            signed = isinstance(signature, str) and bool(signature)
            kind = 1 if (text or signed) and (signed or signature is None) else -1
        elif _plain_call(part):
            kind = 2
        else:
            kind = -1
        if kind < stage or (kind < 2 and groups[kind]):  # out of order, or a second one
            return None
        stage = kind
        groups[kind].append(part)
    return groups if parts else None


def _assistant(parts: Sequence[Any]) -> dict[str, Any]:
    groups = _model_parts(parts)
    if groups is None:
        return _raw("assistant", parts)
    thoughts, texts, calls = groups
    message: dict[str, Any] = {"role": "assistant", "content": texts[0]["text"] if texts else None}
    if thoughts:
        message["reasoning_content"] = thoughts[0]["text"]
    if texts and texts[0].get("thoughtSignature"):
        google = {"thought_signature": texts[0]["thoughtSignature"]}
        message["extra_content"] = {"google": google}
    if calls:
        message["tool_calls"] = []
        for i, part in enumerate(calls):
            call = part["functionCall"]
            entry: dict[str, Any] = {
                "id": f"function-call-{i}",
                "type": "function",
                "function": {"name": call["name"], "arguments": json.dumps(call["args"])},
            }
            if "thoughtSignature" in part:
                entry["extra_content"] = {"google": {"thought_signature": part["thoughtSignature"]}}
            message["tool_calls"].append(entry)
    return message


def _messages(request: Mapping[str, Any], body: dict[str, Any]) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    system = request.get("systemInstruction")
    if system is not None:
        parts = system.get("parts") if isinstance(system, Mapping) else None
        if (
            isinstance(system, Mapping)
            and set(system) == {"parts"}
            and isinstance(parts, list)
            and len(parts) == 1
            and isinstance(parts[0], Mapping)
            and set(parts[0]) == {"text"}
            and isinstance(parts[0]["text"], str)
        ):
            messages.append({"role": "system", "content": parts[0]["text"]})
        else:
            body["system_instruction"] = system
    calls: list[tuple[str, str]] = []
    after_tools = False
    contents = request.get("contents") or []
    if not isinstance(contents, list):
        raise InvalidRequest("'contents' must be an array", "contents")
    for i, content in enumerate(contents):
        role = content.get("role") if isinstance(content, Mapping) else None
        parts = content.get("parts") if isinstance(content, Mapping) else None
        if role not in ("user", "model") or set(content) != {"role", "parts"}:
            raise InvalidRequest(
                "each content needs a role ('user' or 'model') and parts", f"contents[{i}]"
            )
        if not isinstance(parts, list):
            raise InvalidRequest("'parts' must be an array", f"contents[{i}].parts")
        if role == "model":
            message = _assistant(parts)
            calls = [(c["id"], c["function"]["name"]) for c in message.get("tool_calls", [])]
            messages.append(message)
            after_tools = False
        elif (
            parts
            and not after_tools
            and all(isinstance(p, Mapping) and "functionResponse" in p for p in parts)
        ):
            messages += _tools_turn(parts, calls)
            after_tools = True
        else:
            messages.append(_user(parts))
            after_tools = False
    return messages


def _generation(config: Mapping[str, Any], body: dict[str, Any], google: dict[str, Any]) -> None:
    for key, value in config.items():
        if key in _NUMBERS and _is_number(value):
            body[_NUMBERS[key]] = value
        elif key in _INTEGERS and _is_int(value, _INTEGERS[key][1]):
            body[_INTEGERS[key][0]] = value
        elif key in _INTEGERS_AT_LEAST_ONE and _is_int(value, 1):
            body[_INTEGERS_AT_LEAST_ONE[key]] = value
        elif (
            key == "stopSequences"
            and isinstance(value, list)
            and all(isinstance(v, str) for v in value)
        ):
            body["stop"] = value
        else:
            google[snake(key)] = value


def _function_tools(tools: Any) -> list[dict[str, Any]] | None:
    """OpenAI function tools for one Gemini tool of plain declarations, else None."""
    if not isinstance(tools, list) or len(tools) != 1 or not isinstance(tools[0], Mapping):
        return None
    declarations = tools[0].get("functionDeclarations")
    if set(tools[0]) != {"functionDeclarations"} or not isinstance(declarations, list):
        return None
    out = []
    for decl in declarations:
        if not isinstance(decl, Mapping) or not isinstance(decl.get("name"), str):
            return None
        if not set(decl) <= {"name", "description", "parametersJsonSchema"}:
            return None
        function: dict[str, Any] = {"name": decl["name"]}
        if "description" in decl:
            if not isinstance(decl["description"], str):
                return None
            function["description"] = decl["description"]
        if "parametersJsonSchema" in decl:
            if not isinstance(decl["parametersJsonSchema"], dict):
                return None
            function["parameters"] = decl["parametersJsonSchema"]
        out.append({"type": "function", "function": function})
    return out or None


def _tool_choice(config: Any) -> Any:
    """OpenAI ``tool_choice`` that makes exactly ``config``, or None."""
    calling = config.get("functionCallingConfig") if isinstance(config, Mapping) else None
    if not isinstance(calling, Mapping) or set(config) != {"functionCallingConfig"}:
        return None
    mode = calling.get("mode")
    if set(calling) == {"mode"} and isinstance(mode, str) and mode in _MODES:
        return _MODES[mode]
    names = calling.get("allowedFunctionNames")
    if (
        set(calling) == {"mode", "allowedFunctionNames"}
        and mode == "ANY"
        and isinstance(names, list)
        and len(names) == 1
        and isinstance(names[0], str)
    ):
        return {"type": "function", "function": {"name": names[0]}}
    return None


def _tools(request: Mapping[str, Any], body: dict[str, Any]) -> None:
    tools = request.get("tools")
    functions = _function_tools(tools)
    if tools is not None:
        body["tools"] = functions if functions is not None else tools
    config = request.get("toolConfig")
    if config is None:
        return
    choice = _tool_choice(config) if functions is not None else None
    if choice is not None:
        body["tool_choice"] = choice
    else:
        body["tool_config"] = config


def chat_request_of(request: Mapping[str, Any], model: str) -> dict[str, Any]:
    """The chat-completions body for ``model`` whose translation is ``request``.

    Raises:
        InvalidRequest: A field no GenerateContentRequest has, or contents without a
            ``user``/``model`` role.
    """
    unknown = sorted(set(request) - _TOP)
    if unknown:
        raise InvalidRequest(f"not a GenerateContentRequest field: {unknown[0]}", unknown[0])
    body: dict[str, Any] = {"model": model}
    body["messages"] = _messages(request, body)
    google: dict[str, Any] = {}
    config = request.get("generationConfig") or {}
    if not isinstance(config, Mapping):
        raise InvalidRequest("'generationConfig' must be an object", "generationConfig")
    _generation(config, body, google)
    _tools(request, body)
    if "safetySettings" in request and isinstance(request["safetySettings"], list):
        body["safety_settings"] = request["safetySettings"]
    elif "safetySettings" in request:
        google["safety_settings"] = request["safetySettings"]
    if isinstance(request.get("cachedContent"), str):
        body["cached_content"] = request["cachedContent"]
    elif "cachedContent" in request:
        google["cached_content"] = request["cachedContent"]
    for key in ("serviceTier", "store", "labels"):
        if key in request:
            google[snake(key)] = request[key]
    if google:
        body["extra_body"] = {"google": google}
    return body
