"""Start a `gemgate emulate` process on a free port for a benchmark."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx2


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def emulator() -> Iterator[str]:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "gemgate", "emulate", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                httpx2.get(f"{base}/v1beta/models", headers={"x-goog-api-key": "k"}, timeout=1)
                break
            except httpx2.TransportError:
                time.sleep(0.05)  # noqa: TID251
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=10)
