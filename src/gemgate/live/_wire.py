"""What travels over a Live connection, for :class:`~gemgate.live.LiveSession`.

Client messages waiting for the server to confirm them, how a connection ended, and the
conversions between gemgate's and the SDK's shapes.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from google.genai import types

from gemgate.live._events import (
    LiveEvent,
    LiveReply,
    LiveText,
    LiveToolCalls,
    LiveTranscription,
)
from gemgate.tools._tool import Tool

if TYPE_CHECKING:
    from google.genai.live import AsyncSession

__all__ = [
    "REFUSED",
    "Closed",
    "Pending",
    "Refused",
    "Sender",
    "collect",
    "connect_config",
    "is_handshake_refusal",
    "to_content",
    "ws_closed",
]

Sender = Callable[["AsyncSession"], Awaitable[None]]
REFUSED = frozenset({1007, 1008})
"""Close codes meaning the server will not take this session (bad argument, policy)."""


@dataclass
class Pending:
    """A client message the newest resumption handle may not include."""

    send: Sender
    answered: bool = False
    """Its turn has ended (a reply was received in full)."""
    expects_reply: bool = True


@dataclass(frozen=True)
class Closed:
    """The connection ended (as the reader saw it)."""

    code: int | None
    reason: str


class Refused(Exception):
    """The server will not take this session (a refusal, not a broken connection)."""

    def __init__(self, code: int | None, reason: str) -> None:
        super().__init__(reason)
        self.code, self.reason = code, reason


def ws_closed() -> type[Exception]:
    """The ``websockets`` exception for a closed connection (imported when needed)."""
    import websockets

    closed: type[Exception] = websockets.ConnectionClosed
    return closed


def is_handshake_refusal(exc: Exception) -> bool:
    """An HTTP 401/403/404 answer to the WebSocket upgrade: retrying will not help.

    Other statuses (429, 5xx) are worth another try.
    """
    from websockets.exceptions import InvalidStatus

    return isinstance(exc, InvalidStatus) and exc.response.status_code in (401, 403, 404)


def to_content(content: str | types.Content | Mapping[str, Any]) -> types.Content:
    """Text, a ``types.Content`` or a wire-JSON Content, as a ``types.Content``."""
    if isinstance(content, str):
        return types.Content(role="user", parts=[types.Part(text=content)])
    if isinstance(content, types.Content):
        return content
    return types.Content.model_validate_json(json.dumps(dict(content)))  # wire JSON: base64


def connect_config(
    config: types.LiveConnectConfig | Mapping[str, Any] | None, tools: Sequence[Tool]
) -> types.LiveConnectConfig:
    """The session's ``LiveConnectConfig``: TEXT with input transcription by default."""
    if config is None:
        parsed = types.LiveConnectConfig(
            response_modalities=[types.Modality.TEXT],
            input_audio_transcription=types.AudioTranscriptionConfig(),
        )
    elif isinstance(config, types.LiveConnectConfig):
        parsed = config
    else:
        parsed = types.LiveConnectConfig.model_validate(dict(config))
    if tools:
        declared = types.Tool(
            function_declarations=[
                types.FunctionDeclaration.model_validate(t.declaration()) for t in tools
            ]
        )
        parsed = parsed.model_copy(update={"tools": [*(parsed.tools or []), declared]})
    return parsed


async def collect(events: AsyncIterator[LiveEvent]) -> LiveReply:
    """A turn's events gathered into one :class:`LiveReply`."""
    reply = LiveReply()
    pieces: list[str] = []
    async for event in events:
        if isinstance(event, LiveText):
            pieces.append(event.text)
        elif isinstance(event, LiveTranscription):
            reply.transcriptions.append(event)
        elif isinstance(event, LiveToolCalls):
            reply.tool_calls.extend(event.calls)
        else:
            reply.usage, reply.interrupted = event.usage, event.interrupted
    reply.text = "".join(pieces)
    return reply
