"""``/api/v1/sessions``: chat sessions over the ``ChatManager``, answered by the model.

``POST /api/v1/sessions/{id}/messages`` runs one turn (``"stream": true`` streams it as
server-sent events, one JSON event per ``data:`` line, the loop's event shapes);
``POST …/regenerate`` answers the last question again in place of its answer.
``store_ids`` (on the session, or on one message) name retrieval stores of the caller
that ground the answer; its ``final_answer`` then carries ``grounding_metadata``.
A turn is stored whole once it has ended, so a failed one leaves the session as it was.
Failures are raised and answered ``{"detail": ...}`` by the gateway
(`gemgate.gateway._faces.GATEWAY`), with the status they deserve: a stream answers its
error that way too when the error comes before its first event (a bad model, a bad
request, exhausted quota); a failure after that ends the stream with an ``error`` event.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import AsyncIterator, Sequence
from typing import Any

from starlette.types import Receive, Scope, Send

from gemgate.client._async_client import AsyncGemini
from gemgate.errors import GemgateError
from gemgate.gateway._asgi import read_json, send_bytes, send_json, send_stream
from gemgate.gateway._faces import Problem
from gemgate.gateway._retrieval import store_ids, stores_named
from gemgate.rag import RetrievalStore, RetrievalStores
from gemgate.sessions import ChatInfo, ChatManager, ChatNotFound, ChatStorage

__all__ = ["SessionsRoute", "owned_chat", "owner_of", "visible"]

PREFIX = "/api/v1/sessions"
_MAX_BODY = 1024 * 1024
"""The cap of a body without images (a message's cap is the gateway's)."""
IMAGE_TYPES = frozenset(
    {"image/png", "image/jpeg", "image/webp", "image/gif", "image/heic", "image/heif"}
)
"""The image types Gemini reads inline."""


class SessionsRoute:
    """Create, list, read, delete sessions; post a message and get the answer.

    With gateway keys, each key sees only the sessions it made.
    """

    def __init__(self, client: AsyncGemini, storage_url: str, max_body: int) -> None:
        self._client = client
        self._max_message = max_body
        self.manager = ChatManager(ChatStorage.from_url(storage_url))

    async def create(self, scope: Scope, receive: Receive, send: Send) -> None:
        """``POST /api/v1/sessions``."""
        body = await read_json(receive, _MAX_BODY, empty_ok=True)
        owner = owner_of(scope)
        metadata = {}
        if body.get("store_ids") is not None:
            ids = store_ids(body["store_ids"], "store_ids")
            await stores_named(self._stores(scope), ids)
            metadata["store_ids"] = ids
        info = await self.manager.create_chat(
            title=_text(body, "title"), user=owner or _text(body, "user"), metadata=metadata
        )
        await send_json(send, 201, info.model_dump())

    async def list_all(self, scope: Scope, receive: Receive, send: Send) -> None:
        """``GET /api/v1/sessions`` (``?user=`` filters, without gateway keys)."""
        query = dict(p.split("=", 1) for p in scope["query_string"].decode().split("&") if "=" in p)
        chats = await self.manager.list_chats(user=owner_of(scope) or query.get("user") or None)
        await send_json(send, 200, {"sessions": [c.model_dump() for c in chats]})

    async def read(self, scope: Scope, receive: Receive, send: Send) -> None:
        """``GET /api/v1/sessions/{session_id}``: the session and its messages."""
        info = await self._owned(scope)
        history = await self.manager.get_history(info.id)
        await send_json(
            send, 200, {**info.model_dump(), "messages": [m.model_dump() for m in history]}
        )

    async def rename(self, scope: Scope, receive: Receive, send: Send) -> None:
        """``PATCH /api/v1/sessions/{session_id}``: ``{"title"?, "store_ids"?}``.

        ``title: null`` clears the title; ``store_ids`` (the caller's stores, ``[]`` for
        none) replaces the stores the session's turns search.
        """
        info = await self._owned(scope)
        body = await read_json(receive, _MAX_BODY)
        if "title" not in body and "store_ids" not in body:
            raise Problem(400, "give 'title' (a string, or null to clear it) or 'store_ids'")
        title = _text(body, "title")
        ids = None
        if "store_ids" in body:  # checked before anything is written
            ids = store_ids([] if body["store_ids"] is None else body["store_ids"], "store_ids")
            await stores_named(self._stores(scope), ids)
        if "title" in body:
            info = await self.manager.rename_chat(info.id, title.strip() or None if title else None)
        if ids is not None:
            info = await self.manager.set_metadata(info.id, {**info.metadata, "store_ids": ids})
        await send_json(send, 200, info.model_dump())

    async def delete(self, scope: Scope, receive: Receive, send: Send) -> None:
        """``DELETE /api/v1/sessions/{session_id}``."""
        info = await self._owned(scope)
        await self.manager.delete_chat(info.id)
        await send_bytes(send, 204, b"")

    async def message(self, scope: Scope, receive: Receive, send: Send) -> None:
        """``POST /api/v1/sessions/{session_id}/messages``: one turn, answered or streamed."""
        info = await self._owned(scope)
        body = await read_json(receive, self._max_message, empty_ok=True)
        content = body.get("content", "")
        if not isinstance(content, str):
            raise Problem(400, "'content' must be a string")
        parts = _images(body.get("images"))
        if not content.strip() and not parts:
            raise Problem(400, "'content' must be a non-empty string (or send 'images')")
        stores = await self._grounding(scope, info, body)
        await self._turn(info.id, body, receive, send, content, parts, stores=stores)

    async def regenerate(self, scope: Scope, receive: Receive, send: Send) -> None:
        """``POST /api/v1/sessions/{session_id}/regenerate``: the last answer, made again."""
        info = await self._owned(scope)
        body = await read_json(receive, _MAX_BODY, empty_ok=True)
        stores = await self._grounding(scope, info, body)
        await self._turn(info.id, body, receive, send, "", [], replace_last=True, stores=stores)

    async def _owned(self, scope: Scope) -> ChatInfo:
        return await owned_chat(self.manager, scope["path_params"]["session_id"], owner_of(scope))

    def _stores(self, scope: Scope) -> RetrievalStores:
        return self._client.stores.for_owner(owner_of(scope) or "")

    async def _grounding(
        self, scope: Scope, info: ChatInfo, body: dict[str, Any]
    ) -> list[RetrievalStore]:
        """The stores that ground this turn: the body's ``store_ids``, else the session's."""
        if body.get("store_ids") is not None:
            ids = store_ids(body["store_ids"], "store_ids")
        else:
            ids = list(info.metadata.get("store_ids") or [])
        return await stores_named(self._stores(scope), ids) if ids else []

    async def _turn(
        self,
        chat_id: str,
        body: dict[str, Any],
        receive: Receive,
        send: Send,
        content: str,
        parts: list[dict[str, Any]],
        *,
        replace_last: bool = False,
        stores: Sequence[RetrievalStore] = (),
    ) -> None:
        events = self._client.chat_with_tools(
            content,
            model=_text(body, "model"),
            chat_id=chat_id,
            chat_manager=self.manager,
            system_instruction=_text(body, "system"),
            parts=parts,
            replace_last=replace_last,
            stores=stores,
        )
        if body.get("stream"):
            first = await _first(events)  # an error before it is answered as an HTTP error
            headers = [("content-type", "text/event-stream"), ("cache-control", "no-cache")]
            await send_stream(send, receive, 200, _sse(first, events), headers)
            return
        final: dict[str, Any] = {}
        async for event in events:  # a failed model call is answered by the gateway
            if event.type == "final_answer":
                final = event.model_dump()
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


def owner_of(scope: Scope) -> str | None:
    """The gateway key's name (with keys, each sees only its own sessions)."""
    key = scope.get("gemgate.key")
    return key.name if key is not None else None


