"""Anthropic ``system`` and ``messages`` → Gemini ``systemInstruction`` and ``contents``.

User content becomes text and ``inlineData`` parts (base64 images and PDFs; the gateway
fetches ``url`` images into base64 first), ``tool_result`` blocks become
``functionResponse`` parts named after the ``tool_use`` they answer, and assistant
``tool_use`` blocks become ``functionCall`` parts.

Thought signatures ride in thinking blocks (see :mod:`~gemgate.wire.anthropic._stream`):

* a thinking block with text is a thought part, with its own signature if it has one;
* a thinking block with no text (or a ``redacted_thinking`` block) only carries a
  signature: it goes onto the part of the next block of the same message, or of the
  previous one when none follows.

Consecutive messages of one role join into one turn, as Anthropic joins them.

Example:
    >>> contents, system = messages_to_contents(
    ...     [{"role": "user", "content": "Hi"}], "Be brief."
    ... )
    >>> contents, system
    ([{'role': 'user', 'parts': [{'text': 'Hi'}]}], {'parts': [{'text': 'Be brief.'}]})
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from gemgate.wire.anthropic._checks import boolean, invalid, object_, sequence, string

__all__ = ["messages_to_contents", "system_instruction"]

_ROLES = {"user": "user", "assistant": "model"}
_MEDIA = ("image", "document")


def system_instruction(system: Any) -> dict[str, Any] | None:
    """``system`` (a string or text blocks) → a ``systemInstruction``, or None."""
    if system is None or system == "":
        return None
    if isinstance(system, str):
        return {"parts": [{"text": system}]}
    texts = []
    for i, value in enumerate(sequence(system, "system")):
        block = object_(value, f"system.{i}")
        if block.get("type") != "text":
            raise invalid(f"system.{i}.type", "Input should be 'text'")
        texts.append(string(block.get("text"), f"system.{i}.text"))
    return {"parts": [{"text": "\n\n".join(texts)}]} if texts else None


def _media(block: Mapping[str, Any], where: str) -> dict[str, Any]:
    """A base64 ``image``/``document`` block → an ``inlineData`` part."""
    source = object_(block.get("source"), f"{where}.source")
    kind = source.get("type")
    if kind == "base64":
        mime = string(source.get("media_type"), f"{where}.source.media_type")
        data = string(source.get("data"), f"{where}.source.data")
        return {"inlineData": {"mimeType": mime, "data": data}}
    if kind == "text" and block.get("type") == "document":
        return {"text": string(source.get("data"), f"{where}.source.data")}
    if kind == "url":
        raise invalid(f"{where}.source.url", "URL sources must be fetched before translation")
    raise invalid(f"{where}.source.type", "Input should be 'base64' or 'url'")


def _tool_output(content: Any, where: str) -> tuple[Any, list[dict[str, Any]]]:
    """A ``tool_result``'s content: its value (JSON if its text is JSON) and media parts."""
    texts: list[str] = []
    media: list[dict[str, Any]] = []
    if content is None or isinstance(content, str):
        texts.append(content or "")
    else:
        for i, value in enumerate(sequence(content, where)):
            block = object_(value, f"{where}.{i}")
            if block.get("type") == "text":
                texts.append(string(block.get("text"), f"{where}.{i}.text"))
            elif block.get("type") in _MEDIA:
                media.append(_media(block, f"{where}.{i}"))
            else:
                raise invalid(f"{where}.{i}.type", "Input should be 'text', 'image' or 'document'")
    text = "".join(texts)
    try:
        return json.loads(text), media
    except (ValueError, RecursionError):
        return text, media


