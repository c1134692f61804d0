"""The blocking twins have the async API's surface, and the new twins work on the emulator.

The surface tests read both classes independently of how the twins are made: every public
member of the async class (and every public attribute of an instance) exists on the twin,
with the same signature; coroutines are blocking methods, async iterators are iterators.
"""

from __future__ import annotations

import gc
import inspect
import re
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest

from gemgate import AsyncGemini, Gemini
from gemgate.batch import Batches
from gemgate.caching import CacheManager
from gemgate.client._blocking import Blocking, blocking, iterating, plain
from gemgate.client._sync_twins import (
    BlockingBatches,
    BlockingCacheManager,
    BlockingFileSearchStore,
    BlockingFileSearchStores,
    BlockingLivePool,
    BlockingLiveSession,
    BlockingStore,
    BlockingStores,
)
from gemgate.errors import UsageError
from gemgate.live import LivePool, LiveSession, LiveText, LiveTurnComplete
from gemgate.rag import FileSearchStore, FileSearchStores, Store, StoreInfo, Stores
from gemgate.tools import tool

MODEL = "gemini-2.5-flash"
MANUAL = (
    "Lighthouse keeper's manual, section {i}: trim the wick, polish the lens, wind the "
    "clockwork that turns the lamp, and log every passing ship with its heading."
)
LONG = "\n".join(MANUAL.format(i=i) for i in range(60))  # above the model's 1,024 tokens

LIFECYCLE = {"aclose": "close", "__aenter__": "__enter__", "__aexit__": "__exit__"}
"""Async lifecycle members and their blocking names: the only names that differ."""

NOT_MIRRORED = {
    (AsyncGemini, "engine"): "the async core itself: its coroutines belong to the client's loop",
}
"""Public async members without a twin, and why."""


@pytest.fixture(autouse=True)
def _emulated(emulator_opt_in: None) -> None:
    """No key, no other setting and no .env: the user opted in to the emulator."""


@pytest.fixture
def g() -> Iterator[Gemini]:
    with Gemini() as client:
        yield client


# -- a client class the twins have not seen: its twin is made, classmethod included -------


class AsyncWithExtras(AsyncGemini):
    """Members AsyncGemini may gain one day; its twin declares none of them."""

    @classmethod
    def with_cache(cls, size: int = 8) -> AsyncWithExtras:
        """A client with a response cache of ``size`` entries."""
        return cls(cache=True, cache_max_size=size)

    async def shout(self, text: str, *, times: int = 1) -> str:
        """Upper case, ``times`` times."""
        return text.upper() * times

    async def countdown(self, start: int) -> AsyncIterator[int]:
        """``start`` down to 1."""
        for n in range(start, 0, -1):
            yield n

    def loop_thread(self) -> str:
        """The thread a plain method runs in."""
        return threading.current_thread().name

    @property
    def greeting(self) -> str:
        """A property."""
        return "hello"


class GeminiWithExtras(Gemini, twin_of=AsyncWithExtras):
    """Declares nothing new."""


PAIRS: list[tuple[type[Any], type[Blocking[Any]]]] = [
    (AsyncGemini, Gemini),
    (CacheManager, BlockingCacheManager),
    (LivePool, BlockingLivePool),
    (LiveSession, BlockingLiveSession),
    (Stores, BlockingStores),
    (Batches, BlockingBatches),
    (Store, BlockingStore),
    (FileSearchStores, BlockingFileSearchStores),
    (FileSearchStore, BlockingFileSearchStore),
    (AsyncWithExtras, GeminiWithExtras),
]
NAMES = {a.__name__: b.__name__ for a, b in PAIRS} | {"Self": "Self"}


@pytest.fixture
def attributes(g: Gemini) -> dict[type[Any], set[str]]:
    """Public attributes set on instances of each async class (not visible on the class)."""
    backend, embedder = object(), object()  # never used: only the attributes are read
    searched = FileSearchStores(g._async.engine, model="m")
    instances = {
        AsyncGemini: g._async,
        CacheManager: g._async.cache_manager,
        LivePool: g._async.live,
        LiveSession: g._runner.run(LiveSession, g._async),  # not connected
        Stores: Stores(backend, embedder),
        Store: Store(Stores(backend, embedder), StoreInfo(id="store_x", name="x")),
        FileSearchStores: searched,
        FileSearchStore: FileSearchStore(searched, StoreInfo(id="x", name="x")),
        Batches: Batches(g._async.engine),
    }
    found = {cls: {n for n in vars(obj) if not n.startswith("_")} for cls, obj in instances.items()}
    found[AsyncWithExtras] = found[AsyncGemini]
    return {
        cls: names - {n for (owner, n) in NOT_MIRRORED if issubclass(cls, owner)}
        for cls, names in found.items()
    }


