"""The network driver against a scripted HTTP/1.1 server on 127.0.0.1.

Each test's server reads requests off the socket and writes exactly the bytes the test
chose, so framing, reuse, timeouts and broken connections are all under its control.
"""

from __future__ import annotations

import asyncio
import gzip
import socket
import ssl
import struct
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from gemgate.emulator._tls import self_signed
from gemgate.errors import ConnectError, ProtocolError, UpstreamTimeout
from gemgate.upstream._http1 import HIGH_WATER, HTTPDriver

pytestmark = pytest.mark.anyio

Handler = Callable[["Exchange"], Awaitable[None]]


@dataclass
class Exchange:
    """One request as the server saw it, and the socket to answer on."""

    head: bytes
    body: bytes
    connection: int
    number: int
    """How many requests this connection carried before this one."""
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    stop: asyncio.Event

    async def hold(self) -> None:
        """Keep the answer unfinished until the test ends."""
        await self.stop.wait()

    async def answer(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()


@dataclass
class Server:
    base: str
    requests: list[Exchange] = field(default_factory=list)
    connections: int = 0
    open_now: int = 0
    most_open: int = 0
    closed: asyncio.Event = field(default_factory=asyncio.Event)


def ok(body: bytes = b"{}", extra: str = "") -> bytes:
    return (
        f"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n{extra}"
        f"content-length: {len(body)}\r\n\r\n"
    ).encode() + body


@pytest.fixture
async def serve() -> AsyncIterator[Callable[..., Awaitable[Server]]]:
    servers: list[asyncio.Server] = []
    stop = asyncio.Event()

    async def start(handler: Handler, context: ssl.SSLContext | None = None) -> Server:
        state = Server("")

        async def connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            state.connections += 1
            state.open_now += 1
            state.most_open = max(state.most_open, state.open_now)
            number = state.connections
            try:
                for count in range(1000):
                    head = await reader.readuntil(b"\r\n\r\n")
                    length = 0
                    for line in head.split(b"\r\n"):
                        if line.lower().startswith(b"content-length:"):
                            length = int(line.split(b":")[1])
                    body = await reader.readexactly(length)
                    exchange = Exchange(head, body, number, count, reader, writer, stop)
                    state.requests.append(exchange)
                    await handler(exchange)
            except (asyncio.IncompleteReadError, ConnectionError):
                pass
            finally:
                state.open_now -= 1
                state.closed.set()
                writer.close()

        server = await asyncio.start_server(connection, "127.0.0.1", 0, ssl=context)
        servers.append(server)
        port = server.sockets[0].getsockname()[1]
        state.base = f"{'https' if context else 'http'}://127.0.0.1:{port}"
        return state

    yield start
    stop.set()
    for server in servers:
        server.close()
        await server.wait_closed()


async def fetch(driver: HTTPDriver, path: str = "/v1beta/models", **kw: float) -> bytes:
    reply = await driver.send(
        "POST",
        driver.base_url + path,
        {"content-type": "application/json"},
        b"{}",
        first_byte=kw.get("first_byte", 5.0),
        idle=kw.get("idle", 5.0),
    )
    try:
        assert reply.status == 200
        return await reply.read()
    finally:
        await reply.aclose()


async def test_keep_alive_connections_are_reused_and_the_request_is_well_formed(serve) -> None:
    async def handler(ex: Exchange) -> None:
        await ex.answer(ok(b'{"n": %d}' % ex.number))

    server = await serve(handler)
    driver = HTTPDriver(server.base)
    assert [await fetch(driver) for _ in range(3)] == [b'{"n": 0}', b'{"n": 1}', b'{"n": 2}']
    assert server.connections == 1
    head = server.requests[0].head.decode()
    assert head.startswith("POST /v1beta/models HTTP/1.1\r\n")
    assert f"host: 127.0.0.1:{server.base.rsplit(':', 1)[1]}\r\n" in head
    assert "content-length: 2\r\n" in head and server.requests[0].body == b"{}"
    await driver.aclose()


async def test_a_chunked_answer_streams_as_it_is_sent(serve) -> None:
    second = asyncio.Event()

    async def handler(ex: Exchange) -> None:
        await ex.answer(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nfirst\r\n")
        await second.wait()
        await ex.answer(b"6\r\nsecond\r\n0\r\n\r\n")

    server = await serve(handler)
    driver = HTTPDriver(server.base)
    reply = await driver.send("GET", server.base + "/s", {}, None, first_byte=5, idle=5)
    chunks = reply.chunks.__aiter__()
    assert await chunks.__anext__() == b"first"  # before the server sent the rest
    second.set()
    assert [c async for c in chunks] == [b"second"]
    await reply.aclose()
    assert await fetch(driver) == b"firstsecond"
    assert server.connections == 1  # a whole chunked answer leaves the connection reusable
    await driver.aclose()


async def test_a_body_delimited_by_the_close_is_read_whole(serve) -> None:
    async def handler(ex: Exchange) -> None:
        await ex.answer(b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\nuntil the end")
        ex.writer.close()

    server = await serve(handler)
    driver = HTTPDriver(server.base)
    assert await fetch(driver) == b"until the end"
    assert await fetch(driver) == b"until the end"
    assert server.connections == 2
    await driver.aclose()


async def test_a_reused_connection_the_server_dropped_is_retried_once_on_a_new_one(
    serve,
) -> None:
    async def handler(ex: Exchange) -> None:
        if ex.number == 1:  # the second request on a connection: hang up without answering
            ex.writer.transport.abort()
            return
        await ex.answer(ok(b'{"connection": %d}' % ex.connection))

    server = await serve(handler)
    driver = HTTPDriver(server.base)
    assert await fetch(driver) == b'{"connection": 1}'
    assert await fetch(driver) == b'{"connection": 2}'
    assert server.connections == 2 and len(server.requests) == 3
    await driver.aclose()


async def test_a_fresh_connection_closed_unanswered_is_an_error_not_a_retry(serve) -> None:
    async def handler(ex: Exchange) -> None:
        ex.writer.transport.abort()

    server = await serve(handler)
    driver = HTTPDriver(server.base)
    with pytest.raises(ProtocolError, match="closed the connection"):
        await fetch(driver)
    assert len(server.requests) == 1
    await driver.aclose()


async def test_first_byte_and_idle_deadlines(serve) -> None:
    async def handler(ex: Exchange) -> None:
        if ex.head.startswith(b"POST /slow-head"):
            await ex.hold()
        await ex.answer(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nhi\r\n")
        await ex.hold()

    server = await serve(handler)
    driver = HTTPDriver(server.base)
    # Each deadline is short and the other one long: whichever is ignored, wait_for's
    # 10 s ends the wait with TimeoutError instead of the UpstreamTimeout expected.
    with pytest.raises(UpstreamTimeout, match="waiting for the answer"):
        await asyncio.wait_for(fetch(driver, "/slow-head", first_byte=0.2, idle=60), 10)
    reply = await driver.send("POST", server.base + "/x", {}, b"", first_byte=60, idle=0.2)
    chunks = reply.chunks.__aiter__()
    assert await chunks.__anext__() == b"hi"
    with pytest.raises(UpstreamTimeout, match="next chunk"):
        await asyncio.wait_for(chunks.__anext__(), 10)
    await reply.aclose()
    await driver.aclose()


async def test_refused_connections_and_bad_certificates_are_connect_errors(
    serve, tmp_path: Path
) -> None:
    with pytest.raises(ConnectError, match="cannot connect"):
        await fetch(HTTPDriver("http://127.0.0.1:1"))
    files = self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(files.cert, files.key)

    async def handler(ex: Exchange) -> None:
        await ex.answer(ok(b'{"secure": true}'))

    server = await serve(handler, context)
    with pytest.raises(ConnectError, match="certificate"):
        await fetch(HTTPDriver(server.base))  # the system's CAs do not know this one
    trusted = HTTPDriver(server.base, ca_file=str(files.ca))
    assert await fetch(trusted) == b'{"secure": true}'
    await trusted.aclose()


async def test_gzip_answers_are_decoded_and_lose_their_encoding_headers(serve) -> None:
    packed = gzip.compress(b'{"text": "' + b"long " * 1000 + b'"}')

    async def handler(ex: Exchange) -> None:
        await ex.answer(ok(packed, "content-encoding: gzip\r\n"))

    server = await serve(handler)
    driver = HTTPDriver(server.base)
    reply = await driver.send("GET", server.base + "/g", {}, None, first_byte=5, idle=5)
    assert "content-encoding" not in reply.headers and "content-length" not in reply.headers
    assert await reply.read() == gzip.decompress(packed)
    await reply.aclose()
    assert b"accept-encoding: gzip\r\n" in server.requests[0].head
    await driver.aclose()


@pytest.mark.parametrize(
    ("headers", "path"),
    [
        ({"x-goog-api-key": "k\r\nx-evil: 1"}, "/ok"),
        ({"x-note": "a\rb"}, "/ok"),
        ({}, "/a b"),
        ({"x-name": "caf\u00e9\u2603"}, "/ok"),
    ],
)
async def test_headers_or_paths_that_would_split_the_message_are_refused(
    serve, headers: dict[str, str], path: str
) -> None:
    async def handler(ex: Exchange) -> None:
        await ex.answer(ok())

    server = await serve(handler)
    driver = HTTPDriver(server.base)
    with pytest.raises(ProtocolError, match="refusing"):
        await driver.send("GET", server.base + path, headers, None, first_byte=5, idle=5)
    assert server.requests == []
    await driver.aclose()


async def test_the_connection_cap_queues_requests_instead_of_opening_more(serve) -> None:
    async def handler(ex: Exchange) -> None:
        await asyncio.sleep(0.02)
        await ex.answer(ok())

    server = await serve(handler)
    driver = HTTPDriver(server.base, limit=2)
    results = await asyncio.gather(*(fetch(driver) for _ in range(10)))
    assert results == [b"{}"] * 10
    assert server.most_open == 2 and server.connections == 2
    await driver.aclose()


async def test_an_abandoned_answer_drops_its_connection(serve) -> None:
    async def handler(ex: Exchange) -> None:
        await ex.answer(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nhi\r\n")
        if ex.head.startswith(b"GET /stream"):
            assert await ex.reader.read() == b""  # the gateway hung up: end of file
            return
        await ex.answer(b"0\r\n\r\n")

    server = await serve(handler)
    driver = HTTPDriver(server.base)
    reply = await driver.send("GET", server.base + "/stream", {}, None, first_byte=5, idle=5)
    assert await reply.chunks.__anext__() == b"hi"
    await reply.aclose()  # the client went away: the upstream request is cancelled
    await asyncio.wait_for(server.closed.wait(), 5)
    assert await fetch(driver) == b"hi"
    assert server.connections == 2
    await driver.aclose()


async def test_a_slow_reader_pauses_the_socket_and_still_gets_every_byte(serve) -> None:
    block = b"x" * 65536
    total = 32 * len(block)

    async def handler(ex: Exchange) -> None:
        await ex.answer(f"HTTP/1.1 200 OK\r\ncontent-length: {total}\r\n\r\n".encode())
        for _ in range(32):
            await ex.answer(block)

    server = await serve(handler)
    driver = HTTPDriver(server.base)
    reply = await driver.send("GET", server.base + "/big", {}, None, first_byte=5, idle=5)
    await asyncio.sleep(0.3)  # the server writes ahead while nobody reads
    held = sum(len(c) for c in next(iter(driver._base_pool._open)).chunks)
    assert held < HIGH_WATER + 2 * len(block) < total
    assert len(await reply.read()) == total
    await driver.aclose()


async def test_informational_answers_are_skipped_and_bad_ones_are_protocol_errors(
    serve,
) -> None:
    async def handler(ex: Exchange) -> None:
        if ex.head.startswith(b"POST /hints"):
            await ex.answer(b"HTTP/1.1 103 Early Hints\r\nlink: </x>\r\n\r\n" + ok(b"[1]"))
        else:
            await ex.answer(b"HTTP/1.1 2OO nonsense\r\n\r\n")

    server = await serve(handler)
    driver = HTTPDriver(server.base)
    assert await fetch(driver, "/hints") == b"[1]"
    with pytest.raises(ProtocolError, match="malformed"):
        await fetch(driver, "/bad")
    await driver.aclose()


async def test_a_server_that_hangs_up_on_accepting_fails_fast_and_frees_its_slot() -> None:
    async def shed(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 503 Busy\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
        writer.close()

    server = await asyncio.start_server(shed, "127.0.0.1", 0)
    loop = asyncio.get_running_loop()
    connect = loop.create_connection

    async def slow_connect(*args: Any, **kwargs: Any) -> Any:
        made = await connect(*args, **kwargs)
        await asyncio.sleep(0.05)  # the answer and the close arrive before the request leaves
        return made

    loop.create_connection = slow_connect  # type: ignore[method-assign]
    try:
        driver = HTTPDriver(f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}", limit=2)
        for _ in range(4):  # more than the cap: a leaked slot would make one wait for ever
            with pytest.raises(ConnectError, match="closed the connection on accepting"):
                await asyncio.wait_for(
                    driver.send("GET", driver.base_url + "/x", {}, None, first_byte=5, idle=5), 10
                )
        assert driver._base_pool._open == set()
    finally:
        del loop.create_connection
    await driver.aclose()
    server.close()


async def test_bytes_after_a_whole_answer_are_not_taken_for_the_next_one(serve) -> None:
    async def handler(ex: Exchange) -> None:
        stray = b"HTTP/1.1 200 OK\r\ncontent-length: 40\r\n\r\n" if ex.connection == 1 else b""
        await ex.answer(ok(b"first") + stray)

    server = await serve(handler)
    driver = HTTPDriver(server.base)
    reply = await driver.send("GET", server.base + "/a", {}, None, first_byte=5, idle=5)
    assert reply.headers.getall("content-length") == ["5"]  # the stray head is not merged in
    assert await reply.read() == b"first"
    await reply.aclose()
    assert await fetch(driver) == b"first"  # on a new connection, not the out-of-step one
    assert server.connections == 2
    await driver.aclose()


async def test_a_close_delimited_body_cut_by_a_reset_is_an_error(serve) -> None:
    async def handler(ex: Exchange) -> None:
        await ex.answer(b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\npartial-bo")
        await asyncio.sleep(0.05)
        sock = ex.writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        ex.writer.transport.abort()  # a reset, not a clean end of the body

    server = await serve(handler)
    driver = HTTPDriver(server.base)
    with pytest.raises(ProtocolError, match="closed the connection"):
        await fetch(driver)
    await driver.aclose()


async def test_a_request_is_sent_again_at_most_once_after_stale_connections(serve) -> None:
    async def handler(ex: Exchange) -> None:
        if ex.number == 0:
            await ex.answer(ok())
        else:  # every reused connection is found closed after the request is read
            ex.writer.transport.abort()

    server = await serve(handler)
    driver = HTTPDriver(server.base)
    await asyncio.gather(*(fetch(driver) for _ in range(5)))  # five pooled connections
    before = len(server.requests)
    with pytest.raises(ProtocolError):
        await fetch(driver)
    assert len(server.requests) - before == 2  # the request, and one more try
    await driver.aclose()


async def test_gzip_answers_must_end_and_may_have_several_members(serve) -> None:
    whole = gzip.compress(b"x" * 5000 + b"the end")
    bodies = {b"/cut": whole[:-12], b"/two": gzip.compress(b"one|") + gzip.compress(b"two")}

    async def handler(ex: Exchange) -> None:
        await ex.answer(ok(bodies[ex.head.split()[1]], "content-encoding: gzip\r\n"))

    server = await serve(handler)
    driver = HTTPDriver(server.base)
    with pytest.raises(ProtocolError, match="ended mid-stream"):
        await fetch(driver, "/cut")
    assert await fetch(driver, "/two") == b"one|two"
    await driver.aclose()


async def test_odd_but_valid_answers_and_unusable_urls(serve) -> None:
    async def handler(ex: Exchange) -> None:
        if ex.head.startswith(b"POST /identity"):  # not framed: the body runs to the close
            await ex.answer(b"HTTP/1.1 200 OK\r\ntransfer-encoding: identity\r\n\r\nall of it")
            ex.writer.close()
        else:
            await ex.answer(
                b"HTTP/1.1 101 Switching Protocols\r\nconnection: upgrade\r\nupgrade: x\r\n\r\n"
            )

    server = await serve(handler)
    driver = HTTPDriver(server.base)
    assert await fetch(driver, "/identity") == b"all of it"
    with pytest.raises(ProtocolError, match="switched protocols"):
        await fetch(driver, "/upgrade")
    with pytest.raises(ProtocolError, match="bad port"):
        await driver.send("GET", "http://127.0.0.1:99999/x", {}, None, first_byte=1, idle=1)
    with pytest.raises(ProtocolError, match="not a token"):
        await driver.send("GET", server.base + "/x", {"host:evil": "1"}, None, first_byte=1, idle=1)
    with pytest.raises(ConnectError):
        await fetch(HTTPDriver("http://" + "a" * 64 + ".invalid"))  # an unencodable name
    assert HTTPDriver("http://[::1]:8080")._base_pool.authority == "[::1]:8080"
    await driver.aclose()


async def test_an_error_answer_abandoned_mid_read_gives_its_connection_back(serve) -> None:
    from gemgate import AsyncGemini

    answered = asyncio.Event()

    async def handler(ex: Exchange) -> None:
        await ex.answer(b'HTTP/1.1 500 Oops\r\ntransfer-encoding: chunked\r\n\r\n5\r\n{"err\r\n')
        answered.set()
        await ex.hold()  # the rest of the error body never comes

    server = await serve(handler)
    async with AsyncGemini(api_key="k", base_url=server.base, max_connections=1) as client:
        call = asyncio.create_task(client.generate_content("hi", model="gemini-2.5-flash"))
        await answered.wait()
        await asyncio.sleep(0.05)  # the head is in; the pipeline is reading the body
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
        pool = client.engine.driver._base_pool  # type: ignore[attr-defined]
        assert pool._open == set() or all(c.lost for c in pool._open)
