"""A Gemini ``GenerateContentResponse`` → an Anthropic ``message``.

The message is :class:`~gemgate.wire.anthropic._stream.MessageStream`'s events for the
response, accumulated as Anthropic's own clients accumulate a stream, so a streamed and
a non-streamed answer carry the same blocks, citations included.

Example:
    >>> response = {"candidates": [{"content": {"parts": [{"text": "Hi"}]},
    ...     "finishReason": "STOP"}], "usageMetadata": {"promptTokenCount": 3,
    ...     "candidatesTokenCount": 1, "totalTokenCount": 4}}
    >>> answer = message(response, "gemini-2.5-flash", "msg_1")
    >>> answer["content"], answer["stop_reason"], answer["usage"]["input_tokens"]
    ([{'type': 'text', 'text': 'Hi'}], 'end_turn', 3)
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Mapping
from typing import Any

from gemgate.wire.anthropic._stream import MessageStream

__all__ = ["accumulate", "message"]

_DELTA_FIELDS = {
    "text_delta": "text",
    "thinking_delta": "thinking",
    "signature_delta": "signature",
}


def accumulate(events: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Anthropic stream events → the message they describe."""
    message: dict[str, Any] = {}
    partial: dict[int, str] = {}
    for event in events:
        kind = event["type"]
        if kind == "message_start":
            message = copy.deepcopy(dict(event["message"]))
        elif kind == "content_block_start":
            message["content"].append(copy.deepcopy(dict(event["content_block"])))
        elif kind == "content_block_delta":
            block, delta = message["content"][event["index"]], event["delta"]
            if delta["type"] == "input_json_delta":
                partial[event["index"]] = partial.get(event["index"], "") + delta["partial_json"]
            elif delta["type"] == "citations_delta":
                block.setdefault("citations", []).append(delta["citation"])
            else:
                field = _DELTA_FIELDS[delta["type"]]
                block[field] += delta[field]
        elif kind == "content_block_stop" and event["index"] in partial:
            message["content"][event["index"]]["input"] = json.loads(partial.pop(event["index"]))
        elif kind == "message_delta":
            message.update(event["delta"])
            message["usage"] = {**message["usage"], **event["usage"]}
    return message


def message(response: Mapping[str, Any], model: str, message_id: str) -> dict[str, Any]:
    """A whole Gemini response as an Anthropic ``message``.

    Args:
        response: The ``GenerateContentResponse``.
        model: The model name the message reports (as the caller named it).
        message_id: The message's id (``msg_…``).
    """
    stream = MessageStream(model, message_id)
    events = [*stream.start(response), *stream.convert(response), *stream.finish()]
    return accumulate(events)
