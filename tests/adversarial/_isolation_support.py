"""Helpers for the isolation probes: a recording upstream and raw ASGI requests.

The recording upstream answers every request with ``{}`` and keeps its request line and
headers, so a probe can assert on exactly what reached the upstream. Raw requests go
straight to the ASGI app with the scope uvicorn would build (``path`` percent-decoded,
``raw_path`` as sent), since an HTTP client would normalise the tricks away.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from starlette.types import ASGIApp, Message


@dataclass
class Seen:
    """One request the recording upstream received."""

    target: str
    headers: dict[str, str]


@dataclass
class Recorder:
    """A tiny HTTP/1.1 upstream on 127.0.0.1 that records what it receives."""

    seen: list[Seen] = field(default_factory=list)
    server: asyncio.Server | None = None
    url: str = ""

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                target = lines[0].split(" ")[1]
                headers = {}
                for line in lines[1:]:
                    if ":" in line:
                        name, _, value = line.partition(":")
                        headers[name.strip().lower()] = value.strip()
                await reader.readexactly(int(headers.get("content-length", "0")))
                self.seen.append(Seen(target, headers))
                body = b'{"models": []}'
                writer.write(
                    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                    + f"content-length: {len(body)}\r\n\r\n".encode()
                    + body
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, asyncio.CancelledError, ConnectionError):
            pass
        finally:
            writer.close()


@dataclass
class Answer:
    status: int
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


async def raw_request(
    app: ASGIApp,
    method: str,
    target: str,
    headers: dict[str, str] | None = None,
    body: bytes = b"",
) -> Answer:
    """Send ``target`` (path and query, as on the wire) to ``app`` as uvicorn would."""
    raw_path, _, query = target.partition("?")
    sent_headers = [(b"host", b"gw")] + [
        (k.lower().encode(), v.encode("latin-1")) for k, v in (headers or {}).items()
    ]
    if body:
        sent_headers.append((b"content-length", str(len(body)).encode()))
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": unquote(raw_path),
        "raw_path": raw_path.encode("latin-1"),
        "query_string": query.encode("latin-1"),
        "root_path": "",
        "headers": sent_headers,
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 80),
    }
    messages = [{"type": "http.request", "body": body, "more_body": False}]
    status = [0]
    out = bytearray()

    async def receive() -> Message:
        if messages:
            return messages.pop(0)
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            status[0] = message["status"]
        elif message["type"] == "http.response.body":
            out.extend(message.get("body", b""))

    await app(scope, receive, send)
    return Answer(status[0], bytes(out))


async def socket_exchange(
    app: ASGIApp, target: str, frames: list[str], *, reads: int = 1
) -> list[Message]:
    """Open a WebSocket on ``app`` at ``target``, send ``frames``, and return what it sent.

    Stops after ``reads`` ``websocket.send`` messages past the accept, or at a close.
    """
    path, _, query = target.partition("?")
    scope: dict[str, Any] = {
        "type": "websocket",
        "asgi": {"version": "3.0"},
        "scheme": "ws",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(b"host", b"gw")],
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 80),
        "subprotocols": [],
    }
    incoming: asyncio.Queue[Message] = asyncio.Queue()
    incoming.put_nowait({"type": "websocket.connect"})
    for frame in frames:
        incoming.put_nowait({"type": "websocket.receive", "text": frame})
    sent: list[Message] = []
    done = asyncio.Event()

    async def send(message: Message) -> None:
        sent.append(message)
        texts = [m for m in sent if m["type"] == "websocket.send"]
        if message["type"] == "websocket.close" or len(texts) >= reads:
            done.set()

    async def receive() -> Message:
        if incoming.empty():
            await done.wait()
            return {"type": "websocket.disconnect", "code": 1000}
        return await incoming.get()

    task = asyncio.ensure_future(app(scope, receive, send))
    await asyncio.wait_for(done.wait(), 30)
    await asyncio.wait_for(task, 30)
    return sent
