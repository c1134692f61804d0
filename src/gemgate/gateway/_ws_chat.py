"""``/ws/chat``: a chat session over a WebSocket, tokens streamed as they come.

The client sends JSON text frames ``{"content": "...", "session_id"?: "...", "model"?: "..."}``;
the server answers each with the loop's events as JSON frames (``text_delta`` …
``final_answer``), or ``{"type": "error", "message": ...}``. A frame without
``session_id`` starts a new session, announced as ``{"type": "session", "id": ...}``.
"""

from __future__ import annotations

from typing import Any

from starlette.types import Receive, Scope, Send

from gemgate.client._async_client import AsyncGemini
from gemgate.errors import GemgateError
from gemgate.gateway._sessions_api import owned_chat
from gemgate.gateway._sockets import BadFrame, parse_frame, send_frame, texts
from gemgate.sessions import ChatManager, ChatNotFound

__all__ = ["ChatSocket"]


class ChatSocket:
    """Serves one WebSocket connection on the gateway's ``ChatManager``."""

    def __init__(self, client: AsyncGemini, manager: ChatManager) -> None:
        self._client = client
        self._manager = manager

    async def __call__(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        user: str | None = None,
        owner: str | None = None,
    ) -> None:
        """Run the connection until the client closes it.

        New sessions belong to ``user``; an existing one must be visible to ``owner``.

        The gateway has already read the ``websocket.connect`` message.
        """
        await send({"type": "websocket.accept"})
        async for text in texts(receive, send):
            await self._turn(text, send, user, owner)

    async def _turn(self, text: str, send: Send, user: str | None, owner: str | None) -> None:
        async def emit(value: dict[str, Any]) -> None:
            await send_frame(send, value)

        try:
            frame = parse_frame(text)
        except BadFrame as exc:
            await emit({"type": "error", "message": str(exc)})
            return
        content = frame.get("content")
        if not isinstance(content, str) or not content.strip():
            await emit({"type": "error", "message": "'content' must be a non-empty string"})
            return
        session = frame.get("session_id")
        try:
            if session is None:
                created = await self._manager.create_chat(title=content[:40], user=user)
                session = created.id
                await emit({"type": "session", "id": session})
            else:
                await owned_chat(self._manager, str(session), owner)
            model = frame.get("model") if isinstance(frame.get("model"), str) else None
            async for event in self._client.chat_with_tools(
                content, model=model, chat_id=str(session), chat_manager=self._manager
            ):
                await emit(event.model_dump())
        except ChatNotFound as exc:
            await emit({"type": "error", "message": str(exc)})
        except GemgateError as exc:
            await emit({"type": "error", "message": f"the model call failed: {exc}"})
