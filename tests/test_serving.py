"""One write per answer: what uvicorn writes in one turn of the loop leaves together."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from gemgate import serving

pytestmark = pytest.mark.anyio


class Recorder:
    """A transport that records each write (each would be one system call)."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = self.aborted = False

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def is_closing(self) -> bool:
        return self.closed or self.aborted

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = True

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", 8080) if name in ("sockname", "peername") else default


async def test_the_writes_of_one_turn_go_out_as_one() -> None:
    recorder = Recorder()
    joined = serving._Joined(recorder, asyncio.get_running_loop())  # type: ignore[arg-type]
    joined.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n")
    joined.write(b"")
    joined.write(b"{}")
    assert recorder.writes == []
    await asyncio.sleep(0)
    assert recorder.writes == [b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}"]
    joined.write(b"next")
    await asyncio.sleep(0)
    assert recorder.writes[1:] == [b"next"]
    assert joined.get_extra_info("peername") == ("127.0.0.1", 8080)


async def test_close_sends_what_is_pending_and_abort_drops_it() -> None:
    loop = asyncio.get_running_loop()
    closing = Recorder()
    joined = serving._Joined(closing, loop)  # type: ignore[arg-type]
    joined.write(b"last words")
    joined.close()
    assert closing.writes == [b"last words"] and closing.closed
    aborting = Recorder()
    joined = serving._Joined(aborting, loop)  # type: ignore[arg-type]
    joined.write(b"never sent")
    joined.abort()
    await asyncio.sleep(0)
    assert aborting.writes == [] and aborting.aborted


async def test_served_answers_use_it_and_arrive_whole() -> None:
    transports: list[Any] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        transports.append(send.__self__.transport)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"one,", "more_body": True})
        await asyncio.sleep(0.01)
        await send({"type": "http.response.body", "body": b"two"})

    served = await serving.serve_in_loop(app)
    try:
        port = int(served.base_url.rsplit(":", 1)[1])
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        answer = await reader.read()
        writer.close()
    finally:
        await served.stop()
    assert answer.startswith(b"HTTP/1.1 200 OK\r\n")
    assert answer.endswith(b"\r\n\r\n4\r\none,\r\n3\r\ntwo\r\n0\r\n\r\n")
    assert isinstance(transports[0], serving._Joined)


async def test_a_client_that_does_not_read_holds_the_app_back() -> None:
    block, blocks = b"x" * 65536, 200  # 12.5 MiB: more than the sockets' buffers hold
    sent = [0]

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for _ in range(blocks):
            await send({"type": "http.response.body", "body": block, "more_body": True})
            sent[0] += 1
        await send({"type": "http.response.body", "body": b""})

    served = await serving.serve_in_loop(app)
    try:
        port = int(served.base_url.rsplit(":", 1)[1])
        reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=2**16)
        try:
            writer.write(b"GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
            await asyncio.sleep(0.5)  # not reading: uvicorn's flow control must stop the app
            held_back = sent[0]
            received = 0
            while chunk := await reader.read(2**20):
                received += len(chunk)
        finally:
            writer.close()
    finally:
        await served.stop()
    assert 0 < held_back < blocks
    assert sent[0] == blocks and received > blocks * len(block)
