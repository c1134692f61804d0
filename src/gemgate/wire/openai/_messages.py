"""OpenAI chat messages → Gemini ``contents`` and ``systemInstruction``.

``system``/``developer`` messages join into the system instruction; ``user`` content
becomes text and ``inlineData`` parts (images and audio as base64 ``data:``); assistant
``tool_calls`` become ``functionCall`` parts (with their thought signatures); and
consecutive ``tool`` messages become one user turn of ``functionResponse`` parts, each
named after the call it answers.

Example:
    >>> contents, system = messages_to_contents(
    ...     [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
    ... )
    >>> contents, system
    ([{'role': 'user', 'parts': [{'text': 'Hi'}]}], {'parts': [{'text': 'Be brief.'}]})
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from gemgate.wire.openai._checks import object_, sequence, string
from gemgate.wire.openai._errors import InvalidRequest

__all__ = ["messages_to_contents"]

_DATA_URL = re.compile(r"^data:(?P<mime>[\w/+.-]+);base64,(?P<data>.*)$", re.DOTALL)


def _text_of(content: Any, where: str) -> str:
    """The text of a string content or of the ``text`` parts of an array content."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    texts = []
    for i, part in enumerate(sequence(content, where)):
        text = object_(part, f"{where}[{i}]").get("text")
        if text is not None:
            texts.append(string(text, f"{where}[{i}].text"))
    return "".join(texts)


def _image(value: Any, where: str) -> dict[str, Any]:
    url = value.get("url") if isinstance(value, Mapping) else value
    match = _DATA_URL.match(string(url, f"{where}.url"))
    if match is None:
        raise InvalidRequest(f"'{where}.url' must be a data: URL here (base64 image data)", where)
    return {"inlineData": {"mimeType": match["mime"], "data": match["data"]}}


def _audio(value: Any, where: str) -> dict[str, Any]:
    audio = object_(value, where)
    kind = string(audio.get("format", "wav"), f"{where}.format")
    data = string(audio.get("data"), f"{where}.data")
    return {"inlineData": {"mimeType": f"audio/{kind}", "data": data}}


def _user_parts(content: Any, where: str) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"text": content}]
    parts: list[dict[str, Any]] = []
    for i, item in enumerate(sequence(content, where)):
        at = f"{where}[{i}]"
        part = object_(item, at)
        kind = part.get("type")
        if kind == "text":
            parts.append({"text": string(part.get("text"), f"{at}.text")})
        elif kind == "image_url":
            parts.append(_image(part.get("image_url"), f"{at}.image_url"))
        elif kind == "input_audio":
            parts.append(_audio(part.get("input_audio"), f"{at}.input_audio"))
        else:
            raise InvalidRequest(f"unsupported content part type: {kind!r}", f"{at}.type")
    return parts


def _arguments(raw: Any, where: str) -> dict[str, Any]:
    """A tool call's ``arguments`` (a JSON string, or already an object) as an object."""
    if raw is None or raw == "":
        return {}
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            raise InvalidRequest(f"'{where}' is not valid JSON", where) from None
    return dict(object_(raw, where))


def _tool_response(content: Any, where: str) -> dict[str, Any]:
    """A tool message's content as a ``functionResponse.response`` object."""
    raw = _text_of(content, where)
    try:
        value = json.loads(raw)
    except ValueError:
        value = raw
    return value if isinstance(value, dict) else {"result": value}


class _Turns:
    """The contents being built, the system texts, and the tool call names by id."""

    def __init__(self) -> None:
        self.contents: list[dict[str, Any]] = []
        self.system: list[str] = []
        self.call_names: dict[str, str] = {}

    def system_message(self, message: Mapping[str, Any], where: str) -> None:
        self.system.append(_text_of(message.get("content"), f"{where}.content"))

    def user(self, message: Mapping[str, Any], where: str) -> None:
        parts = _user_parts(message.get("content"), f"{where}.content")
        self.contents.append({"role": "user", "parts": parts})

    def assistant(self, message: Mapping[str, Any], where: str) -> None:
        parts: list[dict[str, Any]] = []
        text = _text_of(message.get("content"), f"{where}.content")
        if text:
            parts.append({"text": text})
        calls = message.get("tool_calls")
        for i, call in enumerate(sequence(calls, f"{where}.tool_calls") if calls else []):
            parts.append(self._call(call, f"{where}.tool_calls[{i}]"))
        if parts:
            self.contents.append({"role": "model", "parts": parts})

    def _call(self, value: Any, where: str) -> dict[str, Any]:
        call = object_(value, where)
        function = object_(call.get("function"), f"{where}.function")
        name = string(function.get("name"), f"{where}.function.name")
        args = _arguments(function.get("arguments"), f"{where}.function.arguments")
        part: dict[str, Any] = {"functionCall": {"name": name, "args": args}}
        extra = call.get("extra_content")
        google = extra.get("google") if isinstance(extra, Mapping) else None
        signature = google.get("thought_signature") if isinstance(google, Mapping) else None
        if signature:
            part["thoughtSignature"] = string(signature, f"{where}.extra_content")
        call_id = call.get("id")
        if isinstance(call_id, str):
            self.call_names[call_id] = name
        return part

    def tool(self, message: Mapping[str, Any], where: str) -> None:
        call_id = message.get("tool_call_id")
        fallback = message.get("name", "tool")
        name = self.call_names.get(call_id, fallback) if isinstance(call_id, str) else fallback
        response = _tool_response(message.get("content"), f"{where}.content")
        part = {"functionResponse": {"name": string(name, f"{where}.name"), "response": response}}
        last = self.contents[-1] if self.contents else None
        if last and last["role"] == "user" and "functionResponse" in (last["parts"] or [{}])[-1]:
            last["parts"].append(part)
        else:
            self.contents.append({"role": "user", "parts": [part]})

    def instruction(self) -> dict[str, Any] | None:
        return {"parts": [{"text": "\n\n".join(self.system)}]} if self.system else None


_ROLES: dict[str, Callable[[_Turns, Mapping[str, Any], str], None]] = {
    "system": _Turns.system_message,
    "developer": _Turns.system_message,
    "user": _Turns.user,
    "assistant": _Turns.assistant,
    "tool": _Turns.tool,
}


def messages_to_contents(messages: Any) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """OpenAI messages → (Gemini contents, systemInstruction or None).

    Raises:
        InvalidRequest: ``messages`` is not a non-empty array of messages this adapter
            can translate; ``param`` names the field (``messages[1].content[0].type``).
    """
    turns = _Turns()
    for i, value in enumerate(sequence(messages, "messages", non_empty=True)):
        where = f"messages[{i}]"
        message = object_(value, where)
        role = message.get("role")
        handler = _ROLES.get(role) if isinstance(role, str) else None
        if handler is None:
            raise InvalidRequest(f"unsupported message role: {role!r}", f"{where}.role")
        handler(turns, message, where)
    return turns.contents, turns.instruction()
