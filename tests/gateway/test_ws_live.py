"""/ws/live: browsers' Live conversations through the gateway, stored as they happen."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import struct
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
import uvicorn
import websockets
from google import genai
from google.genai import types

from gemgate import AsyncGemini
from gemgate.config import Settings
from gemgate.gateway import Gateway, create_app
from gemgate.projects import GatewayKey, hash_secret
from tests.conftest import serve_in_loop, stop_serving

pytestmark = pytest.mark.anyio
KEYS = [
    GatewayKey(name="alice", secret_sha256=hash_secret("alice-secret")),
    GatewayKey(name="bob", secret_sha256=hash_secret("bob-secret")),
]


@pytest.fixture(autouse=True)
def _no_upstream_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith(("GEMINI_API_KEY", "GOOGLE_API_KEY", "GEMGATE_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("GEMGATE_UPSTREAM", "emulator")


class Running:
    """A gateway (in-process emulator upstream) served on 127.0.0.1."""

    def __init__(self, app: Gateway, server: uvicorn.Server, task: asyncio.Task[None], base: str):
        self.app, self.server, self.task, self.base = app, server, task, base
        self.ws = base.replace("http://", "ws://")

    async def stop(self) -> None:
        await stop_serving(self.server, self.task)


async def _start(db: Path, keys: list[GatewayKey] | None = None) -> Running:
    settings = Settings(sessions_url=f"sqlite:///{db}", gateway_keys=keys or [])
    app = create_app(AsyncGemini(settings=settings))
    server, task, base = await serve_in_loop(app, lifespan="on")
    return Running(app, server, task, base)


@pytest.fixture
async def gateway(tmp_path: Path) -> AsyncIterator[Running]:
    running = await _start(tmp_path / "s.db", KEYS)
    yield running
    await running.stop()


async def _turn(ws: websockets.ClientConnection) -> list[dict[str, Any]]:
    events = []
    while True:
        event = json.loads(await ws.recv())
        events.append(event)
        if event["type"] in ("turn_complete", "error"):
            return events


def _text(events: list[dict[str, Any]]) -> str:
    return "".join(e["text"] for e in events if e["type"] == "text_delta")


async def _session(ws: websockets.ClientConnection) -> str:
    hello = json.loads(await ws.recv())
    assert hello["type"] == "session"
    return str(hello["id"])


async def _talk(url: str, lines: list[str]) -> tuple[str, list[str]]:
    async with websockets.connect(url) as ws:
        session = await _session(ws)
        answers = []
        for line in lines:
            await ws.send(json.dumps({"type": "text", "content": line}))
            events = await _turn(ws)
            assert events[-1]["type"] == "turn_complete", events[-1]
            assert _text(events) == events[-1]["text"] and len(events) > 2  # streamed
            answers.append(_text(events))
        return session, answers


async def test_two_users_stay_separate_and_everything_is_stored(gateway: Running) -> None:
    alice_lines = [f"Alice here, message {n} about gardening." for n in range(3)]
    bob_lines = [f"Bob here, message {n} about sailing." for n in range(3)]
    (alice, alice_answers), (bob, bob_answers) = await asyncio.gather(
        _talk(f"{gateway.ws}/ws/live?key=alice-secret", alice_lines),
        _talk(f"{gateway.ws}/ws/live?key=bob-secret", bob_lines),
    )
    assert alice != bob
    assert all("Alice" in a for a in alice_answers) and all("Bob" in b for b in bob_answers)

    async with httpx2.AsyncClient(base_url=gateway.base) as http:
        for session, lines, answers, user in (
            (alice, alice_lines, alice_answers, "alice"),
            (bob, bob_lines, bob_answers, "bob"),
        ):
            auth = {"authorization": f"Bearer {user}-secret"}
            stored = (await http.get(f"/api/v1/sessions/{session}", headers=auth)).json()
            assert stored["user"] == user
            messages = stored["messages"]
            assert [m["role"] for m in messages] == ["user", "model"] * 3
            assert [m["parts"][0]["text"] for m in messages[::2]] == lines
            assert [m["parts"][0]["text"] for m in messages[1::2]] == answers
            assert all(m["sender"] == "assistant" for m in messages[1::2])
            assert all(m["processing_time"] > 0 and m["usage"] for m in messages[1::2])
            assert all(m["message_type"] == "text" for m in messages)
            listed = (await http.get("/api/v1/sessions", headers=auth)).json()["sessions"]
            assert [c["id"] for c in listed] == [session]
        as_alice = {"authorization": "Bearer alice-secret"}
        assert (await http.get(f"/api/v1/sessions/{bob}", headers=as_alice)).status_code == 404

    # Bob cannot continue (or read through the socket) Alice's conversation.
    with pytest.raises(websockets.ConnectionClosed) as refused:
        async with websockets.connect(
            f"{gateway.ws}/ws/live?key=bob-secret&session_id={alice}"
        ) as ws:
            await ws.recv()
    assert refused.value.rcvd is not None and refused.value.rcvd.code == 1008


async def test_image_and_audio_turns_are_answered_and_stored(gateway: Running) -> None:
    pcm = struct.pack("<320h", *([1000, -1000] * 160))  # 20 ms of 16 kHz audio
    async with websockets.connect(f"{gateway.ws}/ws/live?key=alice-secret") as ws:
        session = await _session(ws)
        image = base64.b64encode(b"\xff\xd8\xff\xe0 jpeg-ish bytes").decode()
        await ws.send(json.dumps({"type": "image", "data": image, "prompt": "What is this?"}))
        assert (await _turn(ws))[-1]["type"] == "turn_complete"
        for _ in range(3):
            await ws.send(json.dumps({"type": "audio", "data": base64.b64encode(pcm).decode()}))
        await ws.send(json.dumps({"type": "audio_end"}))
        events = await _turn(ws)
        assert events[-1]["type"] == "turn_complete"
        heard = [e for e in events if e["type"] == "transcription" and e["source"] == "input"]
        assert heard
    async with httpx2.AsyncClient(
        base_url=gateway.base, headers={"authorization": "Bearer alice-secret"}
    ) as http:
        messages = (await http.get(f"/api/v1/sessions/{session}")).json()["messages"]
    assert [(m["role"], m["message_type"]) for m in messages] == [
        ("user", "image"),
        ("model", "text"),
        ("user", "audio"),
        ("model", "text"),
    ]
    assert messages[0]["parts"][0]["inlineData"]["data"] == image
    assert messages[2]["parts"][0]["text"] == " ".join(e["text"] for e in heard)


async def test_a_restart_keeps_every_message_and_the_context(tmp_path: Path) -> None:
    lines = [f"Restart check, line {n}: the harbour at dawn." for n in range(4)]
    reference = await _start(tmp_path / "reference.db")
    _, expected = await _talk(f"{reference.ws}/ws/live", lines)
    await reference.stop()

    first = await _start(tmp_path / "s.db")
    session, answers = await _talk(f"{first.ws}/ws/live?user=carol", lines[:2])
    await first.stop()  # the gateway goes away; the Live session with it

    second = await _start(tmp_path / "s.db")
    async with httpx2.AsyncClient(base_url=second.base) as http:
        stored = (await http.get(f"/api/v1/sessions/{session}")).json()["messages"]
    assert [m["parts"][0]["text"] for m in stored] == [lines[0], answers[0], lines[1], answers[1]]
    url = f"{second.ws}/ws/live?user=carol&session_id={session}"
    again, later = await _talk(url, lines[2:])
    await second.stop()
    assert again == session
    assert answers + later == expected  # the new Live session was given the stored history


async def test_bad_frames_get_errors_and_the_socket_keeps_working(gateway: Running) -> None:
    async with websockets.connect(f"{gateway.ws}/ws/live?key=alice-secret") as ws:
        await _session(ws)
        for frame, expected in (
            ("not json", "JSON"),
            (json.dumps([1, 2]), "JSON"),
            (json.dumps({"type": "video"}), "unknown message type"),
            (json.dumps({"type": "text", "content": ""}), "non-empty"),
            (json.dumps({"type": "image", "data": "%%%"}), "base64"),
        ):
            await ws.send(frame)
            event = json.loads(await ws.recv())
            assert event["type"] == "error" and expected in event["message"], event
        await ws.send(json.dumps({"type": "text", "content": "Still there?"}))
        assert (await _turn(ws))[-1]["type"] == "turn_complete"


async def test_keys_and_the_login_cookie(gateway: Running) -> None:
    for url in (f"{gateway.ws}/ws/live", f"{gateway.ws}/ws/live?key=wrong"):
        with pytest.raises(websockets.ConnectionClosed) as closed:
            async with websockets.connect(url) as ws:
                await ws.recv()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
    async with httpx2.AsyncClient(base_url=gateway.base) as http:
        refused = await http.post("/api/v1/login")
        assert refused.status_code == 401
        login = await http.post("/api/v1/login", headers={"authorization": "Bearer bob-secret"})
        assert login.status_code == 200 and login.json() == {"user": "bob"}
        cookie = login.headers["set-cookie"]
        assert "HttpOnly" in cookie and "bob-secret" not in cookie
    value = cookie.split(";")[0]
    async with websockets.connect(
        f"{gateway.ws}/ws/live", additional_headers={"cookie": value}
    ) as ws:
        session = await _session(ws)
    async with httpx2.AsyncClient(base_url=gateway.base, headers={"cookie": value}) as http:
        # the cookie stands for the key on the REST routes too
        assert (await http.get(f"/api/v1/sessions/{session}")).json()["user"] == "bob"
        forged = await http.get("/api/v1/sessions", headers={"cookie": "gemgate_session=forged"})
        assert forged.status_code == 401


async def test_ephemeral_tokens_for_direct_clients(gateway: Running) -> None:
    async with httpx2.AsyncClient(base_url=gateway.base) as http:
        denied = await http.post("/api/v1/live/tokens", json={})
        assert denied.status_code == 401
        auth = {"authorization": "Bearer alice-secret"}
        bad = await http.post("/api/v1/live/tokens", json={"uses": 0}, headers=auth)
        assert bad.status_code == 400
        minted = await http.post("/api/v1/live/tokens", json={"uses": 1}, headers=auth)
        assert minted.status_code == 200, minted.text
    token = minted.json()["name"]
    assert token.startswith("auth_tokens/")
    target = await gateway.app.client.live._targets.get()  # where "Google" is, here
    assert target.ssl is not None
    options = types.HttpOptions(
        base_url=target.base_url, api_version="v1alpha", async_client_args={"ssl": target.ssl}
    )
    direct = genai.Client(api_key=token, http_options=options)
    config = types.LiveConnectConfig(response_modalities=[types.Modality.TEXT])
    with pytest.warns(genai.errors.ExperimentalWarning):
        async with direct.aio.live.connect(
            model="gemini-live-2.5-flash-preview", config=config
        ) as s:
            await s.send_client_content(turns={"role": "user", "parts": [{"text": "hi"}]})
            texts = [m.text async for m in s.receive() if m.text]
    assert texts
    with (
        pytest.warns(genai.errors.ExperimentalWarning),
        pytest.raises(genai.errors.APIError) as spent,
    ):
        async with direct.aio.live.connect(model="gemini-live-2.5-flash-preview", config=config):
            pass
    assert spent.value.code in (1007, 1008)  # one use only
    await direct.aio.aclose()


async def test_a_refused_live_session_is_an_error_frame_then_recovers(gateway: Running) -> None:
    from gemgate.emulator._faults import FaultRule

    emulator = gateway.app.client.engine.driver.app  # type: ignore[attr-defined]
    emulator.state.faults.set_rules(
        [FaultRule(kind="status", status=400, method="BidiGenerateContent", times=1)]
    )
    async with websockets.connect(f"{gateway.ws}/ws/live?key=alice-secret") as ws:
        session = await _session(ws)
        await ws.send(json.dumps({"type": "text", "content": "Refused?"}))
        failed = await _turn(ws)
        assert failed[-1]["type"] == "error" and "1007" in failed[-1]["message"]
        await ws.send(json.dumps({"type": "text", "content": "And now?"}))
        assert (await _turn(ws))[-1]["type"] == "turn_complete"
    async with httpx2.AsyncClient(
        base_url=gateway.base, headers={"authorization": "Bearer alice-secret"}
    ) as http:
        messages = (await http.get(f"/api/v1/sessions/{session}")).json()["messages"]
    assert [m["parts"][0]["text"] for m in messages if m["role"] == "user"] == ["And now?"]


async def test_a_browser_leaving_mid_answer_leaves_a_consistent_chat(gateway: Running) -> None:
    url = f"{gateway.ws}/ws/live?key=alice-secret"
    async with websockets.connect(url) as ws:
        session = await _session(ws)
        await ws.send(json.dumps({"type": "text", "content": "Tell me about boats."}))
        assert json.loads(await ws.recv())["type"] == "text_delta"
    # gone mid-answer; back on the same conversation
    async with websockets.connect(f"{url}&session_id={session}") as ws:
        assert await _session(ws) == session
        await ws.send(json.dumps({"type": "text", "content": "Tell me about cats."}))
        events = await _turn(ws)
    assert events[-1]["type"] == "turn_complete" and "cats" in _text(events)
    async with httpx2.AsyncClient(
        base_url=gateway.base, headers={"authorization": "Bearer alice-secret"}
    ) as http:
        messages = (await http.get(f"/api/v1/sessions/{session}")).json()["messages"]
    texts = [m["parts"][0]["text"] for m in messages]
    assert texts[-2] == "Tell me about cats." and "cats" in texts[-1]
    assert all(t for t in texts)  # no empty reply stored


async def test_more_bad_input_on_the_socket(gateway: Running) -> None:
    async with websockets.connect(f"{gateway.ws}/ws/live?key=alice-secret") as ws:
        await _session(ws)
        await ws.send(json.dumps({"type": "audio_end"}))
        event = json.loads(await ws.recv())
        assert event["type"] == "error" and "audio" in event["message"]
    odd = "ünïcødé-" * 30
    with pytest.raises(websockets.ConnectionClosed) as closed:
        async with websockets.connect(
            f"{gateway.ws}/ws/live?key=alice-secret&session_id={odd}"
        ) as ws:
            await ws.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
    with pytest.raises(websockets.ConnectionClosed) as foreign:
        async with websockets.connect(
            f"{gateway.ws}/ws/live?key=alice-secret",
            additional_headers={"origin": "https://evil.example"},
        ) as ws:
            await ws.recv()
    assert foreign.value.rcvd is not None and "origin" in foreign.value.rcvd.reason
    host = gateway.base.removeprefix("http://")
    async with websockets.connect(
        f"{gateway.ws}/ws/live?key=alice-secret", additional_headers={"origin": f"http://{host}"}
    ) as ws:
        await _session(ws)  # the gateway's own page may


async def test_tokens_respect_the_keys_models(tmp_path: Path) -> None:
    keys = [
        GatewayKey(
            name="narrow",
            secret_sha256=hash_secret("narrow-secret"),
            models=["gemini-2.0-flash-live-001"],
        )
    ]
    running = await _start(tmp_path / "s.db", keys)
    auth = {"authorization": "Bearer narrow-secret"}
    try:
        async with httpx2.AsyncClient(base_url=running.base, headers=auth) as http:
            default = await http.post("/api/v1/live/tokens", json={})
            assert default.status_code == 403  # the default Live model is not this key's
            allowed = await http.post(
                "/api/v1/live/tokens",
                json={"model": "gemini-2.0-flash-live-001", "expire_seconds": 30},
            )
            assert allowed.status_code == 200, allowed.text
        with pytest.raises(websockets.ConnectionClosed) as refused:
            async with websockets.connect(f"{running.ws}/ws/live?key=narrow-secret") as ws:
                await ws.recv()
        assert refused.value.rcvd is not None and "may not use" in refused.value.rcvd.reason
    finally:
        await running.stop()


async def test_live_turns_count_against_the_keys_budget(tmp_path: Path) -> None:
    keys = [GatewayKey(name="metered", secret_sha256=hash_secret("metered-secret"), rpm=3)]
    running = await _start(tmp_path / "s.db", keys)
    try:
        async with websockets.connect(f"{running.ws}/ws/live?key=metered-secret") as ws:
            await _session(ws)  # the connection is one request
            for n in range(2):
                await ws.send(json.dumps({"type": "text", "content": f"turn {n}"}))
                assert (await _turn(ws))[-1]["type"] == "turn_complete"
            await ws.send(json.dumps({"type": "text", "content": "one too many"}))
            refused = await _turn(ws)
        assert refused[-1]["type"] == "error" and "budget" in refused[-1]["message"]
    finally:
        await running.stop()


async def test_live_turns_are_logged_and_charged_to_the_keys_budget(tmp_path: Path) -> None:
    keys = [GatewayKey(name="spender", secret_sha256=hash_secret("spender-secret"), max_tokens=1)]
    running = await _start(tmp_path / "s.db", keys)
    try:
        async with websockets.connect(f"{running.ws}/ws/live?key=spender-secret") as ws:
            await _session(ws)
            await ws.send(json.dumps({"type": "text", "content": "hello there"}))
            assert (await _turn(ws))[-1]["type"] == "turn_complete"
        assert running.app.usage.log is not None
        (row,) = await running.app.usage.log.summary(group_by="key")
        assert row.group == "spender" and row.requests == 1 and row.prompt_tokens > 0
        await running.app.budgets.settle()
        with pytest.raises(websockets.ConnectionClosed) as refused:  # its budget is spent
            async with websockets.connect(f"{running.ws}/ws/live?key=spender-secret") as ws:
                await ws.recv()
        assert refused.value.rcvd is not None and "has spent" in refused.value.rcvd.reason
    finally:
        await running.stop()
