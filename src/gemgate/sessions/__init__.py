"""Chat sessions: messages, storage backends and the ``ChatManager``."""

from __future__ import annotations

from gemgate.sessions._base import (
    ChatExists,
    ChatNotFound,
    ChatStorage,
    CorruptRecord,
    StorageUnavailable,
)
from gemgate.sessions._manager import ChatManager
from gemgate.sessions._memory import LocalChatStorage, MemoryChatStorage
from gemgate.sessions._message import ChatInfo, ChatMessage
from gemgate.sessions._trim import trim_history

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
ChatStorage.register("sqlite", "gemgate.sessions._sql:SQLiteChatStorage")
for _scheme in ("postgres", "postgresql"):
    ChatStorage.register(_scheme, "gemgate.sessions._sql:PostgresChatStorage")
for _scheme in ("redis", "rediss", "unix"):
    ChatStorage.register(_scheme, "gemgate.sessions._redis:RedisChatStorage.from_url")


def __getattr__(name: str) -> object:
    """Backends that need database drivers are imported on first use."""
    if name in ("SQLiteChatStorage", "PostgresChatStorage"):
        from gemgate.sessions import _sql as sql

        return getattr(sql, name)
    if name == "RedisChatStorage":
        from gemgate.sessions._redis import RedisChatStorage

        return RedisChatStorage
    raise AttributeError(f"module 'gemgate.sessions' has no attribute {name!r}")
