"""Hostile WebSocket clients against a served gateway's ``/ws/chat`` and ``/ws/live``.

Text that is not a JSON object (garbage, or nested too deeply to parse) gets an error
frame and the socket stays usable, as the web page expects; a binary frame that is not
UTF-8 closes the socket with 1007, a frame over the limit with 1009. Floods leave the
process answering. After each, ``/healthz`` still answers.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from gemgate.gateway._sockets import MAX_FRAME
from tests.adversarial._hostile_support import Gateway, gateway, nested, survives

__all__ = ["gateway", "survives"]  # the fixtures, used by name

PATHS = ["/ws/chat", "/ws/live"]


@contextmanager
def opened(gateway: Gateway, path: str) -> Iterator[ClientConnection]:
    """A socket on ``path``, past ``/ws/live``'s greeting (the session frame)."""
    url = f"ws://{gateway.host}:{gateway.port}{path}"
    with connect(url, max_size=None, open_timeout=10, close_timeout=10) as ws:
        if path == "/ws/live":
            assert json.loads(ws.recv(timeout=10))["type"] == "session"
        yield ws


def _frame(ws: ClientConnection) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(ws.recv(timeout=30))
    return value


def _close_code(ws: ClientConnection, payload: str | bytes) -> int | None:
    """Send ``payload`` and return the code of the close the server answers with."""
    try:
        ws.send(payload)
        ws.recv(timeout=30)
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd is not None else None
    return None


@pytest.mark.parametrize(
    "garbage", ["not json {", "[1, 2, 3]", "\u0000\ufffd", nested(100_000, "list").decode()]
)
@pytest.mark.parametrize("path", PATHS)
def test_text_that_is_not_a_json_object_gets_an_error_frame(
    survives: Gateway, path: str, garbage: str
) -> None:
    with opened(survives, path) as ws:
        for _ in range(2):  # the socket stays usable
            ws.send(garbage)
            frame = _frame(ws)
            assert frame == {"type": "error", "message": "frames must be JSON objects"}


@pytest.mark.parametrize("path", PATHS)
def test_a_binary_frame_that_is_not_utf8_closes_with_1007(survives: Gateway, path: str) -> None:
    with opened(survives, path) as ws:
        assert _close_code(ws, b"\xff\xfe\x00 garbage \xc3\x28") == 1007


@pytest.mark.parametrize("path", PATHS)
def test_a_utf8_binary_frame_is_read_as_text(survives: Gateway, path: str) -> None:
    with opened(survives, path) as ws:
        ws.send(b'{"type": "nonsense"}')
        assert _frame(ws)["type"] == "error"


def _raw_close_code(gateway: Gateway, path: str, head: bytes) -> int:
    """Open ``path`` by hand, send ``head`` (a frame's start), return the close's code.

    By hand, so that the frame need not be sent whole: the server must refuse it on its
    header alone, and its close frame arrives before any reset of the connection.
    """
    key = base64.b64encode(os.urandom(16)).decode()
    with gateway.connect(timeout=30) as sock:
        sock.sendall(
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        data = b""
        while b"\r\n\r\n" not in data:
            data += sock.recv(65536)
        response, _, data = data.partition(b"\r\n\r\n")
        assert response.startswith(b"HTTP/1.1 101"), response
        sock.sendall(head)
        while True:  # the server's frames (unmasked) until its close
            while len(data) < 2:
                data += sock.recv(65536)
            opcode, size, start = data[0] & 0x0F, data[1] & 0x7F, 2
            if size >= 126:
                width = 2 if size == 126 else 8
                while len(data) < 2 + width:
                    data += sock.recv(65536)
                size, start = int.from_bytes(data[2 : 2 + width], "big"), 2 + width
            while len(data) < start + size:
                data += sock.recv(65536)
            payload, data = data[start : start + size], data[start + size :]
            if opcode == 0x8:
                return int.from_bytes(payload[:2], "big")


def _frame_head(length: int, first: bytes) -> bytes:
    """A masked text frame's header declaring ``length`` bytes, and its ``first`` bytes."""
    mask = os.urandom(4)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(first))
    return b"\x81\xff" + length.to_bytes(8, "big") + mask + masked


@pytest.mark.parametrize("path", PATHS)
def test_a_frame_over_the_limit_closes_with_1009_unread(survives: Gateway, path: str) -> None:
    head = _frame_head(MAX_FRAME + 1, b'{"type": "text", "content": "')
    assert _raw_close_code(survives, path, head) == 1009


@pytest.mark.parametrize("path", PATHS)
def test_a_huge_frame_closes_with_1009_unread(survives: Gateway, path: str) -> None:
    assert _raw_close_code(survives, path, _frame_head(1 << 40, b"xxxx")) == 1009


@pytest.mark.parametrize("path", PATHS)
def test_no_compression_is_negotiated(survives: Gateway, path: str) -> None:
    """A few compressed bytes must not inflate to a refused 8 MiB frame (a zip bomb)."""
    with opened(survives, path) as ws:
        assert ws.response is not None
        assert "Sec-WebSocket-Extensions" not in ws.response.headers


@pytest.mark.full
@pytest.mark.parametrize("path", PATHS)
def test_a_flood_of_garbage_frames_leaves_the_server_answering(
    survives: Gateway, path: str
) -> None:
    with opened(survives, path) as ws:
        for _ in range(20_000):  # never reading the error frames
            ws.send("garbage")
        survives.alive()


@pytest.mark.full
def test_a_flood_of_chat_turns_leaves_the_server_answering(survives: Gateway) -> None:
    with opened(survives, "/ws/chat") as ws:
        for i in range(2_000):
            ws.send(json.dumps({"content": f"turn {i}"}))
        survives.alive()
        assert _frame(ws)["type"] == "session"


@pytest.mark.full
@pytest.mark.parametrize("path", PATHS)
def test_many_sockets_opened_and_dropped_leave_the_server_answering(
    survives: Gateway, path: str
) -> None:
    for _ in range(200):
        with opened(survives, path) as ws:
            ws.send("garbage")
    survives.alive()
