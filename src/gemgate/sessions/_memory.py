"""In-memory chat storage (per process): the reference implementation."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from gemgate.sessions._base import ChatExists, ChatNotFound, ChatStorage, token_totals
from gemgate.sessions._message import ChatInfo, ChatMessage

__all__ = ["LocalChatStorage", "MemoryChatStorage"]


class MemoryChatStorage(ChatStorage):
    """Chats in a dict. Every method runs without awaiting, so each one is atomic."""

    def __init__(self) -> None:
        self._chats: dict[str, ChatInfo] = {}
        self._messages: dict[str, list[ChatMessage]] = {}

    def _info(self, chat_id: str) -> ChatInfo:
        try:
            return self._chats[chat_id]
        except KeyError:
            raise ChatNotFound(chat_id) from None

    async def create_chat(
        self,
        chat_id: str | None = None,
        *,
        title: str | None = None,
        user: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> ChatInfo:
        """See :meth:`ChatStorage.create_chat`."""
        info = ChatInfo.new(chat_id, title=title, user=user, metadata=metadata)
        if info.id in self._chats:
            raise ChatExists(f"chat {info.id!r} already exists")
        self._chats[info.id] = info
        self._messages[info.id] = []
        return info.model_copy()

    async def get_chat(self, chat_id: str) -> ChatInfo:
        """See :meth:`ChatStorage.get_chat`."""
        return self._info(chat_id).model_copy()

    async def get_history(self, chat_id: str) -> list[ChatMessage]:
        """See :meth:`ChatStorage.get_history`."""
        self._info(chat_id)
        return [m.model_copy(deep=True) for m in self._messages[chat_id]]

    def _count(self, info: ChatInfo, messages: Sequence[ChatMessage]) -> None:
        prompt, completion, total = token_totals(messages)
        info.prompt_tokens += prompt
        info.completion_tokens += completion
        info.total_tokens += total
        info.message_count += len(messages)
        info.updated_at = time.time()

    async def append_history(self, chat_id: str, messages: Sequence[ChatMessage]) -> ChatInfo:
        """See :meth:`ChatStorage.append_history`."""
        info = self._info(chat_id)
        copies = [m.model_copy(deep=True) for m in messages]
        self._messages[chat_id].extend(copies)
        self._count(info, copies)
        return info.model_copy()

    async def update_history(self, chat_id: str, messages: Sequence[ChatMessage]) -> ChatInfo:
        """See :meth:`ChatStorage.update_history`."""
        info = self._info(chat_id)
        self._messages[chat_id] = [m.model_copy(deep=True) for m in messages]
        info.prompt_tokens = info.completion_tokens = info.total_tokens = 0
        info.message_count = 0
        self._count(info, messages)
        return info.model_copy()

    async def list_chats(self, *, user: str | None = None, limit: int = 100) -> list[ChatInfo]:
        """See :meth:`ChatStorage.list_chats`."""
        chats = [c for c in self._chats.values() if user is None or c.user == user]
        chats.sort(key=lambda c: c.updated_at, reverse=True)
        return [c.model_copy() for c in chats[:limit]]

    async def rename_chat(self, chat_id: str, title: str | None) -> ChatInfo:
        """See :meth:`ChatStorage.rename_chat`."""
        info = self._info(chat_id)
        info.title = title
        return info.model_copy()

    async def set_metadata(self, chat_id: str, metadata: Mapping[str, Any]) -> ChatInfo:
        """See :meth:`ChatStorage.set_metadata`."""
        info = self._info(chat_id)
        info.metadata = dict(metadata)
        return info.model_copy()

    async def delete_chat(self, chat_id: str) -> None:
        """See :meth:`ChatStorage.delete_chat`."""
        self._info(chat_id)
        del self._chats[chat_id]
        del self._messages[chat_id]


LocalChatStorage = MemoryChatStorage
"""The seed's name for the in-memory storage."""
