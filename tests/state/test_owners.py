"""The ``OwnerStore`` contract (resource → owning project), run on every implementation."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from gemgate.state import MemoryOwners, OwnerStore

pytestmark = pytest.mark.anyio

STORES: dict[str, Callable[[int], OwnerStore]] = {"memory": MemoryOwners}


@pytest.fixture(params=sorted(STORES))
def make(request: pytest.FixtureRequest) -> Callable[[int], OwnerStore]:
    return STORES[request.param]


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
