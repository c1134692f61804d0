"""Small pure-ASGI helpers: bodies with a size cap, JSON and streamed responses."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Iterable
from typing import Any

from starlette.types import Receive, Scope, Send

__all__ = [
    "BadBody",
    "BodyTooLarge",
    "body_chunks",
    "header",
    "read_body",
    "read_json",
    "send_bytes",
    "send_json",
    "send_stream",
]


class BodyTooLarge(Exception):
    """The request body exceeds the configured cap."""


class BadBody(ValueError):
    """The request body is not the JSON object a route expects (the message says why)."""


async def read_body(receive: Receive, limit: int) -> bytes:
    """The whole request body, refusing more than ``limit`` bytes."""
    return b"".join([chunk async for chunk in body_chunks(receive, limit)])


async def body_chunks(receive: Receive, limit: int) -> AsyncIterator[bytes]:
    """The request body as it arrives, refusing more than ``limit`` bytes in all."""
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ConnectionResetError("client disconnected")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(f"request body exceeds {limit} bytes")
        yield chunk
        if not message.get("more_body", False):
            return


async def read_json(receive: Receive, limit: int, *, empty_ok: bool = False) -> dict[str, Any]:
    """The request body as a JSON object (``{}`` for an empty body when ``empty_ok``).

    Raises:
        BodyTooLarge: More than ``limit`` bytes.
        BadBody: Not JSON, or not an object.
    """
    raw = await read_body(receive, limit)
    if empty_ok and not raw.strip():
        return {}
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError):  # nested deeper than the parser goes
        raise BadBody("The request body is not valid JSON.") from None
    if not isinstance(value, dict):
        raise BadBody("The request body must be a JSON object.")
    return value


def header(scope: Scope, name: bytes) -> str | None:
    """A request header (lower-case name), decoded."""
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


def _headers(items: Iterable[tuple[str, str]]) -> list[tuple[bytes, bytes]]:
    return [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in items]


async def send_bytes(
    send: Send, status: int, body: bytes, headers: Iterable[tuple[str, str]] = ()
) -> None:
    """A complete response."""
    items = [*headers, ("content-length", str(len(body)))]
    await send({"type": "http.response.start", "status": status, "headers": _headers(items)})
    await send({"type": "http.response.body", "body": body})


async def send_json(
    send: Send, status: int, value: Any, headers: Iterable[tuple[str, str]] = ()
) -> None:
    """A JSON response."""
    body = json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
    await send_bytes(send, status, body, [*headers, ("content-type", "application/json")])


async def send_stream(
    send: Send,
    receive: Receive,
    status: int,
    chunks: AsyncIterator[bytes],
    headers: Iterable[tuple[str, str]] = (),
) -> None:
    """A streamed response, each chunk sent as it arrives.

    If the client goes away, the relay is cancelled, which closes ``chunks`` and so the
    upstream request behind it.
    """

    async def relay() -> None:
        await send({"type": "http.response.start", "status": status, "headers": _headers(headers)})
        async for chunk in chunks:
            if chunk:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})

    async def watch() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass

    relaying = asyncio.ensure_future(relay())
    watching = asyncio.ensure_future(watch())
    try:
        await asyncio.wait({relaying, watching}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        watching.cancel()
        if not relaying.done():
            relaying.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await relaying
        aclose = getattr(chunks, "aclose", None)
        if aclose is not None:
            await aclose()
    relaying.result()
