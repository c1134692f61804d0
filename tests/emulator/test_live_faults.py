"""Connection lifetime (``goAway``) and fault injection on Live connections."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import aclosing
from pathlib import Path
from typing import Any

import pytest
from google.genai import errors, types
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from tests.conftest import FakeClock

from .conftest import user_turn
from .live_support import (
    MODEL,
    TEXT,
    LiveTarget,
    live_emulator,
    receiving,
    recv_json,
    resume_config,
    send_json,
)

pytestmark = pytest.mark.anyio

SETUP = {"setup": {"model": MODEL, "generationConfig": {"responseModalities": ["TEXT"]}}}
TURN = {"clientContent": {"turns": [{"parts": [{"text": "Hello"}]}], "turnComplete": True}}


@pytest.fixture
async def live_target(tmp_path: Path, clock: FakeClock) -> AsyncIterator[LiveTarget]:
    async with live_emulator(tmp_path, clock) as target:
        yield target


async def until_closed(ws: ClientConnection) -> tuple[list[dict[str, Any]], ConnectionClosed]:
    """Every message until the connection ends, and how it ended."""
    messages: list[dict[str, Any]] = []
    try:
        while True:
            messages.append(await recv_json(ws))
    except ConnectionClosed as exc:
        return messages, exc


async def setup(ws: ClientConnection) -> None:
    await send_json(ws, SETUP)
    assert await recv_json(ws) == {"setupComplete": {}}


async def test_goaway_before_the_connection_lifetime_ends(
    live_target: LiveTarget, clock: FakeClock
) -> None:
    async with live_target.sdk().aio.live.connect(model=MODEL, config=TEXT) as session:
        clock.advance(541)  # the default lifetime is 600 s, with goAway 60 s before the end
        async with aclosing(receiving(session)) as stream:
            async for message in stream:
                assert message.go_away is not None
                assert message.go_away.time_left == "59s"
                break
        clock.advance(59)
        with pytest.raises(errors.APIError) as info:
            await anext(aiter(session.receive()))
    assert info.value.code == 1008
    assert "The operation was aborted." in str(info.value)


async def test_lifetime_on_the_real_clock(tmp_path: Path) -> None:
    async with (
        live_emulator(tmp_path, live_connection_seconds=0.4, live_goaway_seconds=0.2) as target,
        target.raw() as ws,
    ):
        await setup(ws)
        messages, closed = await until_closed(ws)
    assert [list(m) for m in messages] == [["goAway"]]
    assert closed.rcvd is not None and closed.rcvd.code == 1008


async def test_goaway_fault_after_n_messages(live_target: LiveTarget) -> None:
    await live_target.faults(
        {"kind": "goaway", "method": "BidiGenerateContent", "after_messages": 3}
    )
    async with live_target.raw() as ws:
        await setup(ws)
        await send_json(ws, TURN)
        messages, closed = await until_closed(ws)
    assert len(messages) == 4
    assert messages[3] == {"goAway": {"timeLeft": "0s"}}
    assert closed.rcvd is not None
    assert (closed.rcvd.code, closed.rcvd.reason) == (1008, "The operation was aborted.")
    stats = await live_target.stats()
    assert stats["totals"]["faults"] == 1


async def test_goaway_fault_leaves_time_to_finish(
    live_target: LiveTarget, clock: FakeClock
) -> None:
    await live_target.faults({"kind": "goaway", "after_messages": 0, "delay_ms": 30_000})
    async with live_target.raw() as ws:
        await setup(ws)
        assert await recv_json(ws) == {"goAway": {"timeLeft": "30s"}}
        await send_json(ws, TURN)
        while not (await recv_json(ws)).get("serverContent", {}).get("turnComplete"):
            pass
        clock.advance(30)
        messages, closed = await until_closed(ws)
    assert messages == []
    assert closed.rcvd is not None and closed.rcvd.code == 1008


async def test_drop_fault_closes_without_a_close_frame(live_target: LiveTarget) -> None:
    await live_target.faults({"kind": "drop", "method": "BidiGenerateContent", "after_messages": 2})
    async with live_target.raw() as ws:
        await setup(ws)
        await send_json(ws, TURN)
        messages, closed = await until_closed(ws)
    assert len(messages) == 2
    assert closed.rcvd is None


async def test_drop_fault_through_the_sdk(live_target: LiveTarget) -> None:
    await live_target.faults({"kind": "drop", "method": "BidiGenerateContent"})
    async with live_target.sdk().aio.live.connect(model=MODEL, config=TEXT) as session:
        with pytest.raises(errors.APIError) as info:
            await anext(aiter(session.receive()))
    assert info.value.code == 1006


@pytest.mark.parametrize(
    ("status", "code", "reason"),
    [
        (503, 1011, "The service is currently unavailable."),
        (500, 1011, "Internal error encountered."),
        (400, 1007, "Injected fault."),
        (404, 1008, "Injected fault."),
    ],
)
async def test_status_fault_closes_with_the_mapped_code(
    live_target: LiveTarget, status: int, code: int, reason: str
) -> None:
    await live_target.faults({"kind": "status", "status": status, "method": "BidiGenerateContent"})
    async with live_target.raw() as ws:
        await setup(ws)
        messages, closed = await until_closed(ws)
    assert messages == []
    assert closed.rcvd is not None
    assert (closed.rcvd.code, closed.rcvd.reason) == (code, reason)


async def test_malformed_fault_sends_a_broken_frame(live_target: LiveTarget) -> None:
    await live_target.faults({"kind": "malformed", "after_messages": 1, "message": "x"})
    async with live_target.raw() as ws:
        await setup(ws)
        await send_json(ws, TURN)
        first = await recv_json(ws)
        broken = await ws.recv()
        with pytest.raises(json.JSONDecodeError):
            json.loads(broken)
        _, closed = await until_closed(ws)
    assert "sessionResumptionUpdate" in first or "serverContent" in first
    assert closed.rcvd is not None and closed.rcvd.code == 1011


async def test_delay_fault_and_times_and_filters(live_target: LiveTarget) -> None:
    await live_target.faults(
        {"kind": "delay", "delay_ms": 10, "method": "BidiGenerateContent", "times": 1},
        {"kind": "status", "status": 503, "method": "generateContent"},
        {"kind": "status", "status": 503, "method": "BidiGenerateContent", "model": "other"},
    )
    for _ in range(2):
        async with live_target.raw() as ws:
            await setup(ws)
            await send_json(ws, TURN)
            while not (await recv_json(ws)).get("serverContent", {}).get("turnComplete"):
                pass
    stats = await live_target.stats()
    assert stats["totals"]["faults"] == 1


async def test_goaway_rules_do_not_touch_rest(live_target: LiveTarget) -> None:
    await live_target.faults({"kind": "goaway", "after_messages": 0})
    response = await live_target.http.post(
        "/v1beta/models/gemini-2.5-flash:generateContent",
        json={"contents": [{"parts": [{"text": "hi"}]}]},
        headers={"x-goog-api-key": "test-key"},
    )
    assert response.status_code == 200


async def test_control_api_validates_live_rules(live_target: LiveTarget) -> None:
    bad = await live_target.http.post(
        "/_emulator/faults", json={"faults": [{"kind": "goaway", "after_messages": -1}]}
    )
    assert bad.status_code == 400
    assert "after_messages" in bad.json()["error"]["message"]
    await live_target.faults({"kind": "goaway", "after_messages": 2, "delay_ms": 5})
    listed = (await live_target.http.get("/_emulator/faults")).json()["faults"]
    assert listed[0]["kind"] == "goaway" and listed[0]["after_messages"] == 2


async def test_sdk_reconnects_after_goaway_with_resumption(
    live_target: LiveTarget, clock: FakeClock
) -> None:
    resumable = types.LiveConnectConfig(
        response_modalities=[types.Modality.TEXT],
        session_resumption=types.SessionResumptionConfig(),
    )
    handle = None
    client = live_target.sdk()
    async with client.aio.live.connect(model=MODEL, config=resumable) as session:
        await session.send_client_content(turns=user_turn("Hi, I am Bo."))
        async for _ in session.receive():
            pass
        clock.advance(545)
        async with aclosing(receiving(session)) as stream:
            async for message in stream:
                update = message.session_resumption_update
                if update and update.new_handle:
                    handle = update.new_handle
                if message.go_away:
                    break
    assert handle
    resumed = resume_config(handle)
    async with client.aio.live.connect(model=MODEL, config=resumed) as session:
        await session.send_client_content(turns=user_turn("Who am I?"))
        messages = [m async for m in session.receive()]
    assert messages[-1].server_content and messages[-1].server_content.turn_complete
