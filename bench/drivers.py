"""Which async HTTP driver should gemgate's upstream use? Its own vs aiohttp vs httpx2.

Runs against `gemgate emulate` in another process and reports, per driver, calls/s and
client CPU per call (process time of this process only, so the emulator's own cost is
left out) for sequential and 64-concurrent generateContent calls, on uvloop as
`gemgate serve` runs. Every driver reads the whole body and parses it as JSON.

    python -m bench.drivers [--calls 4000]
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Awaitable, Callable

import aiohttp
import httpx2
import uvloop

from bench._upstream import emulator
from bench.client import _run
from gemgate.upstream._http1 import HTTPDriver

BODY = json.dumps({"contents": [{"role": "user", "parts": [{"text": "Hello there"}]}]}).encode()
HEADERS = {"x-goog-api-key": "bench-key", "content-type": "application/json"}
PATH = "/v1beta/models/gemini-2.5-flash-lite:generateContent"
Rows = dict[int, tuple[float, float]]


async def _measure(call: Callable[[], Awaitable[None]], calls: int) -> Rows:
    return {conc: await _run(call, calls, conc) for conc in (1, 64)}


async def _gemgate(base: str, calls: int) -> Rows:
    driver = HTTPDriver(base)

    async def call() -> None:
        reply = await driver.send("POST", base + PATH, HEADERS, BODY, first_byte=60.0, idle=60.0)
        json.loads(await reply.read())
        await reply.aclose()

    try:
        return await _measure(call, calls)
    finally:
        await driver.aclose()


async def _aiohttp(base: str, calls: int) -> Rows:
    """Configured as gemgate used it: pooled, a read timeout, decompression on."""
    connector = aiohttp.TCPConnector(limit=1024, ttl_dns_cache=300)
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=60)
    async with aiohttp.ClientSession(connector=connector, trust_env=False) as session:

        async def call() -> None:
            async with session.post(
                base + PATH, data=BODY, headers=HEADERS, timeout=timeout
            ) as response:
                json.loads(await response.read())

        return await _measure(call, calls)


async def _httpx2(base: str, calls: int) -> Rows:
    limits = httpx2.Limits(max_connections=1024)
    async with httpx2.AsyncClient(base_url=base, limits=limits) as client:

        async def call() -> None:
            response = await client.post(PATH, content=BODY, headers=HEADERS)
            json.loads(response.content)

        return await _measure(call, calls)


async def main(calls: int) -> None:
    with emulator() as base:
        results = {
            "gemgate": await _gemgate(base, calls),
            "aiohttp": await _aiohttp(base, calls),
            "httpx2": await _httpx2(base, calls),
        }
    print(f"{'driver':<10}{'conc':>6}{'calls/s':>10}{'client CPU us/call':>20}")
    for name, rows in results.items():
        for conc, (rate, cpu) in rows.items():
            print(f"{name:<10}{conc:>6}{rate:>10.0f}{cpu:>20.0f}")
    for conc in (1, 64):
        ours = results["gemgate"][conc][1]
        others = ", ".join(
            f"{name} {results[name][conc][1] / ours:.2f}x" for name in ("aiohttp", "httpx2")
        )
        print(f"concurrency {conc}: client CPU relative to gemgate's driver: {others}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=4000)
    uvloop.run(main(parser.parse_args().calls))
