"""HTTP drivers: what they return, and the in-process ASGI one (the network one is :mod:`.http1`).

A driver sends one request and returns the status, headers and a body or chunk
iterator. Errors are mapped once, here, to :mod:`gemgate.errors` transport errors.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

from multidict import CIMultiDict

from gemgate.errors import ProtocolError, UpstreamTimeout

__all__ = ["ASGIDriver", "Driver", "Reply"]


@dataclass
class Reply:
    """An HTTP answer whose body is read chunk by chunk."""

    status: int
    headers: Mapping[str, str]
    """Case-insensitive (a ``multidict`` mapping), repeated headers kept."""
    chunks: AsyncIterator[bytes]
    release: Any = None

    async def read(self) -> bytes:
        """The whole body."""
        parts = [chunk async for chunk in self.chunks]
        return b"".join(parts)

    async def aclose(self) -> None:
        """Give the connection back (or drop it, if the body was not read)."""
        if self.release is not None:
            release, self.release = self.release, None
            await release()


class Driver(Protocol):
    """Sends requests to one upstream base URL."""

    base_url: str

    async def send(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes | None,
        *,
        first_byte: float,
        idle: float,
    ) -> Reply:
        """Send a request; the reply's headers have arrived when this returns."""
        ...

    async def aclose(self) -> None:
        """Close pooled connections."""
        ...


class ASGIDriver:
    """Calls an ASGI app in-process, streaming its body as it is sent."""

    def __init__(self, app: Any, base_url: str = "http://emulator.local") -> None:
        self.app = app
        self.base_url = base_url

    async def send(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes | None,
        *,
        first_byte: float,
        idle: float,
    ) -> Reply:
        """Run the app for one request; see :class:`Driver`."""
        exchange = _Exchange(self.app, _scope(method, url, headers), body or b"")
        start = await exchange.next(first_byte)
        if start.get("type") != "http.response.start":
            await exchange.release()
            raise ProtocolError("in-process upstream sent no response")
        status = int(start["status"])
        reply_headers = CIMultiDict((k.decode(), v.decode()) for k, v in start.get("headers", []))
        return Reply(status, reply_headers, exchange.chunks(idle), exchange.release)

    async def aclose(self) -> None:
        """Nothing to close."""


class _Exchange:
    """One in-process request: the app runs in a task and its messages are queued."""

    def __init__(self, app: Any, scope: dict[str, Any], body: bytes) -> None:
        self._body: bytes | None = body
        self._queue: asyncio.Queue[dict[str, Any] | BaseException] = asyncio.Queue()
        self._task = asyncio.ensure_future(self._run(app, scope))

    async def _run(self, app: Any, scope: dict[str, Any]) -> None:
        try:
            await app(scope, self._receive, self._queue.put)
        except BaseException as exc:
            await self._queue.put(exc)
        await self._queue.put({"type": "gemgate.done"})

    async def _receive(self) -> dict[str, Any]:
        if self._body is not None:
            body, self._body = self._body, None
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.Event().wait()  # the request has one body; wait for cancellation
        raise AssertionError

    async def next(self, wait: float) -> dict[str, Any]:
        """The app's next message."""
        try:
            item = await asyncio.wait_for(self._queue.get(), wait)
        except TimeoutError as exc:
            raise UpstreamTimeout("in-process upstream timed out") from exc
        if isinstance(item, BaseException):
            raise ProtocolError(f"in-process upstream failed: {type(item).__name__}") from item
        return item

    async def chunks(self, idle: float) -> AsyncIterator[bytes]:
        """The response body, chunk by chunk."""
        while True:
            message = await self.next(idle)
            if message["type"] == "http.response.body":
                if message.get("body"):
                    yield message["body"]
                if not message.get("more_body", False):
                    return
            elif message["type"] == "gemgate.done":
                raise ProtocolError("in-process upstream ended the body early")

    async def release(self) -> None:
        """Stop the app if it is still running."""
        if not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task


def _scope(method: str, url: str, headers: Mapping[str, str]) -> dict[str, Any]:
    parts = urlsplit(url)
    host = parts.netloc or "emulator.local"
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": parts.scheme or "http",
        "path": parts.path,
        "raw_path": parts.path.encode(),
        "query_string": parts.query.encode(),
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()]
        + [(b"host", host.encode())],
        "server": (host, 80),
        "client": ("127.0.0.1", 0),
    }
