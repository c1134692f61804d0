"""OpenAI chat messages → Gemini ``contents`` and ``systemInstruction``.

``system``/``developer`` messages join into the system instruction; ``user`` content
becomes text and ``inlineData`` parts (images and audio as base64 ``data:``); assistant
``tool_calls`` become ``functionCall`` parts (with their thought signatures), its
``reasoning_content`` a thought part and its text keeps the signature of
``extra_content.google.thought_signature``; and consecutive ``tool`` messages become
one user turn of ``functionResponse`` parts, each named after the call it answers.

Gemini's own parts pass as they are: a message with ``extra_content.google.parts``
(as the answers carry when OpenAI's fields cannot hold everything: code execution,
images, ids …) stands for exactly those parts; its ``content`` and ``tool_calls`` are
then only views of them.

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
        except (ValueError, RecursionError):
            raise InvalidRequest(f"'{where}' is not valid JSON", where) from None
    return dict(object_(raw, where))


def _tool_response(content: Any, where: str) -> dict[str, Any]:
    """A tool message's content as a ``functionResponse.response`` object."""
    raw = _text_of(content, where)
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError):
        value = raw
    return value if isinstance(value, dict) else {"result": value}


def _google(message: Mapping[str, Any], where: str) -> Mapping[str, Any]:
    """A message's (or tool call's) ``extra_content.google``, or an empty mapping."""
    extra = message.get("extra_content")
    if extra is None:
        return {}
    google = object_(extra, f"{where}.extra_content").get("google")
    return {} if google is None else object_(google, f"{where}.extra_content.google")


def _raw_parts(google: Mapping[str, Any], where: str) -> list[dict[str, Any]] | None:
    """``extra_content.google.parts``: Gemini parts that stand for the message as they are.

    An ``index`` on a part (a streamed delta's, so merging deltas rebuilds the list) is
    no part of it.
    """
    if google.get("parts") is None:
        return None
    at = f"{where}.extra_content.google.parts"
    parts = [object_(part, f"{at}[{i}]") for i, part in enumerate(sequence(google["parts"], at))]
    return [{k: v for k, v in part.items() if k != "index"} for part in parts]


def _signature(google: Mapping[str, Any], where: str) -> str | None:
    value = google.get("thought_signature", google.get("thoughtSignature"))
    return (
        None if value is None else string(value, f"{where}.extra_content.google.thought_signature")
    )


class _Turns:
    """The contents being built, the system texts, and the tool call names by id."""

    def __init__(self) -> None:
        self.contents: list[dict[str, Any]] = []
        self.system: list[str] = []
        self.call_names: dict[str, str] = {}
        self.tool_turn: dict[str, Any] | None = None
        """The user turn the latest tool messages made; the next tool message joins it."""

    def add(self, content: dict[str, Any]) -> None:
        self.contents.append(content)
        self.tool_turn = None

    def system_message(self, message: Mapping[str, Any], where: str) -> None:
        self.system.append(_text_of(message.get("content"), f"{where}.content"))

    def user(self, message: Mapping[str, Any], where: str) -> None:
        parts = _raw_parts(_google(message, where), where)
        if parts is None:
            parts = _user_parts(message.get("content"), f"{where}.content")
        self.add({"role": "user", "parts": parts})

    def assistant(self, message: Mapping[str, Any], where: str) -> None:
        google = _google(message, where)
        calls = message.get("tool_calls")
        made = [
            self._call(call, f"{where}.tool_calls[{i}]")
            for i, call in enumerate(sequence(calls, f"{where}.tool_calls") if calls else [])
        ]
        parts = _raw_parts(google, where)
        if parts is not None:  # Gemini's own parts: content and tool_calls are views of them
            for part in parts:
                call = part.get("functionCall")
                if isinstance(call, Mapping) and isinstance(call.get("id"), str):
                    self.call_names[call["id"]] = str(call.get("name", ""))
            self.add({"role": "model", "parts": parts})
            return
        parts = []
        reasoning = message.get("reasoning_content")
        if reasoning:
            parts.append({"text": string(reasoning, f"{where}.reasoning_content"), "thought": True})
        text = _text_of(message.get("content"), f"{where}.content")
        signature = _signature(google, where)
        if text or signature:
            parts.append({"text": text, **({"thoughtSignature": signature} if signature else {})})
        parts += made
        if parts:
            self.add({"role": "model", "parts": parts})

    def _call(self, value: Any, where: str) -> dict[str, Any]:
        call = object_(value, where)
        function = object_(call.get("function"), f"{where}.function")
        name = string(function.get("name"), f"{where}.function.name")
        args = _arguments(function.get("arguments"), f"{where}.function.arguments")
        part: dict[str, Any] = {"functionCall": {"name": name, "args": args}}
        signature = _signature(_google(call, where), where)
        if signature:
            part["thoughtSignature"] = signature
        call_id = call.get("id")
        if isinstance(call_id, str):
            self.call_names[call_id] = name
        return part

    def tool(self, message: Mapping[str, Any], where: str) -> None:
        parts = _raw_parts(_google(message, where), where)
        if parts is None:
            call_id = message.get("tool_call_id")
            fallback = message.get("name", "tool")
            name = self.call_names.get(call_id, fallback) if isinstance(call_id, str) else fallback
            response = _tool_response(message.get("content"), f"{where}.content")
            name = string(name, f"{where}.name")
            parts = [{"functionResponse": {"name": name, "response": response}}]
        if self.tool_turn is not None:
            self.tool_turn["parts"] += parts
            return
        self.add({"role": "user", "parts": parts})
        self.tool_turn = self.contents[-1]

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
