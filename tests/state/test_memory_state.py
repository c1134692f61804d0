from __future__ import annotations

import pytest

from gemgate.policy._windows import MINUTE
from gemgate.projects import Limits
from gemgate.state._base import Candidate, Grant, Shortage
from gemgate.state._memory import MemoryQuotaState, MemoryResponseCache

pytestmark = pytest.mark.anyio

T0 = 1_750_000_000.0
ONE_RPM = Limits(rpm=1)


def grant_of(result: Grant | Shortage) -> str:
    assert isinstance(result, Grant), result
    return result.project


def shortage_of(result: Grant | Shortage) -> Shortage:
    assert isinstance(result, Shortage), result
    return result


async def test_acquire_picks_the_first_candidate_with_room() -> None:
    state = MemoryQuotaState()
    candidates = [Candidate("a", ONE_RPM), Candidate("b", ONE_RPM), Candidate("c", ONE_RPM)]
    assert grant_of(await state.acquire("m", candidates, 1, T0)) == "a"
    assert grant_of(await state.acquire("m", candidates, 1, T0 + 1.0)) == "b"
    assert grant_of(await state.acquire("m", candidates[::-1], 1, T0 + 2.0)) == "c"

    shortage = shortage_of(await state.acquire("m", candidates, 1, T0 + 3.0))
    assert shortage.retry_at == T0 + MINUTE  # "a" frees up first
    assert shortage.reasons == {
        "a": f"rpm until {T0 + MINUTE:.3f}",
        "b": f"rpm until {T0 + 1.0 + MINUTE:.3f}",
        "c": f"rpm until {T0 + 2.0 + MINUTE:.3f}",
    }
    assert grant_of(await state.acquire("m", candidates, 1, T0 + MINUTE)) == "a"


async def test_windows_are_per_model() -> None:
    state = MemoryQuotaState()
    only = [Candidate("a", ONE_RPM)]
    assert grant_of(await state.acquire("flash", only, 1, T0)) == "a"
    assert grant_of(await state.acquire("pro", only, 1, T0)) == "a"
    assert isinstance(await state.acquire("flash", only, 1, T0), Shortage)


async def test_a_cooling_project_is_skipped() -> None:
    state = MemoryQuotaState()
    candidates = [Candidate("a", None), Candidate("b", ONE_RPM)]
    await state.cool("a", "m", T0 + 30.0, "429 per-minute")
    assert grant_of(await state.acquire("m", candidates, 1, T0)) == "b"

    shortage = shortage_of(await state.acquire("m", candidates, 1, T0 + 1.0))
    assert shortage.retry_at == T0 + 30.0  # the cooldown ends before b's minute
    assert shortage.reasons == {
        "a": f"429 per-minute until {T0 + 30.0:.3f}",
        "b": f"rpm until {T0 + MINUTE:.3f}",
    }
    assert grant_of(await state.acquire("m", candidates, 1, T0 + 30.0)) == "a"


async def test_cooling_is_per_model() -> None:
    state = MemoryQuotaState()
    await state.cool("a", "flash", T0 + 30.0, "429")
    assert grant_of(await state.acquire("pro", [Candidate("a", None)], 1, T0)) == "a"


async def test_all_cooled_reports_the_earliest_end_and_every_reason() -> None:
    state = MemoryQuotaState()
    await state.cool("a", "m", T0 + 50.0, "daily")
    await state.cool("b", "m", T0 + 20.0, "minute")
    candidates = [Candidate("a", None), Candidate("b", None)]
    shortage = shortage_of(await state.acquire("m", candidates, 1, T0))
    assert shortage.retry_at == T0 + 20.0
    assert set(shortage.reasons) == {"a", "b"}
    assert shortage.reasons["a"].startswith("daily")
    assert shortage.reasons["b"].startswith("minute")


async def test_no_candidates_is_a_shortage_with_no_end() -> None:
    shortage = shortage_of(await MemoryQuotaState().acquire("m", [], 1, T0))
    assert shortage == Shortage(None, {})


