"""Dead upstreams for the outage probes, and a gateway in front of one.

- `refusing`: a loopback port nothing listens on (every connection is refused);
- `hanging`: a server that accepts connections, reads, and never answers;
- `trickling`: a server that starts a 200 stream at once and sends a chunk every
  ``every`` seconds, never ending it (no idle timeout ever fires).

`outage_gateway` serves ``gemgate.gateway.create_app`` in the test's loop over an
``AsyncGemini`` aimed at such an upstream, with quick backoffs and a small breaker.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass

import httpx2

from gemgate import AsyncGemini
from gemgate.config import RetrySettings
from gemgate.gateway import create_app
from tests.conftest import free_port, serve_in_loop, stop_serving

FLASH = "gemini-2.5-flash"
QUICK = RetrySettings(max_retries=2, backoff_base=0.01, backoff_cap=0.05, breaker_threshold=3)
"""Retries that end fast, and a breaker that opens after three failures (reset: 30 s)."""
CLIENT_WAIT = 20.0
"""How long a probe's HTTP client waits: well under the 30 s a breaker reset lasts."""


def api_key() -> str:
    """A key-shaped test value (built from pieces, never a real key's form)."""
    return "-".join(("test", "outage", "key"))


@asynccontextmanager
async def refusing() -> AsyncIterator[str]:
    """The URL of a loopback port that refuses every connection."""
    yield f"http://127.0.0.1:{free_port()}"


Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@asynccontextmanager
async def _serving(handle: Handler) -> AsyncIterator[str]:
    """The URL of a loopback server that runs ``handle`` on each connection."""
    held: list[asyncio.StreamWriter] = []

    async def run(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)
        with contextlib.suppress(ConnectionError, asyncio.CancelledError):  # ends with the test
            await handle(reader, writer)

    server = await asyncio.start_server(run, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        for writer in held:
            writer.close()
        server.close()


def hanging() -> AbstractAsyncContextManager[str]:
    """The URL of a server that accepts, reads the request, and never answers."""

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while await reader.read(65536):
            pass

    return _serving(hold)


def trickling(every: float = 0.2) -> AbstractAsyncContextManager[str]:
    """The URL of a server whose every answer is an endless, slow Gemini SSE stream."""
    chunk = json.dumps(
        {"candidates": [{"content": {"role": "model", "parts": [{"text": "more "}]}}]}
    )
    event = f"data: {chunk}\r\n\r\n".encode()

    async def trickle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")  # the head; the body is not needed
        head = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
        writer.write(f"{head}transfer-encoding: chunked\r\n\r\n".encode())
        while True:
            writer.write(b"%x\r\n%s\r\n" % (len(event), event))
            await writer.drain()
            await asyncio.sleep(every)

    return _serving(trickle)


@dataclass
class Served:
    """A gateway on loopback over a client aimed at a dead upstream."""

    url: str
    client: AsyncGemini
    http: httpx2.AsyncClient


@asynccontextmanager
async def outage_gateway(
    upstream: str, retry: RetrySettings = QUICK, **settings: object
) -> AsyncIterator[Served]:
    """``create_app`` over ``AsyncGemini(base_url=upstream)``, served in this loop."""
    client = AsyncGemini(api_key=api_key(), base_url=upstream, retry=retry, **settings)
    server, task, url = await serve_in_loop(create_app(client), lifespan="on")
    http = httpx2.AsyncClient(base_url=url, timeout=CLIENT_WAIT)
    try:
        yield Served(url, client, http)
    finally:
        await http.aclose()
        await stop_serving(server, task)
