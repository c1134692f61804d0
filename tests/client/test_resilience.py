"""The acceptance scenarios of the upstream core, against an emulator on 127.0.0.1."""

from __future__ import annotations

import asyncio

import pytest

from gemgate.errors import BadRequestError, QuotaExhausted, StreamInterrupted
from gemgate.policy._windows import next_pacific_midnight

from .conftest import MODEL, Start, projects

pytestmark = pytest.mark.anyio


async def test_sixty_at_once_over_three_projects_stay_under_rpm(live: Start) -> None:
    config = projects(3, rpm=10)
    emu = await live(config)
    start = emu.clock.now
    async with emu.client(config) as g:
        results = await asyncio.gather(
            *(g.generate_content(f"question {i}", model=MODEL) for i in range(60))
        )
    assert all(r["candidates"][0]["content"]["parts"][0]["text"] for r in results)
    stats = await emu.stats()
    for name in ("proj-0", "proj-1", "proj-2"):
        assert stats["projects"][name]["admitted"] == 20
        assert stats["projects"][name]["rate_limited"] == 0
    elapsed = emu.clock.now - start
    assert 60 <= elapsed < 120  # two windows of 30, and no real minute was waited


async def test_retry_info_is_honoured(live: Start) -> None:
    config = projects(1, keys=1)
    emu = await live(config)
    await emu.faults({"kind": "status", "status": 429, "retry_delay": "2.5s", "times": 1})
    start = emu.clock.now
    async with emu.client(config) as g:
        result = await g.generate_content("hello", model=MODEL)
    assert result["candidates"]
    assert 2.5 <= emu.clock.now - start < 4
    stats = await emu.stats()
    assert stats["totals"]["requests"] == 2 and stats["totals"]["admitted"] == 1


async def test_daily_quota_parks_until_pacific_midnight(live: Start) -> None:
    emu = await live(projects(1, keys=2, rpd=1))
    async with emu.client(projects(1, keys=2)) as g:  # the client does not know the limit
        await g.generate_content("first", model=MODEL)
        with pytest.raises(QuotaExhausted) as excinfo:
            await g.generate_content("second", model=MODEL)
    assert excinfo.value.until == next_pacific_midnight(emu.clock.now)
    assert "per-day quota" in str(excinfo.value)
    stats = await emu.stats()
    assert stats["totals"]["rate_limited"] == 1  # parked after one 429: the 2nd key was spared


async def test_daily_quota_moves_to_another_project(live: Start) -> None:
    emu = await live(
        [
            {"name": "a", "keys": ["ka"], "limits": {MODEL: {"rpd": 1}}},
            {"name": "b", "keys": ["kb"]},
        ]
    )
    async with emu.client([{"name": "a", "keys": ["ka"]}, {"name": "b", "keys": ["kb"]}]) as g:
        for i in range(5):
            await g.generate_content(f"call {i}", model=MODEL)
    stats = await emu.stats()
    assert stats["projects"]["a"]["admitted"] == 1
    assert stats["projects"]["b"]["admitted"] == 4
    assert stats["projects"]["a"]["rate_limited"] == 1


async def test_503_three_times_then_success(live: Start) -> None:
    config = projects(1, keys=1)
    emu = await live(config)
    await emu.faults({"kind": "status", "status": 503, "times": 3})
    async with emu.client(config) as g:
        result = await g.generate_content("persist", model=MODEL)
        history = list(g.get_request_history().values())
    assert result["candidates"]
    assert len(history) == 1 and history[0]["attempts"] == 4 and history[0]["status"] == "success"
    assert (await emu.stats())["totals"]["faults"] == 3


async def test_400_is_not_retried(live: Start) -> None:
    config = projects(1, keys=1)
    emu = await live(config)
    async with emu.client(config) as g:
        with pytest.raises(BadRequestError) as excinfo:
            await g.generate_content("x", model=MODEL, temperature=5)
        history = list(g.get_request_history().values())
    assert excinfo.value.status == "INVALID_ARGUMENT"
    assert history[0]["attempts"] == 1 and history[0]["status"] == "error"


async def test_invalid_key_is_disabled_and_others_carry_on(live: Start) -> None:
    emu = await live([{"name": "p", "keys": ["good-1", "good-2"]}])
    async with emu.client([{"name": "p", "keys": ["revoked", "good-1", "good-2"]}]) as g:
        for i in range(6):
            await g.generate_content(f"call {i}", model=MODEL)
        history = list(g.get_request_history().values())
    from gemgate.projects import fingerprint

    used = [h["key"] for h in history]
    assert fingerprint("revoked") not in used
    assert {fingerprint("good-1"), fingerprint("good-2")} == set(used)
    assert sum(h["attempts"] for h in history) == 7  # one wasted attempt, ever


async def test_every_key_invalid_is_quota_exhausted(live: Start) -> None:
    emu = await live([{"name": "p", "keys": ["only-good"]}])
    async with emu.client([{"name": "p", "keys": ["bad-1", "bad-2"]}]) as g:
        with pytest.raises(QuotaExhausted, match="disabled"):
            await g.generate_content("x", model=MODEL)


async def test_midstream_error_is_stream_interrupted(live: Start) -> None:
    config = projects(1, keys=1)
    emu = await live(config)
    await emu.faults({"kind": "midstream", "after_chunks": 2, "status": 500})
    got: list[object] = []
    async with emu.client(config) as g:
        with pytest.raises(StreamInterrupted) as excinfo:
            async for chunk in g.stream_generate_content("a long story please", model=MODEL):
                got.append(chunk)
    assert len(got) == 2
    assert excinfo.value.received == got
    assert "500" in str(excinfo.value)
    stats = await emu.stats()
    assert stats["totals"]["requests"] == 1  # never replayed


async def test_dropped_connection_mid_stream_is_not_silent(live: Start) -> None:
    config = projects(1, keys=1)
    emu = await live(config)
    await emu.faults({"kind": "malformed", "method": "streamGenerateContent"})
    async with emu.client(config) as g:
        with pytest.raises(StreamInterrupted):
            async for _ in g.stream_generate_content("story", model=MODEL):
                pass


async def test_token_usage_matches_emulator_and_cache_hits_once(live: Start) -> None:
    config = projects(1, keys=1)
    emu = await live(config)
    async with emu.client(config, cache=True, cache_max_size=10) as g:
        totals = {"prompt": 0, "total": 0}
        for prompt in ("alpha", "beta beta", "gamma gamma gamma"):
            result = await g.generate_content(prompt, model=MODEL)
            totals["prompt"] += result["usageMetadata"]["promptTokenCount"]
            totals["total"] += result["usageMetadata"]["totalTokenCount"]
        async for chunk in g.stream_generate_content("delta", model=MODEL):
            last = chunk
        totals["prompt"] += last["usageMetadata"]["promptTokenCount"]
        totals["total"] += last["usageMetadata"]["totalTokenCount"]
        usage = g.get_token_usage()
        assert (usage["prompt_tokens"], usage["total_tokens"]) == (
            totals["prompt"],
            totals["total"],
        )
        before = (await emu.stats())["totals"]["requests"]
        first = await g.generate_content("What is the speed of light?", model=MODEL)
        second = await g.generate_content("What is the speed of light?", model=MODEL)
        assert first == second
        assert (await emu.stats())["totals"]["requests"] == before + 1
        await g.clear_cache()
        await g.generate_content("What is the speed of light?", model=MODEL)
        assert (await emu.stats())["totals"]["requests"] == before + 2
        g.reset_token_usage()
        assert g.get_token_usage()["total_tokens"] == 0