async def test_no_limits_always_admits() -> None:
    state = MemoryQuotaState()
    only = [Candidate("free", None)]
    for i in range(500):
        assert grant_of(await state.acquire("m", only, 1_000_000, T0 + i * 0.001)) == "free"


async def test_cool_keeps_the_later_cooldown() -> None:
    state = MemoryQuotaState()
    await state.cool("a", "m", T0 + 50.0, "first")
    await state.cool("a", "m", T0 + 20.0, "shorter")
    assert await state.cooldowns(T0) == {("a", "m"): (T0 + 50.0, "first")}
    await state.cool("a", "m", T0 + 80.0, "longer")
    assert await state.cooldowns(T0) == {("a", "m"): (T0 + 80.0, "longer")}


async def test_cooldowns_drop_expired_ones() -> None:
    state = MemoryQuotaState()
    await state.cool("a", "m", T0 + 10.0, "short")
    await state.cool("b", "m", T0 + 60.0, "long")
    assert set(await state.cooldowns(T0)) == {("a", "m"), ("b", "m")}
    assert await state.cooldowns(T0 + 10.0) == {("b", "m"): (T0 + 60.0, "long")}
    assert await state.cooldowns(T0 + 60.0) == {}


async def test_disable_key() -> None:
    state = MemoryQuotaState()
    assert await state.disabled_keys() == frozenset()
    await state.disable_key("key:0000aaaa", "API_KEY_INVALID")
    await state.disable_key("key:1111bbbb", "403")
    await state.disable_key("key:0000aaaa", "again")
    assert await state.disabled_keys() == frozenset({"key:0000aaaa", "key:1111bbbb"})


async def test_reconcile_ignores_foreign_tickets() -> None:
    state = MemoryQuotaState()
    await state.reconcile("m", Grant("a", ticket=object()), 10)  # e.g. another backend's
    assert grant_of(await state.acquire("m", [Candidate("a", Limits(tpm=5))], 5, T0)) == "a"


# --- response cache -----------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_cache_evicts_the_least_recently_used() -> None:
    cache = MemoryResponseCache(max_size=2, ttl=None, clock=Clock())
    await cache.set("a", b"A")
    await cache.set("b", b"B")
    assert await cache.get("a") == b"A"  # "a" is now the most recent
    await cache.set("c", b"C")
    assert len(cache) == 2
    assert await cache.get("b") is None
    assert await cache.get("a") == b"A"
    assert await cache.get("c") == b"C"


async def test_cache_set_refreshes_recency_and_value() -> None:
    cache = MemoryResponseCache(max_size=2, ttl=None, clock=Clock())
    await cache.set("a", b"1")
    await cache.set("b", b"B")
    await cache.set("a", b"2")
    await cache.set("c", b"C")
    assert await cache.get("a") == b"2"
    assert await cache.get("b") is None


async def test_cache_ttl_expiry() -> None:
    clock = Clock()
    cache = MemoryResponseCache(max_size=10, ttl=10.0, clock=clock)
    await cache.set("k", b"v")
    clock.now += 9.999
    assert await cache.get("k") == b"v"
    clock.now += 0.001
    assert await cache.get("k") is None
    assert len(cache) == 0


async def test_cache_set_restarts_the_ttl() -> None:
    clock = Clock()
    cache = MemoryResponseCache(max_size=10, ttl=10.0, clock=clock)
    await cache.set("k", b"old")
    clock.now += 8.0
    await cache.set("k", b"new")
    clock.now += 8.0
    assert await cache.get("k") == b"new"


async def test_cache_without_ttl_never_expires() -> None:
    clock = Clock()
    cache = MemoryResponseCache(max_size=10, ttl=None, clock=clock)
    await cache.set("k", b"v")
    clock.now += 1e9
    assert await cache.get("k") == b"v"


async def test_cache_clear() -> None:
    cache = MemoryResponseCache(max_size=10, ttl=None, clock=Clock())
    await cache.set("a", b"A")
    await cache.set("b", b"B")
    await cache.clear()
    assert len(cache) == 0
    assert await cache.get("a") is None
