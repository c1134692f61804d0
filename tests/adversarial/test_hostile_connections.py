"""Hostile connections against a served gateway: slow heads, idle sockets, huge heads.

The gateway must keep answering ``/healthz`` meanwhile, and drop a connection that has
not sent a whole request head within uvicorn's ``timeout_keep_alive`` (5 s).
"""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from tests.adversarial._hostile_support import (
    Gateway,
    closed_by_peer,
    gateway,
    read_response,
    status_of,
    survives,
)

__all__ = ["gateway", "survives"]  # the fixtures, used by name

PATIENCE = 30.0
"""How long a probe waits for the server to act: a guard against hanging, not a timing."""


def test_idle_connections_are_dropped(survives: Gateway) -> None:
    """One never sends a request, one sends none after its first answer: both dropped."""
    with survives.connect(timeout=PATIENCE) as silent, survives.connect(PATIENCE) as answered:
        answered.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert status_of(read_response(answered)) == 200
        survives.alive()  # answered while these idle
        assert closed_by_peer(silent)
        assert closed_by_peer(answered)


def test_a_head_sent_byte_by_byte_is_cut_off(survives: Gateway) -> None:
    """Slowloris: the head never ends; the server closes the connection."""
    head = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n" + b"X-Slow: " + b"a" * 10_000
    deadline = time.monotonic() + PATIENCE
    with survives.connect(timeout=PATIENCE) as sock:
        sent = 0
        try:
            while sent < len(head) and time.monotonic() < deadline:
                sock.sendall(head[sent : sent + 1])
                sent += 1
                if sent % 10 == 0:
                    survives.alive()  # the server answers others meanwhile
                time.sleep(0.1)  # noqa: TID251 - a slow client, outside any event loop
        except (BrokenPipeError, ConnectionResetError):
            pass
        assert sent < len(head), "the server waited for the whole slow head"
        sock.settimeout(1)
        assert closed_by_peer(sock)


def test_a_head_over_the_limit_gets_a_431(survives: Gateway) -> None:
    with survives.connect(timeout=PATIENCE) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        try:
            for i in range(2000):  # 16 MB of headers, unless the server stops reading
                sock.sendall(b"X-Junk-%d: %s\r\n" % (i, b"a" * 8000))
        except (BrokenPipeError, ConnectionResetError):
            pass
        response = read_response(sock)
    assert status_of(response) in (0, 431), response[:300]  # 0: reset before we read it


def test_a_request_head_then_a_slow_body_is_not_cut_by_the_head_deadline(
    survives: Gateway,
) -> None:
    """The deadline is for the head only: a body may take its time (the app reads it)."""
    body = b'{"model": "gemini-2.5-flash", "messages": [{"role": "user", "content": "hi"}]}'
    step = len(body) // 30 + 1
    with survives.connect(timeout=PATIENCE) as sock:
        sock.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)
        )
        for start in range(0, len(body), step):  # 30 pieces, 6 s: past the head deadline
            sock.sendall(body[start : start + step])
            time.sleep(0.2)  # noqa: TID251 - a slow client, outside any event loop
        assert status_of(read_response(sock)) == 200


@pytest.mark.full
def test_a_thousand_idle_connections_do_not_stop_the_server(survives: Gateway) -> None:
    idle: list[socket.socket] = []
    try:
        for _ in range(1000):
            idle.append(survives.connect(timeout=PATIENCE))
        for _ in range(20):
            survives.alive()
        for sock in idle:
            assert closed_by_peer(sock)
    finally:
        for sock in idle:
            sock.close()


def test_every_serving_process_runs_on_malloc(gateway: Gateway) -> None:
    """So that a burst's memory can go back to the system (`gemgate._heap`)."""
    for pid in gateway.workers or [gateway.proc.pid]:
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        assert b"PYTHONMALLOC=malloc" in environ, pid
