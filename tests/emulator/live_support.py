"""Helpers for the Live tests: the emulator served over TLS in the running event loop.

``live_emulator(tmp_path, clock, **settings)`` writes a CA and a server certificate with
``gemgate.emulator._tls.self_signed``, serves the emulator (tests/emulator/emulator.toml plus
``settings`` in its ``[emulator]`` table) with uvicorn on 127.0.0.1, and yields a
:class:`LiveTarget` whose SDK clients and raw WebSocket connections trust that CA.
"""

from __future__ import annotations

import json
import ssl
import tomllib
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import httpx2
import websockets
from google import genai
from google.genai import live, types
from websockets.asyncio.client import ClientConnection

from gemgate.emulator import Emulator, EmulatorConfig, create_app
from gemgate.emulator._tls import TlsFiles, client_context, self_signed
from gemgate.serving import serve_in_loop
from tests.conftest import EMULATOR_CONFIG, FakeClock
from tests.emulator.conftest import ControlAPI

KEY = "test-key"
MODEL = "gemini-live-2.5-flash-preview"
TEXT = types.LiveConnectConfig(response_modalities=[types.Modality.TEXT])
WS_PATH = "/ws/google.ai.generativelanguage.{}.GenerativeService.{}"


@dataclass
class LiveTarget(ControlAPI):
    """An emulator served over TLS on 127.0.0.1."""

    base: str
    tls: TlsFiles
    emulator: Emulator
    http: httpx2.AsyncClient
    clock: FakeClock | None
    _clients: list[genai.Client] = field(default_factory=list)

    @property
    def ssl(self) -> ssl.SSLContext:
        return client_context(self.tls.ca)

    def sdk(self, key: str = KEY, version: str = "v1beta") -> genai.Client:
        """An official SDK client that trusts the emulator's CA."""
        options = types.HttpOptions(
            base_url=self.base, api_version=version, async_client_args={"ssl": self.ssl}
        )
        client = genai.Client(api_key=key, http_options=options)
        self._clients.append(client)
        return client

    def ws_url(self, version: str = "v1beta", method: str = "BidiGenerateContent") -> str:
        return self.base.replace("https://", "wss://") + WS_PATH.format(version, method)

    @asynccontextmanager
    async def raw(
        self,
        *,
        key: str | None = KEY,
        version: str = "v1beta",
        method: str = "BidiGenerateContent",
        query: str = "",
        headers: dict[str, str] | None = None,
    ) -> AsyncIterator[ClientConnection]:
        """A plain ``websockets`` connection (for hand-made frames)."""
        sent = dict(headers or {})
        if key is not None:
            sent["x-goog-api-key"] = key
        url = self.ws_url(version, method) + (f"?{query}" if query else "")
        async with websockets.connect(url, ssl=self.ssl, additional_headers=sent) as ws:
            yield ws

    async def close(self) -> None:
        for client in self._clients:
            await client.aio.aclose()
            client.close()
        await self.http.aclose()


def receiving(session: live.AsyncSession) -> AsyncGenerator[types.LiveServerMessage, None]:
    """``session.receive()`` typed as the async generator it is, so it can be closed early."""
    return cast(AsyncGenerator[types.LiveServerMessage, None], session.receive())


async def recv_json(ws: ClientConnection) -> dict[str, Any]:
    """The next server message; asserts it came as a binary frame."""
    frame = await ws.recv()
    assert isinstance(frame, bytes), "server messages must be binary frames"
    message: dict[str, Any] = json.loads(frame)
    return message


async def send_json(ws: ClientConnection, message: dict[str, Any]) -> None:
    await ws.send(json.dumps(message))


def _config(projects: list[dict[str, Any]] | None, settings: dict[str, Any]) -> EmulatorConfig:
    with EMULATOR_CONFIG.open("rb") as fh:
        data = tomllib.load(fh)
    if projects is not None:
        data["projects"] = projects
    data.setdefault("emulator", {}).update(settings)
    return EmulatorConfig.model_validate(data)


@asynccontextmanager
async def live_emulator(
    tmp_path: Path,
    clock: FakeClock | None = None,
    *,
    projects: list[dict[str, Any]] | None = None,
    **settings: Any,
) -> AsyncIterator[LiveTarget]:
    """Serve the emulator over TLS in this event loop for the duration of the block.

    ``clock`` (a FakeClock) drives the emulator's time; without it the emulator uses the real
    clock. ``projects`` replaces the configured projects; ``settings`` go to ``[emulator]``.
    """
    files = self_signed(tmp_path / "tls")
    config = _config(projects, settings)
    if clock is None:
        emulator = create_app(config, control=True)
    else:
        emulator = create_app(config, clock=clock, control=True)
    served = await serve_in_loop(emulator, certfile=str(files.cert), keyfile=str(files.key))
    base = served.base_url
    http = httpx2.AsyncClient(base_url=base, verify=client_context(files.ca), timeout=30)
    target = LiveTarget(base, files, emulator, http, clock)
    try:
        yield target
    finally:
        await target.close()
        await served.stop()


def resume_config(handle: str) -> types.LiveConnectConfig:
    """A text session that resumes the conversation ``handle`` names."""
    return types.LiveConnectConfig(
        response_modalities=[types.Modality.TEXT],
        session_resumption=types.SessionResumptionConfig(handle=handle),
    )
