"""Live sessions across dropped connections: a completed tool call is never run again.

A turn that calls a tool is cut (the emulator drops the connection after ``n`` server
messages, for every ``n`` that lands during the turn). `LiveSession` reconnects and
resends the turn; the server calls the tool again for it, and gemgate must answer with
the result it already has instead of running the tool a second time.

The project's token quota counts a Live session's input tokens as it uses them (the
``usageMetadata`` of each turn), and the connection as one request.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gemgate import AsyncGemini
from gemgate.live import LiveSession, LiveText
from gemgate.tools import tool
from tests.emulator.live_support import KEY, live_emulator

pytestmark = pytest.mark.anyio
LIVE = "BidiGenerateContent"
ASK = "Please use book_table for Paris tonight."


@pytest.mark.parametrize("after", [1, 2, 3, 4])
async def test_outage_live_reconnect_never_reruns_a_completed_tool_call(
    tmp_path: Path, after: int
) -> None:
    booked: list[str] = []

    @tool
    async def book_table(city: str) -> dict[str, Any]:
        """Book a table in a city (not idempotent: each call books another)."""
        booked.append(city)
        return {"city": city, "booking": f"B-{len(booked)}"}

    async with live_emulator(tmp_path) as target:
        client = AsyncGemini(api_key=KEY, base_url=target.base, tls_ca_file=str(target.tls.ca))
        await target.faults({"kind": "drop", "method": LIVE, "after_messages": after, "times": 1})
        async with LiveSession(client, tools=[book_table]) as live:
            events = [e async for e in live.turn(ASK)]
            reconnects = live.reconnects
            again = [e async for e in live.turn("Please use book_table for Rome tonight.")]
        await client.aclose()
    text = "".join(e.text for e in events if isinstance(e, LiveText))
    assert "B-1" in text, (after, reconnects, text)
    assert booked == ["Paris", "Rome"], (after, reconnects)  # each booking ran once
    assert "B-2" in "".join(e.text for e in again if isinstance(e, LiveText))


async def test_outage_live_tokens_are_charged_by_use(tmp_path: Path) -> None:
    limits = {"*": {"rpm": 100, "tpm": 1_000_000}}
    async with live_emulator(tmp_path) as target:
        client = AsyncGemini(
            projects=[{"name": "p", "keys": [KEY], "limits": limits}],
            base_url=target.base,
            tls_ca_file=str(target.tls.ca),
        )
        used = 0
        async with LiveSession(client) as live:
            for n in range(3):
                reply = await live.ask(f"Turn {n}: tell me about the number {n * 7}.")
                used += int((reply.usage or {}).get("prompt_token_count") or 0)
        windows = await client.engine.state.usage(client.engine.clock())
        await client.aclose()
    assert used > 0
    assert sum(w.tokens for w in windows.values()) == used  # the setup itself counts none
    assert sum(w.requests for w in windows.values()) == 1  # one connection, one request
