"""``/api/v1/sessions``: chat sessions over the ``ChatManager``, answered by the model.

``POST /api/v1/sessions/{id}/messages`` runs one turn (``"stream": true`` streams it as
server-sent events, one JSON event per ``data:`` line, the loop's event shapes).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from starlette.types import Receive, Scope, Send

from gemgate.client.async_client import AsyncGemini
from gemgate.errors import GemgateError
from gemgate.gateway.asgi import BadBody, read_json, send_bytes, send_json, send_stream
from gemgate.sessions import (
    ChatInfo,
    ChatManager,
    ChatNotFound,
    ChatStorage,
    StorageUnavailable,
)

__all__ = ["SessionsRoute", "owned_chat", "visible"]

PREFIX = "/api/v1/sessions"


class _Problem(Exception):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status, self.detail = status, detail


class SessionsRoute:
    """Create, list, read, delete sessions; post a message and get the answer."""

    def __init__(self, client: AsyncGemini, storage_url: str) -> None:
        self._client = client
        self.manager = ChatManager(ChatStorage.from_url(storage_url))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one request; problems are ``{"detail": ...}`` with a 4xx/5xx status."""
        try:
            await self._dispatch(scope, receive, send)
        except _Problem as exc:
            await send_json(send, exc.status, {"detail": exc.detail})
        except ChatNotFound as exc:
            await send_json(send, 404, {"detail": str(exc)})
        except StorageUnavailable as exc:
            await send_json(send, 503, {"detail": str(exc)})

    async def _dispatch(self, scope: Scope, receive: Receive, send: Send) -> None:
        parts = (
            scope["path"][len(PREFIX) :].strip("/").split("/") if scope["path"] != PREFIX else []
        )
        method = scope["method"]
        key = scope.get("gemgate.key")
        owner: str | None = key.name if key is not None else None  # keys see only their own
        info = await owned_chat(self.manager, parts[0], owner) if parts else None
        if not parts and method == "POST":
            body = await self._json(receive)
            info = await self.manager.create_chat(
                title=_text(body, "title"), user=owner or _text(body, "user")
            )
            await send_json(send, 201, info.model_dump())
        elif not parts and method == "GET":
            query = dict(
                p.split("=", 1) for p in scope["query_string"].decode().split("&") if "=" in p
            )
            chats = await self.manager.list_chats(user=owner or query.get("user") or None)
            await send_json(send, 200, {"sessions": [c.model_dump() for c in chats]})
        elif info is not None and len(parts) == 1 and method == "GET":
            history = await self.manager.get_history(parts[0])
            await send_json(
                send, 200, {**info.model_dump(), "messages": [m.model_dump() for m in history]}
            )
        elif len(parts) == 1 and method == "DELETE":
            await self.manager.delete_chat(parts[0])
            await send_bytes(send, 204, b"")
        elif len(parts) == 2 and parts[1] == "messages" and method == "POST":
            await self._message(parts[0], await self._json(receive), receive, send)
        else:
            raise _Problem(404, f"no route for {method} {scope['path']}")

    async def _json(self, receive: Receive) -> dict[str, Any]:
        try:
            return await read_json(receive, 1024 * 1024, empty_ok=True)
        except BadBody as exc:
            raise _Problem(400, str(exc)) from None

    async def _message(
        self, chat_id: str, body: dict[str, Any], receive: Receive, send: Send
    ) -> None:
        content = body.get("content")
        if not isinstance(content, str) or not content.strip():
            raise _Problem(400, "'content' must be a non-empty string")
        events = self._client.chat_with_tools(
            content,
            model=_text(body, "model"),
            chat_id=chat_id,
            chat_manager=self.manager,
            system_instruction=_text(body, "system"),
        )
        if body.get("stream"):
            headers = [("content-type", "text/event-stream"), ("cache-control", "no-cache")]
            await send_stream(send, receive, 200, _sse(events), headers)
            return
        final: dict[str, Any] = {}
        try:
            async for event in events:
                if event.type == "final_answer":
                    final = event.model_dump()
        except GemgateError as exc:
            raise _Problem(502, f"the model call failed: {exc}") from None
        await send_json(send, 200, final)


async def owned_chat(manager: ChatManager, chat_id: str, owner: str | None) -> ChatInfo:
    """The chat, if ``owner`` may use it; else :class:`ChatNotFound` (as if it did not exist)."""
    info = await manager.get_chat(chat_id)
    if not visible(info, owner):
        raise ChatNotFound(chat_id)
    return info


def visible(info: ChatInfo, owner: str | None) -> bool:
    """Whether ``owner`` (a gateway key's name; ``None`` without keys) may use this chat.

    With gateway keys, a chat belongs to the key that made it, and to no other.
    """
    return owner is None or info.user == owner


def _text(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is not None and not isinstance(value, str):
        raise _Problem(400, f"'{name}' must be a string")
    return value


async def _sse(events: AsyncIterator[Any]) -> AsyncIterator[bytes]:
    try:
        async for event in events:
            yield b"data: " + event.model_dump_json().encode() + b"\n\n"
    except GemgateError as exc:
        error = {"type": "error", "message": str(exc)}
        yield b"data: " + json.dumps(error).encode() + b"\n\n"
    finally:
        aclose = getattr(events, "aclose", None)
        if aclose is not None:
            await aclose()
