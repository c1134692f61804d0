"""Shared pieces of the fuzzing probes: an in-process gateway and its error-shape check.

``APP`` is a gateway over the in-process emulator (no key, sessions in memory) with its
lifespan answered here, so schemathesis and the state machine can call it many times.
``check_answer`` is the property every probe holds each response to: no status ≥ 500,
and every 4xx body in the error shape of the face its path belongs to (`face_of`).
"""

from __future__ import annotations

import json
from typing import Any

import jsonschema
from starlette.types import Receive, Scope, Send

from gemgate import AsyncGemini
from gemgate.config import Settings
from gemgate.gateway import create_app
from gemgate.gateway._faces import face_of

__all__ = ["APP", "check_answer"]

GATEWAY = create_app(AsyncGemini(settings=Settings(upstream="emulator", sessions_url="memory://")))


async def APP(scope: Scope, receive: Receive, send: Send) -> None:
    """The gateway, minus lifespan: each call would otherwise close it."""
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    await GATEWAY(scope, receive, send)


def check_answer(method: str, path: str, status: int, body: bytes) -> None:
    """No server error; a client error's body in its face's shape."""
    where = f"{method} {path} → {status}: {body[:300]!r}"
    assert status < 500, where
    if status < 400:
        return
    try:
        parsed: Any = json.loads(body)
    except ValueError:
        raise AssertionError(f"error body is not JSON: {where}") from None
    face = face_of(path)
    try:
        jsonschema.validate(parsed, face.schema)
    except jsonschema.ValidationError as exc:
        raise AssertionError(f"not a {face.name}: {exc.message}: {where}") from None
