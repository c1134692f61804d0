r"""Streamed answers: Gemini chunks → the Responses API's server-sent events.

:class:`EventStream` turns one stream's chunks, in order, into OpenAI's event sequence,
each with its ``sequence_number``::

    response.created, response.in_progress,
    response.output_item.added (reasoning), response.reasoning_summary_part.added,
      response.reasoning_summary_text.delta…, …text.done, …part.done, output_item.done,
    response.output_item.added (message), response.content_part.added,
      response.output_text.delta…, response.output_text.annotation.added…,
      response.output_text.done, response.content_part.done, response.output_item.done,
    response.output_item.added (function_call), response.function_call_arguments.delta,
      response.function_call_arguments.done, response.output_item.done,
    response.completed (or response.incomplete; response.failed on an error).

It also keeps the parts it saw (:attr:`EventStream.parts`), for the stored conversation.
:func:`event_frame` frames one event as ``event: <type>\ndata: <json>\n\n``.

Example:
    >>> events = EventStream("resp_1", "gemini-2.5-flash", created_at=0)
    >>> [e["type"] for e in events.start()]
    ['response.created', 'response.in_progress']
    >>> chunk = {"candidates": [{"content": {"parts": [{"text": "Hi"}]}, "finishReason": "STOP"}]}
    >>> [e["type"] for e in events.feed(chunk)][:3]
    ['response.output_item.added', 'response.content_part.added', 'response.output_text.delta']
    >>> [e["type"] for e in events.finish()][-1]
    'response.completed'
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gemgate.wire.responses._output import (
    function_call_item,
    message_item,
    new_id,
    output_annotations,
    reasoning_item,
    response_object,
)

__all__ = ["EventStream", "event_frame"]


def event_frame(event: Mapping[str, Any]) -> bytes:
    """One server-sent event: its ``type`` as the SSE event name, the event as data."""
    data = json.dumps(event, separators=(",", ":"), ensure_ascii=False)
    return f"event: {event['type']}\ndata: {data}\n\n".encode()


@dataclass
class _Open:
    """The output item being streamed: a reasoning summary or a message."""

    kind: str
    index: int
    item_id: str
    texts: list[str] = field(default_factory=list)


class EventStream:
    """Converts one stream's Gemini chunks to Responses events, numbering them.

    Args:
        response_id: The response's id.
        model: The model name the events report.
        created_at: Epoch seconds.
        echo: The request fields the Response object repeats.
    """

    def __init__(
        self,
        response_id: str,
        model: str,
        *,
        created_at: int,
        echo: Mapping[str, Any] | None = None,
    ) -> None:
        self.id, self.model, self.created_at = response_id, model, created_at
        self.echo = dict(echo or {})
        self.output: list[dict[str, Any]] = []
        """The finished output items, in order."""
        self.parts: list[dict[str, Any]] = []
        """Every Gemini part streamed, signatures included (the model's turn)."""
        self.response: dict[str, Any] | None = None
        """The final Response object, once :meth:`finish` or :meth:`fail` made it."""
        self._sequence = 0
        self._open: _Open | None = None
        self._last: dict[str, Any] = {}
        self._grounding: Mapping[str, Any] | None = None

    def _event(self, kind: str, **fields: Any) -> dict[str, Any]:
        event = {"type": kind, "sequence_number": self._sequence, **fields}
        self._sequence += 1
        return event

    def _snapshot(self, status: str) -> dict[str, Any]:
        snapshot = response_object(
            {}, self.id, self.model, created_at=self.created_at, echo=self.echo, output=[]
        )
        return {**snapshot, "status": status, "usage": None}

    def start(self) -> list[dict[str, Any]]:
        """``response.created`` and ``response.in_progress``."""
        return [
            self._event("response.created", response=self._snapshot("in_progress")),
            self._event("response.in_progress", response=self._snapshot("in_progress")),
        ]

    def feed(self, chunk: Mapping[str, Any]) -> list[dict[str, Any]]:
        """The events for the next Gemini chunk."""
        self._last = {**self._last, **chunk}
        candidates = chunk.get("candidates") or []
        if not candidates:
            return []
        candidate = candidates[0]
        if candidate.get("groundingMetadata"):
            self._grounding = candidate["groundingMetadata"]
        events: list[dict[str, Any]] = []
        for part in candidate.get("content", {}).get("parts", []):
            self.parts.append(dict(part))
            if "functionCall" in part:
                events += self._close()
                events += self._call(part["functionCall"])
            elif "text" in part and part["text"]:
                kind = "reasoning" if part.get("thought") else "message"
                if self._open is None or self._open.kind != kind:
                    events += self._close()
                    events += self._begin(kind)
                events += self._delta(part["text"])
        return events

    def _begin(self, kind: str) -> list[dict[str, Any]]:
        index = len(self.output)
        self._open = _Open(kind, index, new_id("rs" if kind == "reasoning" else "msg"))
        self.output.append({})  # its place, filled when it is done
        at = {"output_index": index}
        if kind == "reasoning":
            item = {**reasoning_item(self._open.item_id, ""), "status": "in_progress"}
            summary: dict[str, Any] = {"type": "summary_text", "text": ""}
            return [
                self._event("response.output_item.added", item=item, **at),
                self._event(
                    "response.reasoning_summary_part.added",
                    item_id=self._open.item_id,
                    summary_index=0,
                    part=summary,
                    **at,
                ),
            ]
        item = message_item(self._open.item_id, None, done=False)
        part: dict[str, Any] = {
            "type": "output_text",
            "text": "",
            "annotations": [],
            "logprobs": [],
        }
        return [
            self._event("response.output_item.added", item=item, **at),
            self._event(
                "response.content_part.added",
                item_id=self._open.item_id,
                content_index=0,
                part=part,
                **at,
            ),
        ]

    def _delta(self, text: str) -> list[dict[str, Any]]:
        assert self._open is not None
        self._open.texts.append(text)
        at = {"item_id": self._open.item_id, "output_index": self._open.index}
        if self._open.kind == "reasoning":
            return [
                self._event(
                    "response.reasoning_summary_text.delta", summary_index=0, delta=text, **at
                )
            ]
        return [
            self._event(
                "response.output_text.delta", content_index=0, delta=text, logprobs=[], **at
            )
        ]

    def _close(self) -> list[dict[str, Any]]:
        opened, self._open = self._open, None
        if opened is None:
            return []
        text = "".join(opened.texts)
        at = {"item_id": opened.item_id, "output_index": opened.index}
        if opened.kind == "reasoning":
            item = reasoning_item(opened.item_id, text)
            part = {"type": "summary_text", "text": text}
            events = [
                self._event(
                    "response.reasoning_summary_text.done", summary_index=0, text=text, **at
                ),
                self._event(
                    "response.reasoning_summary_part.done", summary_index=0, part=part, **at
                ),
            ]
        else:
            notes = output_annotations(self._grounding, text)
            item = message_item(opened.item_id, text, notes)
            events = [
                self._event(
                    "response.output_text.annotation.added",
                    content_index=0,
                    annotation_index=i,
                    annotation=note,
                    **at,
                )
                for i, note in enumerate(notes)
            ]
            events += [
                self._event(
                    "response.output_text.done", content_index=0, text=text, logprobs=[], **at
                ),
                self._event(
                    "response.content_part.done", content_index=0, part=item["content"][0], **at
                ),
            ]
        self.output[opened.index] = item
        events.append(
            self._event("response.output_item.done", output_index=opened.index, item=item)
        )
        return events

    def _call(self, call: Mapping[str, Any]) -> list[dict[str, Any]]:
        index = len(self.output)
        item_id, call_id = new_id("fc"), new_id("call")
        arguments = json.dumps(call.get("args", {}))
        name = call["name"]
        item = function_call_item(item_id, call_id, name, arguments)
        self.output.append(item)
        at = {"item_id": item_id, "output_index": index}
        return [
            self._event(
                "response.output_item.added",
                output_index=index,
                item=function_call_item(item_id, call_id, name, "", done=False),
            ),
            self._event("response.function_call_arguments.delta", delta=arguments, **at),
            self._event(
                "response.function_call_arguments.done", arguments=arguments, name=name, **at
            ),
            self._event("response.output_item.done", output_index=index, item=item),
        ]

    def finish(self) -> list[dict[str, Any]]:
        """Close the open item; ``response.completed`` (``response.incomplete`` if cut short)."""
        if self._grounding is not None and self._last.get("candidates"):
            self._last["candidates"] = [
                {**self._last["candidates"][0], "groundingMetadata": self._grounding}
            ]
        events = self._close()
        response = response_object(
            self._last,
            self.id,
            self.model,
            created_at=self.created_at,
            echo=self.echo,
            output=[item for item in self.output if item],
        )
        self.response = response
        kind = "response.completed" if response["status"] == "completed" else "response.incomplete"
        return [*events, self._event(kind, response=response)]

    def fail(self, code: str, message: str) -> list[dict[str, Any]]:
        """``response.failed``: the stream broke off (what was streamed stays in ``output``)."""
        self._open = None
        response = {
            **self._snapshot("failed"),
            "error": {"code": code, "message": message},
            "output": [item for item in self.output if item],
        }
        self.response = response
        return [self._event("response.failed", response=response)]
