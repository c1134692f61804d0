"""The state a process uses: its own memory, or Redis shared with every other process."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gemgate.state._base import OwnerStore, QuotaState, ResponseCache
from gemgate.state._memory import MemoryOwners, MemoryQuotaState, MemoryResponseCache

if TYPE_CHECKING:
    from gemgate.state._shared import SharedQuotaState
    from gemgate.state._spend import Spend

__all__ = ["State", "open_state"]


@dataclass
class State:
    """Quota windows and cooldowns, resource owners, the response cache (if any), spending."""

    quota: QuotaState
    owners: OwnerStore
    cache: ResponseCache | None
    spend: Spend
    """What each gateway key has spent, per budget period."""
    sharing: SharedQuotaState | None = None
    """The Redis-shared quota state and its heartbeat (None: this process's memory)."""
    clients: tuple[Any, ...] = ()
    """Redis connection pools to close."""

    async def start(self) -> None:
        """Join the membership now (a server calls it at startup), not at the first call."""
        if self.sharing is not None:
            await self.sharing.start()

    async def aclose(self) -> None:
        """Stop the heartbeat and close the Redis connections."""
        if self.sharing is not None:
            await self.sharing.stop()
        for client in self.clients:
            await client.aclose()


def open_state(
    url: str | None,
    *,
    fail_closed: bool = False,
    prefix: str = "gemgate:",
    cache_size: int | None = None,
    cache_ttl: float | None = None,
    clock: Callable[[], float],
) -> State:
    """Memory (``url`` None) or Redis (``redis://…``, ``rediss://…``, ``unix://…``)."""
    from gemgate.state._spend import MemorySpend

    if url is None:
        memory = MemoryResponseCache(cache_size, cache_ttl, clock) if cache_size else None
        return State(MemoryQuotaState(), MemoryOwners(), memory, MemorySpend())
    if not url.startswith(("redis://", "rediss://", "unix://")):
        raise ValueError(f"state_url must be a redis:// URL, not {url.split('://')[0]}://…")
    try:
        import redis.asyncio as aioredis
    except ImportError:
        raise ImportError(
            "a redis:// state_url needs redis-py: pip install 'gemgate[redis]'"
        ) from None
    from gemgate.state._redis import (
        RedisOwners,
        RedisQuotaState,
        RedisResponseCache,
        RedisSpend,
    )
    from gemgate.state._shared import SharedQuotaState

    text = aioredis.from_url(url, decode_responses=True, socket_connect_timeout=1.0)
    quota = SharedQuotaState(
        RedisQuotaState(text, prefix=prefix), fail_closed=fail_closed, clock=clock
    )
    owners = RedisOwners(text, prefix=prefix)
    cache: ResponseCache | None = None
    clients: tuple[Any, ...] = (text,)
    if cache_size:  # cached answers are bytes: a pool that does not decode
        raw = aioredis.from_url(url, socket_connect_timeout=1.0)
        cache = RedisResponseCache(raw, prefix=prefix, max_size=cache_size, ttl=cache_ttl)
        clients += (raw,)
    spend = RedisSpend(text, prefix=prefix)
    return State(quota, owners, cache, spend, sharing=quota, clients=clients)