def _text(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is not None and not isinstance(value, str):
        raise Problem(400, f"'{name}' must be a string")
    return value


def _images(value: object) -> list[dict[str, Any]]:
    """``[{"mime_type", "data"}]`` (base64) as Gemini ``inlineData`` parts."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise Problem(400, "'images' must be a list of {mime_type, data}")
    parts = []
    for index, image in enumerate(value):
        where = f"images[{index}]"
        if not isinstance(image, dict) or set(image) - {"mime_type", "data"}:
            raise Problem(400, f"'{where}' must be an object with 'mime_type' and 'data'")
        mime, data = image.get("mime_type"), image.get("data")
        if mime not in IMAGE_TYPES:
            raise Problem(400, f"'{where}.mime_type' must be one of {sorted(IMAGE_TYPES)}")
        if not isinstance(data, str) or not data:
            raise Problem(400, f"'{where}.data' must be base64 text")
        try:
            base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            raise Problem(400, f"'{where}.data' is not valid base64") from None
        parts.append({"inlineData": {"mimeType": mime, "data": data}})
    return parts


async def _first(events: AsyncIterator[Any]) -> Any:
    """The first event (``None`` if there is none), closing the events if it fails."""
    try:
        return await anext(events, None)
    except BaseException:
        aclose = getattr(events, "aclose", None)
        if aclose is not None:
            await aclose()
        raise


async def _sse(first: Any, events: AsyncIterator[Any]) -> AsyncIterator[bytes]:
    try:
        if first is not None:
            yield b"data: " + first.model_dump_json().encode() + b"\n\n"
        async for event in events:
            yield b"data: " + event.model_dump_json().encode() + b"\n\n"
    except GemgateError as exc:
        error = {"type": "error", "message": str(exc)}
        yield b"data: " + json.dumps(error).encode() + b"\n\n"
    finally:
        aclose = getattr(events, "aclose", None)
        if aclose is not None:
            await aclose()
