"""HTTP helpers: JSON bodies and responses, error rendering, connection drops."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from gemgate.emulator._errors import ApiError, invalid_argument
from gemgate.wire.errors import FieldViolation

__all__ = ["TRANSPORT_KEY", "DropResponse", "error_response", "json_response", "read_json"]

_MAX_DEPTH = 100
"""How deeply a request body may nest, like Google's proto3-JSON parser."""
_DEEP = "Invalid JSON payload received. Message too deep. Max recursion depth reached."

TRANSPORT_KEY = "gemgate.transport"
"""Scope key under which the outer app keeps the server's transport, when it has one."""


def dumps(value: Any) -> bytes:
    """Compact JSON bytes."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def json_response(
    value: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    """A JSON response."""
    return Response(
        dumps(value), status, headers=dict(headers or {}), media_type="application/json"
    )


def error_response(error: ApiError) -> Response:
    """An error in Google's shape."""
    return json_response(error.body(), error.code, error.headers)


def _invalid_json(message: str) -> ApiError:
    return invalid_argument(message, [FieldViolation(field="", description=message)])


def _too_deep(value: Any) -> bool:
    """Whether arrays and objects nest more than ``_MAX_DEPTH`` levels (no recursion)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = (
            item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
        )
        for child in children:
            if isinstance(child, dict | list):
                if depth >= _MAX_DEPTH:
                    return True
                stack.append((child, depth + 1))
    return False


async def read_json(request: Request) -> dict[str, Any]:
    """The request body as a JSON object; an empty body reads as ``{}``."""
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        value = json.loads(raw)
    except RecursionError:
        raise _invalid_json(_DEEP) from None
    except (ValueError, UnicodeDecodeError) as exc:
        where = ""
        if isinstance(exc, json.JSONDecodeError):
            where = f" at line {exc.lineno} column {exc.colno}"
        raise _invalid_json(f"Invalid JSON payload received. Unexpected token{where}.") from None
    if not isinstance(value, dict):
        raise _invalid_json(
            'Invalid JSON payload received. Unknown name "": Root element must be a message.'
        )
    if raw.count(b"[") + raw.count(b"{") > _MAX_DEPTH and _too_deep(value):  # fewer can't nest
        raise _invalid_json(_DEEP)
    return value


class DropResponse(Response):
    """Closes the connection without answering.

    Under a real server the transport is closed; in-process (no transport) the drop
    surfaces as :class:`ConnectionResetError` from the ASGI transport.
    """

    def __init__(self) -> None:
        super().__init__(b"")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Close the server's transport, or raise in-process."""
        transport = scope.get(TRANSPORT_KEY)
        if transport is None:
            raise ConnectionResetError("the emulator dropped the connection")
        transport.close()
        while (await receive())["type"] != "http.disconnect":
            pass
