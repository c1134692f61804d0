"""The gateway's cost, measured side by side with wrk in one run.

Starts `gemgate emulate` and `gemgate serve` (upstream: that emulator) on loopback and
drives, at 1, 64 and 256 connections, with the emulator instant and with 200 ms latency:
(a) the emulator directly, (b) the gateway's native /gemini route, (c) its OpenAI
/v1/chat/completions route. Prints requests/s, p50/p99, added median latency, the
gateway's CPU milliseconds per request (from its process's CPU time over the run), and
the added time to the first streamed event.

    python -m bench.gateway [--seconds 5]

Needs `wrk` (Debian package `wrk`; installed with apt-get if missing).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import aiohttp
import httpx2

GENERATE = {"contents": [{"role": "user", "parts": [{"text": "Hello there"}]}]}
CHAT = {"model": "gemini-2.5-flash-lite", "messages": [{"role": "user", "content": "Hello there"}]}
MODEL_PATH = "/v1beta/models/gemini-2.5-flash-lite:generateContent"


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _start(args: list[str], env: dict[str, str], probe: str) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "gemgate", *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(400):
        try:
            httpx2.get(probe, timeout=1)
            return proc
        except httpx2.TransportError:
            time.sleep(0.05)  # noqa: TID251
    proc.kill()
    raise RuntimeError(f"{args[0]} did not start")


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _wrk(
    url: str, body: dict[str, object], headers: dict[str, str], conns: int, seconds: int
) -> dict[str, float]:
    script = Path(tempfile.mkdtemp()) / "post.lua"
    lines = ['wrk.method = "POST"', f"wrk.body = {json.dumps(json.dumps(body))}"]
    lines += [
        f'wrk.headers["{k}"] = "{v}"'
        for k, v in {"content-type": "application/json", **headers}.items()
    ]
    script.write_text("\n".join(lines) + "\n")
    threads = str(min(conns, 2))
    out = subprocess.run(
        [
            "wrk",
            "-t",
            threads,
            "-c",
            str(conns),
            "-d",
            f"{seconds}s",
            "--latency",
            "-s",
            str(script),
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]

    def percentile(p: str) -> float:
        match = re.search(rf"\s{p}%\s+([\d.]+)(us|ms|s)", out)
        assert match is not None, out
        return float(match.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[match.group(2)]

    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "rps": rate,
        "p50": percentile("50"),
        "p99": percentile("99"),
        "requests": total,
        "errors": float(errors.group(1)) if errors else 0.0,
    }


async def _first_event(
    url: str, body: dict[str, object], headers: dict[str, str], n: int = 200
) -> float:
    samples = []
    async with aiohttp.ClientSession() as session:
        for i in range(n + 20):
            start = time.perf_counter()
            async with session.post(url, json=body, headers=headers) as response:
                await response.content.readuntil(b"\n\n")
                if i >= 20:
                    samples.append((time.perf_counter() - start) * 1000)
                await response.read()
    return statistics.median(samples)


def main(seconds: int) -> None:
    if shutil.which("wrk") is None:
        subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], check=True)
    emu_port, gw_port = _port(), _port()
    emulator = f"http://127.0.0.1:{emu_port}"
    gateway = f"http://127.0.0.1:{gw_port}"
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("GEMINI_API_KEY", "GOOGLE_API_KEY", "GEMGATE_"))
    }
    with ExitStack() as stack, tempfile.TemporaryDirectory() as cwd:
        emu = _start(
            ["emulate", "--port", str(emu_port), "--control"], env, f"{emulator}/_emulator/stats"
        )
        stack.callback(emu.terminate)
        gw_env = {
            **env,
            "GEMGATE_UPSTREAM_URL": emulator,
            "GEMINI_API_KEY": "bench-key",
            "GEMGATE_SESSIONS_URL": f"sqlite:///{cwd}/s.db",
        }
        gw = _start(["serve", "--port", str(gw_port)], gw_env, f"{gateway}/healthz")
        stack.callback(gw.terminate)
        key = {"x-goog-api-key": "bench-key"}
        targets = [
            ("direct", f"{emulator}{MODEL_PATH}", GENERATE, key),
            ("/gemini", f"{gateway}/gemini{MODEL_PATH}", GENERATE, key),
            ("/v1 chat", f"{gateway}/v1/chat/completions", CHAT, {"authorization": "Bearer any"}),
        ]
        print(
            f"{'upstream':<10}{'target':<10}{'conns':>6}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}"
            f"{'+p50 ms':>9}{'gw CPU ms/req':>15}{'errors':>8}"
        )
        for latency in (0, 200):
            rule = [{"kind": "delay", "delay_ms": latency}] if latency else []
            httpx2.post(f"{emulator}/_emulator/faults", json={"faults": rule}).raise_for_status()
            for conns in (1, 64, 256):
                direct_p50 = 0.0
                for name, url, body, headers in targets:
                    cpu = _cpu_seconds(gw.pid)
                    result = _wrk(url, body, headers, conns, seconds)
                    spent = (_cpu_seconds(gw.pid) - cpu) * 1000 / max(result["requests"], 1)
                    if name == "direct":
                        direct_p50, spent_text = result["p50"], "-"
                    else:
                        spent_text = f"{spent:.3f}"
                    added = result["p50"] - direct_p50
                    print(
                        f"{str(latency) + ' ms':<10}{name:<10}{conns:>6}{result['rps']:>9.0f}"
                        f"{result['p50']:>9.2f}{result['p99']:>9.2f}{added:>9.2f}{spent_text:>15}"
                        f"{result['errors']:>8.0f}"
                    )
        httpx2.post(f"{emulator}/_emulator/faults", json={"faults": []}).raise_for_status()
        stream = MODEL_PATH.replace("generateContent", "streamGenerateContent") + "?alt=sse"
        direct = asyncio.run(_first_event(f"{emulator}{stream}", GENERATE, key))
        via = asyncio.run(_first_event(f"{gateway}/gemini{stream}", GENERATE, key))
        print(
            f"time to first streamed event: direct {direct:.2f} ms, via /gemini {via:.2f} ms, "
            f"added {via - direct:.2f} ms"
        )
        print("ideal at 200 ms and 256 connections: 1280 req/s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=5)
    main(parser.parse_args().seconds)