def _public(cls: type[Any]) -> set[str]:
    """Public names, plus the special methods the class itself defines (``__init__`` aside)."""
    names = {n for n in dir(cls) if not n.startswith("_")}
    for klass in cls.__mro__[:-1]:  # not object
        names |= {
            n
            for n, v in vars(klass).items()
            if n.startswith("__") and n.endswith("__") and callable(v) and n != "__init__"
        }
    return names


def _blocking_return(annotation: Any) -> Any:
    """What the twin returns where the async member returns ``annotation``."""
    if not isinstance(annotation, str):
        return annotation
    iterator = re.fullmatch(r"Async(?:Iterator|Iterable|Generator)\[(.+?)(?:, None)?\]", annotation)
    if iterator:
        return f"Generator[{iterator.group(1)}, None, None]"
    return re.sub(r"\w+", lambda m: NAMES.get(m.group(), m.group()), annotation)


def _expected(member: Any) -> inspect.Signature:
    signature = inspect.signature(member)
    return signature.replace(return_annotation=_blocking_return(signature.return_annotation))


def _is_async(function: Any) -> bool:
    returns = str(inspect.signature(function).return_annotation)
    return (
        inspect.iscoroutinefunction(function)
        or inspect.isasyncgenfunction(function)
        or returns.startswith(("AsyncIterator[", "AsyncGenerator[", "AsyncIterable["))
    )


def _compare(source: type[Any], twin: type[Any], name: str) -> None:
    twin_name = LIFECYCLE.get(name, name)
    assert twin_name in dir(twin), f"{twin.__name__} lacks {twin_name} ({source.__name__}.{name})"
    original = inspect.getattr_static(source, name)
    mirror = inspect.getattr_static(twin, twin_name)
    where = f"{twin.__name__}.{twin_name}"
    if isinstance(original, staticmethod):
        assert isinstance(mirror, staticmethod), where
        assert inspect.signature(mirror.__func__) == _expected(original.__func__), where
    elif isinstance(original, classmethod):
        assert isinstance(mirror, classmethod), where
        assert inspect.signature(getattr(twin, twin_name)) == _expected(getattr(source, name))
    elif inspect.isfunction(original):
        assert inspect.isfunction(mirror), where
        assert not _is_async(mirror), f"{where} should block, not return an awaitable"
        assert inspect.signature(mirror) == _expected(original), where
    else:  # a property or a class attribute: read (and written) through the twin
        assert inspect.isdatadescriptor(mirror), where


@pytest.mark.parametrize(("source", "twin"), PAIRS, ids=[t.__name__ for _, t in PAIRS])
def test_every_public_async_member_has_a_twin_with_its_signature(
    source: type[Any], twin: type[Any], attributes: dict[type[Any], set[str]]
) -> None:
    names = _public(source) - {n for (cls, n) in NOT_MIRRORED if issubclass(source, cls)}
    assert names  # the enumeration found something
    for name in sorted(names):
        _compare(source, twin, name)
    for name in attributes[source]:  # read and written through the twin
        assert inspect.isdatadescriptor(inspect.getattr_static(twin, name, None)), name
    # and nothing else: the blocking face is the same API
    known = {LIFECYCLE.get(n, n) for n in _public(source)} | attributes[source]
    extra = _public(twin) - known
    assert not extra, f"{twin.__name__} has members {source.__name__} lacks: {sorted(extra)}"


def test_the_constructor_has_the_async_parameters() -> None:
    assert inspect.signature(Gemini) == inspect.signature(AsyncGemini)
    assert inspect.signature(GeminiWithExtras) == inspect.signature(AsyncGemini)


@pytest.mark.parametrize("twin", [t for _, t in PAIRS[:-1]], ids=lambda t: t.__name__)
def test_every_twin_is_declared_for_type_checkers(twin: type[Blocking[Any]]) -> None:
    """A member left to generation works, but type checkers and IDEs cannot see it."""
    assert twin._generated == frozenset(), (
        f"declare {sorted(twin._generated)} in {twin.__name__} so type checkers see them: "
        "`name = blocking(Source.name)` (or iterating, plain, wrapping, building for a "
        "classmethod, Forwarded[T]() for an attribute; see gemgate.client._blocking)"
    )


