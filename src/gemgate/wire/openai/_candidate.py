"""One Gemini candidate's parts → the fields of an OpenAI message (or stream delta).

* thought-summary parts → ``reasoning_content`` (never ``content``);
* text parts → ``content``, and the signature Gemini puts on text →
  ``extra_content.google.thought_signature``;
* ``functionCall`` parts → ``tool_calls`` (signature under each call's
  ``extra_content.google``);
* ``executableCode`` / ``codeExecutionResult`` → fenced blocks in ``content``.

When those fields cannot hold a turn exactly (code execution, images, ids on calls,
signatures on thoughts …), the message also carries Gemini's own parts under
``extra_content.google.parts``; sent back, they stand for the turn as they are. On a
stream each such part carries its ``index`` in the turn, so a client that merges deltas
(as the ``openai`` SDK does) rebuilds the whole list.

Example:
    >>> view = PartsView(stream=True)
    >>> thought = {"text": "Let me see.", "thought": True}
    >>> view.feed([thought, {"text": "Hi", "thoughtSignature": "c2ln"}])
    {'content': 'Hi', 'reasoning_content': 'Let me see.', 'extra_content': {'google': \
{'thought_signature': 'c2ln'}}}
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["PartsView", "render_part"]

_TEXT_KEYS = frozenset({"text", "thoughtSignature"})
_THOUGHT_KEYS = frozenset({"text", "thought"})
_CALL_KEYS = frozenset({"functionCall", "thoughtSignature"})


def _fence(kind: str, body: str) -> str:
    return f"\n```{kind}\n{body.rstrip(chr(10))}\n```\n"


def render_part(part: Mapping[str, Any]) -> str:
    """The ``content`` a non-thought part adds: its text, or code as a fenced block."""
    if "text" in part and not part.get("thought"):
        return str(part["text"])
    if "executableCode" in part:
        code = part["executableCode"]
        return _fence(str(code.get("language", "python")).lower(), str(code.get("code", "")))
    if "codeExecutionResult" in part:
        return _fence("output", str(part["codeExecutionResult"].get("output", "")))
    return ""


def _kind(part: Mapping[str, Any]) -> int | None:
    """0 (thought), 1 (text), 2 (call) for a part OpenAI's fields hold exactly, else None.

    Sent back, a message makes a thought part of non-empty ``reasoning_content``, a
    text part of non-empty text or a signature, and calls with ``name`` and ``args``.
    """
    keys, text = set(part), part.get("text")
    signed = keys.isdisjoint({"thoughtSignature"}) or bool(part["thoughtSignature"])
    if keys == _THOUGHT_KEYS and part["thought"] is True and isinstance(text, str) and text:
        return 0
    if "text" in part and keys <= _TEXT_KEYS and isinstance(text, str) and signed:
        return 1 if text or "thoughtSignature" in keys else None
    call = part.get("functionCall")
    plain_call = isinstance(call, Mapping) and set(call) == {"name", "args"}
    if plain_call and keys <= _CALL_KEYS and signed:
        return 2
    return None


class PartsView:
    """Reads a candidate's parts, all at once or chunk by chunk, as OpenAI message fields."""

    def __init__(self, *, stream: bool = False) -> None:
        self.stream = stream
        """Text pieces continuing a text part join it (a stream's chunks split parts)."""
        self.parts: list[dict[str, Any]] = []
        """The turn's parts so far."""
        self.calls = 0
        self.raw = False
        self._kinds: list[int] = []

    def _natural(self, part: Mapping[str, Any]) -> bool:
        """Whether the turn, with ``part`` new in it, is still one thought, one text, calls."""
        kind = _kind(part)
        last = self._kinds[-1] if self._kinds else -1
        if kind is None or kind < last or (kind == last and kind < 2):
            return False
        self._kinds.append(kind)
        return True

    def _merge(self, part: Mapping[str, Any]) -> dict[str, Any]:
        """Add ``part`` to the turn, and say what it adds, with its ``index``.

        A text piece continuing the last text part joins it: it adds only its text (and
        the signature, on the last piece), so merging deltas rebuilds that part.
        """
        last = self.parts[-1] if self.parts else None
        continues = (
            self.stream
            and last is not None
            and "text" in part
            and "text" in last
            and bool(last.get("thought")) == bool(part.get("thought"))
            and "thoughtSignature" not in last
            and set(part) <= set(last) | {"thoughtSignature"}
        )
        if continues and last is not None:
            last["text"] += part["text"]
            added = {"index": len(self.parts) - 1, "text": part["text"]}
            if "thoughtSignature" in part:
                last["thoughtSignature"] = added["thoughtSignature"] = part["thoughtSignature"]
            return added
        self.parts.append(dict(part))
        return {"index": len(self.parts) - 1, **part}

    def feed(self, parts: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        """The message (or delta) fields for the next ``parts`` of the turn."""
        content, thoughts, signature = "", "", None
        calls: list[dict[str, Any]] = []
        indexed: list[dict[str, Any]] = []
        was_raw = self.raw
        for part in parts:
            count = len(self.parts)
            indexed.append(self._merge(part))
            if len(self.parts) > count:
                self.raw = self.raw or not self._natural(part)
            else:  # a piece of the last part: it may have made that part one OpenAI cannot hold
                self.raw = self.raw or _kind(self.parts[-1]) is None
            if "text" in part and part.get("thought"):
                thoughts += str(part["text"])
            else:
                content += render_part(part)
            if "text" in part and part.get("thoughtSignature") and not part.get("thought"):
                signature = part["thoughtSignature"]
            if "functionCall" in part:
                calls.append(self._call(part))
        out: dict[str, Any] = {}
        if content:
            out["content"] = content
        if thoughts:
            out["reasoning_content"] = thoughts
        if calls:
            out["tool_calls"] = calls
        google: dict[str, Any] = {}
        if signature:
            google["thought_signature"] = signature
        if self.raw:  # the first raw delta brings the whole turn so far
            google["parts"] = indexed if was_raw else self.whole(indexed=True)
        if google:
            out["extra_content"] = {"google": google}
        return out

    def _call(self, part: Mapping[str, Any]) -> dict[str, Any]:
        call = part["functionCall"]
        entry: dict[str, Any] = {
            "index": self.calls,
            "id": call.get("id") or f"function-call-{self.calls}",
            "type": "function",
            "function": {
                "name": call.get("name", ""),
                "arguments": json.dumps(call.get("args", {})),
            },
        }
        if part.get("thoughtSignature"):
            entry["extra_content"] = {"google": {"thought_signature": part["thoughtSignature"]}}
        self.calls += 1
        return entry

    def whole(self, *, indexed: bool = False) -> list[dict[str, Any]]:
        """The turn's parts so far, each with its ``index`` if ``indexed``."""
        return [{"index": i, **p} if indexed else dict(p) for i, p in enumerate(self.parts)]
