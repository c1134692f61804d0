"""CacheManager (the seed's API) against a live emulator sharing the test's fake clock."""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest
from google.genai import errors as sdk_errors

from gemgate import AsyncGemini
from gemgate.caching import CacheManager, normalize_ttl
from gemgate.errors import UsageError
from tests.client import conftest as client_conftest
from tests.client.conftest import Live, Start, projects

pytestmark = pytest.mark.anyio
live = client_conftest.live  # the emulator-server fixture, shared with tests/client

MODEL = "gemini-2.5-flash"
TINY = "gemini-test-tiny"
MANUAL = (
    "Lighthouse keeper's manual, section {i}: trim the wick, polish the lens, wind the "
    "clockwork that turns the lamp, and log every passing ship with its heading."
)
LONG = "\n".join(MANUAL.format(i=i) for i in range(60))  # well above 1,024 tokens
PROJECTS = ("proj-0", "proj-1")


@pytest.fixture
async def start(live: Start) -> AsyncIterator[Callable[..., Awaitable[tuple[Live, CacheManager]]]]:
    """``await start(count, keys)``: an emulator and a client's CacheManager (closed after)."""
    clients: list[AsyncGemini] = []

    async def make(count: int = 1, keys: int = 2) -> tuple[Live, CacheManager]:
        emu = await live(projects(count, keys), models=[{"name": TINY, "cache_min_tokens": 32}])
        clients.append(emu.client(projects(count, keys)))
        return emu, clients[-1].cache_manager

    yield make
    for client in clients:
        await client.aclose()


async def _disabled(manager: CacheManager) -> frozenset[str]:
    return await manager._engine.state.disabled_keys()


async def test_create_get_list_and_display_name(start: Any) -> None:
    emu, manager = await start()
    name = await manager.create_cache(MODEL, content=LONG, ttl="1h", cache_name="my_cache")
    assert name.startswith("cachedContents/")
    stored = emu.emulator.state.caches.get("proj-0", name)
    assert stored.system_instruction is not None
    assert stored.system_instruction["parts"][0]["text"] == LONG
    assert stored.tokens >= 1024

    cache = await manager.get_cache(name)
    assert (cache.name, cache.display_name, cache.model) == (name, "my_cache", f"models/{MODEL}")
    assert cache.create_time is not None and cache.expire_time is not None
    assert cache.expire_time - cache.create_time == timedelta(hours=1)
    assert cache.usage_metadata is not None
    assert cache.usage_metadata.total_token_count == stored.tokens

    other = await manager.create_cache(MODEL, content=LONG + " Appendix.", cache_name="other")
    listed = {c.name: c.display_name for c in await manager.list_caches()}
    assert listed == {name: "my_cache", other: "other"}


async def test_create_with_contents_tools_and_system(start: Any) -> None:
    emu, manager = await start()
    tools = [{"functionDeclarations": [{"name": "log_ship", "description": "Log a ship."}]}]
    name = await manager.create_cache(
        TINY,
        contents=[{"role": "user", "parts": [{"text": LONG}]}],
        system_instruction="You answer from the manual only.",
        tools=tools,
        tool_config={"functionCallingConfig": {"mode": "AUTO"}},
        ttl=300,
        display_name="manual",
    )
    entry = emu.emulator.state.caches.get("proj-0", name)
    assert entry.tools == tools and entry.contents[0]["parts"][0]["text"] == LONG
    assert entry.tool_config == {"functionCallingConfig": {"mode": "AUTO"}}
    assert entry.expire_time - entry.create_time == 300


async def test_update_ttl_moves_expiry_by_the_fake_clock(start: Any) -> None:
    emu, manager = await start()
    name = await manager.create_cache(MODEL, content=LONG, ttl="1h", cache_name="my_cache")
    created = emu.clock.now
    assert emu.emulator.state.caches.get("proj-0", name).expire_time == created + 3600

    emu.clock.advance(600)
    updated = await manager.update_cache_ttl(name, "2h")
    assert updated.expire_time is not None and updated.update_time is not None
    assert updated.expire_time.timestamp() == pytest.approx(created + 600 + 7200)
    assert updated.update_time.timestamp() == pytest.approx(created + 600)
    assert emu.emulator.state.caches.get("proj-0", name).expire_time == created + 600 + 7200

    emu.clock.advance(7000)  # past the original hour, within the new two
    refreshed = await manager.get_and_refresh(name, "1h")
    assert refreshed.name == name and refreshed.display_name == "my_cache"
    assert refreshed.expire_time is not None
    assert refreshed.expire_time.timestamp() == pytest.approx(created + 7600 + 3600)
    fetched = await manager.get_cache(name)
    assert fetched.expire_time == refreshed.expire_time


