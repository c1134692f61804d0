"""Quota state shared over Redis that keeps serving when Redis does not answer.

While Redis answers, every decision is the Redis state's (exact across processes). Each
process also beats a heartbeat into a membership set with a TTL, which tells how many
gateway processes share the limits. When a Redis call fails, the process turns
*degraded*: it admits on its own, in memory, against ``limit / N`` of every limit (N the
last membership it saw), so N processes together still stay under the limit, and it
journals what it admitted. A background probe finds Redis again, replays the journal
into the shared windows (so the minute that follows is counted exactly) and leaves the
degraded mode. With ``fail_closed``, a degraded process refuses instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from gemgate.policy._windows import MINUTE, Ticket, WindowCounts
from gemgate.projects import Limits
from gemgate.state._base import Candidate, Grant, Shortage
from gemgate.state._memory import MemoryQuotaState
from gemgate.state._redis import RedisQuotaState, RedisTicket

__all__ = ["SharedQuotaState", "share_of"]

log = logging.getLogger("gemgate.state")
T = TypeVar("T")

UNAVAILABLE = (RedisConnectionError, RedisTimeoutError, OSError, asyncio.TimeoutError)
"""What a Redis call raises when the server is down, paused or unreachable."""


def share_of(limits: Limits | None, members: int) -> Limits | None:
    """One process's part of ``limits`` when ``members`` processes share them (at least 1)."""
    if limits is None or members <= 1:
        return limits

    def part(value: int | None) -> int | None:
        return None if value is None else max(value // members, 1)

    return Limits(rpm=part(limits.rpm), tpm=part(limits.tpm), rpd=part(limits.rpd))


@dataclass
class _Admitted:
    model: str
    project: str
    ticket: Ticket


@dataclass
class SharedQuotaState:
    """`QuotaState` on Redis, falling back to ``limit / N`` per process while Redis is away.

    Call :meth:`start` to run the heartbeat (the gateway does), :meth:`stop` to end it.

    Attributes:
        degraded: True while this process admits on its own.
        members: The gateway processes sharing the limits, as last seen in Redis.
    """

    shared: RedisQuotaState
    fail_closed: bool = False
    heartbeat: float = 2.0
    """Seconds between heartbeats (and Redis probes while degraded)."""
    timeout: float = 0.5
    """Seconds a Redis call may take before the process turns degraded."""
    clock: Callable[[], float] = time.time
    degraded: bool = False
    members: int = 1
    member_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    _local: MemoryQuotaState = field(default_factory=MemoryQuotaState)
    _journal: list[_Admitted] = field(default_factory=list)
    _task: asyncio.Task[None] | None = None

    def _degrade(self, exc: BaseException) -> None:
        if not self.degraded:
            log.warning(
                "shared quota state unavailable (%s): admitting locally at 1/%d of each limit",
                type(exc).__name__,
                self.members,
            )
        self.degraded = True

    async def _shared(self, call: Callable[[], Awaitable[T]]) -> T | None:
        """``call()`` on Redis unless degraded; ``None`` (and degraded) if Redis is away."""
        if self.degraded:
            return None
        try:
            return await asyncio.wait_for(call(), self.timeout)
        except UNAVAILABLE as exc:
            self._degrade(exc)
            return None

    async def acquire(
        self, model: str, candidates: Sequence[Candidate], tokens: int, now: float
    ) -> Grant | Shortage:
        """Admit through Redis; while it is away, locally at ``limit / N`` (or refuse)."""
        if self._task is None:  # the first call starts the heartbeat
            self._task = asyncio.create_task(self._run(), name="gemgate-heartbeat")
        decided = await self._shared(lambda: self.shared.acquire(model, candidates, tokens, now))
        if decided is not None:
            return decided
        if self.fail_closed:
            reason = "shared quota state unavailable (fail_closed)"
            return Shortage(None, {c.project: reason for c in candidates})
        scaled = [Candidate(c.project, share_of(c.limits, self.members)) for c in candidates]
        result = await self._local.acquire(model, scaled, tokens, now)
        if isinstance(result, Grant) and isinstance(result.ticket, Ticket):
            self._journal.append(_Admitted(model, result.project, result.ticket))
        return result

    async def reconcile(self, model: str, grant: Grant, tokens: int) -> None:
        """Correct a grant's tokens where it was counted."""
        if isinstance(grant.ticket, RedisTicket):
            await self._shared(lambda: self.shared.reconcile(model, grant, tokens))
        else:
            await self._local.reconcile(model, grant, tokens)

    async def spend(self, project: str, model: str, tokens: int, now: float) -> None:
        """Count a connection's tokens in Redis; while it is away, in this process only."""

        async def shared() -> bool:
            await self.shared.spend(project, model, tokens, now)
            return True

        if await self._shared(shared) is None:
            await self._local.spend(project, model, tokens, now)

    async def cool(self, project: str, model: str, until: float, reason: str) -> None:
        """Cool a project for a model, here and (when it answers) in every process."""
        await self._local.cool(project, model, until, reason)
        await self._shared(lambda: self.shared.cool(project, model, until, reason))

    async def disable_key(self, fingerprint: str, reason: str) -> None:
        """Disable a key here and (when Redis answers) in every process."""
        await self._local.disable_key(fingerprint, reason)
        await self._shared(lambda: self.shared.disable_key(fingerprint, reason))

    async def disabled_keys(self) -> frozenset[str]:
        """Keys disabled here or in any process."""
        shared = await self._shared(self.shared.disabled_keys)
        return await self._local.disabled_keys() | (shared or frozenset())

    async def cooldowns(self, now: float) -> dict[tuple[str, str], tuple[float, str]]:
        """Active cooldowns, here and shared (the later of two wins)."""
        found = await self._local.cooldowns(now)
        for key, value in (await self._shared(lambda: self.shared.cooldowns(now)) or {}).items():
            if key not in found or found[key][0] < value[0]:
                found[key] = value
        return found

    async def disabled_reasons(self) -> dict[str, str]:
        """Disabled keys and why, here and shared."""
        shared = await self._shared(self.shared.disabled_reasons)
        return {**(shared or {}), **await self._local.disabled_reasons()}

    async def usage(self, now: float) -> dict[tuple[str, str], WindowCounts]:
        """The shared windows; while degraded, this process's own."""
        shared = await self._shared(lambda: self.shared.usage(now))
        return shared if shared is not None else await self._local.usage(now)

    async def health(self) -> str:
        """After a heartbeat: ``ok``, ``degraded: …`` (admitting alone) or ``failed: …``."""
        await self.beat()
        if not self.degraded:
            return "ok"
        if self.fail_closed:
            return "failed: Redis unreachable (fail_closed: refusing requests)"
        return f"degraded: Redis unreachable, admitting 1/{self.members} of each limit"

    def known_cooldowns(self) -> dict[tuple[str, str], tuple[float, str]]:
        """The cooldowns this process set or met (for metrics; no I/O)."""
        return self._local.known_cooldowns()

    async def beat(self) -> None:
        """One heartbeat: count the members; while degraded, replay and recover."""
        try:
            self.members = await asyncio.wait_for(
                self.shared.beat(self.member_id, ttl=self.heartbeat * 3), self.timeout
            )
            if self.degraded:
                await self._recover()
        except UNAVAILABLE as exc:
            self._degrade(exc)

    async def _recover(self) -> None:
        now = self.clock()
        recent = [a for a in self._journal if a.ticket.at > now - MINUTE]
        by_pair: dict[tuple[str, str], list[Ticket]] = {}
        for admitted in recent:
            by_pair.setdefault((admitted.project, admitted.model), []).append(admitted.ticket)
        for (project, model), tickets in by_pair.items():
            await asyncio.wait_for(self.shared.record(project, model, tickets), self.timeout)
        log.warning("shared quota state is back: %d local admissions replayed", len(recent))
        self._journal.clear()
        self._local = MemoryQuotaState()
        self.degraded = False

    async def _run(self) -> None:
        while True:
            await self.beat()
            await asyncio.sleep(self.heartbeat)

    async def start(self) -> None:
        """Beat once (learning N), then keep beating in the background."""
        await self.beat()
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="gemgate-heartbeat")

    async def stop(self) -> None:
        """Stop the heartbeat and leave the membership."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        with contextlib.suppress(*UNAVAILABLE):
            await asyncio.wait_for(self.shared.leave(self.member_id), self.timeout)

    def describe(self) -> dict[str, object]:
        """For ``/readyz`` and metrics: shared or degraded, and N."""
        return {
            "shared": not self.degraded,
            "fail_closed": self.fail_closed,
            "members": self.members,
            "local_share": f"1/{max(self.members, 1)}",
        }
