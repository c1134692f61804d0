"""``chat_with_tools`` with a ``CacheConfig``, on a live emulator whose traffic is recorded.

A small ASGI wrapper around the emulator keeps every request body and response body, so
the tests see exactly what the client put on the wire.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import uvicorn

from gemgate import AsyncGemini
from gemgate.caching import CacheConfig
from gemgate.emulator import Emulator, EmulatorConfig, create_app
from gemgate.emulator._http import TRANSPORT_KEY
from gemgate.errors import AuthError
from gemgate.sessions import ChatManager
from gemgate.tools import FinalAnswer, UsageEvent, tool
from tests.conftest import FakeClock, serve_in_loop, stop_serving

pytestmark = pytest.mark.anyio

MODEL = "gemini-2.5-flash"
SYSTEM = "\n".join(
    f"Rule {i}: you are a careful weather assistant; always call get_weather for a city, "
    "quote the temperature it returns, and never guess a forecast yourself."
    for i in range(50)
)  # about 1,500 tokens: above gemini-2.5-flash's 1,024-token minimum
SHORT_SYSTEM = "You are a weather assistant."
CACHED_ONLY = ("systemInstruction", "tools", "toolConfig")


@tool
async def get_weather(city: str) -> dict[str, str]:
    """The current weather for a city."""
    return {"city": city, "temperature": "22C"}


@dataclass
class Exchange:
    """One HTTP request to the emulator and its answer."""

    method: str
    path: str
    body: bytes = b""
    status: int | None = None
    response: bytes = b""

    def json(self) -> dict[str, Any]:
        value: dict[str, Any] = json.loads(self.body) if self.body else {}
        return value

    @property
    def is_model_call(self) -> bool:
        return self.method == "POST" and self.path.endswith(
            (":generateContent", ":streamGenerateContent")
        )

    def chunks(self) -> list[dict[str, Any]]:
        """The response as JSON objects (SSE events, or the one JSON body)."""
        text = self.response.decode()
        if "streamGenerateContent" not in self.path:
            return [json.loads(text)] if text else []
        return [
            json.loads(line[len("data:") :])
            for line in text.splitlines()
            if line.startswith("data:")
        ]


After = Callable[[Exchange], Awaitable[None]]


@dataclass
class Recorder:
    """ASGI middleware: records every exchange, then runs an optional hook."""

    app: Emulator
    exchanges: list[Exchange] = field(default_factory=list)
    after: After | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        transport = getattr(getattr(send, "__self__", None), "transport", None)
        if transport is not None:  # what the emulator reads from ``send`` for drop faults
            scope[TRANSPORT_KEY] = transport
        exchange = Exchange(scope["method"], scope["path"])
        self.exchanges.append(exchange)

        async def receive_recorded() -> Any:
            message = await receive()
            if message["type"] == "http.request":
                exchange.body += message.get("body", b"")
            return message

        async def send_recorded(message: Any) -> None:
            if message["type"] == "http.response.start":
                exchange.status = message["status"]
            elif message["type"] == "http.response.body":
                exchange.response += message.get("body", b"")
            await send(message)

        await self.app(scope, receive_recorded, send_recorded)
        if self.after is not None:
            await self.after(exchange)

    def model_calls(self) -> list[Exchange]:
        return [e for e in self.exchanges if e.is_model_call]

    def cache_creations(self) -> list[Exchange]:
        return [
            e for e in self.exchanges if e.method == "POST" and e.path.endswith("/cachedContents")
        ]

    def refreshes(self) -> list[Exchange]:
        return [e for e in self.exchanges if e.method == "PATCH"]


@dataclass
class Server:
    recorder: Recorder
    emulator: Emulator
    clock: FakeClock
    base: str
    projects: list[dict[str, Any]]
    clients: list[AsyncGemini] = field(default_factory=list)

    def client(self) -> AsyncGemini:
        """A client on this server (closed when the test ends)."""
        client = AsyncGemini(
            projects=self.projects, base_url=self.base, clock=self.clock, sleep=self.clock.sleep
        )
        self.clock.busy = lambda: client.in_flight > 0
        self.clients.append(client)
        return client

    def caches(self) -> list[Any]:
        return [e for p in self.projects for e in self.emulator.state.caches.list(p["name"])]


def _projects(count: int, keys: int) -> list[dict[str, Any]]:
    return [
        {"name": f"proj-{p}", "keys": [f"key-{p}-{k}" for k in range(keys)]} for p in range(count)
    ]


@pytest.fixture
async def server(clock: FakeClock) -> AsyncIterator[Callable[..., Awaitable[Server]]]:
    """``await server(projects=1, keys=2)``: a recorded emulator on 127.0.0.1."""
    running: list[tuple[uvicorn.Server, asyncio.Task[None], Server]] = []

    async def start(count: int = 1, keys: int = 2) -> Server:
        listed = _projects(count, keys)
        app = create_app(EmulatorConfig.model_validate({"projects": listed}), clock=clock)
        recorder = Recorder(app)
        uv, task, base = await serve_in_loop(recorder)
        made = Server(recorder, app, clock, base, listed)
        running.append((uv, task, made))
        return made

    yield start
    for uv, task, made in running:
        for client in made.clients:
            await client.aclose()  # closing twice is harmless
        await stop_serving(uv, task)


async def _run(
    client: AsyncGemini,
    question: str = "What's the weather in Paris?",
    *,
    system: str = SYSTEM,
    **kwargs: Any,
) -> list[Any]:
    kwargs.setdefault("cache_config", CacheConfig(cache_name="weather_chat", auto_refresh_ttl="1h"))
    events = [
        event
        async for event in client.chat_with_tools(
            question, model=MODEL, tools=[get_weather], system_instruction=system, **kwargs
        )
    ]
    final = events[-1]
    assert isinstance(final, FinalAnswer), final
    assert "22C" in final.text and final.iterations == 2
    return events


def _cached_tokens(exchange: Exchange) -> int:
    counts = [
        c.get("usageMetadata", {}).get("cachedContentTokenCount", 0) for c in exchange.chunks()
    ]
    return max(counts, default=0)


async def test_every_model_request_carries_only_the_cache(server: Any) -> None:
    srv: Server = await server()
    client = srv.client()
    events = await _run(client)

    [cache] = srv.caches()
    assert cache.display_name == "weather_chat"
    assert cache.system_instruction == {"parts": [{"text": SYSTEM}], "role": "user"}
    assert cache.tools[0]["functionDeclarations"][0]["name"] == "get_weather"
    assert cache.tool_config == {"functionCallingConfig": {"mode": "AUTO"}}
    assert cache.tokens >= 1024

    calls = srv.recorder.model_calls()
    assert len(calls) == 2  # the function call, then the answer
    for call in calls:
        body = call.json()
        assert call.status == 200
        assert body["cachedContent"] == cache.name
        assert not set(CACHED_ONLY) & set(body), sorted(body)
        assert _cached_tokens(call) == cache.tokens > 0
    # the prompt the model saw includes the cached part
    usages = [e.usage for e in events if isinstance(e, UsageEvent)]
    assert len(usages) == 2 and all(u["prompt_tokens"] > cache.tokens for u in usages)
    assert len(srv.recorder.cache_creations()) == 1
    await client.aclose()


async def test_a_second_run_reuses_the_cache_and_keeps_history(server: Any) -> None:
    srv: Server = await server()
    client = srv.client()
    chats = ChatManager()
    await _run(client, chat_id="trip", chat_manager=chats)
    await _run(client, "And the weather in Rome?", chat_id="trip", chat_manager=chats)

    assert len(srv.caches()) == 1
    assert len(srv.recorder.cache_creations()) == 1
    names = {c.json()["cachedContent"] for c in srv.recorder.model_calls()}
    assert names == {srv.caches()[0].name}
    last = srv.recorder.model_calls()[-1].json()
    texts = [p.get("text", "") for c in last["contents"] for p in c["parts"]]
    assert "What's the weather in Paris?" in texts  # turn 1 is sent as history
    assert len(await chats.get_history("trip")) == 8
    await client.aclose()


async def test_auto_refresh_moves_the_expiry_on_every_use(server: Any) -> None:
    srv: Server = await server()
    client = srv.client()
    start = srv.clock.now
    await _run(client)
    [cache] = srv.caches()
    assert cache.expire_time == start + 3600
    assert len(srv.recorder.refreshes()) == 2  # once per model request

    srv.clock.advance(1800)
    await _run(client, "What's the weather in Oslo?")
    assert srv.caches()[0].name == cache.name
    assert srv.caches()[0].expire_time == start + 1800 + 3600
    assert all(r.status == 200 for r in srv.recorder.refreshes())
    assert [r.json() for r in srv.recorder.refreshes()][-1] == {"ttl": "3600s"}
    await client.aclose()


async def test_without_auto_refresh_the_expiry_stays(server: Any) -> None:
    srv: Server = await server()
    client = srv.client()
    start = srv.clock.now
    config = CacheConfig(cache_name="weather_chat", ttl="2h")
    await _run(client, cache_config=config)
    srv.clock.advance(1800)
    await _run(client, "What's the weather in Oslo?", cache_config=config)
    [cache] = srv.caches()
    assert cache.expire_time == start + 7200
    assert srv.recorder.refreshes() == []
    await client.aclose()


async def test_content_below_the_minimum_is_sent_uncached(server: Any) -> None:
    srv: Server = await server()
    client = srv.client()
    await _run(client, system=SHORT_SYSTEM)
    await _run(client, "What's the weather in Oslo?", system=SHORT_SYSTEM)

    assert srv.caches() == []
    [attempt] = srv.recorder.cache_creations()  # tried once, then remembered as too small
    assert attempt.status == 400 and b"too small" in attempt.response
    calls = srv.recorder.model_calls()
    assert len(calls) == 4
    for call in calls:
        body = call.json()
        assert call.status == 200 and "cachedContent" not in body
        assert body["systemInstruction"] == {"parts": [{"text": SHORT_SYSTEM}]}
        assert body["tools"][0]["functionDeclarations"][0]["name"] == "get_weather"
        assert _cached_tokens(call) == 0
    await client.aclose()


@pytest.mark.parametrize("how", ["deleted", "expired"])
async def test_a_lost_cache_is_recreated_transparently(server: Any, how: str) -> None:
    srv: Server = await server()
    client = srv.client()
    config = CacheConfig(cache_name="weather_chat")  # no auto refresh: it can expire
    await _run(client, cache_config=config)
    [first] = srv.caches()
    if how == "deleted":  # behind the client's back
        srv.emulator.state.caches.delete(first.project, first.name)
    else:
        srv.clock.advance(3601)
    assert srv.caches() == []

    await _run(client, "What's the weather in Oslo?", cache_config=config)
    [second] = srv.caches()
    assert second.name != first.name and second.display_name == "weather_chat"
    calls = srv.recorder.model_calls()[2:]
    assert [c.status for c in calls] == [403, 200, 200]  # lost, recreated, then the answer
    assert [c.json()["cachedContent"] for c in calls] == [first.name, second.name, second.name]
    assert all(not set(CACHED_ONLY) & set(c.json()) for c in calls)
    assert len(srv.recorder.cache_creations()) == 2
    assert await client.engine.state.disabled_keys() == frozenset()  # not the key's fault
    await client.aclose()


async def test_a_cache_lost_right_after_use_does_not_fail_the_answer(server: Any) -> None:
    """It vanishes between the model's answer and the TTL refresh."""
    srv: Server = await server()
    client = srv.client()
    deleted: list[str] = []

    async def delete_used_cache(exchange: Exchange) -> None:
        if exchange.is_model_call and exchange.status == 200 and not deleted:
            name = exchange.json()["cachedContent"]
            entry = next(c for c in srv.caches() if c.name == name)
            srv.emulator.state.caches.delete(entry.project, name)
            deleted.append(name)

    srv.recorder.after = delete_used_cache
    await _run(client)
    assert len(deleted) == 1
    assert srv.recorder.refreshes()[0].status == 403
    [replacement] = srv.caches()  # the next step made a fresh one
    assert replacement.name != deleted[0]
    assert srv.recorder.model_calls()[-1].json()["cachedContent"] == replacement.name
    await client.aclose()


