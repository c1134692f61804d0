"""gemgate's client overhead, side by side, against `gemgate emulate` in another process.

For sequential and 64-concurrent generateContent calls it prints calls/s and the CPU
this process spent per call (the emulator's cost is in the other process) for:
gemgate (`AsyncGemini.generate_content`), the raw driver it uses (aiohttp + json), the
plain google-genai SDK, and the SDK wired through gemgate (`AsyncGemini.sdk`). It also
times `python -c "import gemgate"`.

    python -m bench.client [--calls 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable

import aiohttp

from bench._upstream import emulator

MODEL = "gemini-2.5-flash-lite"
PROMPT = "Hello there"
Factory = Callable[
    [str], Awaitable[tuple[Callable[[], Awaitable[object]], Callable[[], Awaitable[None]]]]
]


async def _raw(base: str) -> tuple[Callable[[], Awaitable[object]], Callable[[], Awaitable[None]]]:
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=256))
    url = f"{base}/v1beta/models/{MODEL}:generateContent"
    body = json.dumps({"contents": [{"role": "user", "parts": [{"text": PROMPT}]}]}).encode()
    headers = {"x-goog-api-key": "bench-key", "content-type": "application/json"}

    async def call() -> object:
        async with session.post(url, data=body, headers=headers) as response:
            return json.loads(await response.read())

    return call, session.close


async def _gemgate(
    base: str,
) -> tuple[Callable[[], Awaitable[object]], Callable[[], Awaitable[None]]]:
    from gemgate import AsyncGemini

    g = AsyncGemini(api_key="bench-key", base_url=base)

    async def call() -> object:
        return await g.generate_content(PROMPT, model=MODEL)

    return call, g.aclose


async def _sdk(base: str) -> tuple[Callable[[], Awaitable[object]], Callable[[], Awaitable[None]]]:
    from google import genai

    client = genai.Client(api_key="bench-key", http_options={"base_url": base})

    async def call() -> object:
        return await client.aio.models.generate_content(model=MODEL, contents=PROMPT)

    return call, client.aio.aclose


async def _gemgate_sdk(
    base: str,
) -> tuple[Callable[[], Awaitable[object]], Callable[[], Awaitable[None]]]:
    from gemgate import AsyncGemini

    g = AsyncGemini(api_key="bench-key", base_url=base)

    async def call() -> object:
        return await g.sdk.aio.models.generate_content(model=MODEL, contents=PROMPT)

    return call, g.aclose


CLIENTS: dict[str, Factory] = {
    "raw aiohttp": _raw,
    "gemgate": _gemgate,
    "google-genai SDK": _sdk,
    "SDK via gemgate": _gemgate_sdk,
}


async def _run(
    call: Callable[[], Awaitable[object]], calls: int, concurrency: int
) -> tuple[float, float]:
    slots = asyncio.Semaphore(concurrency)

    async def one() -> None:
        async with slots:
            await call()

    for _ in range(50):
        await call()
    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(one() for _ in range(calls)))
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return calls / wall, cpu / calls * 1e6


def _import_time() -> float:
    runs = []
    for _ in range(5):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import gemgate"], check=True)
        runs.append(time.perf_counter() - start)
    baseline = []
    for _ in range(5):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        baseline.append(time.perf_counter() - start)
    return statistics.median(runs) - statistics.median(baseline)


async def main(calls: int) -> None:
    results: dict[str, dict[int, tuple[float, float]]] = {}
    with emulator() as base:
        for name, factory in CLIENTS.items():
            call, close = await factory(base)
            try:
                results[name] = {c: await _run(call, calls, c) for c in (1, 64)}
            finally:
                await close()
    print(f"{'client':<20}{'conc':>6}{'calls/s':>10}{'CPU us/call':>14}{'vs raw':>8}")
    for name, rows in results.items():
        for conc, (rate, cpu) in rows.items():
            ratio = cpu / results["raw aiohttp"][conc][1]
            print(f"{name:<20}{conc:>6}{rate:>10.0f}{cpu:>14.0f}{ratio:>7.2f}x")
    print(f"import gemgate: {_import_time() * 1000:.0f} ms (interpreter start-up subtracted)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=2000)
    asyncio.run(main(parser.parse_args().calls))
