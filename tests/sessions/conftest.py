"""Chat storage backends for the contract suite: memory and SQLite always; Redis and
PostgreSQL on the machine's servers (skipped locally with a reason when down; never under
``CI=true``)."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator

import pytest
from tests.servers import POSTGRES_URL, REDIS_URL, need_server

from gemgate.sessions import ChatStorage


async def make_storage(kind: str, tmp_path: object) -> ChatStorage:
    if kind == "memory":
        return ChatStorage.from_url("memory://")
    if kind == "sqlite":
        return ChatStorage.from_url(f"sqlite:///{tmp_path}/chats.db")
    if kind == "redis":
        need_server("Redis", 6379)
        from gemgate.sessions._redis import RedisChatStorage

        return RedisChatStorage.from_url(REDIS_URL, prefix=f"gemgate-test-{uuid.uuid4().hex[:8]}:")
    need_server("PostgreSQL", 5432)
    return ChatStorage.from_url(POSTGRES_URL)


@pytest.fixture(params=["memory", "sqlite", "redis", "postgres"])
async def storage(request: pytest.FixtureRequest, tmp_path: object) -> AsyncIterator[ChatStorage]:
    store = await make_storage(request.param, tmp_path)
    created: list[str] = []
    original = store.create_chat

    async def tracking_create(*args: object, **kwargs: object) -> object:
        info = await original(*args, **kwargs)  # type: ignore[arg-type]
        created.append(info.id)
        return info

    store.create_chat = tracking_create  # type: ignore[method-assign]
    try:
        yield store
    finally:
        for chat_id in created:
            with contextlib.suppress(Exception):  # best-effort cleanup of test data
                await store.delete_chat(chat_id)
        if request.param == "redis":
            redis_client = store._redis  # type: ignore[attr-defined]
            keys = await redis_client.keys(f"{store._prefix}*")  # type: ignore[attr-defined]
            if keys:
                await redis_client.delete(*keys)
        await store.close()
