"""The request log on SQLite and on the machine's PostgreSQL, and prices per model."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import pytest
import sqlalchemy as sa

from gemgate import AsyncGemini
from gemgate.upstream._tracking import CALLER
from gemgate.usage import Price, PriceTable, RequestLog, UsageEntry, entry_of
from gemgate.usage._log import requests
from tests.servers import POSTGRES_URL, need_server

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["sqlite", "postgres"])
async def request_log(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[RequestLog]:
    if request.param == "sqlite":
        log = RequestLog(f"sqlite:///{tmp_path}/usage.db", interval=0.05)
    else:
        need_server("PostgreSQL", 5432)
        log = RequestLog(POSTGRES_URL, interval=0.05)
        await log.flush()
    yield log
    if request.param == "postgres":
        async with log._engine.begin() as conn:
            await conn.execute(sa.delete(requests).where(requests.c.request_id.like("t-%")))
    await log.close()


def _entry(
    caller: str, model: str, tokens: int, cost: float, *, at: float, ok: bool = True
) -> UsageEntry:
    return UsageEntry(
        at=at,
        request_id=f"t-{uuid.uuid4().hex[:8]}",
        caller=caller,
        project="p1" if caller == "team-a" else "p2",
        api_key="key:0000aaaa",
        model=model,
        kind="generate",
        status="success" if ok else "error",
        http_status=200 if ok else 429,
        latency_ms=12.5,
        prompt_tokens=tokens,
        completion_tokens=tokens // 2,
        cached_tokens=tokens // 4,
        thoughts_tokens=1,
        cost_usd=cost,
    )


async def test_summary_groups_and_time_ranges(request_log: RequestLog) -> None:
    marker = f"team-{uuid.uuid4().hex[:6]}"
    now = time.time()
    request_log.record(_entry(marker, "gemini-2.5-flash", 100, 0.5, at=now - 7200))
    request_log.record(_entry(marker, "gemini-2.5-flash", 40, 0.25, at=now - 10))
    request_log.record(_entry(marker, "gemini-2.5-pro", 10, 1.0, at=now - 5, ok=False))
    rows = await request_log.summary(group_by="model", caller=marker)
    assert [(r.group, r.requests, r.errors, r.prompt_tokens) for r in rows] == [
        ("gemini-2.5-pro", 1, 1, 10),  # the most expensive first
        ("gemini-2.5-flash", 2, 0, 140),
    ]
    assert rows[1].completion_tokens == 70 and rows[1].cached_tokens == 35
    assert rows[1].thoughts_tokens == 2 and rows[1].cost_usd == pytest.approx(0.75)
    last_hour = await request_log.summary(start=now - 3600, caller=marker)
    assert len(last_hour) == 1 and last_hour[0].requests == 2 and last_hour[0].group is None
    assert last_hour[0].cost_usd == pytest.approx(1.25)
    assert await request_log.summary(end=now - 7200, caller=marker) == []


async def test_rows_are_written_in_the_background(request_log: RequestLog) -> None:
    marker = f"team-{uuid.uuid4().hex[:6]}"
    request_log.record(_entry(marker, "m", 1, 0.0, at=time.time()))
    for _ in range(100):  # the writer runs every 50 ms here
        if not request_log._buffer:
            break
        await anyio.sleep(0.02)
    assert not request_log._buffer
    newest = await request_log.entries(limit=5)
    assert any(e.caller == marker for e in newest)


def test_prices() -> None:
    table = PriceTable()
    # 1M fresh prompt tokens at $0.30, 1M cached at $0.075, 1M output + 1M thinking at $2.50
    assert table.cost("gemini-2.5-flash", 2_000_000, 1_000_000, 1_000_000, 1_000_000) == (
        pytest.approx(0.30 + 0.075 + 5.0)
    )
    assert table.cost("models/gemini-2.5-flash-lite-preview-06-17", 1_000_000, 0, 0, 0) == (
        pytest.approx(0.10)  # the longest family name wins: lite, not flash
    )
    pro = table.price("gemini-2.5-pro")
    assert pro is not None
    assert pro.cost(300_000, 0, 0, 0) == pytest.approx(0.75)  # the long-context rate
    assert pro.cost(200_000, 0, 0, 0) == pytest.approx(0.25)
    assert table.cost("llama3.2", 10, 10, 0, 0) is None
    assert PriceTable({"llama3.2": Price(0.0, 1.0)}).cost("llama3.2", 5, 1_000_000, 0, 0) == 1.0


def test_batch_prices_are_half_the_interactive_ones() -> None:
    table = PriceTable({"custom": Price(1.0, 2.0, batch_factor=0.25)})
    counts = (2_000_000, 1_000_000, 1_000_000, 1_000_000)
    assert table.cost("gemini-2.5-flash", *counts, batch=True) == pytest.approx(
        (0.30 + 0.075 + 5.0) / 2
    )
    pro = table.price("gemini-2.5-pro")
    assert pro is not None
    assert pro.cost(300_000, 0, 0, 0, batch=True) == pytest.approx(0.375)  # long-context, halved
    assert table.cost("custom", 1_000_000, 1_000_000, 0, 0, batch=True) == pytest.approx(0.75)
    assert table.cost("llama3.2", 10, 10, 0, 0, batch=True) is None


async def test_every_call_of_a_client_is_logged_with_its_caller(tmp_path: Path) -> None:
    request_log = RequestLog(f"sqlite:///{tmp_path}/usage.db")
    prices = PriceTable()
    async with AsyncGemini.emulated() as client:
        client.engine.tracker.listeners.append(lambda r: request_log.record(entry_of(r, prices)))
        await client.generate_content("Hello there", model="gemini-2.5-flash")
        token = CALLER.set("team-a")
        try:
            await client.generate_content("And again", model="gemini-2.5-flash")
        finally:
            CALLER.reset(token)
    rows = {r.group: r for r in await request_log.summary(group_by="key")}
    assert set(rows) == {None, "team-a"}
    team = rows["team-a"]
    assert team.requests == 1 and team.prompt_tokens > 0 and team.completion_tokens > 0
    expected = prices.cost(
        "gemini-2.5-flash", team.prompt_tokens, team.completion_tokens, 0, team.thoughts_tokens
    )
    assert team.cost_usd == pytest.approx(expected)
    (entry,) = [e for e in await request_log.entries() if e.caller == "team-a"]
    assert entry.api_key is not None and entry.api_key.startswith("key:")
    assert entry.status == "success" and entry.latency_ms > 0
    await request_log.close()
