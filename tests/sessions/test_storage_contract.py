"""One contract, every backend: memory, SQLite, Redis, PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from gemgate.sessions import (
    ChatExists,
    ChatMessage,
    ChatNotFound,
    ChatStorage,
    CorruptRecord,
)

pytestmark = pytest.mark.anyio


def _id() -> str:
    return f"test-{uuid.uuid4().hex}"


async def test_create_get_and_metadata(storage: ChatStorage) -> None:
    info = await storage.create_chat(_id(), title="Support", user="ada", metadata={"lang": "en"})
    fetched = await storage.get_chat(info.id)
    assert (fetched.title, fetched.user, fetched.metadata) == ("Support", "ada", {"lang": "en"})
    assert fetched.message_count == 0 and fetched.total_tokens == 0
    with pytest.raises(ChatExists):
        await storage.create_chat(info.id)
    generated = await storage.create_chat()
    assert generated.id and generated.id != info.id


async def test_messages_round_trip_with_full_content(storage: ChatStorage) -> None:
    info = await storage.create_chat(_id())
    call = ChatMessage(
        role="model",
        parts=[
            {
                "functionCall": {"name": "get_weather", "args": {"city": "Paris"}},
                "thoughtSignature": "c2lnbmF0dXJl",
            },
            {"text": "thinking", "thought": True},
        ],
        processing_time=0.25,
        usage={"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
    )
    answer = ChatMessage(
        role="user",
        parts=[{"functionResponse": {"name": "get_weather", "response": {"t": "22C"}}}],
    )
    after = await storage.append_history(
        info.id,
        [ChatMessage.user("weather?", usage={"prompt_tokens": 3, "total_tokens": 3}), call, answer],
    )
    assert after.message_count == 3
    assert (after.prompt_tokens, after.completion_tokens, after.total_tokens) == (13, 5, 18)
    history = await storage.get_history(info.id)
    assert history[1] == call
    assert history[1].parts[0]["thoughtSignature"] == "c2lnbmF0dXJl"
    assert history[2].function_responses == [{"name": "get_weather", "response": {"t": "22C"}}]
    assert history[0].text == "weather?" and history[1].text == ""
    assert [m.id for m in history] == [m.id for m in await storage.get_history(info.id)]


async def test_update_history_replaces(storage: ChatStorage) -> None:
    info = await storage.create_chat(_id())
    await storage.append_history(info.id, [ChatMessage.user(str(i)) for i in range(5)])
    kept = [ChatMessage.user("only", usage={"total_tokens": 7})]
    after = await storage.update_history(info.id, kept)
    assert after.message_count == 1 and after.total_tokens == 7
    assert [m.text for m in await storage.get_history(info.id)] == ["only"]
    await storage.append_history(info.id, [ChatMessage.model("next")])
    assert [m.text for m in await storage.get_history(info.id)] == ["only", "next"]


async def test_rename_keeps_messages_and_counters(storage: ChatStorage) -> None:
    info = await storage.create_chat(_id(), title="Draft", user="ada")
    await storage.append_history(info.id, [ChatMessage.user("hi", usage={"total_tokens": 3})])
    renamed = await storage.rename_chat(info.id, "Trip to Rome")
    assert renamed.title == "Trip to Rome" and renamed.user == "ada"
    assert renamed.message_count == 1 and renamed.total_tokens == 3
    assert (await storage.get_chat(info.id)).title == "Trip to Rome"
    assert [m.text for m in await storage.get_history(info.id)] == ["hi"]
    assert (await storage.rename_chat(info.id, None)).title is None


async def test_set_metadata_replaces_it_and_keeps_the_rest(storage: ChatStorage) -> None:
    info = await storage.create_chat(_id(), title="Notes", user="ada", metadata={"a": 1})
    await storage.append_history(info.id, [ChatMessage.user("hi", usage={"total_tokens": 3})])
    changed = await storage.set_metadata(info.id, {"store_ids": ["vs_1", "vs_2"]})
    assert changed.metadata == {"store_ids": ["vs_1", "vs_2"]}
    assert changed.title == "Notes" and changed.message_count == 1 and changed.total_tokens == 3
    again = await storage.get_chat(info.id)
    assert again.metadata == {"store_ids": ["vs_1", "vs_2"]} and again.title == "Notes"
    assert [m.text for m in await storage.get_history(info.id)] == ["hi"]


async def test_list_and_delete(storage: ChatStorage) -> None:
    user = f"user-{uuid.uuid4().hex[:6]}"
    first = await storage.create_chat(_id(), user=user)
    second = await storage.create_chat(_id(), user=user)
    await asyncio.sleep(0.01)
    await storage.append_history(first.id, [ChatMessage.user("bump")])
    listed = await storage.list_chats(user=user)
    assert [c.id for c in listed] == [first.id, second.id]  # most recently updated first
    assert len(await storage.list_chats(user=user, limit=1)) == 1
    await storage.delete_chat(first.id)
    assert [c.id for c in await storage.list_chats(user=user)] == [second.id]
    with pytest.raises(ChatNotFound):
        await storage.get_history(first.id)


async def test_unknown_chat_is_a_typed_error(storage: ChatStorage) -> None:
    missing = _id()
    for call in (
        storage.get_chat(missing),
        storage.get_history(missing),
        storage.append_history(missing, [ChatMessage.user("x")]),
        storage.update_history(missing, []),
        storage.rename_chat(missing, "x"),
        storage.set_metadata(missing, {}),
        storage.delete_chat(missing),
    ):
        with pytest.raises(ChatNotFound) as excinfo:
            await call
        assert excinfo.value.chat_id == missing
    with pytest.raises(ChatNotFound):
        await storage.get_chat(missing)  # nothing was created by the failed writes


async def test_concurrent_appenders_lose_nothing_and_keep_order(storage: ChatStorage) -> None:
    info = await storage.create_chat(_id())
    writers, each = 20, 50

    async def writer(w: int) -> None:
        for i in range(each):
            await storage.append_history(info.id, [ChatMessage.user(f"{w}:{i}")])

    await asyncio.gather(*(writer(w) for w in range(writers)))
    history = await storage.get_history(info.id)
    assert len(history) == writers * each
    assert (await storage.get_chat(info.id)).message_count == writers * each
    for w in range(writers):
        mine = [int(m.text.split(":")[1]) for m in history if m.text.startswith(f"{w}:")]
        assert mine == list(range(each))


async def test_batches_are_not_interleaved(storage: ChatStorage) -> None:
    info = await storage.create_chat(_id())

    async def writer(w: int) -> None:
        for b in range(5):
            await storage.append_history(
                info.id, [ChatMessage.user(f"{w}:{b}:{k}") for k in range(4)]
            )

    await asyncio.gather(*(writer(w) for w in range(6)))
    texts = [m.text for m in await storage.get_history(info.id)]
    for start in range(0, len(texts), 4):
        block = texts[start : start + 4]
        assert len({t.rsplit(":", 1)[0] for t in block}) == 1


async def test_corrupt_rows_are_a_typed_error(storage: ChatStorage, tmp_path: object) -> None:
    info = await storage.create_chat(_id())
    await storage.append_history(info.id, [ChatMessage.user("fine")])
    await _corrupt(storage, info.id)
    with pytest.raises(CorruptRecord, match=info.id):
        await storage.get_history(info.id)


async def _corrupt(storage: ChatStorage, chat_id: str) -> None:
    from gemgate.sessions._memory import MemoryChatStorage

    if isinstance(storage, MemoryChatStorage):
        pytest.skip("memory storage keeps objects, not serialised rows")
    if hasattr(storage, "_redis"):
        await storage._redis.rpush(f"{storage._prefix}chat:{chat_id}:messages", "{not json")  # type: ignore[attr-defined]
        return
    import sqlalchemy as sa

    from gemgate.sessions._sql import message_rows

    async with storage._engine.begin() as conn:  # type: ignore[attr-defined]
        await conn.execute(
            sa.insert(message_rows).values(chat_id=chat_id, seq=99, payload='{"role": "robot"}')
        )
