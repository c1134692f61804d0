"""HTTP helpers: JSON bodies and responses, error rendering, connection drops."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from gemgate.emulator.errors import ApiError, invalid_argument
from gemgate.wire.errors import FieldViolation

__all__ = ["TRANSPORT_KEY", "DropResponse", "error_response", "json_response", "read_json"]

TRANSPORT_KEY = "gemgate.transport"
"""Scope key under which the outer app keeps the server's transport, when it has one."""


def dumps(value: Any) -> bytes:
    """Compact JSON bytes."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def json_response(
    value: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    """A JSON response."""
    return Response(dumps(value), status, headers=dict(headers or {}), media_type="application/json")


def error_response(error: ApiError) -> Response:
    """An error in Google's shape."""
    return json_response(error.body(), error.code, error.headers)


async def read_json(request: Request) -> dict[str, Any]:
    """The request body as a JSON object; an empty body reads as ``{}``."""
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        value = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        where = f" at line {exc.lineno} column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else ""
        message = f"Invalid JSON payload received. Unexpected token{where}."
        raise invalid_argument(message, [FieldViolation(field="", description=message)]) from None
    if not isinstance(value, dict):
        message = 'Invalid JSON payload received. Unknown name "": Root element must be a message.'
        raise invalid_argument(message, [FieldViolation(field="", description=message)])
    return value


class DropResponse(Response):
    """Closes the connection without answering.

    Under a real server the transport is closed; in-process (no transport) the drop
    surfaces as :class:`ConnectionResetError` from the ASGI transport.
    """

    def __init__(self) -> None:
        super().__init__(b"")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        transport = scope.get(TRANSPORT_KEY)
        if transport is None:
            raise ConnectionResetError("the emulator dropped the connection")
        transport.close()
        while (await receive())["type"] != "http.disconnect":
            pass
