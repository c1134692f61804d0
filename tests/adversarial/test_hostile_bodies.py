"""Hostile request bodies against a served gateway: each gets a 4xx in its face's shape.

Malformed JSON, invalid UTF-8, 100k-deep nesting, bodies over ``max_body_bytes`` (declared
in ``Content-Length`` and sent only in part, or chunked without a length) and a chat
completion of 100k messages. After each, ``/healthz`` still answers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx2
import pytest

from tests.adversarial._hostile_support import (
    JSON_ROUTES,
    MAX_BODY,
    MODEL,
    Gateway,
    gateway,
    nested,
    read_response,
    start_gateway,
    status_of,
    survives,
)
from tests.conftest import stop_process

__all__ = ["gateway", "survives"]  # the fixtures, used by name

DEPTH = 100_000

BAD_BODIES = {
    "malformed": b'{"model": "' + MODEL.encode() + b'", "messages": [',
    "invalid-utf8": b'{"model": "\xff\xfe\xfd", "input": "\xc3\x28"}',
    "deep-list": nested(DEPTH, "list"),
    "deep-object": nested(DEPTH, "object"),
}


@pytest.fixture(scope="module")
def session_id(gateway: Gateway) -> str:
    created = httpx2.post(f"{gateway.base}/api/v1/sessions", json={}, timeout=10)
    assert created.status_code == 201
    return str(created.json()["id"])


def _routes(session: str) -> dict[str, tuple[str, str]]:
    """Every JSON route probed: its method and path."""
    one = f"/api/v1/sessions/{session}"
    return {
        **{name: ("POST", path) for name, path in JSON_ROUTES.items()},
        "session-rename": ("PATCH", one),
        "session-message": ("POST", one + "/messages"),
    }


ROUTE_NAMES = [*JSON_ROUTES, "session-rename", "session-message"]


def assert_face(route: str, status: int, body: dict[str, Any]) -> None:
    """``body`` is the error JSON of the face ``route`` belongs to."""
    if route in ("chat", "embeddings", "responses"):
        assert isinstance(body["error"]["message"], str)
        assert body["error"]["type"] == "invalid_request_error"
    elif route == "messages":
        assert body["type"] == "error"
        assert body["error"]["type"] in ("invalid_request_error", "request_too_large")
    elif route == "generate":
        assert body["error"]["code"] == status
        assert isinstance(body["error"]["status"], str)
    else:
        assert isinstance(body["detail"], str)


@pytest.mark.parametrize("kind", list(BAD_BODIES))
@pytest.mark.parametrize("route", ROUTE_NAMES)
def test_bad_json_is_a_400_in_the_face_shape(
    survives: Gateway, session_id: str, route: str, kind: str
) -> None:
    method, path = _routes(session_id)[route]
    answer = httpx2.request(
        method,
        survives.base + path,
        content=BAD_BODIES[kind],
        headers={"content-type": "application/json"},
        timeout=60,
    )
    assert answer.status_code == 400, answer.text[:300]
    assert_face(route, 400, answer.json())


def _declared_over_limit(gateway: Gateway, method: str, path: str) -> bytes:
    """A head declaring a body over the limit, then a few bytes of it; the answer."""
    with gateway.connect(timeout=30) as sock:
        sock.sendall(
            f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Content-Type: application/json\r\nContent-Length: {MAX_BODY * 64}\r\n\r\n".encode()
            + b'{"model": "'
        )
        return read_response(sock)  # the rest never comes: only an early answer ends this


@pytest.mark.parametrize("route", ROUTE_NAMES)
def test_a_declared_length_over_the_limit_is_refused_unread(
    survives: Gateway, session_id: str, route: str
) -> None:
    method, path = _routes(session_id)[route]
    response = _declared_over_limit(survives, method, path)
    assert status_of(response) == 413, response[:300]
    head, _, body = response.partition(b"\r\n\r\n")
    assert b"\r\nconnection: close" in head.lower()
    assert_face(route, 413, httpx2.Response(413, content=body).json())


@pytest.mark.parametrize("route", ["chat", "generate", "messages"])
def test_a_chunked_body_is_refused_once_past_the_limit(survives: Gateway, route: str) -> None:
    chunk = b"x" * 65536
    with survives.connect(timeout=30) as sock:
        sock.sendall(
            f"POST {JSON_ROUTES[route]} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n".encode()
        )
        sent = 0
        try:
            while sent <= MAX_BODY * 4:  # well past the limit; the server stops reading
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass
        response = read_response(sock)
    assert status_of(response) == 413, response[:300]


@pytest.mark.parametrize("kind", ["list", "object"])
def test_deep_nesting_inside_a_valid_request_is_not_a_500(survives: Gateway, kind: str) -> None:
    deep = nested(DEPTH, kind)
    body = b'{"model": "%s", "messages": [{"role": "user", "content": %s}]}' % (
        MODEL.encode(),
        deep,
    )
    answer = httpx2.post(
        survives.base + JSON_ROUTES["chat"],
        content=body,
        headers={"content-type": "application/json"},
        timeout=60,
    )
    assert answer.status_code == 400, answer.text[:300]


@pytest.mark.parametrize("depth", [200, 900])
@pytest.mark.parametrize("route", ["chat", "responses", "messages", "generate"])
def test_nesting_just_under_the_parser_limit_is_not_a_500(
    survives: Gateway, route: str, depth: int
) -> None:
    """Deep but parseable: whatever walks the value afterwards must not overflow either."""
    deep = nested(depth, "object").decode()
    bodies = {
        "chat": f'{{"model": "{MODEL}", "messages": [{{"role": "user", "content": "hi"}}], '
        f'"metadata": {deep}, "extra_body": {deep}}}',
        "responses": f'{{"model": "{MODEL}", "input": "hi", "metadata": {deep}}}',
        "messages": f'{{"model": "{MODEL}", "max_tokens": 8, '
        f'"messages": [{{"role": "user", "content": "hi"}}], "metadata": {deep}}}',
        "generate": f'{{"contents": [{{"parts": [{{"text": "hi"}}]}}], "labels": {deep}}}',
    }
    answer = httpx2.post(
        survives.base + JSON_ROUTES[route],
        content=bodies[route].encode(),
        headers={"content-type": "application/json"},
        timeout=60,
    )
    assert answer.status_code < 500, answer.text[:300]


@pytest.mark.full
def test_a_hundred_thousand_messages_get_an_answer_or_a_clear_4xx(tmp_path: Path) -> None:
    roomy = start_gateway(tmp_path, max_body=64 * 1024 * 1024)  # the default limit
    try:
        messages = [{"role": "user", "content": f"m{i}"} for i in range(100_000)]
        answer = httpx2.post(
            roomy.base + JSON_ROUTES["chat"],
            json={"model": MODEL, "messages": messages},
            timeout=120,
        )
        roomy.alive()
    finally:
        stop_process(roomy.proc)
    assert answer.status_code == 200 or 400 <= answer.status_code < 500, answer.text[:300]
    if answer.status_code != 200:
        assert_face("chat", answer.status_code, answer.json())
