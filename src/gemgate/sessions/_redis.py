"""Redis chat storage (redis-py asyncio): each write is one atomic Lua script.

Keys, under a prefix: ``{p}chat:{id}`` (hash: metadata and counters),
``{p}chat:{id}:messages`` (list of JSON messages), ``{p}chats`` (sorted set by update
time) and ``{p}user:{user}`` (the user's chats, same scores).
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from gemgate.sessions._base import (
    ChatExists,
    ChatNotFound,
    ChatStorage,
    StorageUnavailable,
    decoding,
    token_totals,
)
from gemgate.sessions._message import ChatInfo, ChatMessage

__all__ = ["RedisChatStorage"]

# KEYS: meta, messages, index, user-index; ARGV: reset(0/1), now, prompt, completion, total,
# then the messages. Returns the new hash, or nil when the chat does not exist.
_APPEND = """
if redis.call('EXISTS', KEYS[1]) == 0 then return nil end
if ARGV[1] == '1' then
  redis.call('DEL', KEYS[2])
  redis.call('HSET', KEYS[1], 'message_count', 0, 'prompt_tokens', 0,
             'completion_tokens', 0, 'total_tokens', 0)
end
local n = #ARGV - 5
if n > 0 then redis.call('RPUSH', KEYS[2], unpack(ARGV, 6)) end
redis.call('HINCRBY', KEYS[1], 'message_count', n)
redis.call('HINCRBY', KEYS[1], 'prompt_tokens', ARGV[3])
redis.call('HINCRBY', KEYS[1], 'completion_tokens', ARGV[4])
redis.call('HINCRBY', KEYS[1], 'total_tokens', ARGV[5])
redis.call('HSET', KEYS[1], 'updated_at', ARGV[2])
redis.call('ZADD', KEYS[3], ARGV[2], redis.call('HGET', KEYS[1], 'id'))
if KEYS[4] ~= '' then
  redis.call('ZADD', KEYS[4], ARGV[2], redis.call('HGET', KEYS[1], 'id'))
end
return redis.call('HGETALL', KEYS[1])
"""
_CREATE = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('ZADD', KEYS[2], ARGV[1], ARGV[3])
if KEYS[3] ~= '' then redis.call('ZADD', KEYS[3], ARGV[1], ARGV[3]) end
return 1
"""

# KEYS: meta; ARGV: field, value. Returns the new hash, or nil when the chat does not exist.
_SET = """
if redis.call('EXISTS', KEYS[1]) == 0 then return nil end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return redis.call('HGETALL', KEYS[1])
"""


def _info(chat_id: str, raw: dict[str, str]) -> ChatInfo:
    with decoding(chat_id, "metadata"):
        return ChatInfo(
            id=raw["id"],
            title=raw.get("title") or None,
            user=raw.get("user") or None,
            created_at=float(raw["created_at"]),
            updated_at=float(raw["updated_at"]),
            message_count=int(raw.get("message_count", 0)),
            prompt_tokens=int(raw.get("prompt_tokens", 0)),
            completion_tokens=int(raw.get("completion_tokens", 0)),
            total_tokens=int(raw.get("total_tokens", 0)),
            metadata=json.loads(raw.get("metadata", "{}")),
        )


def _hash_info(chat_id: str, result: list[str] | None) -> ChatInfo:
    """The chat from a script's ``HGETALL`` reply (``nil``: the chat does not exist)."""
    if result is None:
        raise ChatNotFound(chat_id)
    return _info(chat_id, dict(zip(result[::2], result[1::2], strict=True)))


