"""LiveSession and LivePool against the emulator's Live endpoint over TLS."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import pytest

from gemgate import AsyncGemini
from gemgate.errors import GemgateError, LiveSessionLost
from gemgate.live import LivePool, LiveSession, LiveText, LiveToolCalls, LiveTurnComplete
from gemgate.tools import tool
from tests.conftest import FakeClock
from tests.emulator.live_support import KEY, LiveTarget, live_emulator

pytestmark = pytest.mark.anyio
LIVE = "BidiGenerateContent"
TURNS = [f"Turn {n}: tell me something about the number {n * 7}." for n in range(1, 11)]


def _client(target: LiveTarget, **options: Any) -> AsyncGemini:
    return AsyncGemini(api_key=KEY, base_url=target.base, tls_ca_file=str(target.tls.ca), **options)


async def _conversation(live: LiveSession, turns: list[str]) -> list[str]:
    answers = []
    for text in turns:
        answers.append("".join([piece async for piece in live.stream(text)]))
    return answers


async def test_ten_turns_keep_their_context_across_goaway_and_a_drop(tmp_path: Path) -> None:
    async with live_emulator(tmp_path) as target:
        client = _client(target)
        async with LiveSession(client) as reference:
            expected = await _conversation(reference, TURNS)
        assert reference.reconnects == 0

        # The first connection is told to go away mid-way through turn 3; the second drops
        # without warning in the middle of an answer.
        await target.faults(
            {"kind": "goaway", "method": LIVE, "after_messages": 12, "times": 1},
            {"kind": "drop", "method": LIVE, "after_messages": 8, "times": 1},
        )
        async with LiveSession(client) as live:
            answers = await _conversation(live, TURNS)
            assert live.reconnects >= 2
            assert live.handle is not None
        assert answers == expected  # nothing lost, nothing repeated, same conversation

        # A session that kept only the last turn answers it differently: the emulator's
        # answer to turn 10 depends on turns 1-9.
        async with LiveSession(client) as forgetful:
            alone = await forgetful.ask(TURNS[-1])
        assert alone.text != expected[-1]
        await client.aclose()


async def test_a_drop_before_any_handle_replays_the_whole_conversation(tmp_path: Path) -> None:
    async with live_emulator(tmp_path) as target:
        client = _client(target)
        async with LiveSession(client) as reference:
            expected = await _conversation(reference, TURNS[:3])
        await target.faults({"kind": "drop", "method": LIVE, "after_messages": 2, "times": 1})
        async with LiveSession(client) as live:
            assert await _conversation(live, TURNS[:3]) == expected
            assert live.reconnects == 1
        await client.aclose()


async def test_tool_calls_are_answered_with_gemgate_tools(tmp_path: Path) -> None:
    calls: list[str] = []

    @tool
    async def get_weather(city: str) -> dict[str, Any]:
        """The weather in a city."""
        calls.append(city)
        return {"city": city, "sky": "clear", "celsius": 21}

    async with live_emulator(tmp_path) as target:
        client = _client(target)
        async with LiveSession(client, tools=[get_weather]) as live:
            events = [e async for e in live.turn("Please use get_weather for Paris today.")]
        await client.aclose()
    made = [e for e in events if isinstance(e, LiveToolCalls)]
    assert made and made[0].calls[0]["name"] == "get_weather"
    assert calls  # the tool really ran
    text = "".join(e.text for e in events if isinstance(e, LiveText))
    assert "clear" in text and "21" in text  # the model's answer used the tool's result
    assert isinstance(events[-1], LiveTurnComplete) and events[-1].usage


async def test_a_handle_resumes_in_a_new_session_and_a_bad_one_is_refused(
    tmp_path: Path,
) -> None:
    async with live_emulator(tmp_path) as target:
        client = _client(target)
        async with LiveSession(client) as reference:
            expected = await _conversation(reference, TURNS[:3])
        first = LiveSession(client)
        assert await _conversation(first, TURNS[:2]) == expected[:2]
        handle = await first.settle()  # the handle that includes turn 2
        await first.aclose()  # e.g. the process restarts, keeping only the handle
        async with LiveSession(client, handle=handle) as resumed:
            assert await _conversation(resumed, TURNS[2:3]) == expected[2:]
            assert resumed.reconnects == 0
        with pytest.raises(LiveSessionLost) as lost:
            await LiveSession(client, handle="no-such-handle").connect()
        assert lost.value.code in (1007, 1008)
        await client.aclose()


async def test_a_bad_key_is_refused_not_retried(tmp_path: Path) -> None:
    async with live_emulator(tmp_path) as target:
        client = AsyncGemini(
            api_key="not-a-configured-key", base_url=target.base, tls_ca_file=str(target.tls.ca)
        )
        with pytest.raises(LiveSessionLost, match="refused"):
            await LiveSession(client).connect()
        await client.aclose()


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


async def test_the_pool_caps_expires_and_never_leaks(tmp_path: Path, clock: FakeClock) -> None:
    async with live_emulator(tmp_path) as target:
        client = _client(target, clock=clock, sleep=clock.sleep)
        pool = LivePool(client, max_sessions=8, ttl=60, opens_per_minute=1000)
        await pool.process_text("warm up", session_id="warm")
        await pool.close_session("warm")
        baseline = _open_fds()
        for n in range(200):  # open and abandon
            await pool.session(f"user-{n}")
            assert len(pool) <= 8
        assert "user-199" in pool and "user-0" not in pool
        first = await pool.process_text("hello", session_id="user-199")
        again = await pool.process_text("hello", session_id="user-199")
        assert first != again  # the same session: the second turn has the first as context
        clock.advance(61)
        assert await pool.cleanup() == 8
        assert len(pool) == 0
        assert _open_fds() <= baseline
        await pool.aclose()
        await client.aclose()


async def test_opens_are_paced(tmp_path: Path, clock: FakeClock) -> None:
    async with live_emulator(tmp_path) as target:
        client = _client(target, clock=clock, sleep=clock.sleep)
        pool = LivePool(client, opens_per_minute=2)
        start = clock()
        await pool.session("a")
        await pool.session("b")
        assert clock() - start < 60
        await pool.session("c")
        assert clock() - start >= 60  # the third opening waited for the minute to pass
        await pool.session("a")  # reuse is not an opening
        assert clock() - start < 120
        await pool.aclose()
        await client.aclose()


async def test_client_live_convenience_calls_on_the_embedded_emulator(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in list(os.environ):
        if name.startswith(("GEMINI_API_KEY", "GOOGLE_API_KEY", "GEMGATE_")):
            monkeypatch.delenv(name)
    async with AsyncGemini.emulated() as client:  # no key: the in-process emulator
        pieces = [p async for p in client.live.process_text_stream("Hi", session_id="u1")]
        assert len(pieces) > 1 and "Hi" in "".join(pieces)
        described = await client.live.process_image(
            b"\xff\xd8\xff\xe0 not really a jpeg", "What is in this picture?", session_id="u1"
        )
        assert described
        health = await client.live.health_check()
        assert health["status"] == "healthy" and health["open_sessions"] == 1
        assert await client.live.close_session("u1") is True
        assert await client.live.close_session("u1") is False


async def test_idle_sessions_are_reaped_in_the_background(tmp_path: Path) -> None:
    async with live_emulator(tmp_path) as target:
        client = _client(target)
        pool = LivePool(client, ttl=0.2)
        live = await pool.session("idle")
        for _ in range(200):  # real time: the reaper wakes every ttl/4
            if live.closed:
                break
            await asyncio.sleep(0.02)
        assert live.closed and len(pool) == 0
        await pool.aclose()
        await client.aclose()


async def test_a_lost_session_is_closed_and_the_pool_opens_a_new_one(tmp_path: Path) -> None:
    async with live_emulator(tmp_path) as target:
        client = _client(target)
        pool = LivePool(client)
        await target.faults({"kind": "drop", "method": LIVE, "after_messages": 2, "times": 1})
        live = await pool.session("user")
        live.handle = "forgotten-by-the-server"  # as if the server lost the session
        with pytest.raises(LiveSessionLost) as lost:
            await live.ask(TURNS[0])  # dropped mid-answer; resuming is refused
        assert lost.value.code == 1008 and live.closed
        assert "user" not in pool
        fresh = await pool.session("user")
        assert fresh is not live
        assert (await fresh.ask(TURNS[0])).text
        await pool.aclose()
        await client.aclose()


async def test_a_server_that_keeps_refusing_ends_the_session(tmp_path: Path) -> None:
    async with live_emulator(tmp_path) as target:
        client = _client(target)
        # 400 right after setup: the server refuses this session (1007), every time.
        await target.faults({"kind": "status", "status": 400, "method": LIVE})
        live = LiveSession(client, max_reconnects=3)
        with pytest.raises(LiveSessionLost) as refused:
            await live.connect()
            await live.ask(TURNS[0])
        assert refused.value.code == 1007 and live.closed
        assert (await target.stats())["totals"]["requests"] == 1  # refused: not retried
        # 503 right after setup (1011): worth retrying, but not forever.
        await target.faults({"kind": "status", "status": 503, "method": LIVE})
        flaky = LiveSession(client, max_reconnects=2)
        with pytest.raises(LiveSessionLost) as gave_up:
            await flaky.connect()
            await flaky.ask(TURNS[0])
        assert gave_up.value.code == 1011 and flaky.closed
        # the first connection and two reconnections, then no more
        assert (await target.stats())["totals"]["requests"] == 1 + 3
        await client.aclose()


async def test_an_abandoned_turn_does_not_leak_into_the_next(tmp_path: Path) -> None:
    later = [TURNS[0], TURNS[2], TURNS[3]]
    async with live_emulator(tmp_path) as target:
        client = _client(target)
        async with LiveSession(client) as reference:
            expected = await _conversation(reference, later)
        async with LiveSession(client) as live:
            assert await _conversation(live, later[:1]) == expected[:1]
            await live.settle()
            abandoned = live.turn(TURNS[1])
            assert isinstance(await anext(abandoned), LiveText)
            await abandoned.aclose()  # the caller went away mid-answer
            assert await _conversation(live, later[1:]) == expected[1:]
        await client.aclose()


async def test_closing_a_session_mid_turn_ends_the_turn(tmp_path: Path) -> None:
    async with live_emulator(tmp_path, live_chunk_seconds=0.2) as target:
        client = _client(target)
        pool = LivePool(client)
        pieces: list[str] = []

        async def talk() -> None:
            async for piece in pool.process_text_stream(TURNS[0], session_id="s"):
                pieces.append(piece)
                await pool.close_session("s")  # e.g. an admin closes it

        with pytest.raises(GemgateError, match="closed"):
            await asyncio.wait_for(talk(), timeout=20)
        assert len(pieces) == 1 and "s" not in pool
        await pool.aclose()
        await client.aclose()


async def test_goaway_on_every_connection_is_not_an_endless_loop(tmp_path: Path) -> None:
    async with live_emulator(tmp_path) as target:
        client = _client(target)
        await target.faults({"kind": "goaway", "method": LIVE, "after_messages": 1})
        live = LiveSession(client, max_reconnects=3)
        with pytest.raises(LiveSessionLost, match="could not be restored"):
            await live.ask(TURNS[0])
        assert (await target.stats())["totals"]["requests"] <= 1 + 3 + 1
        await client.aclose()
