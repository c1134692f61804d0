"""Chat sessions: messages, storage backends and the ``ChatManager``."""

from __future__ import annotations

from gemgate.sessions.base import (
    ChatExists,
    ChatNotFound,
    ChatStorage,
    CorruptRecord,
    StorageUnavailable,
)
from gemgate.sessions.manager import ChatManager
from gemgate.sessions.memory import LocalChatStorage, MemoryChatStorage
from gemgate.sessions.message import ChatInfo, ChatMessage
from gemgate.sessions.trim import trim_history

__all__ = [
    "ChatExists",
    "ChatInfo",
    "ChatManager",
    "ChatMessage",
    "ChatNotFound",
    "ChatStorage",
    "CorruptRecord",
    "LocalChatStorage",
    "MemoryChatStorage",
    "PostgresChatStorage",
    "RedisChatStorage",
    "SQLiteChatStorage",
    "StorageUnavailable",
    "trim_history",
]


ChatStorage.register("memory", lambda url: MemoryChatStorage())
ChatStorage.register("sqlite", "gemgate.sessions.sql:SQLiteChatStorage")
for _scheme in ("postgres", "postgresql"):
    ChatStorage.register(_scheme, "gemgate.sessions.sql:PostgresChatStorage")
for _scheme in ("redis", "rediss", "unix"):
    ChatStorage.register(_scheme, "gemgate.sessions.redis:RedisChatStorage.from_url")


def __getattr__(name: str) -> object:
    """Backends that need database drivers are imported on first use."""
    if name in ("SQLiteChatStorage", "PostgresChatStorage"):
        from gemgate.sessions import sql

        return getattr(sql, name)
    if name == "RedisChatStorage":
        from gemgate.sessions.redis import RedisChatStorage

        return RedisChatStorage
    raise AttributeError(f"module 'gemgate.sessions' has no attribute {name!r}")
