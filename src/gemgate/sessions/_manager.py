"""``ChatManager``: chats over a :class:`ChatStorage`, ready to send to Gemini."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from gemgate.errors import UsageError
from gemgate.sessions._base import ChatExists, ChatNotFound, ChatStorage
from gemgate.sessions._memory import MemoryChatStorage
from gemgate.sessions._message import ChatInfo, ChatMessage
from gemgate.sessions._trim import trim_history

__all__ = ["ChatManager", "RequestTools"]


class RequestTools(Protocol):
    """What turns tools and a cache config into request fields (an ``AsyncGemini``)."""

    async def tool_request_fields(
        self, model: str, tools: Sequence[Any], tool_mode: str = ..., cache_config: Any = ...
    ) -> dict[str, Any]:
        """``tools`` and ``toolConfig``, or the ``cachedContent`` that holds them."""
        ...


class ChatManager:
    """Creates chats, stores their messages and builds the contents to send.

    Example::

        manager = ChatManager(storage=ChatStorage.from_url("sqlite:///chats.db"))
        info = await manager.create_chat(title="Trip planning", user="ada")
        await manager.append(info.id, [ChatMessage.user("Hello")])
    """

    def __init__(self, storage: ChatStorage | None = None) -> None:
        self.storage = storage or MemoryChatStorage()

    async def create_chat(
        self,
        chat_id: str | None = None,
        *,
        title: str | None = None,
        user: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> ChatInfo:
        """Create a chat."""
        return await self.storage.create_chat(chat_id, title=title, user=user, metadata=metadata)

    async def ensure_chat(
        self, chat_id: str, *, title: str | None = None, user: str | None = None
    ) -> ChatInfo:
        """The chat, created if it does not exist yet."""
        try:
            return await self.storage.get_chat(chat_id)
        except ChatNotFound:
            try:
                return await self.storage.create_chat(chat_id, title=title, user=user)
            except ChatExists:  # created concurrently
                return await self.storage.get_chat(chat_id)

    async def get_chat(self, chat_id: str) -> ChatInfo:
        """A chat's metadata."""
        return await self.storage.get_chat(chat_id)

    async def get_history(self, chat_id: str) -> list[ChatMessage]:
        """Every stored message."""
        return await self.storage.get_history(chat_id)

    async def append(self, chat_id: str, messages: Sequence[ChatMessage]) -> ChatInfo:
        """Append messages (atomically, in order)."""
        return await self.storage.append_history(chat_id, messages)

    async def list_chats(self, *, user: str | None = None, limit: int = 100) -> list[ChatInfo]:
        """Chats, most recently updated first."""
        return await self.storage.list_chats(user=user, limit=limit)

    async def rename_chat(self, chat_id: str, title: str | None) -> ChatInfo:
        """Set a chat's title (``None`` clears it)."""
        return await self.storage.rename_chat(chat_id, title)

    async def set_metadata(self, chat_id: str, metadata: Mapping[str, Any]) -> ChatInfo:
        """Replace a chat's metadata."""
        return await self.storage.set_metadata(chat_id, metadata)

    async def replace_history(self, chat_id: str, messages: Sequence[ChatMessage]) -> ChatInfo:
        """Replace the whole history (atomically)."""
        return await self.storage.update_history(chat_id, messages)

    async def delete_chat(self, chat_id: str) -> None:
        """Delete a chat."""
        await self.storage.delete_chat(chat_id)

    async def contents(
        self, chat_id: str, *, token_budget: int | None = None
    ) -> list[dict[str, Any]]:
        """The chat as Gemini ``contents``, trimmed to ``token_budget`` if given."""
        history = await self.storage.get_history(chat_id)
        kept = (
            trim_history(history, token_budget)
            if token_budget is not None
            else [m for m in history if m.role != "system"]
        )
        return [m.to_content() for m in kept]

    async def generate_content_request(
        self,
        chat_id: str,
        query: str,
        model: str,
        client: RequestTools | None = None,
        tools: Sequence[Any] = (),
        tool_mode: str = "auto",
        cache_config: Any = None,
        *,
        token_budget: int | None = None,
    ) -> dict[str, Any]:
        """The GenerateContentRequest for the next turn (the seed's helper).

        ``tools`` (:class:`~gemgate.tools.Tool` objects or plain functions) and a
        ``cache_config`` are turned into request fields by ``client`` (an
        :class:`~gemgate.AsyncGemini`; see its ``tool_request_fields``), which is then
        required. Building a request stores nothing; the chat is made if it is new.
        """
        extras = bool(tools) or cache_config is not None
        if extras and client is None:
            raise UsageError(
                "tools and cache_config need client=: the AsyncGemini that declares the "
                "tools and makes their cache"
            )
        bare = model.removeprefix("models/")
        await self.ensure_chat(chat_id)
        contents = await self.contents(chat_id, token_budget=token_budget)
        contents.append(ChatMessage.user(query).to_content())
        request: dict[str, Any] = {"model": f"models/{bare}", "contents": contents}
        if extras and client is not None:
            request.update(await client.tool_request_fields(bare, tools, tool_mode, cache_config))
        return request

    async def close(self) -> None:
        """Close the storage."""
        await self.storage.close()