async def test_an_explicit_cache_is_used_as_is_even_from_another_client(server: Any) -> None:
    """Made beforehand (here by another client, so its project is not yet known)."""
    srv: Server = await server(count=2, keys=1)
    maker = srv.client()
    declarations = [{"functionDeclarations": [get_weather.declaration()]}]
    names = [
        await maker.cache_manager.create_cache(
            MODEL,
            system_instruction=f"{i} {SYSTEM}",
            tools=declarations,
            tool_config={"functionCallingConfig": {"mode": "AUTO"}},
            display_name=f"weather-{i}",
        )
        for i in range(2)
    ]
    await maker.aclose()
    owners = {c.name: c.project for c in srv.caches()}
    assert set(owners.values()) == {"proj-0", "proj-1"}
    before = len(srv.recorder.cache_creations())

    client = srv.client()
    for name in reversed(names):  # one of them is on the project a new client tries last
        await _run(client, cache_config=CacheConfig(cache_name=name, auto_refresh_ttl="1h"))
    calls = srv.recorder.model_calls()
    assert [c.json()["cachedContent"] for c in calls] == [names[1]] * 2 + [names[0]] * 2
    assert all(c.status == 200 and not set(CACHED_ONLY) & set(c.json()) for c in calls)
    assert len(srv.recorder.cache_creations()) == before  # nothing new was made
    assert len(srv.caches()) == 2
    assert await client.engine.state.disabled_keys() == frozenset()
    await client.aclose()


async def test_a_lost_explicit_cache_is_an_error_not_replaced(server: Any) -> None:
    srv: Server = await server()
    client = srv.client()
    name = await client.cache_manager.create_cache(MODEL, content=SYSTEM, cache_name="mine")
    await client.cache_manager.delete_cache(name)
    with pytest.raises(AuthError):
        await _run(client, cache_config=CacheConfig(cache_name=name))
    assert srv.caches() == []
    await client.aclose()
