"""/ws/chat: a session over a WebSocket with streamed tokens."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx2
import pytest
import uvicorn
import websockets

from gemgate import AsyncGemini
from gemgate.config import Settings
from gemgate.gateway import create_app
from gemgate.projects import GatewayKey, hash_secret
from tests.conftest import serve_in_loop

pytestmark = pytest.mark.anyio


async def _serve(settings: Settings) -> tuple[str, uvicorn.Server, asyncio.Task[None]]:
    app = create_app(AsyncGemini(settings=settings))
    server, task, base = await serve_in_loop(app, lifespan="on")
    return base.replace("http://", "ws://"), server, task


@pytest.fixture
async def url(tmp_path: Path) -> AsyncIterator[str]:
    base, server, task = await _serve(Settings(sessions_url=f"sqlite:///{tmp_path}/s.db"))
    yield base
    server.should_exit = True
    await task


async def _turn(ws: websockets.ClientConnection) -> list[dict[str, object]]:
    events = []
    while True:
        event = json.loads(await ws.recv())
        events.append(event)
        if event["type"] in ("final_answer", "error", "max_iterations"):
            return events


async def test_two_turns_on_one_session(url: str) -> None:
    async with websockets.connect(f"{url}/ws/chat") as ws:
        await ws.send(json.dumps({"content": "My name is Ada."}))
        first = await _turn(ws)
        assert first[0]["type"] == "session"
        session = first[0]["id"]
        deltas = "".join(str(e["text"]) for e in first if e["type"] == "text_delta")
        assert deltas == first[-1]["text"] and "My name is Ada." in deltas
        await ws.send(json.dumps({"content": "What is my name?", "session_id": session}))
        second = await _turn(ws)
        assert second[-1]["type"] == "final_answer" and second[-1]["chat_id"] == session
        await ws.send("not json")
        assert (await _turn(ws))[-1]["type"] == "error"
        await ws.send(json.dumps({"content": "x", "session_id": "missing"}))
        assert "not found" in str((await _turn(ws))[-1]["message"])


async def test_keys_guard_the_socket(tmp_path: Path) -> None:
    keys = [
        GatewayKey(name="k", secret_sha256=hash_secret("sock-secret")),
        GatewayKey(name="other", secret_sha256=hash_secret("other-secret")),
    ]
    base, server, task = await _serve(
        Settings(gateway_keys=keys, sessions_url=f"sqlite:///{tmp_path}/s.db")
    )
    try:
        with pytest.raises(websockets.ConnectionClosed) as refused:
            async with websockets.connect(f"{base}/ws/chat") as ws:
                await ws.recv()
        assert refused.value.rcvd is not None and refused.value.rcvd.code == 1008
        assert "gateway key" in refused.value.rcvd.reason  # a reason a browser can show
        async with websockets.connect(f"{base}/ws/chat?key=sock-secret") as ws:
            await ws.send(json.dumps({"content": "hi"}))
            events = await _turn(ws)
            assert events[-1]["type"] == "final_answer"
        session = events[0]["id"]
        http = base.replace("ws://", "http://")
        async with httpx2.AsyncClient(base_url=http) as client:
            mine = await client.get(
                f"/api/v1/sessions/{session}", headers={"authorization": "Bearer sock-secret"}
            )
            assert mine.status_code == 200 and mine.json()["user"] == "k"
            theirs = await client.get(
                f"/api/v1/sessions/{session}", headers={"authorization": "Bearer other-secret"}
            )
            assert theirs.status_code == 404
        async with websockets.connect(f"{base}/ws/chat?key=other-secret") as ws:
            await ws.send(json.dumps({"content": "mine now?", "session_id": session}))
            assert "not found" in str((await _turn(ws))[-1]["message"])
    finally:
        server.should_exit = True
        await task
