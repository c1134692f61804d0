"""Live frames: reading client messages, writing server messages, closing with a reason.

Every client message is one JSON object with exactly one member (``setup``,
``clientContent``, ``realtimeInput``, ``toolResponse``, ``contextUpdate``; snake_case
accepted), read strictly like a REST body. Every server message is sent as a **binary**
frame holding UTF-8 JSON, as the service does. Errors end the connection with a close
code and a reason of at most 123 bytes (the WebSocket limit; the service cuts its reasons
the same way): ``1007`` for invalid arguments, ``1008`` for not found / permission /
aborted, ``1011`` for quota, deadline, unavailable and internal errors.
"""

from __future__ import annotations

import json
from typing import Any

from gemgate.emulator._errors import ApiError
from gemgate.emulator._http import dumps
from gemgate.emulator._normalize import normalize
from gemgate.wire.durations import format_duration

__all__ = [
    "INTERNAL",
    "INVALID",
    "POLICY",
    "LiveClose",
    "close_code",
    "encode",
    "go_away",
    "model_turn",
    "parse_message",
    "resumption_update",
    "server_content",
    "setup_complete",
    "tool_call",
    "tool_call_cancellation",
    "turn_complete",
]

INVALID = 1007
"""Close code for INVALID_ARGUMENT and FAILED_PRECONDITION."""
POLICY = 1008
"""Close code for NOT_FOUND, PERMISSION_DENIED, ABORTED and other policy violations."""
INTERNAL = 1011
"""Close code for RESOURCE_EXHAUSTED, DEADLINE_EXCEEDED, UNAVAILABLE and INTERNAL."""
_MAX_REASON = 123
_ONE_MEMBER = (
    "Invalid JSON payload received. A client message must set exactly one of setup, "
    "client_content, realtime_input, tool_response, context_update."
)


def _cut(reason: str) -> str:
    data = reason.encode()
    if len(data) <= _MAX_REASON:
        return reason
    return data[:_MAX_REASON].decode(errors="ignore")


class LiveClose(Exception):
    """End the connection with a close code and a reason (cut to 123 bytes)."""

    def __init__(self, code: int, reason: str) -> None:
        self.code = code
        self.reason = _cut(reason)
        super().__init__(f"{code} {self.reason}")

    @classmethod
    def from_api_error(cls, error: ApiError) -> LiveClose:
        """The close a REST error becomes on a Live connection (its first message line)."""
        return cls(close_code(error.code), error.message.split("\n", 1)[0])


def close_code(status: int) -> int:
    """The close code for an HTTP status: 400 → 1007, 401/403/404/409 → 1008, else 1011."""
    if status == 400:
        return INVALID
    if status in (401, 403, 404, 409):
        return POLICY
    return INTERNAL


encode = dumps
"""A server message as the bytes of one binary frame (the REST bodies' compact JSON)."""


def parse_message(raw: str | bytes) -> tuple[str, dict[str, Any]]:
    """Read one client frame; return its kind (camelCase) and normalized value."""
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise LiveClose(INVALID, "Invalid JSON payload received. Unexpected token.") from None
    if not isinstance(body, dict):
        raise LiveClose(
            INVALID,
            'Invalid JSON payload received. Unknown name "": Root element must be a message.',
        )
    try:
        message = normalize(body, "BidiGenerateContentClientMessage")
    except ApiError as exc:
        raise LiveClose.from_api_error(exc) from None
    if len(message) != 1:
        raise LiveClose(INVALID, _ONE_MEMBER)
    [(kind, value)] = message.items()
    return kind, value


def setup_complete() -> dict[str, Any]:
    """``setupComplete``."""
    return {"setupComplete": {}}


def server_content(**fields: Any) -> dict[str, Any]:
    """A ``serverContent`` message with the given fields."""
    return {"serverContent": fields}


def model_turn(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """One streamed chunk of the model's turn."""
    return server_content(modelTurn={"parts": parts})


def turn_complete(usage: dict[str, Any]) -> dict[str, Any]:
    """The end of a turn, with its ``usageMetadata``."""
    return {"serverContent": {"turnComplete": True}, "usageMetadata": usage}


def tool_call(calls: list[dict[str, Any]]) -> dict[str, Any]:
    """``toolCall`` with ``functionCalls`` (``id``, ``name``, ``args``)."""
    return {"toolCall": {"functionCalls": calls}}


def tool_call_cancellation(ids: list[str]) -> dict[str, Any]:
    """``toolCallCancellation`` of calls the user interrupted."""
    return {"toolCallCancellation": {"ids": ids}}


def go_away(seconds: float) -> dict[str, Any]:
    """``goAway`` with the time left before the server closes the connection."""
    return {"goAway": {"timeLeft": format_duration(max(round(seconds, 3), 0.0))}}


def resumption_update(handle: str | None, consumed: int) -> dict[str, Any]:
    """``sessionResumptionUpdate``: a new handle, or ``resumable: false`` without one."""
    if handle is None:
        return {"sessionResumptionUpdate": {"resumable": False}}
    return {
        "sessionResumptionUpdate": {
            "newHandle": handle,
            "resumable": True,
            "lastConsumedClientMessageIndex": str(consumed),
        }
    }
