"""Hostile WebSocket clients against a served gateway's ``/ws/chat`` and ``/ws/live``.

Text that is not a JSON object (garbage, or nested too deeply to parse) gets an error
frame and the socket stays usable, as the web page expects; a binary frame that is not
UTF-8 closes the socket with 1007, a frame over the limit with 1009. Floods leave the
process answering. After each, ``/healthz`` still answers.
"""

from __future__ import annotations

import json
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


@pytest.mark.parametrize("path", PATHS)
def test_a_frame_over_the_limit_closes_with_1009(survives: Gateway, path: str) -> None:
    with opened(survives, path) as ws:
        assert _close_code(ws, "x" * (MAX_FRAME + 1)) == 1009


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