class _Turns:
    """The contents being built, and each tool call's name by its id."""

    def __init__(self) -> None:
        self.contents: list[dict[str, Any]] = []
        self.names: dict[str, str] = {}

    def add(self, role: str, parts: list[dict[str, Any]]) -> None:
        if not parts:
            return
        last = self.contents[-1] if self.contents else None
        if last is not None and last["role"] == role:
            last["parts"].extend(parts)
        else:
            self.contents.append({"role": role, "parts": parts})

    def user(self, block: Mapping[str, Any], where: str) -> list[dict[str, Any]]:
        kind = block.get("type")
        if kind == "text":
            text = string(block.get("text"), f"{where}.text")
            return [{"text": text}] if text else []
        if kind in _MEDIA:
            return [_media(block, where)]
        if kind == "tool_result":
            return self._result(block, where)
        raise invalid(
            f"{where}.type", f"unsupported content block type in a user message: {kind!r}"
        )

    def _result(self, block: Mapping[str, Any], where: str) -> list[dict[str, Any]]:
        call_id = string(block.get("tool_use_id"), f"{where}.tool_use_id")
        name = self.names.get(call_id)
        if name is None:
            raise invalid(
                f"{where}.tool_use_id", f"no tool_use block with id {call_id!r} precedes it"
            )
        value, media = _tool_output(block.get("content"), f"{where}.content")
        error = block.get("is_error") is not None and boolean(
            block["is_error"], f"{where}.is_error"
        )
        if isinstance(value, dict) and not error:
            response = value
        else:
            response = {"error" if error else "result": value}
        return [{"functionResponse": {"name": name, "response": response}}, *media]

    def assistant(self, block: Mapping[str, Any], where: str) -> list[dict[str, Any]]:
        kind = block.get("type")
        if kind == "text":
            text = string(block.get("text"), f"{where}.text")
            return [{"text": text}] if text else []
        if kind == "tool_use":
            call_id = string(block.get("id"), f"{where}.id")
            name = string(block.get("name"), f"{where}.name")
            args = dict(object_(block.get("input", {}), f"{where}.input"))
            self.names[call_id] = name
            return [{"functionCall": {"name": name, "args": args}}]
        if kind == "thinking":
            text = string(block.get("thinking", ""), f"{where}.thinking")
            signature = string(block.get("signature", ""), f"{where}.signature")
            part: dict[str, Any] = {"text": text, "thought": True}
            if signature:
                part["thoughtSignature"] = signature
            return [part] if text else [{"thoughtSignature": signature}] if signature else []
        if kind == "redacted_thinking":
            data = string(block.get("data"), f"{where}.data")
            return [{"thoughtSignature": data}] if data else []
        raise invalid(
            f"{where}.type", f"unsupported content block type in an assistant message: {kind!r}"
        )


def _place_signatures(parts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Put each signature-only carrier onto the next real part, else the previous one."""
    out: list[dict[str, Any]] = []
    pending: list[str] = []
    for part in parts:
        if set(part) == {"thoughtSignature"}:
            pending.append(part["thoughtSignature"])
            continue
        if pending:
            part = {**part, "thoughtSignature": pending[-1]}
            pending = []
        out.append(part)
    if pending and out:
        out[-1] = {**out[-1], "thoughtSignature": pending[-1]}
    return out


_HANDLERS: dict[str, Callable[[_Turns, Mapping[str, Any], str], list[dict[str, Any]]]] = {
    "user": _Turns.user,
    "assistant": _Turns.assistant,
}


def messages_to_contents(
    messages: Any, system: Any = None
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """Anthropic ``messages`` (and ``system``) → (Gemini contents, systemInstruction).

    Raises:
        InvalidRequest: ``messages`` is not a non-empty array of messages this adapter
            can translate; ``param`` names the field (``messages.1.content.0.type``).
    """
    turns = _Turns()
    for i, value in enumerate(sequence(messages, "messages", non_empty=True)):
        where = f"messages.{i}"
        message = object_(value, where)
        role = message.get("role")
        handler = _HANDLERS.get(role) if isinstance(role, str) else None
        if handler is None:
            raise invalid(f"{where}.role", "Input should be 'user' or 'assistant'")
        content = message.get("content")
        if isinstance(content, str):
            content = [{"type": "text", "text": content}]
        parts: list[dict[str, Any]] = []
        for j, block in enumerate(sequence(content, f"{where}.content")):
            parts += handler(turns, object_(block, f"{where}.content.{j}"), f"{where}.content.{j}")
        turns.add(_ROLES[str(role)], _place_signatures(parts))
    return turns.contents, system_instruction(system)
