"""``/ws/live``: a browser's Live conversation, bridged to a pooled ``LiveSession``.

Connect to ``/ws/live`` (optionally ``?session_id=…`` to continue a conversation) with a
gateway key (``?key=``, a header, or the ``gemgate_session`` cookie from
``POST /api/v1/login``). The server first sends ``{"type": "session", "id": …}``. Then the
client sends JSON text frames, one of:

- ``{"type": "text", "content": "…"}``
- ``{"type": "image", "data": "<base64>", "mime_type": "image/jpeg", "prompt": "…"}``
- ``{"type": "audio", "data": "<base64 16 kHz 16-bit PCM>"}`` (any number), then
  ``{"type": "audio_end"}``

and receives, per turn: ``{"type": "text_delta", "text"}``, ``{"type": "transcription",
"text", "source"}``, ``{"type": "tool_calls", "calls"}``, and finally ``{"type":
"turn_complete", "text", "processing_time", "usage", "interrupted"}`` — or ``{"type":
"error", "message"}``. Every completed turn's user and model messages are stored in the
chat session, with message type (``text``, ``image``, ``audio``), sender and processing
time; a turn that fails stores nothing.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs

from starlette.types import Receive, Scope, Send

from gemgate.client._async_client import AsyncGemini
from gemgate.errors import GemgateError
from gemgate.gateway._keys import KeyCheck
from gemgate.gateway._sessions_api import owned_chat
from gemgate.gateway._sockets import BadFrame, parse_frame, refuse, send_frame, texts
from gemgate.live import LiveEvent, LiveText, LiveToolCalls, LiveTranscription, LiveTurnComplete
from gemgate.sessions import ChatManager, ChatMessage, ChatNotFound

__all__ = ["Charge", "LiveSocket"]

Charge = Callable[[int], Awaitable[KeyCheck]]
"""Bills one turn of so many input tokens to a gateway key's budget."""


class LiveSocket:
    """Serves one browser WebSocket on the client's ``LivePool`` and the chat store."""

    def __init__(self, client: AsyncGemini, manager: ChatManager) -> None:
        self._client = client
        self._manager = manager

    async def __call__(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        user: str,
        owner: str | None,
        charge: Charge | None = None,
    ) -> None:
        """Run the connection until the client closes it.

        New conversations belong to ``user``; an existing one must be visible to
        ``owner`` (the gateway key's name, or ``None`` without keys). ``charge`` bills each
        turn to the key's budget (``None``: no budget).

        The gateway has already read the ``websocket.connect`` message.
        """
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        wanted = (query.get("session_id") or [None])[0]
        try:
            chat_id = await self._chat(wanted, user, owner)
        except ChatNotFound:
            await refuse(send, "no such chat session")
            return
        await send({"type": "websocket.accept"})
        conversation = _Conversation(self._client, self._manager, chat_id, send, charge)
        with contextlib.suppress(OSError):  # the browser went away mid-answer
            await conversation.emit({"type": "session", "id": chat_id})
            await self._serve(conversation, receive, send)

    async def _serve(self, conversation: _Conversation, receive: Receive, send: Send) -> None:
        async for raw in texts(receive, send):
            try:
                await conversation.handle(parse_frame(raw))
            except BadFrame as exc:
                await conversation.emit({"type": "error", "message": str(exc)})
            except GemgateError as exc:
                await conversation.emit(
                    {"type": "error", "message": f"the Live session failed: {exc}"}
                )

    async def _chat(self, wanted: str | None, user: str, owner: str | None) -> str:
        """The chat this connection talks in: an existing visible one, or a new one."""
        if wanted is None:
            return (await self._manager.create_chat(title="Live conversation", user=user)).id
        return (await owned_chat(self._manager, wanted, owner)).id


