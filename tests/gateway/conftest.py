"""Gateways under test: `gemgate serve` as a subprocess, and an in-process stack with faults.

``gateway_server`` runs the real CLI on 127.0.0.1 with no key (its upstream is the
in-process emulator). ``stack`` builds the pieces by hand: an emulator with its control
API (fault injection) behind a middleware that can slow streamed bodies down, an
``AsyncGemini`` aimed at it, and ``gemgate.gateway.create_app(client)`` — both served by
uvicorn on 127.0.0.1 in the test's event loop.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
import pytest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gemgate import AsyncGemini
from gemgate.config import RetrySettings
from gemgate.emulator import EmulatorConfig, create_app
from gemgate.emulator._http import TRANSPORT_KEY
from gemgate.gateway import Gateway
from gemgate.gateway import create_app as create_gateway
from tests.conftest import free_port, serve_in_loop, stop_process

FLASH = "gemini-2.5-flash"
EMBEDDING = "gemini-embedding-001"

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The current weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}
TIME_TOOL = {
    "type": "function",
    "function": {
        "name": "get_time",
        "description": "The local time in a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}

_DROPPED_ENV = (
    "GEMINI_API_KEY",
    "GOOGLE_API_KEY",
    "LLM_BACKEND_TYPE",
    "DEFAULT_MODEL_NAME_OR_PATH",
    "OLLAMA_BASE_URL",
    "VLLM_BASE_URL",
    "INSTRUCTLAB_BASE_URL",
)


def clean_env() -> dict[str, str]:
    """The process environment without any key or gemgate setting."""
    return {
        k: v
        for k, v in os.environ.items()
        if k not in _DROPPED_ENV and not k.startswith(("GEMINI_API_KEY_", "GEMGATE_"))
    }


@pytest.fixture(scope="session")
def gateway_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`python -m gemgate serve` on a free loopback port, no key, cwd a fresh directory."""
    cwd = tmp_path_factory.mktemp("gateway")
    port = free_port()
    log = (cwd / "serve.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "gemgate", "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=cwd,
        env=clean_env(),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    try:
        while True:
            try:
                if httpx2.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx2.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"gateway did not start:\n{(cwd / 'serve.log').read_text()}")
            time.sleep(0.05)  # noqa: TID251 - waiting for a subprocess, outside any event loop
        yield base
    finally:
        stop_process(proc)
        log.close()


@dataclass
class StreamLog:
    """What the upstream did for one streamed request."""

    path: str
    chunks: int = 0
    finished: bool = False
    done: asyncio.Event = field(default_factory=asyncio.Event)


class SlowStreams:
    """ASGI middleware for the emulator: ``delay`` seconds before each streamed chunk.

    Logs every ``streamGenerateContent`` request: how many body chunks were sent, and
    whether the body was completed (``finished``) or the request was abandoned.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.delay = 0.0
        self.streams: list[StreamLog] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or ":streamGenerateContent" not in scope["path"]:
            await self.app(scope, receive, send)
            return
        log = StreamLog(scope["path"])
        self.streams.append(log)
        transport = getattr(getattr(send, "__self__", None), "transport", None)
        if transport is not None:  # the emulator's drop fault closes it, as without this wrapper
            scope[TRANSPORT_KEY] = transport

        async def slow_send(message: Message) -> None:
            if message["type"] == "http.response.body":
                if message.get("body") and self.delay:
                    await asyncio.sleep(self.delay)
                log.chunks += 1
                if not message.get("more_body", False):
                    log.finished = True
            await send(message)

        try:
            await self.app(scope, receive, slow_send)
        finally:
            log.done.set()


serve = serve_in_loop


@dataclass
class Stack:
    """An emulator (with control API) and a gateway in front of it, both on loopback."""

    emulator_url: str
    url: str
    client: AsyncGemini
    gateway: Gateway
    slow: SlowStreams
    http: httpx2.AsyncClient
    """A raw client on the gateway."""
    control: httpx2.AsyncClient
    """A raw client on the emulator (``/_emulator/...``)."""

    async def faults(self, *rules: dict[str, Any]) -> None:
        """Replace the emulator's fault rules."""
        response = await self.control.post("/_emulator/faults", json={"faults": list(rules)})
        response.raise_for_status()

    async def idle(self, within: float = 5.0) -> None:
        """Wait until the client has no request in flight."""
        deadline = asyncio.get_running_loop().time() + within
        while self.client.get_active_requests():
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"still active: {self.client.get_active_requests()}")
            await asyncio.sleep(0.01)


@pytest.fixture
async def stack(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> AsyncIterator[Stack]:
    monkeypatch.chdir(tmp_path)  # anything the gateway writes (its session store) goes here
    slow = SlowStreams(create_app(EmulatorConfig(), control=True))
    emu_server, emu_task, emulator_url = await serve(slow)
    # No retries: an injected failure reaches the gateway at once.
    client = AsyncGemini(api_key="k", base_url=emulator_url, retry=RetrySettings(max_retries=0))
    gateway = create_gateway(client)
    gw_server, gw_task, url = await serve(gateway, lifespan="on")  # shutdown closes the client
    http = httpx2.AsyncClient(base_url=url, timeout=30)
    control = httpx2.AsyncClient(base_url=emulator_url, timeout=30)
    try:
        yield Stack(emulator_url, url, client, gateway, slow, http, control)
    finally:
        await http.aclose()
        await control.aclose()
        gw_server.should_exit = True
        await gw_task
        emu_server.should_exit = True
        await emu_task