def test_members_not_declared_are_made_from_what_they_are() -> None:
    assert GeminiWithExtras._generated == {
        "with_cache",
        "shout",
        "countdown",
        "loop_thread",
        "greeting",
    }
    assert isinstance(inspect.getattr_static(GeminiWithExtras, "with_cache"), classmethod)
    assert "Gemini" not in GeminiWithExtras._generated  # Gemini's declarations are inherited
    with GeminiWithExtras.with_cache(size=4) as client:  # type: ignore[attr-defined]
        assert type(client) is GeminiWithExtras and type(client._async) is AsyncWithExtras
        assert client.settings is client._async.settings
        assert client._async.engine.cache is not None  # built by the classmethod
        assert client.shout("hi", times=2) == "HIHI"  # type: ignore[attr-defined]
        assert list(client.countdown(3)) == [3, 2, 1]  # type: ignore[attr-defined]
        assert client.loop_thread() == "gemgate-portal"  # type: ignore[attr-defined]
        assert client.greeting == "hello"  # type: ignore[attr-defined]
        assert client.chat([{"role": "user", "content": "Hi"}])["choices"]
    with pytest.raises(UsageError, match="closed"):
        client.shout("late")  # type: ignore[attr-defined]


def test_twins_of_parts_are_made_only_by_their_client() -> None:
    with pytest.raises(UsageError, match="made by its client"):
        BlockingCacheManager._adopt(lambda: None)


def test_a_twin_keeps_its_client_open_and_then_lets_it_go() -> None:
    before = {t for t in threading.enumerate() if t.name == "gemgate-portal"}
    manager = Gemini().cache_manager  # the client itself is not kept
    gc.collect()
    assert manager.list_caches() == []
    mine = {t for t in threading.enumerate() if t.name == "gemgate-portal"} - before
    assert len(mine) == 1
    del manager
    gc.collect()
    next(iter(mine)).join(timeout=10)
    assert not next(iter(mine)).is_alive()


# -- chat_with_tools ----------------------------------------------------------------------


def test_chat_with_tools_runs_a_plain_tool_and_returns_the_answer(g: Gemini) -> None:
    threads: list[str] = []

    def get_weather(city: str) -> dict[str, Any]:
        """The weather in a city."""
        threads.append(threading.current_thread().name)
        # a worker thread, not the loop's: the blocking client works here
        return {
            "city": city,
            "sky": "clear",
            "celsius": 21,
            "calls": g.get_token_usage()["requests"],
        }

    events = list(g.chat_with_tools("Please use get_weather for Paris today.", tools=[get_weather]))
    assert [e.type for e in events if e.type != "text_delta"] == [
        "usage",
        "function_call",
        "tool_result",
        "usage",
        "final_answer",
    ]
    call = next(e for e in events if e.type == "function_call")
    assert call.name == "get_weather" and call.args == {"city": "Paris"}
    result = next(e for e in events if e.type == "tool_result")
    assert result.response == {"city": "Paris", "sky": "clear", "celsius": 21, "calls": 1}
    final = events[-1]
    assert final.type == "final_answer" and final.iterations == 2
    assert "clear" in final.text and "21" in final.text
    assert final.text == "".join(
        e.text for e in events if e.type == "text_delta" and e.iteration == 2
    )
    assert len(threads) == 1 and threads[0] not in (
        "gemgate-portal",
        threading.current_thread().name,
    )
    assert g.get_active_requests() == {}


def test_chat_with_tools_takes_async_tools_and_checks_arguments_at_once(g: Gemini) -> None:
    @tool
    async def get_time(city: str) -> dict[str, str]:
        """The local time in a city."""
        return {"city": city, "time": "12:00"}

    final = list(g.chat_with_tools("Please use get_time for Oslo.", tools=[get_time]))[-1]
    assert final.type == "final_answer" and "12:00" in final.text
    with pytest.raises(UsageError, match="tool_mode"):
        g.chat_with_tools("Hi", tool_mode="sometimes")  # raised by the call, as in async


def test_leaving_chat_with_tools_early_ends_its_request(g: Gemini) -> None:
    events = g.chat_with_tools("Write a long story.")
    assert next(events).type == "text_delta"
    assert len(g.get_active_requests()) == 1
    events.close()
    # The loop's inner stream is finalized by the event loop soon after (as with
    # AsyncGemini, whose aclose() leaves it to the loop too), not at once.
    for _ in range(500):
        if not g.get_active_requests():
            break
        threading.Event().wait(0.01)
    assert g.get_active_requests() == {}
    assert len(g.get_request_history()) == 1


def test_send_request_and_stream_request(g: Gemini) -> None:
    request = g.build_request([{"role": "user", "parts": [{"text": "Hello"}]}], None, {})
    whole = g.send_request(request, MODEL, request_id="whole")
    chunks = list(g.stream_request(request, MODEL))
    text = "".join(c["candidates"][0]["content"]["parts"][0].get("text", "") for c in chunks)
    assert text == whole["candidates"][0]["content"]["parts"][0]["text"]
    assert list(g.get_request_history())[0] == "whole"
    assert g.in_flight == 0


