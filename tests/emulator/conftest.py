"""Fixtures that run every emulator test twice: in-process and against `gemgate emulate`.

``target`` gives a base URL, a raw ``httpx2.AsyncClient`` for control calls and hand-made
requests, and ``sdk()`` for official ``google-genai`` clients pointed at the emulator.
In-process targets also expose the fake ``clock``; server targets have ``clock = None``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx2
import pytest
from google import genai
from google.genai import types

from gemgate.emulator import Emulator, EmulatorConfig, create_app
from tests.conftest import EMULATOR_CONFIG, FakeClock

KEY = "test-key"


def user_turn(text: str) -> types.Content:
    """One user turn of text."""
    return types.Content(role="user", parts=[types.Part(text=text)])


def city_function(name: str, description: str) -> types.FunctionDeclaration:
    """A function of one required ``city`` string, as the weather tests declare."""
    return types.FunctionDeclaration(
        name=name,
        description=description,
        parameters_json_schema={
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    )


class ControlAPI:
    """The emulator's control API (``/_emulator/...``) through ``self.http``."""

    http: httpx2.AsyncClient

    async def faults(self, *rules: dict[str, Any]) -> None:
        response = await self.http.post("/_emulator/faults", json={"faults": list(rules)})
        response.raise_for_status()

    async def stats(self) -> dict[str, Any]:
        response = await self.http.get("/_emulator/stats")
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result


@dataclass
class Target(ControlAPI):
    """One emulator under test."""

    mode: str
    base: str
    http: httpx2.AsyncClient
    clock: FakeClock | None = None
    emulator: Emulator | None = None
    _clients: list[genai.Client] = field(default_factory=list)

    def sdk(self, key: str = KEY, version: str = "v1beta") -> genai.Client:
        """An official SDK client on this emulator."""
        options = types.HttpOptions(base_url=self.base, api_version=version)
        if self.mode == "inprocess":
            options.httpx_async_client = self.http
        client = genai.Client(api_key=key, http_options=options)
        self._clients.append(client)
        return client

    async def close(self) -> None:
        for client in self._clients:
            if self.mode == "server":
                await client.aio.aclose()
                client.close()
        await self.http.aclose()


@pytest.fixture(params=["inprocess", "server"])
async def target(request: pytest.FixtureRequest, clock: FakeClock) -> AsyncIterator[Target]:
    if request.param == "inprocess":
        emulator = create_app(EmulatorConfig.from_toml(EMULATOR_CONFIG), clock=clock, control=True)
        base = "http://emulator.local"
        http = httpx2.AsyncClient(transport=httpx2.ASGITransport(app=emulator), base_url=base)
        tgt = Target("inprocess", base, http, clock=clock, emulator=emulator)
    else:
        base = request.getfixturevalue("emulator_server")
        http = httpx2.AsyncClient(base_url=base, timeout=30)
        (await http.post("/_emulator/reset")).raise_for_status()
        tgt = Target("server", base, http)
    try:
        yield tgt
    finally:
        await tgt.close()


@pytest.fixture
async def inprocess(clock: FakeClock) -> AsyncIterator[Target]:
    """Only the in-process emulator (for tests that move the clock)."""
    emulator = create_app(EmulatorConfig.from_toml(EMULATOR_CONFIG), clock=clock, control=True)
    base = "http://emulator.local"
    http = httpx2.AsyncClient(transport=httpx2.ASGITransport(app=emulator), base_url=base)
    tgt = Target("inprocess", base, http, clock=clock, emulator=emulator)
    try:
        yield tgt
    finally:
        await tgt.close()
