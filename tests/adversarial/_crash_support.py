"""`gemgate serve` as a process to kill -9, over an upstream whose streams are slow.

`slow_upstream` serves the emulator in the test's loop, pausing before each chunk of a
streamed answer, so a kill lands in the middle of a streamed message. `Served` starts
the real CLI on a free port with the given storage URLs; `kill` sends SIGKILL;
`postgres_database` makes a database of its own on the machine's PostgreSQL and drops it.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx2
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gemgate.emulator import EmulatorConfig, create_app
from tests.conftest import free_port, serve_in_loop, stop_serving, worker_pids
from tests.gateway.conftest import clean_env
from tests.servers import POSTGRES_URL, need_server

CHUNK_DELAY = 0.25
"""Seconds the upstream waits before each chunk of a streamed answer."""


def api_key() -> str:
    """A key-shaped test value (built from pieces)."""
    return "-".join(("test", "crash", "key"))


class _SlowStreams:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or ":streamGenerateContent" not in scope["path"]:
            await self.app(scope, receive, send)
            return

        async def slow_send(message: Message) -> None:
            if message["type"] == "http.response.body" and message.get("body"):
                await asyncio.sleep(CHUNK_DELAY)
            await send(message)

        await self.app(scope, receive, slow_send)


@asynccontextmanager
async def slow_upstream() -> AsyncIterator[str]:
    """The emulator on loopback, its streamed answers slowed down; yields its URL."""
    server, task, url = await serve_in_loop(_SlowStreams(create_app(EmulatorConfig())))
    try:
        yield url
    finally:
        await stop_serving(server, task)


class Served:
    """One `gemgate serve` process; `restart` starts another on the same storage."""

    def __init__(self, cwd: Path, upstream: str, storage: dict[str, str], workers: int = 1) -> None:
        self.cwd, self.upstream, self.storage, self.workers = cwd, upstream, storage, workers
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = ""

    def _spawn(self, port: int) -> subprocess.Popen[bytes]:
        env = {
            **clean_env(),
            "GEMINI_API_KEY": api_key(),
            "GEMGATE_UPSTREAM_URL": self.upstream,
            **{f"GEMGATE_{k.upper()}": v for k, v in self.storage.items()},
        }
        with (self.cwd / "serve.log").open("ab") as log:
            return subprocess.Popen(
                [sys.executable, "-m", "gemgate", "serve", "--host", "127.0.0.1"]
                + ["--port", str(port), "--workers", str(self.workers)],
                cwd=self.cwd,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    async def start(self) -> Served:
        port = free_port()
        self.proc = self._spawn(port)
        self.url = f"http://127.0.0.1:{port}"
        async with httpx2.AsyncClient(base_url=self.url, timeout=2) as http:
            for _ in range(600):
                try:
                    if (await http.get("/healthz")).status_code == 200:
                        return self
                except httpx2.TransportError:
                    pass
                if self.proc.poll() is not None:
                    break
                await asyncio.sleep(0.05)
        raise RuntimeError(f"gateway did not start:\n{(self.cwd / 'serve.log').read_text()}")

    def worker_pids(self) -> list[int]:
        """The worker processes of a ``--workers N`` gateway (its supervisor's children)."""
        assert self.proc is not None
        return worker_pids(self.proc.pid)

    def kill(self) -> None:
        """kill -9: no shutdown hook runs."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    async def restart(self) -> Served:
        """Kill (if running) and start again on the same storage."""
        if self.proc is not None and self.proc.poll() is None:
            self.kill()
        return await self.start()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@asynccontextmanager
async def served(
    cwd: Path, upstream: str, storage: dict[str, str], workers: int = 1
) -> AsyncIterator[Served]:
    """A started `Served`, stopped at the end."""
    gateway = Served(cwd, upstream, storage, workers)
    try:
        yield await gateway.start()
    finally:
        gateway.stop()


@asynccontextmanager
async def postgres_database() -> AsyncIterator[str]:
    """The URL of a fresh database on the machine's PostgreSQL, dropped afterwards."""
    import asyncpg

    need_server("PostgreSQL", 5432)
    name = f"gemgate_crash_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(POSTGRES_URL)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


def storage_url(kind: str, tmp_path: Path, database: str | None) -> str:
    """``sqlite:///…`` in ``tmp_path``, or the PostgreSQL ``database``."""
    if kind == "sqlite":
        return f"sqlite:///{tmp_path}/gemgate.db"
    assert database is not None
    return database
