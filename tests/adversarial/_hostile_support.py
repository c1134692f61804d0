"""Hostile clients' shared parts: a real ``gemgate serve`` process and raw-socket helpers.

The gateway runs as ``python -m gemgate serve`` on a free loopback port with no key (the
built-in emulator answers upstream) and a small ``max_body_bytes``, so that the body-size
probes need send only a little. The module fixture serves it twice: as one process, and
(in the ``full`` sweep) as ``--workers 2`` sharing state in Redis and sessions in SQLite.
Every probe ends by checking that ``/healthz`` still answers: the fixture's ``alive`` does
that, and that no process died (a worker the supervisor had to replace counts as dead).
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx2
import pytest

from tests.conftest import free_port, stop_process, worker_pids
from tests.gateway.conftest import clean_env
from tests.servers import REDIS_URL, need_server

MAX_BODY = 1024 * 1024
"""The served gateway's ``max_body_bytes``."""

MODEL = "gemini-2.5-flash"

JSON_ROUTES = {
    "chat": "/v1/chat/completions",
    "embeddings": "/v1/embeddings",
    "responses": "/v1/responses",
    "messages": "/v1/messages",
    "generate": f"/gemini/v1beta/models/{MODEL}:generateContent",
    "sessions": "/api/v1/sessions",
}
"""One JSON route of each face (and the sessions API), by a short name."""


@dataclass
class Gateway:
    """A served gateway: its address and its process."""

    host: str
    port: int
    proc: subprocess.Popen[bytes]
    log: Path
    workers: list[int] = field(default_factory=list)
    """The worker processes of a ``--workers N`` gateway, as started."""

    @property
    def base(self) -> str:
        return f"http://{self.host}:{self.port}"

    def alive(self) -> None:
        """The process (and each worker, never replaced) runs and ``/healthz`` answers 200."""
        died = f"the gateway died:\n{self.log.read_text()[-2000:]}"
        assert self.proc.poll() is None, died
        if self.workers:
            assert worker_pids(self.proc.pid) == self.workers, died
        assert httpx2.get(f"{self.base}/healthz", timeout=10).status_code == 200

    def connect(self, timeout: float = 10.0) -> socket.socket:
        """A raw TCP connection to the gateway."""
        sock = socket.create_connection((self.host, self.port), timeout=timeout)
        sock.settimeout(timeout)
        return sock


def start_gateway(directory: Path, max_body: int = MAX_BODY, workers: int = 1) -> Gateway:
    """``python -m gemgate serve`` in ``directory``; returns once ``/healthz`` answers.

    With more than one worker, they share quota state in Redis and sessions in SQLite.
    """
    port = free_port()
    log = directory / "serve.log"
    env = {**clean_env(), "GEMGATE_MAX_BODY_BYTES": str(max_body)}
    if workers > 1:
        need_server("Redis", 6379)
        env |= {
            "GEMGATE_STATE_URL": REDIS_URL,
            "GEMGATE_SESSIONS_URL": f"sqlite:///{directory}/gemgate.db",
        }
    cmd = [sys.executable, "-m", "gemgate", "serve", "--host", "127.0.0.1", "--port", str(port)]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [*cmd, "--workers", str(workers)],
            cwd=directory,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    gateway = Gateway("127.0.0.1", port, proc, log)
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx2.get(f"{gateway.base}/healthz", timeout=1).status_code == 200:
                break
        except httpx2.TransportError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            stop_process(proc)
            raise RuntimeError(f"gateway did not start:\n{log.read_text()}")
        time.sleep(0.05)  # noqa: TID251 - waiting for a subprocess, outside any event loop
    while workers > 1 and len(gateway.workers) < workers:  # every worker has started
        if time.monotonic() > deadline:
            stop_process(proc)
            raise RuntimeError(f"{workers} workers did not start:\n{log.read_text()}")
        gateway.workers = worker_pids(proc.pid)
        time.sleep(0.05)  # noqa: TID251 - waiting for a subprocess, outside any event loop
    return gateway


@pytest.fixture(scope="module", params=[1, pytest.param(2, marks=pytest.mark.full)])
def gateway(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Gateway]:
    """A served gateway for one test module: one process, then (``full``) two workers."""
    served = start_gateway(tmp_path_factory.mktemp("hostile"), workers=request.param)
    try:
        yield served
    finally:
        stop_process(served.proc)


@pytest.fixture
def survives(gateway: Gateway) -> Iterator[Gateway]:
    """The gateway, checked alive (``/healthz`` answers) after the test's attack."""
    yield gateway
    gateway.alive()


def status_of(response: bytes) -> int:
    """The status code of a raw HTTP/1.1 response (0 when nothing came back)."""
    line = response.split(b"\r\n", 1)[0].split()
    return int(line[1]) if len(line) >= 2 and line[1].isdigit() else 0


def read_response(sock: socket.socket) -> bytes:
    """What the server sends until it closes the connection or sends a whole response."""
    data = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except (ConnectionResetError, BrokenPipeError):
            return data
        if not chunk:
            return data
        data += chunk
        head, sep, body = data.partition(b"\r\n\r\n")
        if sep:
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length" and len(body) >= int(value):
                    return data


def closed_by_peer(sock: socket.socket) -> bool:
    """Whether the server closed this connection (read returns end of file or a reset)."""
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def nested(depth: int, kind: str) -> bytes:
    """``[[[…]]]`` or ``{"a":{"a":…}}``, ``depth`` levels deep."""
    if kind == "list":
        return b"[" * depth + b"]" * depth
    return b'{"a":' * depth + b"1" + b"}" * depth


__all__ = [
    "JSON_ROUTES",
    "MAX_BODY",
    "MODEL",
    "Gateway",
    "closed_by_peer",
    "gateway",
    "nested",
    "read_response",
    "start_gateway",
    "status_of",
    "survives",
]