# -- cache_manager ------------------------------------------------------------------------


def test_cache_manager_create_list_get_update_delete(g: Gemini) -> None:
    manager = g.cache_manager
    name = manager.create_cache(model=MODEL, content=LONG, ttl="1h", cache_name="my_cache")
    assert name.startswith("cachedContents/")
    assert [(c.name, c.display_name) for c in manager.list_caches()] == [(name, "my_cache")]

    cache = manager.get_cache(name)
    assert cache.model == f"models/{MODEL}"
    assert cache.create_time is not None and cache.expire_time is not None
    assert cache.expire_time - cache.create_time == timedelta(hours=1)

    updated = manager.update_cache_ttl(name, "2h")
    assert updated.expire_time is not None and updated.expire_time > cache.expire_time
    assert manager.get_and_refresh(name, "1h").display_name == "my_cache"

    response = g.generate_content("Who trims the wick?", cached_content=name)
    assert response["usageMetadata"]["cachedContentTokenCount"] >= 1024

    manager.delete_cache(name)
    assert manager.list_caches() == []
    assert manager.touch(name, "1h") is False  # gone: forgotten, not an error


# -- live ---------------------------------------------------------------------------------


def test_live_text_turns_through_the_pool_and_a_session(g: Gemini) -> None:
    pool = g.live
    pieces = list(pool.process_text_stream("Hi", session_id="u1"))
    assert len(pieces) > 1 and "Hi" in "".join(pieces)
    assert "u1" in pool and len(pool) == 1
    assert "Hello" in pool.process_text("Hello", session_id="u1")

    session = pool.session("u1")  # the same pooled session, blocking
    assert isinstance(session, BlockingLiveSession)
    assert session.connected and not session.busy and session.model.startswith("gemini")
    events = list(session.turn("Tell me about lighthouses."))
    assert isinstance(events[-1], LiveTurnComplete)
    assert "lighthouses" in "".join(e.text for e in events if isinstance(e, LiveText))

    with pool.session("u2") as other:  # leaving it closes it, as `async with` does
        assert "Bonjour" in other.ask("Bonjour").text
    assert other.closed and "u2" not in pool

    pool.ttl = 60.0
    assert pool.ttl == 60.0 == g._async.live.ttl
    assert pool.health_check()["status"] == "healthy"
    assert pool.close_session("u1") is True and pool.close_session("u1") is False


# -- misuse -------------------------------------------------------------------------------


@pytest.fixture
def parts(g: Gemini) -> tuple[Gemini, BlockingCacheManager, BlockingLivePool]:
    """The twins, taken outside any event loop."""
    return g, g.cache_manager, g.live


@pytest.mark.anyio
async def test_the_new_twins_raise_inside_a_running_loop(
    parts: tuple[Gemini, BlockingCacheManager, BlockingLivePool],
) -> None:
    g, manager, pool = parts
    calls: list[Callable[[], object]] = [
        lambda: g.chat_with_tools("Hi"),
        lambda: g.send_request({"contents": []}, MODEL),
        lambda: g.stream_request({"contents": []}, MODEL),
        lambda: g.cache_manager,
        lambda: g.live,
        lambda: g.in_flight,
        lambda: manager.list_caches(),
        lambda: manager.forget("cachedContents/x"),
        lambda: pool.process_text("Hi"),
        lambda: pool.process_text_stream("Hi"),
        lambda: pool.ttl,
        lambda: len(pool),
    ]
    for call in calls:
        with pytest.raises(UsageError, match="AsyncGemini"):
            call()


def test_twins_of_a_closed_client_refuse() -> None:
    client = Gemini()
    manager, pool = client.cache_manager, client.live
    client.close()
    for call in (manager.list_caches, lambda: pool.process_text("Hi"), lambda: pool.ttl):
        with pytest.raises(UsageError, match="closed"):
            call()


def test_a_wrapper_that_does_not_fit_is_refused() -> None:
    with pytest.raises(TypeError, match=r"wrap it with blocking\(\), not plain\(\)"):
        plain(AsyncGemini.chat)
    with pytest.raises(TypeError, match=r"wrap it with iterating\(\), not blocking\(\)"):
        blocking(AsyncGemini.stream_chat)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"wrap it with plain\(\), not iterating\(\)"):
        iterating(AsyncGemini.get_token_usage)  # type: ignore[arg-type]