class RedisChatStorage(ChatStorage):
    """Chats in Redis.

    Example::

        storage = RedisChatStorage.from_url("redis://127.0.0.1:6379/0")
    """

    def __init__(self, client: aioredis.Redis, *, prefix: str = "gemgate:") -> None:
        self._redis = client
        self._prefix = prefix
        self._append = client.register_script(_APPEND)
        self._create = client.register_script(_CREATE)
        self._set = client.register_script(_SET)

    @classmethod
    def from_url(cls, url: str, *, prefix: str = "gemgate:") -> RedisChatStorage:
        """A storage on ``redis://host:port/db``."""
        return cls(aioredis.from_url(url, decode_responses=True), prefix=prefix)

    def _keys(self, chat_id: str, user: str | None = None) -> list[str]:
        p = self._prefix
        return [
            f"{p}chat:{chat_id}",
            f"{p}chat:{chat_id}:messages",
            f"{p}chats",
            f"{p}user:{user}" if user else "",
        ]

    @contextlib.asynccontextmanager
    async def _guard(self) -> AsyncIterator[None]:
        try:
            yield
        except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
            raise StorageUnavailable(f"redis unavailable: {type(exc).__name__}") from exc

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
        fields = {
            "id": info.id,
            "title": title or "",
            "user": user or "",
            "created_at": repr(info.created_at),
            "updated_at": repr(info.updated_at),
            "message_count": 0,
            "prompt_tokens": 0,
            "completion_tokens": 0,
            "total_tokens": 0,
            "metadata": json.dumps(info.metadata),
        }
        flat: list[Any] = [repr(info.updated_at)]
        for key, value in fields.items():
            flat += [key, value]
        keys = self._keys(info.id, user)
        async with self._guard():
            created = await self._create(keys=[keys[0], keys[2], keys[3]], args=flat)
        if not created:
            raise ChatExists(f"chat {info.id!r} already exists")
        return info

    async def _raw(self, chat_id: str) -> dict[str, str]:
        async with self._guard():
            found = await self._redis.hgetall(self._keys(chat_id)[0])
        raw = {str(k): str(v) for k, v in found.items()}
        if not raw:
            raise ChatNotFound(chat_id)
        return raw

    async def get_chat(self, chat_id: str) -> ChatInfo:
        """See :meth:`ChatStorage.get_chat`."""
        return _info(chat_id, await self._raw(chat_id))

    async def get_history(self, chat_id: str) -> list[ChatMessage]:
        """See :meth:`ChatStorage.get_history`."""
        meta, items = self._keys(chat_id)[:2]
        async with self._guard(), self._redis.pipeline(transaction=True) as pipe:
            pipe.exists(meta)
            pipe.lrange(items, 0, -1)
            exists, stored = await pipe.execute()
        if not exists:
            raise ChatNotFound(chat_id)
        history = []
        for position, payload in enumerate(stored):
            with decoding(chat_id, position):
                history.append(ChatMessage.model_validate_json(payload))
        return history

    async def _write(self, chat_id: str, batch: Sequence[ChatMessage], *, reset: bool) -> ChatInfo:
        raw = await self._raw(chat_id)
        prompt, completion, total = token_totals(batch)
        args: list[Any] = ["1" if reset else "0", repr(time.time()), prompt, completion, total]
        args += [m.model_dump_json() for m in batch]
        async with self._guard():
            result = await self._append(
                keys=self._keys(chat_id, raw.get("user") or None), args=args
            )
        return _hash_info(chat_id, result)

    async def append_history(self, chat_id: str, messages: Sequence[ChatMessage]) -> ChatInfo:
        """See :meth:`ChatStorage.append_history`."""
        return await self._write(chat_id, messages, reset=False)

    async def update_history(self, chat_id: str, messages: Sequence[ChatMessage]) -> ChatInfo:
        """See :meth:`ChatStorage.update_history`."""
        return await self._write(chat_id, messages, reset=True)

    async def list_chats(self, *, user: str | None = None, limit: int = 100) -> list[ChatInfo]:
        """See :meth:`ChatStorage.list_chats`."""
        index = f"{self._prefix}user:{user}" if user else f"{self._prefix}chats"
        async with self._guard():
            ids = [str(i) for i in await self._redis.zrevrange(index, 0, limit - 1)]
            async with self._redis.pipeline(transaction=False) as pipe:
                for chat_id in ids:
                    pipe.hgetall(self._keys(chat_id)[0])
                rows = await pipe.execute()
        return [_info(i, dict(r)) for i, r in zip(ids, rows, strict=True) if r]

    async def rename_chat(self, chat_id: str, title: str | None) -> ChatInfo:
        """See :meth:`ChatStorage.rename_chat`."""
        return await self._set_field(chat_id, "title", title or "")

    async def set_metadata(self, chat_id: str, metadata: Mapping[str, Any]) -> ChatInfo:
        """See :meth:`ChatStorage.set_metadata`."""
        return await self._set_field(chat_id, "metadata", json.dumps(dict(metadata)))

    async def _set_field(self, chat_id: str, field: str, value: str) -> ChatInfo:
        async with self._guard():
            result = await self._set(keys=self._keys(chat_id)[:1], args=[field, value])
        return _hash_info(chat_id, result)

    async def delete_chat(self, chat_id: str) -> None:
        """See :meth:`ChatStorage.delete_chat`."""
        raw = await self._raw(chat_id)
        meta, items, index, user = self._keys(chat_id, raw.get("user") or None)
        async with self._guard(), self._redis.pipeline(transaction=True) as pipe:
            pipe.delete(meta, items)
            pipe.zrem(index, chat_id)
            if user:
                pipe.zrem(user, chat_id)
            await pipe.execute()

    async def close(self) -> None:
        """Close the connection pool."""
        await self._redis.aclose()