class _Conversation:
    """One connection's turns: forwarded to the Live session, answered, and stored."""

    def __init__(
        self,
        client: AsyncGemini,
        manager: ChatManager,
        chat_id: str,
        send: Send,
        charge: Charge | None,
    ) -> None:
        self._pool = client.live
        self._tracker = client.engine.tracker
        self._model = client.settings.live_model
        self._manager = manager
        self._chat_id = chat_id
        self._send = send
        self._charge = charge
        self._audio_ms = 0

    async def _bill(self, tokens: int) -> None:
        """Charge one turn to the gateway key's budget, or refuse it."""
        if self._charge is not None:
            check = await self._charge(tokens)
            if check.status != 200:
                raise BadFrame(check.message)

    async def emit(self, value: dict[str, Any]) -> None:
        await send_frame(self._send, value)

    async def handle(self, frame: dict[str, Any]) -> None:
        kind = frame.get("type")
        if kind == "text":
            content = frame.get("content")
            if not isinstance(content, str) or not content.strip():
                raise BadFrame("'content' must be a non-empty string")
            await self._bill(len(content) // 4)
            await self._turn(ChatMessage.user(content, sender="user"), content)
        elif kind == "image":
            data, mime = _blob(frame, "image/jpeg")
            prompt = frame.get("prompt") or "Describe this image."
            if not isinstance(prompt, str):
                raise BadFrame("'prompt' must be a string")
            await self._bill(258 + len(prompt) // 4)  # an image counts as 258 tokens
            parts: list[dict[str, Any]] = [
                {"inlineData": {"mimeType": mime, "data": data}},
                {"text": prompt},
            ]
            message = ChatMessage(role="user", parts=parts, message_type="image", sender="user")
            await self._turn(message, {"role": "user", "parts": parts})
        elif kind == "audio":
            data, _ = _blob(frame, "audio/pcm;rate=16000")
            live = await self._live()
            pcm = base64.b64decode(data)
            if not pcm:
                raise BadFrame("'data' holds no audio")
            self._audio_ms += max(len(pcm) * 1000 // 32000, 1)
            await live.send_audio(pcm)
        elif kind == "audio_end":
            if not self._audio_ms:
                raise BadFrame("'audio_end' needs 'audio' frames before it")
            await self._bill(self._audio_ms * 32 // 1000)  # 32 tokens per second of audio
            await self._audio_turn()
        else:
            raise BadFrame(f"unknown message type {kind!r}; use text, image, audio, audio_end")

    async def _live(self) -> Any:
        fresh = self._chat_id not in self._pool
        live = await self._pool.session(self._chat_id)
        if fresh:  # a new Live session for a stored conversation: give it the history
            history = await self._manager.get_history(self._chat_id)
            await live.seed([m.to_content() for m in history if _seedable(m)])
        return live

    async def _turn(self, message: ChatMessage, content: Any) -> None:
        live = await self._live()
        await self._answer(live.turn(content), lambda: message)

    async def _audio_turn(self) -> None:
        live = await self._live()
        heard: list[str] = []
        duration, self._audio_ms = self._audio_ms, 0

        def said() -> ChatMessage:
            return ChatMessage.user(
                " ".join(heard) or "(audio)",
                message_type="audio",
                sender="user",
                metadata={"duration_ms": duration},
            )

        async def listened(events: AsyncGenerator[LiveEvent]) -> AsyncGenerator[LiveEvent]:
            async with contextlib.aclosing(events):
                async for event in events:
                    if isinstance(event, LiveTranscription) and event.source == "input":
                        heard.append(event.text)
                    yield event

        await self._answer(listened(live.end_audio()), said)

    async def _answer(
        self, events: AsyncGenerator[LiveEvent], user: Callable[[], ChatMessage]
    ) -> None:
        """Relay a turn's events; when it completes, store the user's message and the reply.

        Both are stored together, so a turn that fails leaves nothing half-stored.
        """
        started = time.perf_counter()
        pieces: list[str] = []
        async with contextlib.aclosing(events):  # a browser that leaves ends the turn now
            await self._relay(events, pieces, started, user)

    async def _relay(
        self,
        events: AsyncIterator[LiveEvent],
        pieces: list[str],
        started: float,
        user: Callable[[], ChatMessage],
    ) -> None:
        async for event in events:
            await self._forward(event, pieces)
            if isinstance(event, LiveTurnComplete):
                elapsed = time.perf_counter() - started
                text = "".join(pieces)
                reply = ChatMessage.model(
                    text,
                    sender="assistant",
                    processing_time=elapsed,
                    usage=_usage(event.usage),
                    metadata={"interrupted": True} if event.interrupted else {},
                )
                stored = [user(), reply] if text else [user()]  # an empty part poisons history
                await self._manager.append(self._chat_id, stored)
                thoughts = int((event.usage or {}).get("thoughts_token_count") or 0)
                self._track(elapsed, reply.usage, thoughts)
                await self.emit(
                    {
                        "type": "turn_complete",
                        "text": text,
                        "processing_time": round(elapsed, 4),
                        "usage": event.usage,
                        "interrupted": event.interrupted,
                    }
                )

    def _track(self, elapsed: float, counts: dict[str, int] | None, thoughts: int) -> None:
        """The turn as a tracked call: the request log and the key's budget see it."""
        record = self._tracker.start(uuid.uuid4().hex, self._model, None, "live")
        record.started -= elapsed
        if counts:
            metadata = {
                "promptTokenCount": counts["prompt_tokens"],
                "candidatesTokenCount": counts["completion_tokens"],
                "thoughtsTokenCount": thoughts,
                "totalTokenCount": counts["total_tokens"],
            }
            self._tracker.add_usage(record, metadata)
        self._tracker.finish(record)

    async def _forward(self, event: LiveEvent, pieces: list[str]) -> None:
        if isinstance(event, LiveText):
            pieces.append(event.text)
            await self.emit({"type": "text_delta", "text": event.text})
        elif isinstance(event, LiveTranscription):
            await self.emit({"type": "transcription", "text": event.text, "source": event.source})
        elif isinstance(event, LiveToolCalls):
            await self.emit({"type": "tool_calls", "calls": event.calls})


def _seedable(message: ChatMessage) -> bool:
    """A stored message the Live API will take back as context (no empty parts)."""
    return (
        message.role in ("user", "model")
        and bool(message.parts)
        and all(p.get("text") or "inlineData" in p or "fileData" in p for p in message.parts)
    )


def _blob(frame: dict[str, Any], default_mime: str) -> tuple[str, str]:
    data, mime = frame.get("data"), frame.get("mime_type") or default_mime
    if not isinstance(data, str) or not data or not isinstance(mime, str):
        raise BadFrame("'data' must be a non-empty base64 string")
    try:
        base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise BadFrame("'data' is not valid base64") from None
    return data, mime


def _usage(usage: dict[str, Any] | None) -> dict[str, int] | None:
    if not usage:
        return None
    prompt = int(usage.get("prompt_token_count") or 0)
    answer = int(usage.get("response_token_count") or usage.get("candidates_token_count") or 0)
    return {"prompt_tokens": prompt, "completion_tokens": answer, "total_tokens": prompt + answer}
