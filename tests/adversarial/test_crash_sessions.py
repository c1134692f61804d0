"""kill -9 `gemgate serve` in the middle of a streamed session message, then restart it.

On SQLite and on PostgreSQL the session must come back whole: the turns answered before
the kill, each once, and nothing of the turn that was cut (no user message without its
answer, no half answer); a new turn then works and the history stays consistent. The
same when the workers of a ``--workers 2`` gateway (Redis state) are killed under their
supervisor, which starts new ones without the test's help.
"""

from __future__ import annotations

import json
import os
import signal
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest

from tests.servers import REDIS_URL, need_server

from ._crash_support import Served, postgres_database, served, slow_upstream, storage_url

pytestmark = pytest.mark.anyio
SESSIONS = "/api/v1/sessions"
QUESTION = "Tell me a long story about the lighthouse keeper and the storm, in detail."


async def _storage(stack: AsyncExitStack, kind: str, tmp_path: Path) -> str:
    database = await stack.enter_async_context(postgres_database()) if kind == "pg" else None
    return storage_url("sqlite" if kind == "sqlite" else "pg", tmp_path, database)


async def _events(response: httpx2.Response) -> AsyncIterator[dict[str, Any]]:
    async for line in response.aiter_lines():
        if line.startswith("data: "):
            yield json.loads(line[6:])


async def _stream_then_kill(
    gateway: Served, chat_id: str, kill: Callable[[], None] | None = None
) -> list[str]:
    """Start a streamed turn; kill -9 the gateway once its answer has begun to arrive."""
    seen: list[str] = []
    async with (
        httpx2.AsyncClient(base_url=gateway.url, timeout=30) as http,
        http.stream(
            "POST", f"{SESSIONS}/{chat_id}/messages", json={"content": QUESTION, "stream": True}
        ) as response,
    ):
        assert response.status_code == 200
        try:
            async for event in _events(response):
                seen.append(str(event.get("type")))
                if len(seen) >= 2:
                    (kill or gateway.kill)()
                    break
        except httpx2.TransportError:
            pass
    return seen


def _consistent(session: dict[str, Any]) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = session["messages"]
    roles = [m["role"] for m in messages]
    assert roles == ["user", "model"] * (len(roles) // 2), roles  # whole turns only
    assert session["message_count"] == len(messages)
    return messages


@pytest.mark.parametrize("kind", ["sqlite", "pg"])
async def test_crash_mid_stream_keeps_whole_turns_and_the_session_usable(
    tmp_path: Path, kind: str
) -> None:
    async with AsyncExitStack() as stack:
        url = await _storage(stack, kind, tmp_path)
        upstream = await stack.enter_async_context(slow_upstream())
        gateway = await stack.enter_async_context(served(tmp_path, upstream, {"sessions_url": url}))
        async with httpx2.AsyncClient(base_url=gateway.url, timeout=60) as http:
            chat = (await http.post(SESSIONS, json={"title": "crash"})).json()
            first = await http.post(f"{SESSIONS}/{chat['id']}/messages", json={"content": "Hi!"})
            assert first.status_code == 200
        seen = await _stream_then_kill(gateway, chat["id"])
        assert "final_answer" not in seen, seen  # killed mid-answer

        await gateway.restart()
        async with httpx2.AsyncClient(base_url=gateway.url, timeout=60) as http:
            before = _consistent((await http.get(f"{SESSIONS}/{chat['id']}")).json())
            assert before[0]["parts"] == [{"text": "Hi!"}]
            assert len(before) == 2, "the cut turn was stored"
            again = await http.post(
                f"{SESSIONS}/{chat['id']}/messages", json={"content": "Still there?"}
            )
            assert again.status_code == 200, again.text
            after = _consistent((await http.get(f"{SESSIONS}/{chat['id']}")).json())
            assert len(after) == len(before) + 2
            assert after[-2]["parts"] == [{"text": "Still there?"}]
            assert after[:-2] == before  # nothing duplicated or rewritten


async def test_crash_of_every_worker_mid_stream_under_the_supervisor(tmp_path: Path) -> None:
    need_server("Redis", 6379)
    storage = {"sessions_url": f"sqlite:///{tmp_path}/gemgate.db", "state_url": REDIS_URL}
    async with AsyncExitStack() as stack:
        upstream = await stack.enter_async_context(slow_upstream())
        gateway = await stack.enter_async_context(served(tmp_path, upstream, storage, workers=2))
        async with httpx2.AsyncClient(base_url=gateway.url, timeout=60) as http:
            chat = (await http.post(SESSIONS, json={"title": "workers"})).json()
            first = await http.post(f"{SESSIONS}/{chat['id']}/messages", json={"content": "Hi!"})
            assert first.status_code == 200
        workers = gateway.worker_pids()
        assert len(workers) == 2, workers

        def kill_workers() -> None:
            for pid in workers:
                os.kill(pid, signal.SIGKILL)

        seen = await _stream_then_kill(gateway, chat["id"], kill_workers)
        assert "final_answer" not in seen, seen
        async with httpx2.AsyncClient(base_url=gateway.url, timeout=60) as http:
            with anyio.fail_after(60):  # the supervisor starts two new workers
                while True:
                    try:
                        if (await http.get("/healthz")).status_code == 200:
                            break
                    except httpx2.TransportError:
                        pass
                    await anyio.sleep(0.1)
            assert gateway.proc is not None and gateway.proc.poll() is None
            assert not set(gateway.worker_pids()) & set(workers)
            before = _consistent((await http.get(f"{SESSIONS}/{chat['id']}")).json())
            assert len(before) == 2, "the cut turn was stored"
            again = await http.post(
                f"{SESSIONS}/{chat['id']}/messages", json={"content": "Still there?"}
            )
            assert again.status_code == 200, again.text
            after = _consistent((await http.get(f"{SESSIONS}/{chat['id']}")).json())
            assert after[:-2] == before and len(after) == 4
