"""An emulator on 127.0.0.1 that shares the test's fake clock, and clients aimed at it."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import pytest
import uvicorn

from gemgate import AsyncGemini
from gemgate.emulator import Emulator, EmulatorConfig, create_app
from gemgate.projects import ProjectConfig
from tests.conftest import FakeClock, serve_in_loop, stop_serving

MODEL = "gemini-2.5-flash"


@dataclass
class Live:
    """A running emulator: its URL, the app (for state) and a raw HTTP client."""

    base: str
    emulator: Emulator
    http: httpx2.AsyncClient
    clock: FakeClock
    server: uvicorn.Server
    task: asyncio.Task[None]

    async def faults(self, *rules: dict[str, Any]) -> None:
        (await self.http.post("/_emulator/faults", json={"faults": list(rules)})).raise_for_status()

    async def stats(self) -> dict[str, Any]:
        response = await self.http.get("/_emulator/stats")
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    def client(self, projects: list[dict[str, Any]], **kwargs: Any) -> AsyncGemini:
        """An AsyncGemini on this emulator and its fake clock."""
        client = AsyncGemini(
            projects=[ProjectConfig.model_validate(p) for p in projects],
            base_url=self.base,
            clock=self.clock,
            sleep=self.clock.sleep,
            **kwargs,
        )
        self.clock.busy = lambda: client.in_flight > 0
        return client


Start = Callable[..., Awaitable[Live]]


@pytest.fixture
async def live(clock: FakeClock) -> AsyncIterator[Start]:
    """``await live(projects, **emulator_settings)`` starts an emulator server."""
    made: list[Live] = []

    async def start(projects: list[dict[str, Any]] | None = None, **settings: Any) -> Live:
        config = EmulatorConfig.model_validate({"projects": projects or [], "emulator": settings})
        app = create_app(config, clock=clock, control=True)
        server, task, base = await serve_in_loop(app)
        item = Live(base, app, httpx2.AsyncClient(base_url=base), clock, server, task)
        made.append(item)
        return item

    yield start
    for item in made:
        await item.http.aclose()
        await stop_serving(item.server, item.task)


def projects(count: int, keys: int = 2, **limits: int) -> list[dict[str, Any]]:
    """``count`` projects with ``keys`` keys each and the same limits on MODEL."""
    return [
        {
            "name": f"proj-{p}",
            "keys": [f"key-{p}-{k}" for k in range(keys)],
            "limits": {MODEL: limits} if limits else {},
        }
        for p in range(count)
    ]


@pytest.fixture
def emulator_opt_in(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No key, no other GEMGATE_* setting and no .env: the user opted in to the emulator."""
    for name in list(os.environ):
        if name.startswith(("GEMINI_API_KEY", "GOOGLE_API_KEY", "GEMGATE_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("GEMGATE_UPSTREAM", "emulator")
    monkeypatch.chdir(tmp_path)
