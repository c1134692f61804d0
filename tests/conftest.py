from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal

import httpx2
import pytest
import uvicorn

from gemgate import serving

EMULATOR_CONFIG = Path(__file__).parent / "emulator" / "emulator.toml"

# The tests opt in to the built-in emulator as a user would: without a key, and without
# this, the library refuses to start (tests/client/test_no_key.py shows that).
os.environ["GEMGATE_UPSTREAM"] = "emulator"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, start: float = 1_750_000_000.0) -> None:
        self.now = start
        self.busy: Callable[[], bool] = lambda: False
        """While this says work is in flight, sleepers wait (really) before jumping."""

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    async def sleep(self, seconds: float) -> None:
        """Jump to the end of the wait once nothing is in flight (an "autojump" clock).

        Requests sent before the wait must reach the server at the old time, so the jump
        waits (in real time, briefly) until ``busy()`` is false.
        """
        import asyncio

        target = self.now + max(seconds, 0.0)
        await asyncio.sleep(0)
        while self.busy():  # noqa: ASYNC110 - polling a predicate owned by the client
            await asyncio.sleep(0.001)
        self.now = max(self.now, target)
        await asyncio.sleep(0)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def free_port() -> int:
    """A loopback port nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _start_emulator(config: Path | None) -> tuple[subprocess.Popen[bytes], str]:
    """Start `gemgate emulate --control` through the real CLI and wait until it answers."""
    port = free_port()
    cmd = [sys.executable, "-m", "gemgate", "emulate", "--host", "127.0.0.1"]
    cmd += ["--port", str(port), "--control"]
    if config is not None:
        cmd += ["--config", str(config)]
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=os.environ.copy()
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx2.get(f"{base}/_emulator/stats", timeout=1)
            return proc, base
        except httpx2.TransportError:
            if proc.poll() is not None or time.monotonic() > deadline:
                out = proc.stdout.read().decode() if proc.stdout else ""
                proc.kill()
                raise RuntimeError(f"emulator did not start:\n{out}") from None
            time.sleep(0.05)  # noqa: TID251 - waiting for a subprocess, outside any event loop


def worker_pids(supervisor: int) -> list[int]:
    """The worker processes of a ``gemgate serve --workers N`` (its supervisor's children).

    Multiprocessing's resource tracker, also a child, is not one of them.
    """
    children = Path(f"/proc/{supervisor}/task/{supervisor}/children").read_text()
    return [
        int(pid)
        for pid in children.split()
        if b"resource_tracker" not in Path(f"/proc/{pid}/cmdline").read_bytes()
    ]


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    """Ask a server process to exit; kill it if it has not within 10 s."""
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    if proc.stdout:
        proc.stdout.close()


@pytest.fixture(scope="session")
def emulator_server() -> Iterator[str]:
    """`gemgate emulate --control --config tests/emulator/emulator.toml` on 127.0.0.1."""
    proc, base = _start_emulator(EMULATOR_CONFIG)
    try:
        yield base
    finally:
        stop_process(proc)


@pytest.fixture(scope="session")
def plain_emulator_server() -> Iterator[str]:
    """`gemgate emulate --control` with no configuration (any key is accepted)."""
    proc, base = _start_emulator(None)
    try:
        yield base
    finally:
        stop_process(proc)


async def serve_in_loop(
    app: Any, *, lifespan: Literal["on", "off"] = "off"
) -> tuple[uvicorn.Server, asyncio.Task[None], str]:
    """Serve ``app`` with uvicorn on a free loopback port in the running event loop."""
    served = await serving.serve_in_loop(app, lifespan=lifespan)
    return served.server, served.task, served.base_url


async def stop_serving(server: uvicorn.Server, task: asyncio.Task[None]) -> None:
    """Stop a server started by :func:`serve_in_loop` and wait for it."""
    server.should_exit = True
    await task