async def test_expired_cache_is_gone(start: Any) -> None:
    emu, manager = await start()
    name = await manager.create_cache(MODEL, content=LONG, ttl="90s")
    emu.clock.advance(91)
    with pytest.raises(sdk_errors.ClientError) as caught:
        await manager.get_cache(name)
    assert caught.value.code == 403
    assert await manager.list_caches() == []
    assert await manager.touch(name, "1h") is False  # a lost cache is reported, not raised


async def test_delete_then_get_fails(start: Any) -> None:
    _, manager = await start()
    name = await manager.create_cache(MODEL, content=LONG, cache_name="gone")
    await manager.delete_cache(name)
    with pytest.raises(sdk_errors.ClientError) as caught:
        await manager.get_cache(name)
    assert caught.value.code in (403, 404)
    with pytest.raises(sdk_errors.ClientError):
        await manager.update_cache_ttl(name, "1h")
    assert [c.name for c in await manager.list_caches()] == []


async def test_too_small_content_is_refused_explicitly_and_skipped_by_ensure(
    start: Any,
) -> None:
    emu, manager = await start()
    with pytest.raises(sdk_errors.ClientError) as caught:
        await manager.create_cache(MODEL, content="Too short to cache.")
    assert caught.value.code == 400 and "too small" in str(caught.value)
    system = {"parts": [{"text": "Too short to cache."}]}
    assert await manager.ensure(MODEL, system_instruction=system) is None
    assert await manager.ensure(MODEL, system_instruction=system) is None  # remembered
    assert emu.emulator.state.caches.list("proj-0") == []


async def test_ensure_makes_one_cache_per_content_even_concurrently(start: Any) -> None:
    emu, manager = await start()
    system = {"parts": [{"text": LONG}]}
    names = await asyncio.gather(
        *(manager.ensure(MODEL, system_instruction=system, display_name="auto") for _ in range(5))
    )
    assert len(set(names)) == 1 and names[0] is not None
    assert len(emu.emulator.state.caches.list("proj-0")) == 1
    other = await manager.ensure(MODEL, system_instruction={"parts": [{"text": LONG + "!"}]})
    assert other not in (None, names[0])
    manager.forget(names[0])  # e.g. it expired: the next ensure makes a fresh one
    again = await manager.ensure(MODEL, system_instruction=system)
    assert again not in (None, names[0])


async def test_caches_of_every_project_are_listed_and_used_by_their_owner(start: Any) -> None:
    """Caches land on different projects; listing sees all, and each call reaches its owner."""
    emu, manager = await start(count=2)
    names = [await manager.create_cache(MODEL, content=f"{i} {LONG}") for i in range(4)]
    by_project = {p: {e.name for e in emu.emulator.state.caches.list(p)} for p in PROJECTS}
    assert all(by_project.values()) and set().union(*by_project.values()) == set(names)
    for _ in range(2):  # whichever key would serve the list, every project is listed
        assert sorted(c.name or "" for c in await manager.list_caches()) == sorted(names)
    for name in names:
        assert (await manager.get_cache(name)).name == name
        await manager.update_cache_ttl(name, "2h")
    assert await _disabled(manager) == frozenset()


async def test_a_cache_made_by_another_client_is_found_on_its_project(start: Any) -> None:
    """A second client (say, another process) has never seen the cache's owner."""
    emu, maker = await start(count=2, keys=1)
    names = [await maker.create_cache(MODEL, content=f"{i} {LONG}") for i in range(2)]
    second = emu.client(projects(2, keys=1))
    other = second.cache_manager
    for name in reversed(names):  # the first key tried is the wrong project's for one of them
        assert (await other.get_cache(name)).name == name
        await other.update_cache_ttl(name, "2h")
    assert await _disabled(other) == frozenset()  # no key was blamed for "not yours"
    owner = {e.name: p for p in PROJECTS for e in emu.emulator.state.caches.list(p)}
    assert owner[names[0]] != owner[names[1]]
    for name in names:
        assert await other.locate(name) == owner[name]
    assert await other.locate("cachedContents/nope") is None
    await second.aclose()


@pytest.mark.parametrize(
    ("ttl", "expected"),
    [
        ("1h", "3600s"),
        ("30m", "1800s"),
        ("90s", "90s"),
        ("2d", "172800s"),
        (" 45 ", "45s"),
        ("1.5h", "5400s"),
        ("2H", "7200s"),
        (2.5, "2.5s"),
        (90, "90s"),
        (1234567.5, "1234567.5s"),
        (0.123456789, "0.123456789s"),
    ],
)
def test_normalize_ttl(ttl: str | float, expected: str) -> None:
    assert normalize_ttl(ttl) == expected


@pytest.mark.parametrize(
    "ttl", ["0s", "0", 0, -5, "abc", "", "1w", "-1h", "1h30m", math.inf, math.nan, True]
)
def test_normalize_ttl_refuses(ttl: object) -> None:
    with pytest.raises(UsageError):
        normalize_ttl(ttl)  # type: ignore[arg-type]
