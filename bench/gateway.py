"""The gateway's cost, measured side by side with wrk in one run.

Starts `gemgate emulate` and `gemgate serve` (upstream: that emulator) on loopback and
drives, at 1, 64 and 256 connections, with the emulator instant and with 200 ms latency:
(a) the emulator directly, (b) the gateway's native /gemini route, (c) its OpenAI
/v1/chat/completions route, and with `--peers` also (d) the LiteLLM proxy and (e) the
Portkey gateway against the same emulator (see bench/peers.py; installed on first use
into ~/.cache/gemgate-bench). For each it prints requests/s, p50/p99, the added median
latency, CPU milliseconds per request (CPU time of the gateway's whole process tree over
the run), failed requests, and the time to the first streamed event; with `--peers` it
ends with gemgate's requests/s as a multiple of each peer's at 64 connections. Each cell
follows a 1 s unmeasured run at its concurrency, and cells with the 200 ms upstream run
three times `--seconds` (wrk drops the requests in flight when it stops).

    python -m bench.gateway [--peers] [--seconds 3]

Needs `wrk` (Debian package `wrk`; installed with apt-get if missing). Logs of the
processes it starts are kept for the run only; a peer that fails says why in one line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import aiohttp
import httpx2

from bench._harness import SetupError, Target, free_port, launch, tree_cpu_seconds
from bench.peers import CHAT, STREAM_CHAT, peer_targets

GENERATE = {"contents": [{"role": "user", "parts": [{"text": "Hello there"}]}]}
MODEL_PATH = "/v1beta/models/gemini-2.5-flash-lite:generateContent"
STREAM_PATH = "/v1beta/models/gemini-2.5-flash-lite:streamGenerateContent?alt=sse"
KEY = {"x-goog-api-key": "bench-key"}
LATENCIES = (0, 200)
CONNECTIONS = (1, 64, 256)
TARGET_RATIOS = {"LiteLLM": 40.0, "Portkey": 4.0}
GEMGATE = ("/gemini", "/v1 chat")
Result = dict[str, float]


def _clean_env() -> dict[str, str]:
    drop = ("GEMINI_API_KEY", "GOOGLE_API_KEY", "GEMGATE_")
    return {k: v for k, v in os.environ.items() if not k.startswith(drop)}


def _gemgate(args: list[str]) -> list[str]:
    return [sys.executable, "-m", "gemgate", *args]


def _start_emulator(stack: ExitStack, env: dict[str, str], logs: Path) -> tuple[str, Target]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    cmd = _gemgate(["emulate", "--port", str(port), "--control"])
    launch(stack, "emulator", cmd, env, f"{base}/_emulator/stats", logs)
    direct = Target(
        "direct", f"{base}{MODEL_PATH}", GENERATE, KEY, None, f"{base}{STREAM_PATH}", GENERATE
    )
    return base, direct


def _start_gemgate(
    stack: ExitStack, emulator: str, env: dict[str, str], logs: Path
) -> list[Target]:
    port = free_port()
    gw_env = {
        **env,
        "GEMGATE_UPSTREAM_URL": emulator,
        "GEMINI_API_KEY": "bench-key",
        "GEMGATE_SESSIONS_URL": f"sqlite:///{logs}/s.db",
    }
    cmd = _gemgate(["serve", "--port", str(port)])
    gw = launch(stack, "gemgate", cmd, gw_env, f"http://127.0.0.1:{port}/healthz", logs)
    base = f"http://127.0.0.1:{port}"
    bearer = {"authorization": "Bearer any"}
    chat = f"{base}/v1/chat/completions"
    native, stream = f"{base}/gemini{MODEL_PATH}", f"{base}/gemini{STREAM_PATH}"
    return [
        Target("/gemini", native, GENERATE, KEY, gw.pid, stream, GENERATE),
        Target("/v1 chat", chat, CHAT, bearer, gw.pid, chat, STREAM_CHAT),
    ]


def _failure(target: Target) -> str | None:
    """Why `target` is unfit to measure: a plain or a streamed request that is not a 200."""
    for url, body in ((target.url, target.body), (target.stream_url, target.stream_body)):
        response = httpx2.post(url, json=body, headers=target.headers, timeout=30)
        if response.status_code != 200:
            return f"{url} answered {response.status_code}: {response.text[:200]}"
    return None


def _working_peers(peers: list[Target]) -> list[Target]:
    kept = []
    for peer in peers:
        reason = _failure(peer)
        if reason is None:
            kept.append(peer)
        else:
            print(f"{peer.name}: left out: {reason}")
    return kept


def _wrk(target: Target, conns: int, seconds: int, scripts: Path) -> Result:
    script = scripts / "post.lua"
    headers = {"content-type": "application/json", **target.headers}
    lines = ['wrk.method = "POST"', f"wrk.body = {json.dumps(json.dumps(target.body))}"]
    lines += [f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}" for k, v in headers.items()]
    script.write_text("\n".join(lines) + "\n")
    cmd = ["wrk", "-t", str(min(conns, 2)), "-c", str(conns), "-d", f"{seconds}s"]
    cmd += ["--timeout", "10s", "--latency", "-s", str(script), target.url]
    return _parse_wrk(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout)


def _parse_wrk(out: str) -> Result:
    def number(pattern: str) -> float:
        match = re.search(pattern, out)
        return float(match.group(1)) if match else 0.0

    def percentile(p: str) -> float:
        match = re.search(rf"\s{p}%\s+([\d.]+)(us|ms|s)", out)
        assert match is not None, out
        return float(match.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[match.group(2)]

    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out
    )
    return {
        "rps": number(r"Requests/sec:\s+([\d.]+)"),
        "requests": number(r"(\d+) requests in"),
        "p50": percentile("50"),
        "p99": percentile("99"),
        "non2xx": number(r"Non-2xx or 3xx responses: (\d+)"),
        "sockerr": float(sum(map(int, socket_errors.groups()))) if socket_errors else 0.0,
    }


def _measure(target: Target, conns: int, seconds: int, scripts: Path) -> Result:
    """One cell, after a 1 s run at the same concurrency (pools filled, connections made)."""
    _wrk(target, conns, 1, scripts)
    before = tree_cpu_seconds(target.pid) if target.pid else 0.0
    result = _wrk(target, conns, seconds, scripts)
    if target.pid:
        spent = tree_cpu_seconds(target.pid) - before
        result["cpu_ms"] = spent * 1000 / max(result["requests"], 1)
    return result


def _set_delay(emulator: str, ms: int) -> None:
    faults = [{"kind": "delay", "delay_ms": ms}] if ms else []
    httpx2.post(f"{emulator}/_emulator/faults", json={"faults": faults}).raise_for_status()


HEADER = (
    f"{'upstream':<10}{'target':<10}{'conns':>6}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}"
    f"{'+p50 ms':>9}{'CPU ms/req':>12}{'non-2xx':>9}{'sock err':>9}"
)


def _row(latency: int, conns: int, name: str, result: Result, direct_p50: float) -> str:
    cpu = f"{result['cpu_ms']:.3f}" if "cpu_ms" in result else "-"
    added = f"{result['p50'] - direct_p50:.2f}" if name != "direct" else "-"
    return (
        f"{f'{latency} ms':<10}{name:<10}{conns:>6}{result['rps']:>9.0f}{result['p50']:>9.2f}"
        f"{result['p99']:>9.2f}{added:>9}{cpu:>12}{result['non2xx']:>9.0f}{result['sockerr']:>9.0f}"
    )


def _run_matrix(
    targets: list[Target], emulator: str, seconds: int, scripts: Path
) -> dict[tuple[int, int, str], Result]:
    """wrk every target at every latency and connection count; print rows as they come."""
    for target in targets:  # warm up: lazy imports, JITs, connection pools
        _wrk(target, 16, 1, scripts)
    results: dict[tuple[int, int, str], Result] = {}
    print(HEADER)
    for latency in LATENCIES:
        _set_delay(emulator, latency)
        # wrk drops the requests in flight when it stops: with a 200 ms upstream that is up
        # to a whole cycle, 2-4 % of a 5 s run, so those cells run three times as long.
        duration = seconds * 3 if latency else seconds
        for conns in CONNECTIONS:
            for target in targets:
                result = _measure(target, conns, duration, scripts)
                results[latency, conns, target.name] = result
                direct_p50 = results[latency, conns, "direct"]["p50"]
                print(_row(latency, conns, target.name, result, direct_p50), flush=True)
    _set_delay(emulator, 0)
    print("ideal at 200 ms: 320 req/s at 64 connections, 1280 at 256")
    return results


async def _first_event(target: Target, n: int = 200) -> float:
    """Median ms from sending a streamed request to reading its first SSE event."""
    samples = []
    async with aiohttp.ClientSession() as session:
        for i in range(n + 20):
            start = time.perf_counter()
            async with session.post(
                target.stream_url, json=target.stream_body, headers=target.headers
            ) as response:
                response.raise_for_status()
                await response.content.readuntil(b"\n\n")
                if i >= 20:
                    samples.append((time.perf_counter() - start) * 1000)
                await response.read()
    return statistics.median(samples)


def _first_events(targets: list[Target]) -> dict[str, float]:
    print(f"\n{'time to first streamed event':<30}{'median ms':>10}{'added ms':>10}")
    firsts = {}
    for target in targets:
        firsts[target.name] = asyncio.run(_first_event(target))
        added = firsts[target.name] - firsts["direct"]
        print(f"{target.name:<30}{firsts[target.name]:>10.2f}{added:>10.2f}")
    return firsts


def _summary(results: dict[tuple[int, int, str], Result], firsts: dict[str, float]) -> None:
    """Each gateway at 64 connections, emulator instant, then gemgate's req/s multiples."""
    print(
        f"\nat 64 connections, emulator instant:\n{'gateway':<10}{'req/s':>9}{'p50 ms':>9}"
        f"{'p99 ms':>9}{'+p50 ms':>9}{'CPU ms/req':>12}{'1st event ms':>14}{'+1st ms':>9}"
    )
    direct = results[0, 64, "direct"]
    for name in [n for (latency, conns, n) in results if (latency, conns) == (0, 64)][1:]:
        r = results[0, 64, name]
        print(
            f"{name:<10}{r['rps']:>9.0f}{r['p50']:>9.2f}{r['p99']:>9.2f}"
            f"{r['p50'] - direct['p50']:>9.2f}{r.get('cpu_ms', 0):>12.3f}"
            f"{firsts[name]:>14.2f}{firsts[name] - firsts['direct']:>9.2f}"
        )
    peers = [name for name in TARGET_RATIOS if (0, 64, name) in results]
    for latency in LATENCIES:
        for route in GEMGATE:
            for peer in peers:
                _print_ratio(results, latency, route, peer)


