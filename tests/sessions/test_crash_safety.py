"""Crash safety: a process killed mid-turn leaves a consistent chat; a dead server is typed.

The child process runs ``chat_with_tools`` on the built-in emulator (no keys) with a
SQLite chat store. Its first turn completes; in its second turn the tool kills the
process hard, after the model's function call: the turn in flight leaves nothing behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sqlite3
import sys
import textwrap
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import anyio
import pytest

from gemgate import AsyncGemini
from gemgate.sessions import ChatManager, ChatMessage, ChatStorage, StorageUnavailable
from gemgate.tools import FinalAnswer, tool

pytestmark = pytest.mark.anyio

CHILD = textwrap.dedent(
    """
    import asyncio
    import os
    import signal
    import sys

    from gemgate import AsyncGemini
    from gemgate.sessions import ChatManager, ChatStorage
    from gemgate.tools import tool

    DB, HOW = sys.argv[1], sys.argv[2]
    calls = 0


    @tool
    async def get_weather(city: str) -> dict:
        \"\"\"The current weather for a city.\"\"\"
        global calls
        calls += 1
        if calls == 2:
            print("dying", flush=True)
            if HOW == "sigkill":
                os.kill(os.getpid(), signal.SIGKILL)
            os._exit(1)
        return {"city": city, "temperature": "22C"}


    async def turn(client, manager, question):
        async for event in client.chat_with_tools(
            question, tools=[get_weather], chat_id="crash", chat_manager=manager
        ):
            print(event.type, flush=True)


    async def main():
        manager = ChatManager(ChatStorage.from_url(f"sqlite:///{DB}"))
        async with AsyncGemini() as client:
            print("emulated", client.engine.emulated, flush=True)
            await turn(client, manager, "What's the weather in Paris?")
            print("turn 1 done", flush=True)
            await turn(client, manager, "What's the weather in Rome?")
        print("unreachable", flush=True)


    asyncio.run(main())
    """
)


def _is_key_or_setting(name: str) -> bool:
    return name in ("GEMINI_API_KEY", "GOOGLE_API_KEY") or name.startswith(
        ("GEMINI_API_KEY_", "GOOGLE_API_KEY_", "GEMGATE_")
    )


def _child_env() -> dict[str, str]:
    """The environment without keys or gemgate settings, opting in to the emulator."""
    env = {k: v for k, v in os.environ.items() if not _is_key_or_setting(k)}
    return {**env, "GEMGATE_UPSTREAM": "emulator"}


@pytest.fixture
def no_keys(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """This process, too, uses the built-in emulator (no key, no stray ``.env``)."""
    for name in list(os.environ):
        if _is_key_or_setting(name):
            monkeypatch.delenv(name)
    monkeypatch.setenv("GEMGATE_UPSTREAM", "emulator")
    monkeypatch.chdir(tmp_path)


@pytest.mark.parametrize("how", ["sigkill", "exit"])
async def test_a_killed_turn_leaves_every_completed_turn_and_nothing_half_written(
    tmp_path: Path, how: str, no_keys: None
) -> None:
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    db = tmp_path / "chats.db"
    with anyio.fail_after(60):
        done = await anyio.run_process(
            [sys.executable, str(script), str(db), how],
            cwd=tmp_path,  # no stray .env
            env=_child_env(),
            check=False,
        )
    stdout, stderr = done.stdout.decode(), done.stderr.decode()
    assert done.returncode == (-signal.SIGKILL if how == "sigkill" else 1), stderr
    lines = stdout.splitlines()
    assert "turn 1 done" in lines and "dying" in lines and "unreachable" not in lines
    assert lines[: lines.index("turn 1 done")].count("final_answer") == 1
    assert lines[0] == "emulated True"  # no key leaked in: the emulator served

    with contextlib.closing(sqlite3.connect(db)) as raw:  # the file survived the kill intact
        assert raw.execute("PRAGMA integrity_check").fetchone() == ("ok",)

    manager = ChatManager(ChatStorage.from_url(f"sqlite:///{db}"))
    try:
        history = await manager.get_history("crash")
        shape = [(m.role, m.message_type) for m in history]
        assert shape == [
            ("user", "text"),  # turn 1: the question
            ("model", "function_call"),  # the call ...
            ("user", "function_response"),  # ... saved with its answer
            ("model", "text"),  # the final answer
        ]  # turn 2 died in flight: not even its question is stored
        assert history[0].text == "What's the weather in Paris?"
        assert history[1].function_calls[0]["name"] == "get_weather"
        assert history[2].function_responses[0]["response"]["temperature"] == "22C"
        assert "22C" in history[3].text
        for i, message in enumerate(history):  # no call without its answer
            if message.function_calls:
                assert history[i + 1].function_responses
        info = await manager.get_chat("crash")
        assert info.message_count == len(history)  # counters match the rows
        assert info.total_tokens == sum((m.usage or {}).get("total_tokens", 0) for m in history)

        # the chat goes on after the crash
        @tool
        async def get_weather(city: str) -> dict[str, str]:
            """The current weather for a city."""
            return {"city": city, "temperature": "18C"}

        async with AsyncGemini() as client:
            events = [
                e
                async for e in client.chat_with_tools(
                    "What's the weather in Rome?",
                    tools=[get_weather],
                    chat_id="crash",
                    chat_manager=manager,
                )
            ]
        assert isinstance(events[-1], FinalAnswer) and "18C" in events[-1].text
        assert len(await manager.get_history("crash")) == 8
    finally:
        await manager.close()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port  # nothing listens there any more


def _down_storages() -> list[tuple[str, str]]:
    port = _closed_port()
    return [
        ("redis", f"redis://127.0.0.1:{port}/0"),
        ("postgres", f"postgresql://postgres@127.0.0.1:{port}/test"),
    ]


@pytest.mark.parametrize(("kind", "url"), _down_storages(), ids=["redis", "postgres"])
async def test_a_storage_server_that_is_down_is_a_typed_error_quickly(
    kind: str, url: str, no_keys: None
) -> None:
    storage = ChatStorage.from_url(url)
    assert type(storage).__name__ == (
        "RedisChatStorage" if kind == "redis" else "PostgresChatStorage"
    )
    manager = ChatManager(storage)
    attempts: list[Callable[[], Awaitable[object]]] = [
        lambda: manager.create_chat("c"),
        lambda: manager.ensure_chat("c"),
        lambda: manager.get_chat("c"),
        lambda: manager.get_history("c"),
        lambda: manager.contents("c", token_budget=100),
        lambda: manager.append("c", [ChatMessage.user("hi")]),
        lambda: manager.list_chats(),
        lambda: manager.delete_chat("c"),
    ]
    try:
        for attempt in attempts:
            started = time.monotonic()
            with pytest.raises(StorageUnavailable):
                await asyncio.wait_for(attempt(), timeout=10)
            assert time.monotonic() - started < 3

        # the tool loop fails with the same typed error before calling the model
        async with AsyncGemini() as client:
            with pytest.raises(StorageUnavailable):
                async for _ in client.chat_with_tools("Hi", chat_id="c", chat_manager=manager):
                    pass
            assert client.get_token_usage().get("total_tokens", 0) == 0
    finally:
        await manager.close()
