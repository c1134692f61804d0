"""What the gateway's WebSocket endpoints share: JSON frames in and out, and refusals.

Browsers cannot read an HTTP status on a refused upgrade, so a refusal accepts the socket
and closes it at once with code 1008 and a reason the page can show.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from starlette.types import Receive, Send

__all__ = ["MAX_FRAME", "BadFrame", "parse_frame", "refuse", "send_frame", "texts"]

MAX_FRAME = 8 * 1024 * 1024
"""The largest frame a client may send."""


class BadFrame(Exception):
    """A frame the endpoint cannot use; the reason goes back as an error frame."""


async def texts(receive: Receive) -> AsyncIterator[str]:
    """Each frame's text (binary frames decoded as UTF-8) until the client disconnects."""
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            return
        yield message.get("text") or (message.get("bytes") or b"").decode("utf-8", "replace")


def parse_frame(raw: str) -> dict[str, Any]:
    """A client frame as a JSON object, or :class:`BadFrame`."""
    if len(raw) > MAX_FRAME:
        raise BadFrame(f"frames are limited to {MAX_FRAME} bytes")
    try:
        frame = json.loads(raw)
    except (ValueError, RecursionError):
        raise BadFrame("frames must be JSON objects") from None
    if not isinstance(frame, dict):
        raise BadFrame("frames must be JSON objects")
    return frame


async def send_frame(send: Send, value: dict[str, Any]) -> None:
    """One JSON text frame."""
    await send({"type": "websocket.send", "text": json.dumps(value)})


async def refuse(send: Send, reason: str) -> None:
    """Accept, then close with 1008 and ``reason`` (cut to the 123 bytes a close allows)."""
    await send({"type": "websocket.accept"})
    short = reason.encode()[:123].decode("utf-8", "ignore")
    await send({"type": "websocket.close", "code": 1008, "reason": short})
