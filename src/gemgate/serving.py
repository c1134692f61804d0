"""Serving ASGI apps with uvicorn: one write per answer, and inside a running event loop.

:class:`OneWriteProtocol` is the HTTP protocol ``gemgate serve``, ``gemgate emulate`` and
:func:`serve_in_loop` use: uvicorn's httptools protocol, except that what it writes in
one turn of the event loop leaves in one ``send`` (uvicorn writes a response's head and
its body separately: two system calls and, with ``TCP_NODELAY``, two packets the peer
must read apart). It also bounds what a request's head may cost: a connection must send a
complete head within ``timeout_keep_alive`` seconds of opening (or of its last answer),
else it is closed, and a head over :data:`HEAD_LIMIT` bytes gets a 431 (uvicorn's own
keep-alive timer starts only after a first answer, and lets a head grow without end).

``gemgate serve`` and ``gemgate emulate`` bind their socket first with
:func:`listening_socket`, so that they announce an address only once they hold it (and
say plainly why they cannot), then hand it to uvicorn with :func:`run_on`.

:func:`serve_in_loop` is for the parts of gemgate that need a real socket from inside a
program (the in-process emulator's Live endpoint, which the SDK reaches only over
``wss://``) and for tests. The server leaves the process's signal handlers alone: they
belong to the host program.

Example::

    served = await serve_in_loop(app, certfile="cert.pem", keyfile="key.pem")
    print(served.base_url)          # https://127.0.0.1:41234
    await served.stop()
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

__all__ = [
    "HEAD_LIMIT",
    "OneWriteProtocol",
    "Served",
    "listening_socket",
    "run_on",
    "serve_in_loop",
    "settle_gc",
]


JOIN_LIMIT = 65536
"""Bytes held for joining at most: more go out at once, so that the socket's flow control
(uvicorn waits to send while the peer is not reading) still sees them."""


HEAD_LIMIT = 65536
"""Bytes a request line and its headers may take in all."""

_TOO_LARGE_HEAD = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
    b"content-type: text/plain; charset=utf-8\r\ncontent-length: 31\r\n"
    b"connection: close\r\n\r\nRequest header fields too large"
)


class _Joined:
    """A transport whose writes within one turn of the loop go out as one."""

    __slots__ = ("_held", "_loop", "_pending", "transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self.transport = transport
        self._loop = loop
        self._pending: list[bytes] | None = None
        self._held = 0

    def write(self, data: bytes) -> None:
        if not data:
            return
        if self._pending is None:
            self._pending = [data]
            self._loop.call_soon(self.flush)
        else:
            self._pending.append(data)
        self._held += len(data)
        if self._held >= JOIN_LIMIT:
            self.flush()

    def flush(self) -> None:
        pending, self._pending, self._held = self._pending, None, 0
        if pending and not self.transport.is_closing():
            self.transport.write(pending[0] if len(pending) == 1 else b"".join(pending))

    def close(self) -> None:
        self.flush()
        self.transport.close()

    def abort(self) -> None:
        self._pending = None
        self.transport.abort()

    def __getattr__(self, name: str) -> Any:  # is_closing, pause_reading, get_extra_info...
        return getattr(self.transport, name)


class OneWriteProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, writing each answer (head and body) at once.

    A request's head must arrive whole within ``timeout_keep_alive`` seconds and
    :data:`HEAD_LIMIT` bytes, so that idle or slow connections (slowloris) do not pile up.
    """

    _head_timer: asyncio.TimerHandle | None = None
    _head_bytes = 0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """Wrap the socket's transport so that one turn's writes are joined."""
        super().connection_made(transport)
        self.transport = _Joined(transport, self.loop)  # type: ignore[assignment]
        self._await_head()

    def connection_lost(self, exc: Exception | None) -> None:
        """Stop waiting for a head."""
        self._head_done()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        """Parse ``data``; refuse a head that grows past :data:`HEAD_LIMIT`."""
        super().data_received(data)
        if self._head_timer is None:  # no head awaited, or it is complete
            return
        self._head_bytes += len(data)
        if self._head_bytes > HEAD_LIMIT and not self.transport.is_closing():
            self._head_done()
            self.transport.write(_TOO_LARGE_HEAD)
            self.transport.close()

    def on_headers_complete(self) -> None:
        """The head is whole: no deadline for the body (the app reads it)."""
        self._head_done()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        """Await the next head, unless a pipelined request (head read) goes next."""
        pipelined = bool(self.pipeline)
        super().on_response_complete()
        if not pipelined and not self.transport.is_closing():
            self._await_head()

    def _await_head(self) -> None:
        self._head_done()
        self._head_timer = self.loop.call_later(self.timeout_keep_alive, self._head_late)

    def _head_done(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        self._head_bytes = 0

    def _head_late(self) -> None:
        self._head_timer = None
        if not self.transport.is_closing():
            self.transport.close()

    def handle_websocket_upgrade(self) -> None:
        """WebSockets get the socket's own transport (their frames are written whole)."""
        joined = self.transport
        if isinstance(joined, _Joined):
            joined.flush()
            self.transport = joined.transport
        super().handle_websocket_upgrade()


class _QuietServer(uvicorn.Server):
    """A uvicorn server that does not install signal handlers."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@dataclass
class Served:
    """A server running in this loop, its task and its address."""

    server: uvicorn.Server
    task: asyncio.Task[None]
    base_url: str

    async def stop(self) -> None:
        """Ask the server to exit and wait until it has."""
        self.server.should_exit = True
        await self.task


async def serve_in_loop(
    app: Any,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    lifespan: Literal["on", "off"] = "off",
    certfile: str | None = None,
    keyfile: str | None = None,
) -> Served:
    """Start serving ``app`` (port 0: a free one) and return once it accepts connections."""
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        lifespan=lifespan,
        http=OneWriteProtocol,
        ssl_certfile=certfile,
        ssl_keyfile=keyfile,
    )
    server = _QuietServer(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()  # it failed to start: raise why
            raise RuntimeError("uvicorn stopped before it started")
        await asyncio.sleep(0.005)
    bound = server.servers[0].sockets[0].getsockname()[1]
    scheme = "https" if certfile else "http"
    return Served(server, task, f"{scheme}://{host}:{bound}")


def listening_socket(host: str, port: int, backlog: int = 2048) -> socket.socket:
    """A TCP socket bound to ``host:port`` and listening, as uvicorn would make it.

    Raises the ``OSError`` of ``bind`` (``EADDRINUSE``, ``EACCES``, ``EADDRNOTAVAIL``…) or
    ``socket.gaierror`` for a host name that does not resolve.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(backlog)
    except BaseException:
        sock.close()
        raise
    sock.set_inheritable(True)  # for config.workers > 1
    return sock


def run_on(config: uvicorn.Config, sock: socket.socket) -> bool:
    """Serve ``config`` on ``sock`` until told to stop; False if the app failed to start.

    With ``config.workers > 1`` (the app then an import string) the workers share it.
    """
    server = uvicorn.Server(config)
    try:
        if config.workers > 1:
            from uvicorn.supervisors import Multiprocess

            Multiprocess(config, sockets=[sock]).run()
            return True
        server.run(sockets=[sock])
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()
    return server.started


def settle_gc() -> None:
    """Keep the collector off the long-lived start-up objects, and run it less often.

    For a process that does nothing but serve (``gemgate serve``, ``gemgate emulate``).
    After start-up it holds some hundred thousand objects (modules, the SDK, settings)
    that live as long as it does; without this every full collection walks them all,
    which cost about a fifth of the gateway's CPU per request when measured with
    ``bench.gateway`` (0.233 → 0.178 ms per proxied request).
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(7000, 10, 10)
