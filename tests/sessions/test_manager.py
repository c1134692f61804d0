"""ChatManager: chats, histories, trimmed contents and the seed's request helper."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from tests.client import conftest as client_conftest
from tests.client.conftest import Start, projects

from gemgate import AsyncGemini
from gemgate.caching import CacheConfig
from gemgate.errors import UsageError
from gemgate.sessions import ChatManager, ChatMessage, ChatNotFound, ChatStorage
from gemgate.tools import Tool, tool

pytestmark = pytest.mark.anyio
live = client_conftest.live  # the emulator-server fixture, shared with tests/client

TINY = "gemini-test-tiny"  # a model whose caches may be small (32 tokens)


class WeatherTool(Tool):
    name: str = "get_weather"
    function_definition: dict = {  # type: ignore[type-arg]
        "name": "get_weather",
        "description": "The current weather for a city: temperature, sky and wind.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string", "description": "The city name"}},
            "required": ["city"],
        },
    }

    async def execute(self, tool_args: dict) -> dict:  # type: ignore[type-arg]
        return {"temperature": "22C"}


async def get_time(city: str) -> dict[str, str]:
    """The local time in a city, as HH:MM on a 24-hour clock."""
    return {"time": "10:00"}


def _id() -> str:
    return f"test-{uuid.uuid4().hex}"


async def test_create_and_ensure_are_idempotent() -> None:
    manager = ChatManager()
    info = await manager.create_chat("trip", title="Trip", user="ada", metadata={"lang": "en"})
    await manager.append("trip", [ChatMessage.user("Hello")])
    again = await manager.ensure_chat("trip", title="Other title")
    assert (again.id, again.title, again.user, again.metadata) == (
        "trip",
        "Trip",
        "ada",
        info.metadata,
    )
    assert again.message_count == 1  # ensuring never resets a chat
    made = await manager.ensure_chat("fresh", title="Fresh", user="bob")
    assert (made.title, made.user, made.message_count) == ("Fresh", "bob", 0)
    assert (await manager.ensure_chat("fresh")).created_at == made.created_at
    generated = await manager.create_chat()
    assert generated.id and generated.id not in ("trip", "fresh")
    assert {c.id for c in await manager.list_chats(user="ada")} == {"trip"}


async def test_ensure_chat_concurrently_creates_one_chat(storage: ChatStorage) -> None:
    manager = ChatManager(storage)
    chat_id = _id()
    infos = await asyncio.gather(*(manager.ensure_chat(chat_id, title="t") for _ in range(20)))
    assert {i.id for i in infos} == {chat_id}
    assert len({i.created_at for i in infos}) == 1
    await asyncio.gather(
        *(manager.append(chat_id, [ChatMessage.user(f"m{i}")]) for i in range(10)),
        *(manager.ensure_chat(chat_id) for _ in range(10)),
    )
    history = await manager.get_history(chat_id)
    assert sorted(m.text for m in history) == sorted(f"m{i}" for i in range(10))
    assert (await manager.get_chat(chat_id)).message_count == 10


async def test_ensure_chat_concurrently_on_a_new_sqlite_file(tmp_path: Path) -> None:
    """The very first calls on a database that has no tables yet race to make them."""
    manager = ChatManager(ChatStorage.from_url(f"sqlite:///{tmp_path}/new.db"))
    try:
        infos = await asyncio.gather(*(manager.ensure_chat("one") for _ in range(10)))
        assert {i.id for i in infos} == {"one"}
    finally:
        await manager.close()


async def test_append_and_history_keep_order_content_and_usage(tmp_path: Path) -> None:
    manager = ChatManager(ChatStorage.from_url(f"sqlite:///{tmp_path}/chats.db"))
    await manager.create_chat("c")
    call = ChatMessage(
        role="model",
        parts=[{"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}}],
        usage={"prompt_tokens": 10, "completion_tokens": 4, "total_tokens": 14},
        message_type="function_call",
    )
    reply = ChatMessage(
        role="user", parts=[{"functionResponse": {"name": "get_weather", "response": {"t": 22}}}]
    )
    info = await manager.append("c", [ChatMessage.user("Weather?"), call, reply])
    assert (info.message_count, info.prompt_tokens, info.total_tokens) == (3, 10, 14)
    info = await manager.append("c", [ChatMessage.model("It is 22C.")])
    assert info.message_count == 4
    history = await manager.get_history("c")
    assert [m.role for m in history] == ["user", "model", "user", "model"]
    assert history[1].function_calls == [{"name": "get_weather", "args": {"city": "Paris"}}]
    assert history[1].usage == call.usage and history[1].id == call.id
    await manager.close()


async def test_contents_are_gemini_contents_trimmed_to_a_budget() -> None:
    manager = ChatManager()
    await manager.create_chat("c")
    await manager.append(
        "c",
        [
            ChatMessage.user("old question " * 50),
            ChatMessage.model("old answer " * 50),
            ChatMessage(role="system", parts=[{"text": "internal note"}]),
            ChatMessage.user("new question"),
            ChatMessage.model("new answer"),
        ],
    )
    everything = await manager.contents("c")
    assert [c["role"] for c in everything] == ["user", "model", "user", "model"]
    assert all("internal note" not in str(c) for c in everything)
    assert everything[-1] == {"role": "model", "parts": [{"text": "new answer"}]}
    trimmed = await manager.contents("c", token_budget=20)
    assert trimmed == [
        {"role": "user", "parts": [{"text": "new question"}]},
        {"role": "model", "parts": [{"text": "new answer"}]},
    ]
    assert await manager.contents("c", token_budget=0) == []


async def test_unknown_chat_is_chat_not_found() -> None:
    manager = ChatManager()
    for attempt in (
        manager.get_chat("nope"),
        manager.get_history("nope"),
        manager.contents("nope"),
        manager.append("nope", [ChatMessage.user("hi")]),
        manager.delete_chat("nope"),
    ):
        with pytest.raises(ChatNotFound) as caught:
            await attempt
        assert caught.value.chat_id == "nope" and isinstance(caught.value, KeyError)


@pytest.fixture
async def client() -> AsyncIterator[AsyncGemini]:
    async with AsyncGemini.emulated() as g:
        yield g


async def test_generate_content_request_shape(client: AsyncGemini) -> None:
    manager = ChatManager()
    await manager.create_chat("1")
    await manager.append("1", [ChatMessage.user("Hi"), ChatMessage.model("Hello!")])
    request = await manager.generate_content_request(
        chat_id="1",
        query="What's the weather?",
        model="gemini-2.5-flash",
        client=client,
        tools=[WeatherTool(), get_time],
        tool_mode="any",
    )
    assert request == {
        "model": "models/gemini-2.5-flash",
        "contents": [
            {"role": "user", "parts": [{"text": "Hi"}]},
            {"role": "model", "parts": [{"text": "Hello!"}]},
            {"role": "user", "parts": [{"text": "What's the weather?"}]},
        ],
        "tools": [
            {"functionDeclarations": [WeatherTool().declaration(), tool(get_time).declaration()]}
        ],
        "toolConfig": {"functionCallingConfig": {"mode": "ANY"}},
    }
    assert request["tools"][0]["functionDeclarations"][0]["name"] == "get_weather"
    assert (await manager.get_chat("1")).message_count == 2  # building a request saves nothing

    plain = await manager.generate_content_request("new", "Hello", "models/gemini-2.5-flash")
    assert plain == {
        "model": "models/gemini-2.5-flash",
        "contents": [{"role": "user", "parts": [{"text": "Hello"}]}],
    }
    assert (await manager.get_chat("new")).message_count == 0  # the chat was made on demand


async def test_generate_content_request_with_an_existing_cache(client: AsyncGemini) -> None:
    manager = ChatManager()
    explicit = await manager.generate_content_request(
        "1",
        "q",
        "gemini-2.5-flash",
        client=client,
        tools=[WeatherTool()],
        tool_mode="auto",
        cache_config=CacheConfig(cache_name="cachedContents/abc123"),
    )
    assert explicit["cachedContent"] == "cachedContents/abc123"
    assert "tools" not in explicit and "toolConfig" not in explicit


async def test_tools_or_a_cache_config_without_a_client_are_a_usage_error() -> None:
    manager = ChatManager()
    for extra in ({"tools": [WeatherTool()]}, {"cache_config": CacheConfig(cache_name="w")}):
        with pytest.raises(UsageError, match="client="):
            await manager.generate_content_request("1", "q", "gemini-2.5-flash", **extra)
    assert await manager.list_chats() == []  # nothing was made for a refused request


@pytest.mark.parametrize("mode", ["sometimes", "", "ANYTHING"])
async def test_generate_content_request_refuses_unknown_tool_modes(
    mode: str, client: AsyncGemini
) -> None:
    with pytest.raises(UsageError, match="tool_mode"):
        await ChatManager().generate_content_request(
            "1", "q", "gemini-2.5-flash", client, tools=[WeatherTool()], tool_mode=mode
        )


async def test_generate_content_request_trims_history() -> None:
    manager = ChatManager()
    await manager.create_chat("1")
    await manager.append("1", [ChatMessage.user("old " * 200), ChatMessage.model("old " * 200)])
    request = await manager.generate_content_request(
        "1", "new question", "gemini-2.5-flash", token_budget=50
    )
    assert request["contents"] == [{"role": "user", "parts": [{"text": "new question"}]}]


async def test_generated_requests_are_accepted_by_the_api_with_and_without_a_cache(
    live: Start,
) -> None:
    emu = await live(projects(1), models=[{"name": TINY, "cache_min_tokens": 32}])
    client = emu.client(projects(1))
    try:
        manager = ChatManager()
        await manager.create_chat("1")
        await manager.append("1", [ChatMessage.user("Hi"), ChatMessage.model("Hello!")])

        inline = await manager.generate_content_request(
            "1",
            "What's the weather in Paris?",
            TINY,
            client=client,
            tools=[WeatherTool()],
            tool_mode="any",
        )
        answer = await client.send_request(inline, TINY)
        parts = answer["candidates"][0]["content"]["parts"]
        assert parts[0]["functionCall"]["name"] == "get_weather"

        config = CacheConfig(cache_name="weather_tools", ttl="10m")
        cached = await manager.generate_content_request(
            "1",
            "What's the weather in Paris?",
            TINY,
            client=client,
            tools=[WeatherTool()],
            tool_mode="any",
            cache_config=config,
        )
        [entry] = emu.emulator.state.caches.list("proj-0")
        assert entry.display_name == "weather_tools"
        assert entry.expire_time - entry.create_time == 600
        assert entry.tools == inline["tools"] and entry.tool_config == inline["toolConfig"]
        assert cached["cachedContent"] == entry.name
        assert "tools" not in cached and "toolConfig" not in cached
        answer = await client.send_request(cached, TINY)
        assert (
            answer["candidates"][0]["content"]["parts"][0]["functionCall"]["name"] == "get_weather"
        )
        assert answer["usageMetadata"]["cachedContentTokenCount"] == entry.tokens > 0

        again = await manager.generate_content_request(
            "1",
            "And in Rome?",
            TINY,
            client=client,
            tools=[WeatherTool()],
            tool_mode="any",
            cache_config=config,
        )
        assert again["cachedContent"] == entry.name
        assert len(emu.emulator.state.caches.list("proj-0")) == 1
    finally:
        await client.aclose()
