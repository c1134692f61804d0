"""The network driver: pooled HTTP/1.1 keep-alive connections, parsed by httptools.

An upstream API call needs little of a general HTTP client: a handful of origins, a
bytes body, one answer read as it arrives. aiohttp's client spent about 70 µs of CPU per
call on request objects, payload wrappers, a task per body write and a timer per chunk,
which was two fifths of the gateway's cost per proxied request (``bench/drivers.py``
compares the two). This driver keeps only the protocol: it writes the request in one
go and feeds the answer to ``httptools`` (the parser uvicorn uses), with one lazily
re-armed timer per connection for the first-byte and idle deadlines.

What it does: HTTPS with the system's or a given CA, connection reuse with a per-origin
cap, bodies framed by length, by chunks or by the close, gzip answers decoded, reading
paused while a slow consumer has a quarter MiB waiting, and one silent retry when a
reused keep-alive connection turns out to have been closed by the server before it
answered anything. What it leaves out: proxies, HTTP/2, ``Expect: 100-continue``.
"""

from __future__ import annotations

import asyncio
import collections
import functools
import re
import ssl
import zlib
from collections.abc import AsyncIterator, Callable, Mapping
from typing import cast
from urllib.parse import urlsplit

import httptools
from multidict import CIMultiDict

from gemgate.errors import ConnectError, ProtocolError, TransportError, UpstreamTimeout
from gemgate.upstream._driver import Reply

__all__ = ["HTTPDriver"]

_MANAGED = frozenset(
    {
        "host",
        "content-length",
        "transfer-encoding",
        "connection",
        "keep-alive",
        "accept-encoding",
        "te",
        "upgrade",
        "proxy-connection",
    }
)
"""Request headers this driver writes itself; a caller's copies are left out."""

HIGH_WATER = 256 * 1024
"""Answer bytes held for a slow consumer before the socket stops being read."""


class _Stale(ProtocolError):
    """A reused connection closed before any byte of the answer: safe to send again."""


