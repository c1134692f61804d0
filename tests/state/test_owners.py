"""The ``OwnerStore`` contract (resource → owning project), run on every implementation."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable

import pytest
import redis.asyncio as aioredis
from tests.servers import REDIS_URL, need_server

from gemgate.state import MemoryOwners, OwnerStore
from gemgate.state._redis import RedisOwners

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["memory", "redis"])
async def make(request: pytest.FixtureRequest) -> AsyncIterator[Callable[[int], OwnerStore]]:
    if request.param == "memory":
        yield MemoryOwners
        return
    need_server("Redis", 6379)
    client = aioredis.from_url(REDIS_URL, decode_responses=True)
    made: list[RedisOwners] = []

    def redis_owners(bound: int) -> OwnerStore:
        prefix = f"gemgate-test-{uuid.uuid4().hex[:8]}:"
        made.append(RedisOwners(client, prefix=prefix, max_entries=bound))
        return made[-1]

    yield redis_owners
    for owners in made:
        await owners.clear()
    await client.aclose()


async def test_set_get_and_first(make: Callable[[int], OwnerStore]) -> None:
    owners = make(10)
    assert await owners.get("files/a") is None
    await owners.set("files/a", "p1")
    await owners.set("cachedContents/b", "p2")
    assert await owners.get("files/a") == "p1"
    assert await owners.first(["files/x", "cachedContents/b", "files/a"]) == "p2"
    assert await owners.first(["files/x"]) is None
    assert await owners.first([]) is None


async def test_replace_or_keep(make: Callable[[int], OwnerStore]) -> None:
    owners = make(10)
    await owners.set("files/a", "p1")
    await owners.set("files/a", "p2", replace=False)
    assert await owners.get("files/a") == "p1"
    await owners.set("files/a", "p2")
    assert await owners.get("files/a") == "p2"


async def test_bounded_dropping_the_least_recently_used(make: Callable[[int], OwnerStore]) -> None:
    owners = make(3)
    for name in ("files/a", "files/b", "files/c"):
        await owners.set(name, "p")
    assert await owners.get("files/a") == "p"  # a is now the most recently used
    await owners.set("files/d", "p")  # over the bound: b, the least recently used, goes
    assert await owners.get("files/b") is None
    assert [await owners.get(n) for n in ("files/a", "files/c", "files/d")] == ["p"] * 3
    for i in range(100):
        await owners.set(f"files/n{i}", "p")
    kept = [n for i in range(100) if await owners.get(n := f"files/n{i}") is not None]
    assert kept == ["files/n97", "files/n98", "files/n99"]


def test_a_bound_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        MemoryOwners(0)
    with pytest.raises(ValueError, match="at least 1"):
        RedisOwners(aioredis.from_url(REDIS_URL), max_entries=0)
