"""The upstream Gemini key never leaks: not in logs, errors, metrics, rows or files.

A recognisable fake key (built at run time) drives a whole session through the library
and the gateway: chat, a stream, tools, chat sessions on SQLite, Redis and PostgreSQL,
the request log, a batch, and a 400 and a 429 injected by the emulator. Then every log
record (DEBUG), every response and error body, ``/metrics``, every stored row (Redis keys
and values, PostgreSQL tables) and every file under the temporary directory is searched:
the key is nowhere (its fingerprint may be).
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import httpx2
import openai
import pytest

from gemgate import AsyncGemini
from gemgate.config import RetrySettings
from gemgate.emulator import EmulatorConfig
from gemgate.emulator import create_app as create_emulator
from gemgate.errors import GemgateError
from gemgate.gateway import create_app
from gemgate.sessions import ChatManager, ChatStorage
from tests.adversarial._secrets_support import (
    fake_key,
    files_under,
    postgres_dump,
    redis_dump,
)
from tests.conftest import free_port, serve_in_loop, stop_process, stop_serving
from tests.servers import POSTGRES_URL, REDIS_URL, need_server

pytestmark = pytest.mark.anyio

FLASH = "gemini-2.5-flash"
HI = [{"role": "user", "content": "Hello there"}]
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}


def get_weather(city: str) -> str:
    """The weather in a city."""
    return f"sunny in {city}"


@pytest.fixture
async def emulator() -> AsyncIterator[str]:
    server, task, url = await serve_in_loop(create_emulator(EmulatorConfig(), control=True))
    try:
        yield url
    finally:
        await stop_serving(server, task)


async def _faults(emulator: str, *rules: dict[str, Any]) -> None:
    async with httpx2.AsyncClient(base_url=emulator) as control:
        answer = await control.post("/_emulator/faults", json={"faults": list(rules)})
        answer.raise_for_status()


def _leaks(key: str, where: str, data: str | bytes) -> list[str]:
    """Where ``key`` (or its secret part) shows in ``data``."""
    text = data.decode("latin-1") if isinstance(data, bytes) else data
    return [where] if key in text or key[4:] in text else []


@pytest.mark.full  # about a minute per backend
@pytest.mark.parametrize("backend", ["sqlite", "redis", "postgres"])
async def test_the_key_never_leaks(  # noqa: C901 - one scenario, in order
    backend: str,
    emulator: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if backend == "redis":
        need_server("Redis", 6379)
    if backend == "postgres":
        need_server("PostgreSQL", 5432)
    monkeypatch.chdir(tmp_path)  # anything written by default goes here too
    caplog.set_level(logging.DEBUG)
    key = fake_key()
    sessions_url = {
        "sqlite": f"sqlite:///{tmp_path}/sessions.db",
        "redis": REDIS_URL,
        "postgres": POSTGRES_URL,
    }[backend]
    client = AsyncGemini(
        api_key=key,
        base_url=emulator,
        retry=RetrySettings(max_retries=0),
        sessions_url=sessions_url,
        request_log_url=f"sqlite:///{tmp_path}/requests.db",
        state_url=REDIS_URL if backend == "redis" else None,
    )
    bodies: list[tuple[str, str]] = []

    # the library: chat, a stream, tools in a stored chat, and a failure
    bodies.append(("chat", json.dumps(await client.chat(HI))))
    bodies += [("stream", json.dumps(c)) async for c in client.stream_chat(HI)]
    manager = ChatManager(ChatStorage.from_url(sessions_url))
    chat = await manager.create_chat(title="secrets probe")
    async for event in client.chat_with_tools(
        "What is the weather in Paris?",
        tools=[get_weather],
        chat_id=chat.id,
        chat_manager=manager,
    ):
        bodies.append(("tools", event.model_dump_json()))
    await _faults(emulator, {"kind": "status", "status": 400, "message": "bad request probe"})
    with pytest.raises(GemgateError) as failed:
        await client.chat(HI)
    bodies.append(("library error", f"{failed.value} {failed.value!r} {failed.value.__dict__}"))
    await _faults(emulator)

    # the gateway over the same client
    app = create_app(client)
    transport = httpx2.ASGITransport(app=app)
    async with httpx2.AsyncClient(transport=transport, base_url="http://gw", timeout=30) as http:
        sdk = openai.AsyncOpenAI(
            api_key="unused", base_url="http://gw/v1", http_client=http, max_retries=0
        )
        bodies.append(
            (
                "v1 chat",
                (await sdk.chat.completions.create(model=FLASH, messages=HI)).model_dump_json(),
            )
        )  # type: ignore[arg-type]
        stream = await sdk.chat.completions.create(model=FLASH, messages=HI, stream=True)  # type: ignore[arg-type]
        bodies += [("v1 stream", c.model_dump_json()) async for c in stream]
        tools = await sdk.chat.completions.create(
            model=FLASH,
            messages=[{"role": "user", "content": "What is the weather in Paris?"}],
            tools=[WEATHER],  # type: ignore[list-item]
        )
        bodies.append(("v1 tools", tools.model_dump_json()))
        session = await http.post("/api/v1/sessions", json={"title": "probe"})
        sid = session.json()["id"]
        sent = await http.post(f"/api/v1/sessions/{sid}/messages", json={"content": "Hi"})
        bodies += [("session", session.text), ("session message", sent.text)]
        native = await http.post(
            f"/gemini/v1beta/models/{FLASH}:generateContent",
            json={"contents": [{"parts": [{"text": "hi"}]}]},
        )
        bodies.append(("native", native.text))
        line = {"custom_id": "1", "method": "POST", "url": "/v1/chat/completions"}
        line["body"] = {"model": FLASH, "messages": HI}  # type: ignore[assignment]
        upload = await sdk.files.create(
            file=("b.jsonl", json.dumps(line).encode()), purpose="batch"
        )
        batch = await sdk.batches.create(
            input_file_id=upload.id, endpoint="/v1/chat/completions", completion_window="24h"
        )
        for _ in range(500):
            batch = await sdk.batches.retrieve(batch.id)
            if batch.status in ("completed", "failed", "expired", "cancelled"):
                break
            await anyio.sleep(0.02)
        bodies.append(("batch", batch.model_dump_json()))
        for status in (400, 429):
            rule = {"kind": "status", "status": status, "message": f"probe {status}"}
            await _faults(emulator, rule)
            refused = await http.post("/v1/chat/completions", json={"model": FLASH, "messages": HI})
            assert refused.status_code == status, refused.text
            native = await http.post(
                f"/gemini/v1beta/models/{FLASH}:generateContent",
                json={"contents": [{"parts": [{"text": "hi"}]}]},
            )
            assert native.status_code == status, native.text
            bodies += [(f"v1 {status}", refused.text), (f"native {status}", native.text)]
            await _faults(emulator)
        for path in ("/metrics", "/api/v1/usage", "/readyz", "/api/v1/quota"):
            bodies.append((path, (await http.get(path)).text))
    await app.aclose()
    await manager.close()
    await client.aclose()

    leaks: list[str] = []
    for where, body in bodies:
        leaks += _leaks(key, where, body)
    for record in caplog.records:
        leaks += _leaks(key, f"log {record.name}", record.getMessage() + str(record.__dict__))
    leaks += _leaks(key, "log text", caplog.text)
    for path, data in files_under(tmp_path).items():
        leaks += _leaks(key, path, data)
    assert any(path.endswith("requests.db") for path in files_under(tmp_path))
    if backend == "redis":
        leaks += _leaks(key, "redis", await redis_dump(REDIS_URL))
    if backend == "postgres":
        leaks += _leaks(key, "postgres", await postgres_dump(POSTGRES_URL))
    assert not leaks, f"the key shows in: {leaks}"
    assert len(bodies) > 20 and len(caplog.records) > 0


@pytest.mark.full
async def test_a_served_gateway_never_prints_the_key(emulator: str, tmp_path: Path) -> None:
    """``gemgate serve --log-level debug``: its output, over a session with failures."""
    key = fake_key()
    port = free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("GEMINI_API_KEY", "GEMGATE_", "GOOGLE_API_KEY"))
    }
    env["GEMINI_API_KEY"] = key
    config = tmp_path / "gemgate.toml"
    config.write_text(
        f'upstream_url = "{emulator}"\n'
        f'sessions_url = "sqlite:///{tmp_path}/s.db"\n'
        f'request_log_url = "sqlite:///{tmp_path}/r.db"\n'
        "[retry]\nmax_retries = 0\n"  # an injected failure comes back at once
        "[timeouts]\ntotal = 5\n"  # a 429 cools the only project: the wait for it ends
    )
    command = [
        sys.executable,
        "-m",
        "gemgate",
        "serve",
        "--port",
        str(port),
        "--config",
        str(config),
    ]
    log = (tmp_path / "serve.log").open("wb")
    proc = subprocess.Popen(  # noqa: ASYNC220 - started once, waited on by polling
        [*command, "--log-level", "debug"], cwd=tmp_path, env=env, stdout=log, stderr=log
    )
    base = f"http://127.0.0.1:{port}"
    bodies: list[str] = []
    try:
        async with httpx2.AsyncClient(base_url=base, timeout=30) as http:
            deadline = time.monotonic() + 30
            while True:
                try:
                    if (await http.get("/healthz")).status_code == 200:
                        break
                except httpx2.TransportError:
                    assert proc.poll() is None and time.monotonic() < deadline
                await anyio.sleep(0.05)
            chat = {"model": FLASH, "messages": HI}
            bodies.append((await http.post("/v1/chat/completions", json=chat)).text)
            for status in (400, 429, 500):
                await _faults(emulator, {"kind": "status", "status": status})
                bodies.append((await http.post("/v1/chat/completions", json=chat)).text)
                bodies.append(
                    (await http.post("/v1/chat/completions", json=chat | {"stream": True})).text
                )
                await _faults(emulator)
            bodies.append((await http.get("/metrics")).text)
    finally:
        stop_process(proc)  # type: ignore[arg-type]
        log.close()
    output = (tmp_path / "serve.log").read_bytes()
    assert output, "the served gateway logged nothing"
    assert not _leaks(key, "serve output", output)
    assert not [b for b in bodies if _leaks(key, "body", b)]
    for path, data in files_under(tmp_path).items():
        assert not _leaks(key, path, data), path
