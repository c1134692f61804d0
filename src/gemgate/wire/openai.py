"""OpenAI chat-completions ⇄ Gemini conversion (sans-I/O).

``to_gemini`` turns OpenAI-format messages and parameters into a GenerateContentRequest;
``completion`` and ``completion_chunk`` turn Gemini responses back into OpenAI's shapes.
The mapping follows the one Gemini's own OpenAI-compatibility layer uses.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from gemgate.wire.names import camel

__all__ = [
    "GENERATION_PARAMS",
    "completion",
    "completion_chunk",
    "finish_reason",
    "generation_config",
    "messages_to_contents",
    "to_gemini",
    "tools_to_gemini",
    "usage",
]

_DATA_URL = re.compile(r"^data:(?P<mime>[\w/+.-]+);base64,(?P<data>.*)$", re.DOTALL)
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
GENERATION_PARAMS = frozenset(
    {
        "temperature",
        "top_p",
        "top_k",
        "max_tokens",
        "max_completion_tokens",
        "max_output_tokens",
        "stop",
        "stop_sequences",
        "n",
        "seed",
        "presence_penalty",
        "frequency_penalty",
        "response_format",
        "response_schema",
        "response_mime_type",
        "thinking",
        "reasoning_effort",
    }
)
_EFFORT_BUDGET = {"none": 0, "minimal": 512, "low": 1024, "medium": 8192, "high": 24576}


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, Sequence):
        return "".join(p.get("text", "") for p in content if isinstance(p, Mapping))
    return ""


def _user_parts(content: Any) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"text": content}]
    parts: list[dict[str, Any]] = []
    for item in content or []:
        kind = item.get("type")
        if kind == "text":
            parts.append({"text": item.get("text", "")})
        elif kind == "image_url":
            url = (
                item["image_url"]["url"]
                if isinstance(item["image_url"], Mapping)
                else item["image_url"]
            )
            match = _DATA_URL.match(url)
            if match is None:
                raise ValueError("image_url must be a data: URL here (base64 image data)")
            parts.append({"inlineData": {"mimeType": match["mime"], "data": match["data"]}})
        elif kind == "input_audio":
            audio = item["input_audio"]
            parts.append(
                {
                    "inlineData": {
                        "mimeType": f"audio/{audio.get('format', 'wav')}",
                        "data": audio["data"],
                    }
                }
            )
        else:
            raise ValueError(f"unsupported content part type: {kind!r}")
    return parts


def _tool_calls(message: Mapping[str, Any]) -> tuple[list[dict[str, Any]], dict[str, str]]:
    parts: list[dict[str, Any]] = []
    names: dict[str, str] = {}
    for call in message.get("tool_calls") or []:
        function = call["function"]
        raw = function.get("arguments") or "{}"
        part: dict[str, Any] = {
            "functionCall": {
                "name": function["name"],
                "args": json.loads(raw) if isinstance(raw, str) else raw,
            }
        }
        signature = (call.get("extra_content") or {}).get("google", {}).get("thought_signature")
        if signature:
            part["thoughtSignature"] = signature
        parts.append(part)
        names[call.get("id", "")] = function["name"]
    return parts, names


def messages_to_contents(
    messages: Iterable[Mapping[str, Any]],
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """OpenAI messages → (Gemini contents, systemInstruction or None)."""
    contents: list[dict[str, Any]] = []
    system: list[str] = []
    call_names: dict[str, str] = {}
    for message in messages:
        role = message.get("role")
        if role in ("system", "developer"):
            system.append(_text_of(message.get("content")))
        elif role == "user":
            contents.append({"role": "user", "parts": _user_parts(message.get("content"))})
        elif role == "assistant":
            parts: list[dict[str, Any]] = []
            text = _text_of(message.get("content"))
            if text:
                parts.append({"text": text})
            calls, names = _tool_calls(message)
            call_names.update(names)
            parts.extend(calls)
            if parts:
                contents.append({"role": "model", "parts": parts})
        elif role == "tool":
            name = call_names.get(message.get("tool_call_id", ""), message.get("name", "tool"))
            raw = _text_of(message.get("content"))
            try:
                value = json.loads(raw)
            except ValueError:
                value = raw
            response = value if isinstance(value, dict) else {"result": value}
            part = {"functionResponse": {"name": name, "response": response}}
            if (
                contents
                and contents[-1]["role"] == "user"
                and contents[-1]["parts"]
                and "functionResponse" in contents[-1]["parts"][-1]
            ):
                contents[-1]["parts"].append(part)
            else:
                contents.append({"role": "user", "parts": [part]})
        else:
            raise ValueError(f"unsupported message role: {role!r}")
    instruction = {"parts": [{"text": "\n\n".join(system)}]} if system else None
    return contents, instruction


def _thinking(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"thinkingBudget": -1 if value else 0, "includeThoughts": value}
    if isinstance(value, int):
        return {"thinkingBudget": value}
    if isinstance(value, Mapping):
        return {camel(k): v for k, v in value.items()}
    raise ValueError("thinking must be a bool, a token budget or a thinking_config dict")


def generation_config(params: Mapping[str, Any]) -> dict[str, Any]:
    """OpenAI/seed generation parameters → Gemini ``generationConfig``."""
    config: dict[str, Any] = {}
    simple = {
        "temperature": "temperature",
        "top_p": "topP",
        "top_k": "topK",
        "seed": "seed",
        "n": "candidateCount",
        "presence_penalty": "presencePenalty",
        "frequency_penalty": "frequencyPenalty",
        "response_mime_type": "responseMimeType",
    }
    for name, target in simple.items():
        if params.get(name) is not None:
            config[target] = params[name]
    for name in ("max_tokens", "max_completion_tokens", "max_output_tokens"):
        if params.get(name) is not None:
            config["maxOutputTokens"] = params[name]
    stop = params.get("stop_sequences", params.get("stop"))
    if stop is not None:
        if not isinstance(stop, str | list | tuple) or not all(
            isinstance(s, str) for s in ([stop] if isinstance(stop, str) else stop)
        ):
            raise ValueError("stop must be a string or a list of strings")
        config["stopSequences"] = [stop] if isinstance(stop, str) else list(stop)
    if params.get("response_format") is not None:
        config.update(_response_format(params["response_format"]))
    if params.get("response_schema") is not None:
        config["responseMimeType"] = config.get("responseMimeType", "application/json")
        config["responseJsonSchema"] = params["response_schema"]
    if params.get("thinking") is not None:
        config["thinkingConfig"] = _thinking(params["thinking"])
    if params.get("reasoning_effort") is not None:
        config["thinkingConfig"] = _effort(params["reasoning_effort"])
    return config


def _response_format(fmt: Any) -> dict[str, Any]:
    """OpenAI ``response_format`` → ``responseMimeType`` (+ ``responseJsonSchema``)."""
    kind = fmt.get("type") if isinstance(fmt, Mapping) else fmt
    if kind not in ("json_object", "json_schema"):
        return {}
    out: dict[str, Any] = {"responseMimeType": "application/json"}
    schema = (fmt.get("json_schema") or {}).get("schema") if isinstance(fmt, Mapping) else None
    if kind == "json_schema" and schema is not None:
        out["responseJsonSchema"] = schema
    return out


def _effort(effort: Any) -> dict[str, Any]:
    """OpenAI ``reasoning_effort`` → a ``thinkingConfig`` with a token budget."""
    if effort not in _EFFORT_BUDGET:
        raise ValueError(f"reasoning_effort must be one of {sorted(_EFFORT_BUDGET)}: {effort!r}")
    return {"thinkingBudget": _EFFORT_BUDGET[effort]}


def to_gemini(messages: Iterable[Mapping[str, Any]], params: Mapping[str, Any]) -> dict[str, Any]:
    """A whole GenerateContentRequest from OpenAI messages and parameters."""
    contents, system = messages_to_contents(messages)
    request: dict[str, Any] = {"contents": contents}
    if system:
        request["systemInstruction"] = system
    config = generation_config(params)
    if config:
        request["generationConfig"] = config
    if params.get("safety_settings"):
        request["safetySettings"] = list(params["safety_settings"])
    return request


def tools_to_gemini(tools: Sequence[Mapping[str, Any]] | None, tool_choice: Any) -> dict[str, Any]:
    """OpenAI ``tools`` / ``tool_choice`` → Gemini ``tools`` and ``toolConfig``."""
    out: dict[str, Any] = {}
    declarations = []
    for entry in tools or []:
        if entry.get("type") != "function":
            raise ValueError(f"unsupported tool type: {entry.get('type')!r}")
        function = entry["function"]
        declaration: dict[str, Any] = {"name": function["name"]}
        if function.get("description"):
            declaration["description"] = function["description"]
        if function.get("parameters") is not None:
            declaration["parametersJsonSchema"] = function["parameters"]
        declarations.append(declaration)
    if declarations:
        out["tools"] = [{"functionDeclarations": declarations}]
    if tool_choice is not None and declarations:
        if isinstance(tool_choice, Mapping):
            name = tool_choice["function"]["name"]
            calling = {"mode": "ANY", "allowedFunctionNames": [name]}
        else:
            modes = {"auto": "AUTO", "none": "NONE", "required": "ANY"}
            if tool_choice not in modes:
                raise ValueError(f"unsupported tool_choice: {tool_choice!r}")
            calling = {"mode": modes[tool_choice]}
        out["toolConfig"] = {"functionCallingConfig": calling}
    return out


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
    return message, bool(calls)


def completion(
    response: Mapping[str, Any], model: str, *, created: int | None = None
) -> dict[str, Any]:
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
        "created": created if created is not None else int(time.time()),
        "model": model,
        "choices": choices,
        "usage": usage(response.get("usageMetadata")),
    }


def completion_chunk(
    chunk: Mapping[str, Any], model: str, *, first: bool, created: int | None = None
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
        "created": created if created is not None else int(time.time()),
        "model": model,
        "choices": choices,
    }
    if chunk.get("usageMetadata"):
        out["usage"] = usage(chunk["usageMetadata"])
    return out
