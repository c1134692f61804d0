"""Dedicated endpoints (own keys, limits, queue) and the per-endpoint circuit breaker."""

from __future__ import annotations

import asyncio

import pytest

from gemgate import AsyncGemini
from gemgate.config import RetrySettings
from gemgate.errors import CircuitOpen, ConnectError, ServerError

from .conftest import MODEL, Start, projects

pytestmark = pytest.mark.anyio


async def test_dedicated_endpoint_uses_its_keys_limits_and_queue(live: Start) -> None:
    emu = await live([*projects(1, keys=1), {"name": "dedicated", "keys": ["ded-key"]}])
    async with emu.client(projects(1, keys=1)) as g:
        endpoint = g.create_endpoint(
            MODEL,
            api_key="ded-key",
            endpoint_name="batch-jobs",
            limits={"rpm": 2},
            max_concurrency=1,
        )
        start = emu.clock.now
        results = await asyncio.gather(
            *(
                g.chat([{"role": "user", "content": f"q{i}"}], model=MODEL, endpoint_id=endpoint)
                for i in range(3)
            )
        )
        assert all(r["choices"][0]["message"]["content"] for r in results)
        assert emu.clock.now - start >= 60  # the third call waited for the endpoint's RPM
        status = g.get_endpoint_status(endpoint)
        assert status["name"] == "batch-jobs" and status["model"] == MODEL
        assert status["request_count"] == 3 and status["error_rate"] == 0.0
        assert status["queue_size"] == 0 and status["active"] is True
        assert [e["id"] for e in g.list_endpoints()] == [endpoint]
        metrics = g.get_endpoint_metrics(endpoint)
        assert metrics["success_rate"] == 1.0 and metrics["requests"] == 3
        await g.generate_content("default route", model=MODEL)
    stats = await emu.stats()
    assert stats["projects"]["dedicated"]["admitted"] == 3
    assert stats["projects"]["proj-0"]["admitted"] == 1


async def test_breaker_opens_after_consecutive_failures(live: Start) -> None:
    config = projects(1, keys=1)
    emu = await live(config)
    await emu.faults({"kind": "status", "status": 503})
    retry = RetrySettings(max_retries=1, breaker_threshold=2, breaker_reset=30.0)
    async with emu.client(config, retry=retry) as g:
        with pytest.raises(ServerError):
            await g.generate_content("first", model=MODEL)
        assert (await emu.stats())["totals"]["requests"] == 2
        await emu.faults()  # the upstream recovers, but the breaker is open: fail fast
        with pytest.raises(CircuitOpen) as caught:
            await g.generate_content("second", model=MODEL)
        assert caught.value.retry_after == pytest.approx(30, abs=1)
        assert (await emu.stats())["totals"]["requests"] == 2  # nothing was sent
        await emu.clock.sleep(30)  # the half-open probe goes, succeeds, closes the breaker
        result = await g.generate_content("third", model=MODEL)
        assert result["candidates"]


@pytest.mark.parametrize(
    ("threshold", "wait"),
    [(2, 30.0), (10, 1.0)],  # opened: the breaker's reset; closed: the next backoff's longest
)
async def test_an_unreachable_upstream_says_when_to_try_again(threshold: int, wait: float) -> None:
    retry = RetrySettings(
        max_retries=1, backoff_base=0.5, breaker_threshold=threshold, breaker_reset=30.0
    )
    async with AsyncGemini(api_key="k", upstream_url="http://127.0.0.1:1", retry=retry) as g:
        with pytest.raises(ConnectError) as caught:
            await g.generate_content("anyone there?", model=MODEL)
    assert caught.value.retry_after == pytest.approx(wait, abs=0.5)