def _print_ratio(
    results: dict[tuple[int, int, str], Result], latency: int, route: str, peer: str
) -> None:
    ours, theirs = results[latency, 64, route], results[latency, 64, peer]
    ratio = ours["rps"] / theirs["rps"] if theirs["rps"] else float("inf")
    cpu_ratio = theirs["cpu_ms"] / ours["cpu_ms"] if ours["cpu_ms"] else float("inf")
    goal = TARGET_RATIOS[peer]
    verdict = (
        f"target >={goal:.0f}x: {'met' if ratio >= goal else 'MISSED'}"
        if latency == 0
        else "latency-bound, for reference"
    )
    print(
        f"64 conns, {latency:>3} ms upstream: gemgate {route:<9}/ {peer:<8}= {ratio:6.1f}x req/s "
        f"({ours['rps']:.0f} vs {theirs['rps']:.0f}; {verdict}); {cpu_ratio:.1f}x less CPU/req"
    )


def _load() -> str:
    """The 1-minute load average: other work on the machine makes the numbers noisy."""
    return f"load average {os.getloadavg()[0]:.2f}"


def main(seconds: int, peers: bool) -> None:
    if shutil.which("wrk") is None:
        subprocess.run(["apt-get", "update", "-q"], check=True)
        subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], check=True)
    env = _clean_env()
    with ExitStack() as stack:
        logs = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="gemgate-bench-")))
        emulator, direct = _start_emulator(stack, env, logs)
        targets = [direct, *_start_gemgate(stack, emulator, env, logs)]
        for target in targets:
            if (reason := _failure(target)) is not None:
                raise SetupError(f"{target.name}: {reason}")
        if peers:
            targets += _working_peers(peer_targets(stack, emulator, env, logs))
        print(f"\n{os.cpu_count()} CPUs shared by wrk and every process; {_load()}")
        results = _run_matrix(targets, emulator, seconds, logs)
        firsts = _first_events(targets)
        if peers:
            _summary(results, firsts)
        print(f"\nat the end: {_load()}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=3, help="wrk duration per cell")
    parser.add_argument("--peers", action="store_true", help="also LiteLLM and Portkey")
    args = parser.parse_args()
    try:
        main(args.seconds, args.peers)
    except SetupError as exc:
        sys.exit(f"setup failed: {exc}")
