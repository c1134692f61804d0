"""Which async HTTP driver should gemgate's upstream use? aiohttp vs httpx2.

Runs against `gemgate emulate` in another process and reports, per driver, calls/s and
client CPU per call (process time of this process only, so the emulator's own cost is
left out) for sequential and 64-concurrent generateContent calls.

    python bench/drivers.py [--calls 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import json

import aiohttp
import httpx2

from bench._upstream import emulator
from bench.client import _run

BODY = json.dumps({"contents": [{"role": "user", "parts": [{"text": "Hello there"}]}]}).encode()
HEADERS = {"x-goog-api-key": "bench-key", "content-type": "application/json"}
PATH = "/v1beta/models/gemini-2.5-flash-lite:generateContent"


async def main(calls: int) -> None:
    with emulator() as base:
        results: dict[str, dict[int, tuple[float, float]]] = {}
        async with httpx2.AsyncClient(
            base_url=base, limits=httpx2.Limits(max_connections=100)
        ) as hx:

            async def httpx_call() -> None:
                r = await hx.post(PATH, content=BODY, headers=HEADERS)
                json.loads(r.content)

            results["httpx2"] = {c: await _run(httpx_call, calls, c) for c in (1, 64)}
        connector = aiohttp.TCPConnector(limit=100)
        async with aiohttp.ClientSession(base, connector=connector) as session:

            async def aiohttp_call() -> None:
                async with session.post(PATH, data=BODY, headers=HEADERS) as r:
                    json.loads(await r.read())

            results["aiohttp"] = {c: await _run(aiohttp_call, calls, c) for c in (1, 64)}
    print(f"{'driver':<10}{'conc':>6}{'calls/s':>10}{'client CPU us/call':>20}")
    for name, rows in results.items():
        for conc, (rate, cpu) in rows.items():
            print(f"{name:<10}{conc:>6}{rate:>10.0f}{cpu:>20.0f}")
    for conc in (1, 64):
        ratio = results["httpx2"][conc][1] / results["aiohttp"][conc][1]
        print(f"concurrency {conc}: httpx2 spends {ratio:.2f}x the client CPU of aiohttp")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=2000)
    asyncio.run(main(parser.parse_args().calls))
