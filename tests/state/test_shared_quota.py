"""`SharedQuotaState`: exact through Redis, ``limit / N`` per process while Redis is away.

Each test runs its own ``redis-server`` on a free port, so that it can pause it
(``SIGSTOP``: connections stay open and nothing answers, the worst case) and resume it
without disturbing the machine's Redis.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass

import pytest

from gemgate.projects import Limits
from gemgate.state._base import Candidate, Grant
from gemgate.state._redis import RedisQuotaState
from gemgate.state._shared import SharedQuotaState, share_of

pytestmark = pytest.mark.anyio

PROJECT = [Candidate("p", Limits(rpm=90))]


@dataclass
class Server:
    """A private redis-server that can be paused."""

    process: subprocess.Popen[bytes]
    url: str

    def pause(self) -> None:
        os.kill(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        os.kill(self.process.pid, signal.SIGCONT)


@contextmanager
def private_redis() -> Iterator[Server]:
    """A redis-server of its own on a free port (skipped, or failed in CI, without one)."""
    binary = shutil.which("redis-server")
    if binary is None:
        if os.environ.get("CI") == "true":
            pytest.fail("redis-server is not installed (CI must run these tests)")
        pytest.skip("redis-server is not installed")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.05)  # noqa: TID251 - outside any event loop
    try:
        yield Server(process, f"redis://127.0.0.1:{port}/0")
    finally:
        process.send_signal(signal.SIGCONT)
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def server() -> Iterator[Server]:
    with private_redis() as made:
        yield made


@asynccontextmanager
async def processes(
    server: Server, count: int, **options: object
) -> AsyncIterator[list[SharedQuotaState]]:
    """``count`` gateway processes' quota states (one event loop stands in for them)."""
    states = [
        SharedQuotaState(RedisQuotaState.from_url(server.url), timeout=0.3, **options)  # type: ignore[arg-type]
        for _ in range(count)
    ]
    for _ in range(2):  # the second round sees every member
        for state in states:
            await state.beat()
    try:
        yield states
    finally:
        for state in states:
            server.resume()
            await state.stop()
            await state.shared.aclose()


async def _admitted(state: SharedQuotaState, attempts: int) -> int:
    granted = 0
    for _ in range(attempts):
        result = await state.acquire("m", PROJECT, 1, time.time())
        granted += isinstance(result, Grant)
    return granted


def test_share_of_divides_every_limit_and_keeps_at_least_one() -> None:
    assert share_of(Limits(rpm=90, tpm=1000, rpd=5), 3) == Limits(rpm=30, tpm=333, rpd=1)
    assert share_of(Limits(rpm=2), 8) == Limits(rpm=1)
    assert share_of(None, 3) is None and share_of(Limits(rpm=9), 1) == Limits(rpm=9)


async def test_a_paused_redis_falls_back_to_a_share_then_is_exact_again(server: Server) -> None:
    async with processes(server, 3) as states:
        assert [s.members for s in states] == [3, 3, 3]  # the heartbeat counts the processes
        assert all(s.describe()["shared"] for s in states)

        server.pause()
        during = [await _admitted(s, 40) for s in states]
        assert during == [30, 30, 30]  # each kept serving, at 90 / 3
        assert all(s.degraded and s.describe()["shared"] is False for s in states)
        assert states[0].describe()["local_share"] == "1/3"

        server.resume()
        for state in states:
            await state.beat()  # finds Redis again, replays its 30 admissions
        assert not any(s.degraded for s in states)
        assert await _admitted(states[0], 5) == 0  # the shared window holds all 90
        counted = await states[0].shared._redis.zcard(states[0].shared._base("p", "m") + ":req")
        assert counted == 90


async def test_exact_before_the_pause(server: Server) -> None:
    async with processes(server, 2) as states:
        assert await _admitted(states[0], 60) + await _admitted(states[1], 60) == 90


async def test_fail_closed_refuses_while_redis_is_away(server: Server) -> None:
    async with processes(server, 2, fail_closed=True) as states:
        server.pause()
        result = await states[0].acquire("m", PROJECT, 1, time.time())
        assert not isinstance(result, Grant)
        assert result.reasons == {"p": "shared quota state unavailable (fail_closed)"}
        server.resume()
        await states[0].beat()
        assert await _admitted(states[0], 1) == 1


async def test_cooldowns_and_disabled_keys_survive_an_outage(server: Server) -> None:
    async with processes(server, 2) as (first, second):
        now = time.time()
        await first.cool("p", "m", now + 30, "429 per-minute")
        await first.disable_key("key:0000aaaa", "API_KEY_INVALID")
        assert ("p", "m") in await second.cooldowns(now)  # shared with the other process
        assert "key:0000aaaa" in await second.disabled_keys()
        server.pause()
        await first.cool("p", "m2", now + 30, "local")
        assert ("p", "m2") in await first.cooldowns(now)  # still kept, locally
        assert "key:0000aaaa" in await first.disabled_keys()
