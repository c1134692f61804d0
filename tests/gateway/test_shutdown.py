"""Graceful shutdown: SIGTERM lets in-flight requests finish, then the gateway exits."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx2

from tests.conftest import free_port

from .conftest import clean_env


def _wait(url: str, proc: subprocess.Popen[bytes]) -> None:
    for _ in range(400):
        try:
            httpx2.get(url, timeout=1)
            return
        except httpx2.TransportError:
            assert proc.poll() is None, "process died"
            time.sleep(0.05)  # noqa: TID251 - waiting for a subprocess, outside any event loop
    raise AssertionError(f"{url} never answered")


def test_sigterm_finishes_in_flight_requests(tmp_path: Path) -> None:
    emu_port, gw_port = free_port(), free_port()
    env = clean_env()
    emulator = subprocess.Popen(
        [sys.executable, "-m", "gemgate", "emulate", "--port", str(emu_port), "--control"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    gateway_env = {
        **env,
        "GEMGATE_UPSTREAM_URL": f"http://127.0.0.1:{emu_port}",
        "GEMINI_API_KEY": "k",
        "GEMGATE_SESSIONS_URL": f"sqlite:///{tmp_path}/s.db",
    }
    gateway = subprocess.Popen(
        [sys.executable, "-m", "gemgate", "serve", "--port", str(gw_port)],
        env=gateway_env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        _wait(f"http://127.0.0.1:{emu_port}/_emulator/stats", emulator)
        _wait(f"http://127.0.0.1:{gw_port}/healthz", gateway)
        slow = {"faults": [{"kind": "delay", "delay_ms": 800}]}
        httpx2.post(f"http://127.0.0.1:{emu_port}/_emulator/faults", json=slow).raise_for_status()
        results: list[httpx2.Response] = []

        def call() -> None:
            body = {"model": "gemini-2.5-flash", "messages": [{"role": "user", "content": "slow"}]}
            results.append(
                httpx2.post(
                    f"http://127.0.0.1:{gw_port}/v1/chat/completions", json=body, timeout=30
                )
            )

        worker = threading.Thread(target=call)
        worker.start()
        time.sleep(0.3)  # noqa: TID251 - the request is now waiting on the slow upstream
        os.kill(gateway.pid, signal.SIGTERM)
        worker.join(timeout=30)
        assert results and results[0].status_code == 200
        assert "slow" in results[0].json()["choices"][0]["message"]["content"]
        # uvicorn re-raises the signal once it has drained, so the exit is "by SIGTERM".
        assert gateway.wait(timeout=30) in (0, -signal.SIGTERM)
    finally:
        for proc in (gateway, emulator):
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        if gateway.stderr:
            gateway.stderr.close()
