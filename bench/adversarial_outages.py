"""How fast a dead upstream is answered: ``python -m bench.adversarial_outages``.

Prints, for a gateway in front of an upstream that refuses every connection, the time to
answer a chat while the breaker is still closed (retries spent), then once it is open;
and for an upstream that accepts and never answers, the time to answer a chat that
carries ``x-gemgate-timeout: 2``. The client gives up after 45 s (shown as ``>45``).
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx2

from gemgate import AsyncGemini
from gemgate.config import RetrySettings
from gemgate.gateway import create_app
from gemgate.serving import serve_in_loop

CHAT = {"model": "gemini-2.5-flash", "messages": [{"role": "user", "content": "there?"}]}
RETRY = RetrySettings(max_retries=2, backoff_base=0.05, backoff_cap=0.2, breaker_threshold=3)
WAIT = 45.0


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@asynccontextmanager
async def _gateway(upstream: str) -> AsyncIterator[httpx2.AsyncClient]:
    client = AsyncGemini(api_key="-".join(("bench", "key")), base_url=upstream, retry=RETRY)
    served = await serve_in_loop(create_app(client), lifespan="on")
    try:
        async with httpx2.AsyncClient(base_url=served.base_url, timeout=WAIT) as http:
            yield http
    finally:
        served.server.should_exit = True
        await served.task


async def _timed(http: httpx2.AsyncClient, headers: dict[str, str] | None = None) -> str:
    start = time.perf_counter()
    try:
        response = await http.post("/v1/chat/completions", json=CHAT, headers=headers)
    except httpx2.TimeoutException:
        return f">{WAIT:.0f} s (no answer)"
    spent = time.perf_counter() - start
    retry = response.headers.get("retry-after")
    return f"{spent:6.2f} s  {response.status_code}" + (f" Retry-After: {retry}" if retry else "")


async def main() -> None:
    async with _gateway(f"http://127.0.0.1:{_closed_port()}") as http:
        for i in range(3):
            print(f"refused upstream, chat {i + 1}: {await _timed(http)}")

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while await reader.read(65536):
            pass

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with _gateway(f"http://127.0.0.1:{port}") as http:
        deadline = {"x-gemgate-timeout": "2"}
        print(f"hanging upstream, x-gemgate-timeout 2: {await _timed(http, deadline)}")
    server.close()


if __name__ == "__main__":
    asyncio.run(main())
