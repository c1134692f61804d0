"""A Gemini batch of N requests end to end: gemgate's ``batches`` against the plain SDK.

Against `gemgate emulate` in another process, with batch time simulated fast (no pending
time, 10 µs per request), each client submits N generateContent requests, waits for the
batch (polling every 50 ms) and reads every result back into a dict by key. Each run is
its own Python process, so its peak RSS is its own. Two ways to send a batch:

- inline: the requests in the create call, the results in the finished batch;
- file: the requests as an uploaded JSONL file, the results as a downloaded file.

For each it prints submit, wait and results time, total wall time, peak RSS and results/s,
for gemgate (``AsyncGemini.batches``: submit, wait, results) and for google-genai used
directly (``client.aio.batches.create`` + a ``get`` loop, plus ``files.upload`` /
``files.download`` for files), and the ratio of their wall times.

    python -m bench.batch [--requests 10000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from bench._harness import free_port, launch

MODEL = "gemini-2.5-flash-lite"
POLL = 0.05
SETTINGS = "[emulator]\nbatch_start_seconds = 0.0\nbatch_seconds_per_request = 0.00001\n"
DONE = {"JOB_STATE_SUCCEEDED", "JOB_STATE_FAILED", "JOB_STATE_CANCELLED", "JOB_STATE_EXPIRED"}


def _prompts(n: int) -> dict[str, str]:
    return {f"req-{i}": f"Question {i}: what is {i} plus {i}?" for i in range(n)}


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def _gemgate(base: str, n: int, mode: str) -> dict[str, float]:
    from gemgate import AsyncGemini, BatchItemError

    prompts = _prompts(n)
    async with AsyncGemini(api_key="bench-key", base_url=base, batches_url="memory://") as g:
        g.batches.poll_interval = g.batches.max_poll_interval = POLL
        if mode == "file":
            g.batches.inline_limit = 0
        t0 = time.perf_counter()
        job = await g.batches.submit(prompts, model=MODEL)
        t1 = time.perf_counter()
        await g.batches.wait(job.id)
        t2 = time.perf_counter()
        results = await g.batches.results(job.id)
        t3 = time.perf_counter()
    ok = sum(1 for v in results.values() if not isinstance(v, BatchItemError))
    return {"submit": t1 - t0, "wait": t2 - t1, "results": t3 - t2, "ok": ok}


async def _sdk(base: str, n: int, mode: str) -> dict[str, float]:
    from google import genai
    from google.genai import types

    prompts = _prompts(n)
    client = genai.Client(api_key="bench-key", http_options=types.HttpOptions(base_url=base))
    aio = client.aio
    t0 = time.perf_counter()
    if mode == "file":
        lines = "".join(
            json.dumps({"key": k, "request": {"contents": [{"parts": [{"text": p}]}]}}) + "\n"
            for k, p in prompts.items()
        )
        uploaded = await aio.files.upload(
            file=io.BytesIO(lines.encode()), config={"mime_type": "application/jsonl"}
        )
        job = await aio.batches.create(model=MODEL, src=uploaded.name)
    else:
        src = [
            {"contents": [{"parts": [{"text": p}], "role": "user"}], "metadata": {"key": k}}
            for k, p in prompts.items()
        ]
        job = await aio.batches.create(model=MODEL, src=src)  # type: ignore[arg-type]
    t1 = time.perf_counter()
    while job.state is None or job.state.name not in DONE:
        await asyncio.sleep(POLL)
        job = await aio.batches.get(name=job.name or "")
    t2 = time.perf_counter()
    results: dict[str, Any] = {}
    assert job.dest is not None
    if mode == "file":
        data = await aio.files.download(file=job.dest.file_name or "")
        for line in data.splitlines():
            row = json.loads(line)
            results[row["key"]] = row.get("response") or row.get("error")
    else:
        for item in job.dest.inlined_responses or []:
            key = (item.metadata or {}).get("key")
            results[str(key)] = item.response or item.error
    t3 = time.perf_counter()
    await aio.aclose()
    ok = sum(1 for v in results.values() if not isinstance(v, dict) or "code" not in v)
    return {"submit": t1 - t0, "wait": t2 - t1, "results": t3 - t2, "ok": ok}


def _one(client: str, mode: str, base: str, n: int) -> None:
    """Run one client once in this process; print its figures as JSON."""
    run = _gemgate if client == "gemgate" else _sdk
    start = time.perf_counter()
    figures = asyncio.run(run(base, n, mode))
    figures["total"] = time.perf_counter() - start
    figures["rss_mb"] = _peak_mb()
    print(json.dumps(figures))


@contextmanager
def _emulator() -> Iterator[str]:
    base = f"http://127.0.0.1:{(port := free_port())}"
    with tempfile.TemporaryDirectory(prefix="gemgate-bench-") as logs, ExitStack() as stack:
        config = Path(logs) / "emulator.toml"
        config.write_text(SETTINGS)
        cmd = [sys.executable, "-m", "gemgate", "emulate", "--port", str(port)]
        cmd += ["--config", str(config)]
        launch(stack, "emulator", cmd, dict(os.environ), f"{base}/v1beta/models", Path(logs))
        yield base


def _measure(client: str, mode: str, base: str, n: int) -> dict[str, float]:
    cmd = [sys.executable, "-m", "bench.batch", "--one", client, "--mode", mode]
    cmd += ["--base", base, "--requests", str(n)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{client} {mode} failed:\n{done.stderr[-2000:]}")
    figures: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def _batch_time(figures: dict[str, float]) -> float:
    return figures["submit"] + figures["wait"] + figures["results"]


def main(n: int, repeat: int) -> None:
    runs: dict[tuple[str, str], list[dict[str, float]]] = {}
    with _emulator() as base:
        for _ in range(repeat):  # interleaved, so that a busy moment hits both clients
            for mode in ("inline", "file"):
                for client in ("gemgate", "google-genai"):
                    runs.setdefault((mode, client), []).append(_measure(client, mode, base, n))
    rows = {cell: sorted(found, key=_batch_time)[len(found) // 2] for cell, found in runs.items()}
    print(
        f"{n:,} requests, model {MODEL}, emulator batch time ~{n * 0.00001:.2f} s, "
        f"poll {POLL} s; the median of {repeat} runs by batch time"
    )
    head = f"{'mode':<7}{'client':<14}{'submit s':>9}{'wait s':>8}{'results s':>10}"
    head += f"{'batch s':>9}{'total s':>9}{'peak MB':>9}{'results/s':>11}{'ok':>7}{'vs SDK':>8}"
    print(head)
    for (mode, client), f in rows.items():
        batch = _batch_time(f)
        ratio = batch / _batch_time(rows[(mode, "google-genai")])
        print(
            f"{mode:<7}{client:<14}{f['submit']:>9.2f}{f['wait']:>8.2f}{f['results']:>10.2f}"
            f"{batch:>9.2f}{f['total']:>9.2f}{f['rss_mb']:>9.0f}{n / batch:>11,.0f}"
            f"{int(f['ok']):>7}{ratio:>7.2f}x"
        )
    print(
        "batch: submit + wait + results; total: the whole process run (imports and set-up "
        "included); results/s: requests / batch s; vs SDK: batch s / the SDK's"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs per cell (the median)")
    parser.add_argument("--one", choices=["gemgate", "google-genai"], help=argparse.SUPPRESS)
    parser.add_argument("--mode", choices=["inline", "file"], help=argparse.SUPPRESS)
    parser.add_argument("--base", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        _one(args.one, args.mode, args.base, args.requests)
    else:
        main(args.requests, args.repeat)
