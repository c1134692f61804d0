"""Hostile clients against a served gateway: ``/healthz`` latency and RSS after each attack.

Run with ``python -m bench.adversarial_hostile``. Starts ``gemgate emulate`` and, over it,
``gemgate serve`` (``max_body_bytes`` 8 MiB) on free loopback ports, the way a gateway runs
in production: the upstream in another process, so the RSS read is the gateway's own
(``--embedded`` serves with the built-in emulator in the gateway's process instead). One
well-formed request on every route first loads what a first request loads. Then each attack
runs in turn; after each it prints what the server answered, ``/healthz`` p50/p99 over 200
sequential requests, and the gateway's RSS (``VmRSS``) before and 2 s after; PASS when p99
< 50 ms and RSS is back within 10 % of its value before the attack.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import socket
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from contextlib import ExitStack
from functools import partial
from pathlib import Path

import httpx2
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from bench._harness import SetupError, free_port, launch
from bench._upstream import emulator

MAX_BODY = 8 * 1024 * 1024
MODEL = "gemini-2.5-flash"
P99_TARGET_MS = 50.0
RSS_SLACK = 0.10
SETTLE = 2.0
"""Seconds between the last ``/healthz`` and the RSS read: a served process gives freed
memory back once a second (`gemgate._heap`)."""
ROUTES = (
    "/v1/chat/completions",
    "/v1/embeddings",
    "/v1/responses",
    "/v1/messages",
    f"/gemini/v1beta/models/{MODEL}:generateContent",
    "/api/v1/sessions",
)
Attack = Callable[[str, int], str]


def _clean_env(upstream: str | None) -> dict[str, str]:
    """The gateway's environment: over ``upstream`` (None: the built-in emulator)."""
    drop = ("GEMINI_API_KEY", "GOOGLE_API_KEY", "GEMGATE_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    env["GEMGATE_MAX_BODY_BYTES"] = str(MAX_BODY)
    if upstream is not None:  # the emulator takes any non-empty key
        env |= {"GEMGATE_UPSTREAM_URL": upstream, "GEMINI_API_KEY": "hostile-bench-key"}
    return env


WARM_UP: dict[str, dict[str, object]] = {
    "/v1/chat/completions": {"model": MODEL, "messages": [{"role": "user", "content": "hi"}]},
    "/v1/embeddings": {"model": "gemini-embedding-001", "input": "hi"},
    "/v1/responses": {"model": MODEL, "input": "hi"},
    "/v1/messages": {
        "model": MODEL,
        "max_tokens": 16,
        "messages": [{"role": "user", "content": "hi"}],
    },
    f"/gemini/v1beta/models/{MODEL}:generateContent": {"contents": [{"parts": [{"text": "hi"}]}]},
    "/api/v1/sessions": {"title": "warm-up"},
}


def warm_up(base: str) -> None:
    """One well-formed request on every attacked route: first-request imports and caches."""
    with httpx2.Client(base_url=base, timeout=60) as client:
        for route, body in WARM_UP.items():
            answer = client.post(route, json=body)
            if answer.status_code >= 400:
                raise SetupError(f"warm-up {route} answered {answer.status_code}: {answer.text}")


def rss_kib(pid: int) -> int:
    """``VmRSS`` of ``/proc/<pid>/status``, in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise SetupError(f"process {pid} has no VmRSS")


def health_ms(base: str, count: int = 200) -> tuple[float, float]:
    """``/healthz`` p50 and p99 in ms, over ``count`` sequential requests on one connection."""
    times = []
    with httpx2.Client(timeout=30) as client:
        for _ in range(count):
            started = time.perf_counter()
            client.get(f"{base}/healthz").raise_for_status()
            times.append((time.perf_counter() - started) * 1000)
    cuts = statistics.quantiles(times, n=100)
    return cuts[49], cuts[98]


def _statuses(counter: Counter[object]) -> str:
    return " ".join(f"{key}×{n}" for key, n in sorted(counter.items(), key=str))


def _read_status(sock: socket.socket) -> int:
    try:
        line = sock.recv(65536).split(b"\r\n", 1)[0].split()
    except (OSError, TimeoutError):
        return 0
    return int(line[1]) if len(line) >= 2 and line[1].isdigit() else 0


def bad_json(host: str, port: int) -> str:
    """Malformed, invalid UTF-8 and 100k-deep bodies on every JSON route, 5 rounds."""
    depth = 100_000
    bodies = (
        b'{"model": "x", "messages": [',
        b'{"model": "\xff\xfe"}',
        b"[" * depth + b"]" * depth,
        b'{"a":' * depth + b"1" + b"}" * depth,
    )
    seen: Counter[object] = Counter()
    with httpx2.Client(base_url=f"http://{host}:{port}", timeout=60) as client:
        for _ in range(5):
            for route in ROUTES:
                for body in bodies:
                    answer = client.post(route, content=body)
                    seen[answer.status_code] += 1
    return _statuses(seen)


def declared_too_large(host: str, port: int) -> str:
    """200 requests declaring a 1 GiB body and sending 10 bytes of it."""
    seen: Counter[object] = Counter()
    for i in range(200):
        with socket.create_connection((host, port), timeout=30) as sock:
            route = ROUTES[i % len(ROUTES)]
            sock.sendall(
                f"POST {route} HTTP/1.1\r\nHost: {host}\r\nContent-Length: {1 << 30}\r\n\r\n"
                "0123456789".encode()
            )
            seen[_read_status(sock)] += 1
    return _statuses(seen)


def chunked_too_large(host: str, port: int) -> str:
    """10 chunked bodies without a length, sent until the server stops them."""
    seen: Counter[object] = Counter()
    chunk = b"x" * 65536
    for _ in range(10):
        with socket.create_connection((host, port), timeout=30) as sock:
            sock.sendall(
                f"POST {ROUTES[0]} HTTP/1.1\r\nHost: {host}\r\n"
                "Transfer-Encoding: chunked\r\n\r\n".encode()
            )
            try:
                for _ in range(MAX_BODY * 2 // len(chunk)):
                    sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            except OSError:
                pass
            seen[_read_status(sock)] += 1
    return _statuses(seen)


def many_messages(host: str, port: int, repeat: int = 20) -> str:
    """``repeat`` chat completions of 100k messages each."""
    messages = [{"role": "user", "content": f"m{i}"} for i in range(100_000)]
    seen: Counter[object] = Counter()
    for _ in range(repeat):
        answer = httpx2.post(
            f"http://{host}:{port}/v1/chat/completions",
            json={"model": MODEL, "messages": messages},
            timeout=120,
        )
        seen[answer.status_code] += 1
    return _statuses(seen)


def slowloris(host: str, port: int) -> str:
    """200 connections sending a never-ending head a byte each 0.5 s, for 10 s."""
    socks = [socket.create_connection((host, port), timeout=5) for _ in range(200)]
    for sock in socks:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
    dropped = 0
    deadline = time.monotonic() + 10
    while socks and time.monotonic() < deadline:
        alive = []
        for sock in socks:
            try:
                sock.sendall(b"a")
                alive.append(sock)
            except OSError:
                dropped += 1
                sock.close()
        socks = alive
        time.sleep(0.5)  # noqa: TID251 - a slow client, no event loop here
    for sock in socks:
        sock.close()
    return f"dropped by the server: {dropped}/200"


def idle_connections(host: str, port: int) -> str:
    """1,000 connections that send nothing; /healthz meanwhile; which the server drops."""
    socks = [socket.create_connection((host, port), timeout=15) for _ in range(1000)]
    p50, p99 = health_ms(f"http://{host}:{port}", 100)
    closed = 0
    for sock in socks:
        try:
            closed += sock.recv(1) == b""
        except ConnectionResetError:
            closed += 1
        except TimeoutError:
            pass
        sock.close()
    return f"/healthz while open p50 {p50:.1f} p99 {p99:.1f} ms; dropped {closed}/1000"


def ws_floods(host: str, port: int) -> str:
    """20k garbage frames on each socket route, never reading the answers."""
    for path in ("/ws/chat", "/ws/live"):
        with connect(f"ws://{host}:{port}{path}", max_size=None, close_timeout=10) as ws:
            for _ in range(20_000):
                ws.send("garbage")
    return "40,000 frames sent"


def ws_bad_frames(host: str, port: int) -> str:
    """50 sockets each of: non-UTF-8 binary, a frame over 8 MiB, 100k-deep nesting."""
    codes: Counter[object] = Counter()
    payloads: tuple[str | bytes, ...] = (
        b"\xff\xfe\x00",
        "x" * (MAX_BODY + 1),
        "[" * 100_000 + "]" * 100_000,
    )
    for i in range(150):
        payload = payloads[i % 3]
        with connect(f"ws://{host}:{port}/ws/chat", max_size=None, close_timeout=10) as ws:
            try:
                ws.send(payload)
                frame = json.loads(ws.recv(timeout=30))
                codes[f"frame:{frame['type']}"] += 1
            except ConnectionClosed as closed:  # None: reset before the close frame was read
                codes[f"close:{closed.rcvd.code if closed.rcvd else None}"] += 1
    return _statuses(codes)


ATTACKS: dict[str, Attack] = {
    "bad JSON (4 kinds × 6 routes × 5)": bad_json,
    "declared Content-Length over limit": declared_too_large,
    "chunked body over limit": chunked_too_large,
    "100k messages in one completion": many_messages,
    "slowloris (200 slow heads)": slowloris,
    "1,000 idle connections": idle_connections,
    "WebSocket garbage floods": ws_floods,
    "WebSocket bad frames": ws_bad_frames,
}


def main(only: str | None, embedded: bool) -> None:
    logging.getLogger("websockets").setLevel(logging.CRITICAL)  # resets the attacks cause
    with ExitStack() as stack:
        logs = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="gemgate-hostile-")))
        upstream = None if embedded else stack.enter_context(emulator())
        port = free_port()
        cmd = [sys.executable, "-m", "gemgate", "serve", "--port", str(port)]
        base = f"http://127.0.0.1:{port}"
        proc = launch(stack, "gateway", cmd, _clean_env(upstream), f"{base}/healthz", logs)
        warm_up(base)
        health_ms(base)
        print(f"upstream: {upstream or 'the built-in emulator, in the gateway process'}")
        print(f"{os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.2f}")
        header = f"{'attack':38} {'p50 ms':>7} {'p99 ms':>7} {'RSS before':>11} {'after':>9}"
        rows = []
        for name, attack in ATTACKS.items():
            if only and only not in name:
                continue
            before = rss_kib(proc.pid)
            outcome = attack("127.0.0.1", port)
            if proc.poll() is not None:
                raise SetupError(f"the gateway died during {name!r}")
            p50, p99 = health_ms(base)
            time.sleep(SETTLE)  # noqa: TID251 - the server's trimmer looks once a second
            after = rss_kib(proc.pid)
            ok = p99 < P99_TARGET_MS and after <= before * (1 + RSS_SLACK)
            rows.append(
                f"{name:38} {p50:7.2f} {p99:7.2f} {before / 1024:9.1f}MB {after / 1024:7.1f}MB "
                f"{'PASS' if ok else 'FAIL'}  [{outcome}]"
            )
            print(rows[-1], flush=True)
        print(f"\n{header}\n" + "\n".join(rows))
        print(f"\ntargets: /healthz p99 < {P99_TARGET_MS:.0f} ms, RSS back within 10 %")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", help="run the attacks whose name contains this")
    parser.add_argument(
        "--embedded", action="store_true", help="serve with the built-in emulator in-process"
    )
    parser.add_argument("--repeat", type=int, default=20, help="completions of 100k messages")
    args = parser.parse_args()
    ATTACKS["100k messages in one completion"] = partial(many_messages, repeat=args.repeat)
    try:
        main(args.only, args.embedded)
    except SetupError as exc:
        sys.exit(f"setup failed: {exc}")