class _Connection(asyncio.Protocol):
    """One socket; carries one exchange at a time and parses the answer as it comes."""

    def __init__(self, loop: asyncio.AbstractEventLoop, on_lost: Callable[[_Connection], None]):
        self._loop = loop
        self._on_lost = on_lost
        self._parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.lost = False
        self.reusable = False
        self.reused = False
        self._timer: asyncio.TimerHandle | None = None
        self._start(None, 0.0)

    def _start(self, head: asyncio.Future[None] | None, idle: float) -> None:
        self._head = head
        self._idle = idle
        self._deadline = 0.0
        self._status = 0
        self._headers: list[tuple[str, str]] = []
        self._framed = False
        self._skip_body = False
        self._informational = False
        self._stray = False
        self.until_close = False
        self.chunks: collections.deque[bytes] = collections.deque()
        self._buffered = 0
        self._paused = False
        self.complete = False
        self.error: TransportError | None = None
        self._wake: asyncio.Future[None] | None = None
        self._seen = False

    # --- one exchange -------------------------------------------------------------

    def exchange(
        self, request: bytes, *, head_only: bool, first_byte: float, idle: float
    ) -> asyncio.Future[None]:
        """Write ``request``; the future resolves once the answer's headers are in."""
        assert self.transport is not None
        head: asyncio.Future[None] = self._loop.create_future()
        self._start(head, idle)
        self._skip_body = head_only
        self.reusable = False
        self._arm(first_byte)
        self.transport.write(request)
        return head

    def answer(self) -> tuple[int, CIMultiDict[str]]:
        """Status and headers of the current answer (after its head future resolved)."""
        return self._status, CIMultiDict(self._headers)

    async def wait(self) -> None:
        """Wait until more of the body, its end or an error has arrived."""
        if self.chunks or self.complete or self.error is not None:
            return
        self._wake = self._loop.create_future()
        await self._wake

    def take(self) -> bytes:
        """The oldest waiting chunk of the body; reading resumes when the backlog drains."""
        chunk = self.chunks.popleft()
        self._buffered -= len(chunk)
        if self._paused and self._buffered < HIGH_WATER // 4 and self.transport is not None:
            self._paused = False
            self.transport.resume_reading()
        return chunk

    def abort(self) -> None:
        """Drop the socket (an unfinished answer cannot share it with the next request)."""
        if self.transport is not None and not self.lost:
            self.transport.abort()

    # --- deadlines ----------------------------------------------------------------

    def _arm(self, seconds: float) -> None:
        self._deadline = self._loop.time() + seconds
        if self._timer is None:
            self._timer = self._loop.call_at(self._deadline, self._expire)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _expire(self) -> None:
        self._timer = None
        if self.complete or self.error is not None:
            return
        if self._paused or self._loop.time() < self._deadline:  # activity since: re-arm
            later = max(self._deadline, self._loop.time() + 0.05)
            self._timer = self._loop.call_at(later, self._expire)
            return
        waited = "answer" if self._head is not None and not self._head.done() else "next chunk"
        self._fail(UpstreamTimeout(f"upstream timed out waiting for the {waited}"))
        self.abort()

    def _fail(self, error: TransportError) -> None:
        self.error = error
        self._disarm()
        if self._head is not None and not self._head.done():
            self._head.set_exception(error)
        self._notify()

    def _notify(self) -> None:
        if self._wake is not None and not self._wake.done():
            self._wake.set_result(None)

    # --- asyncio.Protocol ---------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's are not subclasses

    def data_received(self, data: bytes) -> None:
        if self._head is None or self.complete:  # bytes nobody asked for: out of step
            self.reusable = False
            if self._head is None:
                self.abort()
            return
        self._seen = True
        if self._idle:
            self._deadline = self._loop.time() + self._idle
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(ProtocolError("upstream switched protocols (101), which was not asked"))
            self.abort()
        except httptools.HttpParserError as exc:
            self._fail(ProtocolError(f"malformed answer from upstream: {exc}"))
            self.abort()

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self.reusable = False
        self._disarm()
        if self._head is not None and not self.complete and self.error is None:
            if self.until_close and self._head.done() and exc is None:  # a clean close ends it
                self.complete = True
                self._notify()
            else:
                kind = _Stale if self.reused and not self._seen else ProtocolError
                reason = f": {exc}" if exc is not None else ""
                self._fail(kind(f"upstream closed the connection mid-answer{reason}"))
        self._on_lost(self)

    # --- httptools callbacks ------------------------------------------------------

    def on_message_begin(self) -> None:
        if self.complete:  # a second answer to one request: ignore it, drop the socket
            self._stray = True
            self.reusable = False

    def on_header(self, name: bytes, value: bytes) -> None:
        if self._stray:
            return
        key, text = name.decode("latin-1"), value.decode("latin-1")
        lowered = key.lower()
        if lowered == "content-length" or (
            lowered == "transfer-encoding" and "chunked" in text.lower()
        ):
            self._framed = True
        self._headers.append((key, text))

    def on_headers_complete(self) -> None:
        if self._stray:
            return
        status = self._parser.get_status_code()
        if 100 <= status < 200:  # 103 Early Hints and the like: the real answer follows
            self._informational = True
            self._headers = []
            self._framed = False
            return
        self._status = status
        if self._skip_body:  # an answer to HEAD has no body, whatever its headers say
            self.complete = True
        elif not self._framed and status not in (204, 304):
            self.until_close = True
        assert self._head is not None
        self._deadline = self._loop.time() + self._idle
        if self._timer is not None and self._timer.when() > self._deadline:  # idle < first byte
            self._disarm()
            self._timer = self._loop.call_at(self._deadline, self._expire)
        if not self._head.done():
            self._head.set_result(None)

    def on_body(self, body: bytes) -> None:
        if self.complete or self._stray:
            return
        self.chunks.append(body)
        self._buffered += len(body)
        if self._buffered > HIGH_WATER and not self._paused and self.transport is not None:
            self._paused = True
            self.transport.pause_reading()
        self._notify()

    def on_message_complete(self) -> None:
        if self._stray:
            return
        if self._informational:
            self._informational = False
            return
        self.reusable = not self._skip_body and self._parser.should_keep_alive()
        self.complete = True
        self._disarm()
        self._notify()


