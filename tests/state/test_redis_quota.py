"""`RedisQuotaState` on the machine's Redis: the memory state's rules, exact across processes.

Windows are measured by the server's clock, so these tests use the real time and age a
window by moving its members' scores back, instead of waiting a minute.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import random
import time
import uuid
from collections.abc import AsyncIterator
from multiprocessing.synchronize import Barrier

import pytest
import redis.asyncio as aioredis
from tests.servers import REDIS_URL, need_server

from gemgate.projects import Limits, next_pacific_midnight
from gemgate.state._base import Candidate, Grant, Shortage
from gemgate.state._redis import RedisQuotaState, RedisResponseCache, midnights

pytestmark = pytest.mark.anyio


@pytest.fixture
async def state() -> AsyncIterator[RedisQuotaState]:
    need_server("Redis", 6379)
    quota = RedisQuotaState.from_url(REDIS_URL, prefix=f"gemgate-test-{uuid.uuid4().hex[:8]}:")
    yield quota
    await quota.clear()
    await quota.aclose()


async def _age(state: RedisQuotaState, project: str, model: str, seconds: float) -> None:
    """Move every counted request of (project, model) ``seconds`` into the past."""
    key = state._base(project, model) + ":req"
    redis = state._redis
    for member, score in await redis.zrange(key, 0, -1, withscores=True):
        await redis.zadd(key, {member: score - seconds})


def _grant(result: Grant | Shortage) -> str:
    assert isinstance(result, Grant), result
    return result.project


def _shortage(result: Grant | Shortage) -> Shortage:
    assert isinstance(result, Shortage), result
    return result


async def test_first_candidate_with_room_then_a_shortage_with_reasons(
    state: RedisQuotaState,
) -> None:
    one = Limits(rpm=1)
    candidates = [Candidate("a", one), Candidate("b", one)]
    before = time.time()
    assert _grant(await state.acquire("m", candidates, 1, before)) == "a"
    assert _grant(await state.acquire("m", candidates, 1, before)) == "b"
    shortage = _shortage(await state.acquire("m", candidates, 1, before))
    assert set(shortage.reasons) == {"a", "b"}
    assert all(reason.startswith("rpm until ") for reason in shortage.reasons.values())
    assert shortage.retry_at is not None and before + 59 < shortage.retry_at < time.time() + 61
    assert _grant(await state.acquire("other-model", candidates, 1, before)) == "a"
    await _age(state, "a", "m", 61)
    assert _grant(await state.acquire("m", candidates, 1, time.time())) == "a"


async def test_tpm_counts_reconciled_tokens(state: RedisQuotaState) -> None:
    only = [Candidate("p", Limits(tpm=100))]
    first = await state.acquire("m", only, 60, time.time())
    assert isinstance(first, Grant)
    assert isinstance(await state.acquire("m", only, 50, time.time()), Shortage)
    await state.reconcile("m", first, 30)  # the real prompt was smaller
    assert _grant(await state.acquire("m", only, 50, time.time())) == "p"
    assert isinstance(await state.acquire("m", only, 21, time.time()), Shortage)
    assert _grant(await state.acquire("m", only, 20, time.time())) == "p"
    await _age(state, "p", "m", 61)  # expired requests free their tokens
    assert _grant(await state.acquire("m", only, 100, time.time())) == "p"


async def test_spent_tokens_count_against_tpm_but_make_no_request(
    state: RedisQuotaState,
) -> None:
    only = [Candidate("p", Limits(rpm=3, tpm=100))]
    before = time.time()
    assert _grant(await state.acquire("m", only, 0, before)) == "p"  # the connection
    await state.spend("p", "m", 70, before)
    await state.spend("p", "m", 20, before)
    counts = (await state.usage(time.time()))[("p", "m")]
    assert (counts.requests, counts.tokens) == (1, 90)
    shortage = _shortage(await state.acquire("m", only, 20, time.time()))
    assert shortage.reasons["p"].startswith("tpm until ")
    assert shortage.retry_at is not None and before + 59 < shortage.retry_at < time.time() + 61
    assert _grant(await state.acquire("m", only, 10, time.time())) == "p"  # 90 + 10 fits
    use = state._base("p", "m") + ":use"
    for member, score in await state._redis.zrange(use, 0, -1, withscores=True):
        await state._redis.zadd(use, {member: score - 61})  # the spends leave the minute
    assert _grant(await state.acquire("m", only, 90, time.time())) == "p"  # their tokens freed
    counts = (await state.usage(time.time()))[("p", "m")]
    assert (counts.requests, counts.tokens) == (3, 100)


async def test_rpd_ends_at_the_pacific_midnight(state: RedisQuotaState) -> None:
    only = [Candidate("p", Limits(rpd=2))]
    for _ in range(2):
        assert _grant(await state.acquire("m", only, 1, time.time())) == "p"
    await _age(state, "p", "m", 3600)  # the minute has passed, the day has not
    shortage = _shortage(await state.acquire("m", only, 1, time.time()))
    assert shortage.retry_at == next_pacific_midnight(time.time())
    assert shortage.reasons["p"].startswith("rpd until ")


def test_midnights_cover_a_day_either_side() -> None:
    now = time.time()
    first, second, third = midnights(now)
    assert first <= now < second < third and second == next_pacific_midnight(now)


async def test_cooldowns_skip_keep_the_later_and_report(state: RedisQuotaState) -> None:
    now = time.time()
    candidates = [Candidate("a", None), Candidate("b", None)]
    await state.cool("a", "m", now + 30, "429 per-minute")
    await state.cool("a", "m", now + 10, "shorter")  # the later one stays
    assert _grant(await state.acquire("m", candidates, 1, now)) == "b"
    await state.cool("b", "m", now + 20, "daily")
    shortage = _shortage(await state.acquire("m", candidates, 1, now))
    assert shortage.retry_at == pytest.approx(now + 20, abs=0.01)
    assert shortage.reasons["a"].startswith("429 per-minute until")
    cooling = await state.cooldowns(time.time())
    assert cooling == {
        ("a", "m"): (pytest.approx(now + 30), "429 per-minute"),
        ("b", "m"): (pytest.approx(now + 20), "daily"),
    }
    assert await state.cooldowns(now + 25) == {
        ("a", "m"): (pytest.approx(now + 30), "429 per-minute")
    }


async def test_disabled_keys_keep_their_first_reason(state: RedisQuotaState) -> None:
    assert await state.disabled_keys() == frozenset()
    await state.disable_key("key:0000aaaa", "API_KEY_INVALID")
    await state.disable_key("key:0000aaaa", "again")
    await state.disable_key("key:1111bbbb", "403")
    assert await state.disabled_keys() == frozenset({"key:0000aaaa", "key:1111bbbb"})
    assert (await state.disabled_reasons())["key:0000aaaa"] == "API_KEY_INVALID"


async def test_no_limits_and_no_candidates(state: RedisQuotaState) -> None:
    for _ in range(50):
        assert _grant(await state.acquire("m", [Candidate("free", None)], 10**6, time.time()))
    assert await state.acquire("m", [], 1, time.time()) == Shortage(None, {})


# --- many processes against one Redis -------------------------------------------------------

PROCESSES = 8
ATTEMPTS = 40  # per process, all at once: 320 against a limit of 100


async def _naive_acquire(redis: aioredis.Redis, key: str, limit: int) -> bool:
    """The race a shared counter must not have: read, decide, then write."""
    count = int(await redis.get(key) or 0)
    if count >= limit:
        return False
    await redis.incr(key)
    return True


async def _contend(kind: str, prefix: str, sizes: list[int], barrier: Barrier) -> list[int]:
    redis = aioredis.from_url(REDIS_URL, decode_responses=True)
    state = RedisQuotaState(redis, prefix=prefix)
    limits = Limits(rpm=100) if kind == "rpm" else Limits(tpm=5_000)
    await redis.ping()  # connected before the start
    barrier.wait()

    async def one(size: int) -> int:
        if kind == "naive":
            return size if await _naive_acquire(redis, prefix + "naive", 100) else -size
        result = await state.acquire("m", [Candidate("p", limits)], size, time.time())
        return size if isinstance(result, Grant) else -size

    try:
        return list(await asyncio.gather(*(one(size) for size in sizes)))
    finally:
        await redis.aclose()


def _worker(kind: str, prefix: str, sizes: list[int], barrier: Barrier, out: object) -> None:
    out.put(asyncio.run(_contend(kind, prefix, sizes, barrier)))  # type: ignore[attr-defined]


def _race(kind: str, sizes: list[list[int]]) -> list[int]:
    """Run one process per size list, released together; every outcome (+admitted, -refused)."""
    need_server("Redis", 6379)
    prefix = f"gemgate-test-{uuid.uuid4().hex[:8]}:"
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(len(sizes))
    out = context.Queue()
    workers = [context.Process(target=_worker, args=(kind, prefix, s, barrier, out)) for s in sizes]
    for worker in workers:
        worker.start()
    results = [out.get(timeout=60) for _ in workers]
    for worker in workers:
        worker.join(timeout=10)
        assert worker.exitcode == 0
    asyncio.run(_forget(prefix))
    return [outcome for result in results for outcome in result]


async def _forget(prefix: str) -> None:
    redis = aioredis.from_url(REDIS_URL)
    async for key in redis.scan_iter(match=f"{prefix}*"):
        await redis.delete(key)
    await redis.aclose()


def test_eight_processes_admit_exactly_the_rpm() -> None:
    outcomes = _race("rpm", [[1] * ATTEMPTS] * PROCESSES)
    assert sum(1 for o in outcomes if o > 0) == 100
    assert len(outcomes) == PROCESSES * ATTEMPTS


def test_eight_processes_admit_exactly_the_tpm_with_varied_sizes() -> None:
    rng = random.Random(7)
    sizes = [[rng.randint(1, 200) for _ in range(ATTEMPTS)] for _ in range(PROCESSES)]
    outcomes = _race("tpm", sizes)
    admitted = sum(o for o in outcomes if o > 0)
    refused = [-o for o in outcomes if o < 0]
    assert admitted <= 5_000  # never over
    assert refused and all(admitted + size > 5_000 for size in refused)  # none refused with room


def test_the_naive_counter_over_admits() -> None:
    """The negative control: the same race on GET-then-INCR admits more than the limit."""
    outcomes = _race("naive", [[1] * ATTEMPTS] * PROCESSES)
    assert sum(1 for o in outcomes if o > 0) > 100


# --- the shared response cache --------------------------------------------------------------


@pytest.fixture
async def bytes_redis() -> AsyncIterator[aioredis.Redis]:
    need_server("Redis", 6379)
    client = aioredis.from_url(REDIS_URL)
    yield client
    await client.aclose()


async def test_response_cache_is_bounded_and_expires(bytes_redis: aioredis.Redis) -> None:
    prefix = f"gemgate-test-{uuid.uuid4().hex[:8]}:"
    cache = RedisResponseCache(bytes_redis, prefix=prefix, max_size=2, ttl=0.3)
    await cache.set("a", b"\x00A")
    await cache.set("b", b"B")
    assert await cache.get("a") == b"\x00A"  # bytes as they were; "a" is now the most recent
    await cache.set("c", b"C")
    assert await cache.get("b") is None and await cache.get("c") == b"C"
    other = RedisResponseCache(bytes_redis, prefix=prefix, max_size=2, ttl=0.3)
    assert await other.get("a") == b"\x00A"  # another process sees the same cache
    await asyncio.sleep(0.35)
    assert await cache.get("a") is None and await cache.get("c") is None
    await cache.set("d", b"D")
    await cache.clear()
    assert await other.get("d") is None
