"""Responses ``input`` items → Gemini ``contents``, through the chat-completions adapter.

Each item becomes the chat message it stands for, and
:func:`gemgate.wire.openai.messages_to_contents` translates the whole list, so both
APIs turn one conversation into the same contents:

* ``message`` items (roles ``user``, ``system``, ``developer``, ``assistant``; content a
  string or ``input_text``/``input_image``/``output_text`` parts) → chat messages;
* ``function_call`` items → an assistant ``tool_calls`` entry (consecutive calls join
  one assistant turn) carrying the call's thought signature when one is known;
* ``function_call_output`` items → ``tool`` messages, named after the call they answer;
* ``reasoning`` items are the model's own summaries: they are skipped.

A call id the conversation does not show (its call was in a stored response) is looked
up in ``calls``: a mapping of call id → :class:`KnownCall`.

Example:
    >>> contents, system = input_contents("Hi", instructions="Be brief.")
    >>> contents, system
    ([{'role': 'user', 'parts': [{'text': 'Hi'}]}], {'parts': [{'text': 'Be brief.'}]})
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gemgate.wire.openai import InvalidRequest, messages_to_contents
from gemgate.wire.openai._checks import object_, sequence, string

__all__ = [
    "SKIP_SIGNATURE",
    "KnownCall",
    "call_ids",
    "input_contents",
    "input_items",
    "known_calls",
    "needs_signatures",
    "sign_unsigned_calls",
]

_MESSAGE_ROLES = frozenset({"user", "system", "developer", "assistant"})
_TEXT_PARTS = frozenset({"input_text", "output_text", "text"})


@dataclass(frozen=True, slots=True)
class KnownCall:
    """A function call the gateway answered earlier: its name and thought signature."""

    name: str
    signature: str | None = None


def input_items(value: Any) -> list[dict[str, Any]]:
    """``input`` as a list of item objects (a string is one user message).

    Raises:
        InvalidRequest: ``input`` is missing, empty, or not a string or array of objects.
    """
    if isinstance(value, str):
        return [{"type": "message", "role": "user", "content": value}]
    if value is None:
        raise InvalidRequest("'input' is required", "input")
    items = sequence(value, "input", non_empty=True)
    return [dict(object_(item, f"input[{i}]")) for i, item in enumerate(items)]


def call_ids(items: list[dict[str, Any]]) -> list[str]:
    """The call ids ``function_call``/``function_call_output`` items name."""
    kinds = ("function_call", "function_call_output")
    return [
        item["call_id"]
        for item in items
        if item.get("type") in kinds and isinstance(item.get("call_id"), str)
    ]


def _content(value: Any, role: str, where: str) -> str | list[dict[str, Any]]:
    """A message item's content as a chat message's content."""
    if isinstance(value, str):
        return value
    parts: list[dict[str, Any]] = []
    for i, item in enumerate(sequence(value, where)):
        at = f"{where}[{i}]"
        part = object_(item, at)
        kind = part.get("type")
        if isinstance(kind, str) and kind in _TEXT_PARTS:
            parts.append({"type": "text", "text": string(part.get("text"), f"{at}.text")})
        elif kind == "input_image" and role == "user":
            url = part.get("image_url")
            if url is None:
                raise InvalidRequest(f"'{at}.image_url' is required (file_id is not)", at)
            parts.append(
                {"type": "image_url", "image_url": {"url": string(url, f"{at}.image_url")}}
            )
        elif kind == "refusal":
            parts.append({"type": "text", "text": string(part.get("refusal"), f"{at}.refusal")})
        else:
            raise InvalidRequest(f"unsupported content type for a {role} message: {kind!r}", at)
    return parts


class _Messages:
    """The chat messages being built from the items."""

    def __init__(self, calls: Mapping[str, KnownCall]) -> None:
        self.messages: list[dict[str, Any]] = []
        self.calls = dict(calls)

    def message(self, item: Mapping[str, Any], where: str) -> None:
        role = item.get("role")
        if not isinstance(role, str) or role not in _MESSAGE_ROLES:
            raise InvalidRequest(f"unsupported message role: {role!r}", f"{where}.role")
        content = _content(item.get("content"), str(role), f"{where}.content")
        self.messages.append({"role": role, "content": content})

    def function_call(self, item: Mapping[str, Any], where: str) -> None:
        call_id = string(item.get("call_id"), f"{where}.call_id")
        name = string(item.get("name"), f"{where}.name")
        arguments = item.get("arguments", "")
        call: dict[str, Any] = {
            "id": call_id,
            "type": "function",
            "function": {"name": name, "arguments": string(arguments, f"{where}.arguments")},
        }
        known = self.calls.get(call_id)
        if known is not None and known.signature:
            call["extra_content"] = {"google": {"thought_signature": known.signature}}
        self.calls.setdefault(call_id, KnownCall(name))
        last = self.messages[-1] if self.messages else None
        if last is not None and last["role"] == "assistant":
            last.setdefault("tool_calls", []).append(call)
        else:
            self.messages.append({"role": "assistant", "content": None, "tool_calls": [call]})

    def function_call_output(self, item: Mapping[str, Any], where: str) -> None:
        call_id = string(item.get("call_id"), f"{where}.call_id")
        known = self.calls.get(call_id)
        if known is None:
            raise InvalidRequest(
                f"No tool call found for function call output with call_id {call_id}.",
                f"{where}.call_id",
            )
        output = item.get("output")
        if isinstance(output, list):
            output = _content(output, "tool", f"{where}.output")
        elif not isinstance(output, str):
            raise InvalidRequest(f"'{where}.output' must be a string or an array", where)
        self.messages.append(
            {"role": "tool", "tool_call_id": call_id, "name": known.name, "content": output}
        )


def input_contents(
    value: Any,
    *,
    instructions: str | None = None,
    calls: Mapping[str, KnownCall] | None = None,
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """``input`` (and ``instructions``) → (Gemini contents, systemInstruction or None).

    Args:
        value: The request's ``input``: a string or an array of items.
        instructions: The request's ``instructions`` (a system message first).
        calls: Calls of earlier stored responses, by call id (names and signatures).

    Raises:
        InvalidRequest: An item of an unknown type or shape; ``param`` names it.
    """
    built = _Messages(calls or {})
    if instructions:
        built.messages.append({"role": "system", "content": instructions})
    for i, item in enumerate(input_items(value)):
        where = f"input[{i}]"
        kind = item.get("type", "message" if "role" in item else None)
        if kind == "message":
            built.message(item, where)
        elif kind == "function_call":
            built.function_call(item, where)
        elif kind == "function_call_output":
            built.function_call_output(item, where)
        elif kind == "reasoning":
            continue
        else:
            raise InvalidRequest(f"unsupported input item type: {kind!r}", f"{where}.type")
    if not built.messages:
        raise InvalidRequest("'input' has no message for the model", "input")
    try:
        return messages_to_contents(built.messages)
    except InvalidRequest as exc:  # name the input, not the chat messages made of it
        param = (exc.param or "input").replace("messages", "input", 1)
        raise InvalidRequest(exc.message.replace("messages", "input"), param) from None


def known_calls(output: list[dict[str, Any]], parts: list[dict[str, Any]]) -> dict[str, KnownCall]:
    """The calls of a response's ``output``, with the signatures of their Gemini parts.

    The n-th ``function_call`` item is the n-th ``functionCall`` part.
    """
    items = [item for item in output if item.get("type") == "function_call"]
    calls = [part for part in parts if "functionCall" in part]
    return {
        item["call_id"]: KnownCall(item["name"], part.get("thoughtSignature"))
        for item, part in zip(items, calls, strict=False)
    }


SKIP_SIGNATURE = "skip_thought_signature_validator"
"""Google's documented stand-in for a thought signature a client cannot give back."""
_SIGNING_MODEL = re.compile(r"^gemini-(\d+)")


def needs_signatures(model: str) -> bool:
    """Whether ``model`` refuses function calls sent back without a thought signature."""
    match = _SIGNING_MODEL.match(model)
    return match is not None and int(match[1]) >= 3


def sign_unsigned_calls(contents: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``contents`` with :data:`SKIP_SIGNATURE` on each model turn's first unsigned call.

    For calls whose signature is lost (a response that was not stored, items from
    elsewhere); calls that have their signature are left as they are.
    """
    out = []
    for content in contents:
        parts = content.get("parts") or []
        calls = [i for i, p in enumerate(parts) if "functionCall" in p]
        if content.get("role") == "model" and calls and "thoughtSignature" not in parts[calls[0]]:
            parts = list(parts)
            parts[calls[0]] = {**parts[calls[0]], "thoughtSignature": SKIP_SIGNATURE}
            content = {**content, "parts": parts}
        out.append(content)
    return out