class _Pool:
    """Keep-alive connections to one origin, at most ``limit`` open at a time."""

    def __init__(
        self,
        host: str,
        port: int,
        context: ssl.SSLContext | None,
        *,
        limit: int,
        connect: float,
    ) -> None:
        self.host = host
        self.port = port
        name = f"[{host}]" if ":" in host else host  # an IPv6 literal keeps its brackets
        self.authority = name if port in (80, 443) else f"{name}:{port}"
        self._context = context
        self._limit = limit
        self._connect_timeout = connect
        self._idle: list[_Connection] = []
        self._open: set[_Connection] = set()
        self._connecting = 0
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()

    async def acquire(self) -> _Connection:
        """An idle connection, or a new one when under the cap; else wait for one."""
        while True:
            while self._idle:
                conn = self._idle.pop()
                if not conn.lost:
                    conn.reused = True
                    return conn
            if len(self._open) + self._connecting < self._limit:
                return await self._connect()
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            except asyncio.CancelledError:
                if waiter.done() and not waiter.cancelled():
                    self._wake_one()  # it was our turn: pass it on
                raise

    async def _connect(self) -> _Connection:
        loop = asyncio.get_running_loop()
        self._connecting += 1
        try:
            _, conn = await asyncio.wait_for(
                loop.create_connection(
                    lambda: _Connection(loop, self._lost),
                    self.host,
                    self.port,
                    ssl=self._context,
                    server_hostname=self.host if self._context is not None else None,
                ),
                self._connect_timeout,
            )
        except BaseException as exc:
            self._connecting -= 1
            self._wake_one()  # the slot this was taking is free again
            if isinstance(exc, TimeoutError):
                raise UpstreamTimeout(f"upstream timed out connecting to {self.authority}") from exc
            if isinstance(exc, OSError | UnicodeError):  # refused, unreachable, TLS, bad name
                raise ConnectError(f"cannot connect to upstream {self.authority}: {exc}") from exc
            raise
        self._connecting -= 1
        if conn.lost:  # closed (or sent something unasked) before any request
            self._wake_one()
            raise ConnectError(f"upstream {self.authority} closed the connection on accepting it")
        self._open.add(conn)
        return conn

    def release(self, conn: _Connection) -> None:
        """Back to the pool after a whole keep-alive answer; dropped otherwise."""
        if conn.reusable and not conn.lost:
            conn._start(None, 0.0)
            self._idle.append(conn)
            self._wake_one()
        else:
            conn.abort()

    def _lost(self, conn: _Connection) -> None:
        self._open.discard(conn)
        if conn in self._idle:
            self._idle.remove(conn)
        self._wake_one()

    def _wake_one(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def close(self) -> None:
        """Drop every connection, busy or idle."""
        for conn in list(self._open):
            conn.abort()
        self._idle.clear()


class HTTPDriver:
    """Sends requests over pooled HTTP/1.1 connections; see the module docstring."""

    def __init__(
        self,
        base_url: str,
        *,
        connect: float = 10.0,
        limit: int = 1024,
        ca_file: str | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._connect = connect
        self._limit = limit
        self._ca_file = ca_file
        self._context: ssl.SSLContext | None = None
        self._pools: dict[tuple[str, str, int], _Pool] = {}
        self._base_pool, self._base_path = self._route(self.base_url + "/")
        self._base_path = self._base_path.rstrip("/")

    def _tls(self) -> ssl.SSLContext:
        if self._context is None:
            self._context = ssl.create_default_context(cafile=self._ca_file)
            self._context.set_alpn_protocols(["http/1.1"])
        return self._context

    def _route(self, url: str) -> tuple[_Pool, str]:
        """The pool for ``url``'s origin, and the request target (path and query)."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ProtocolError(f"cannot send to a non-HTTP URL ({parts.scheme or 'no'} scheme)")
        secure = parts.scheme == "https"
        try:
            port = parts.port or (443 if secure else 80)
        except ValueError:
            raise ProtocolError(f"cannot send to a URL with a bad port ({parts.netloc})") from None
        origin = (parts.scheme, parts.hostname, port)
        pool = self._pools.get(origin)
        if pool is None:
            context = self._tls() if secure else None
            pool = _Pool(parts.hostname, port, context, limit=self._limit, connect=self._connect)
            self._pools[origin] = pool
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        return pool, target

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
        """Send a request; see :class:`gemgate.upstream._driver.Driver`."""
        rest = url[len(self.base_url) :]
        if rest[:1] == "/" and url.startswith(self.base_url):  # the common case, unparsed
            pool, target = self._base_pool, self._base_path + rest
        else:
            pool, target = self._route(url)
        request = _request(method, target, pool.authority, headers, body)
        for attempt in (1, 2):
            conn = await pool.acquire()
            try:
                await conn.exchange(
                    request, head_only=method == "HEAD", first_byte=first_byte, idle=idle
                )
            except _Stale:
                if attempt == 2:
                    raise
                continue  # the server had closed this idle connection: once more, afresh
            except BaseException:
                conn.abort()
                raise
            break
        status, reply_headers = conn.answer()
        lease = _Lease(pool, conn)
        try:
            decoder = _decoder(reply_headers)
        except ProtocolError:
            lease.end()
            raise
        return Reply(status, reply_headers, lease.body(decoder), lease.release)

    async def aclose(self) -> None:
        """Close every pooled connection."""
        for pool in self._pools.values():
            pool.close()
        self._pools.clear()
        self._base_pool, _ = self._route(self.base_url + "/")


def _request(
    method: str, target: str, authority: str, headers: Mapping[str, str], body: bytes | None
) -> bytes:
    """The request's bytes; a header or target that would split the message is refused."""
    lines = [f"{method} {target} HTTP/1.1\r\nhost: {authority}\r\naccept-encoding: gzip\r\n"]
    expected = 3
    for name, value in headers.items():
        if name.lower() not in _MANAGED:
            if not _is_token(name):
                raise ProtocolError(f"refusing to send a header named {name!r}: not a token")
            lines.append(f"{name}: {value}\r\n")
            expected += 1
    if body is not None or method in ("POST", "PUT", "PATCH"):
        lines.append(f"content-length: {len(body or b'')}\r\n")
        expected += 1
    lines.append("\r\n")
    head = "".join(lines)
    if head.count("\n") != expected + 1 or head.count("\r") != expected + 1 or " " in target:
        raise ProtocolError("refusing to send a header or path holding a line break or space")
    try:
        raw = head.encode("latin-1")
    except UnicodeEncodeError:
        raise ProtocolError("refusing to send a header that is not Latin-1") from None
    return raw + body if body else raw


_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


@functools.lru_cache(maxsize=1024)  # header names: a small vocabulary
def _is_token(name: str) -> bool:
    """Whether ``name`` may be a header name (RFC 9110 token: no spaces, no colons)."""
    return _TOKEN.fullmatch(name) is not None


class _Gunzip:
    """Decodes a gzip (or zlib) body, member after member, and notices a cut-off end."""

    def __init__(self) -> None:
        self._inflate = zlib.decompressobj(wbits=47)  # 32 + 15: either header, detected

    def feed(self, data: bytes) -> bytes:
        out = []
        try:
            while data:
                out.append(self._inflate.decompress(data))
                data = self._inflate.unused_data
                if data:  # a second member follows the first
                    self._inflate = zlib.decompressobj(wbits=47)
        except zlib.error as exc:
            raise ProtocolError(f"corrupt compressed answer from upstream: {exc}") from None
        return b"".join(out)

    def finish(self) -> bytes:
        tail = self._inflate.flush()
        if not self._inflate.eof:
            raise ProtocolError("compressed answer from upstream ended mid-stream")
        return tail


def _decoder(headers: CIMultiDict[str]) -> _Gunzip | None:
    """A gzip decoder when the answer is compressed (its framing headers then go)."""
    encoding = headers.get("content-encoding", "").strip().lower()
    if encoding in ("", "identity"):
        return None
    if encoding not in ("gzip", "x-gzip", "deflate"):
        raise ProtocolError(f"upstream answered in an unasked-for encoding: {encoding}")
    headers.popall("content-encoding")
    headers.popall("content-length", None)
    return _Gunzip()


class _Lease:
    """One answer's hold on its connection, given back exactly once."""

    __slots__ = ("conn", "held", "pool")

    def __init__(self, pool: _Pool, conn: _Connection) -> None:
        self.pool = pool
        self.conn = conn
        self.held = True

    def end(self) -> None:
        """Pool the connection after a whole answer; drop it after a partial one."""
        if self.held:
            self.held = False
            if self.conn.complete and not self.conn.chunks:
                self.pool.release(self.conn)
            else:
                self.conn.abort()

    async def release(self) -> None:
        """:meth:`end`, as the awaitable :class:`Reply` expects."""
        self.end()

    async def body(self, decoder: _Gunzip | None) -> AsyncIterator[bytes]:
        """The body as it arrives; the connection is given back at its end."""
        conn = self.conn
        while True:
            await conn.wait()
            if conn.chunks:
                chunk = conn.take()
                if decoder is not None:
                    chunk = decoder.feed(chunk)
                if chunk:
                    yield chunk
            elif conn.error is not None:
                raise conn.error
            else:
                self.end()  # the whole answer is in: the connection may serve another
                if decoder is not None and (tail := decoder.finish()):
                    yield tail
                return
