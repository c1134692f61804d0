"""What each gateway key has spent (tokens and US dollars) per budget period.

In memory for one process, or in Redis for every process on it
(`gemgate.state._redis.RedisSpend`: ``HINCRBY`` and ``HINCRBYFLOAT``, atomic). A budget
is checked before a request and charged when it ends, so requests already in flight when
the budget runs out may overshoot it by their own cost.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol

__all__ = ["MemorySpend", "Spend", "period_of"]


def period_of(kind: str, now: float) -> tuple[str, float | None]:
    """The period's id and its end (``None`` for ``total``), in UTC."""
    moment = datetime.fromtimestamp(now, UTC)
    if kind == "day":
        start = moment.replace(hour=0, minute=0, second=0, microsecond=0)
        return start.strftime("%Y-%m-%d"), start.timestamp() + 86_400
    if kind == "month":
        start = moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        following = start.replace(year=start.year + start.month // 12, month=start.month % 12 + 1)
        return start.strftime("%Y-%m"), following.timestamp()
    return "total", None


class Spend(Protocol):
    """Tokens and dollars spent per (key name, period)."""

    async def spent(self, name: str, period: str) -> tuple[int, float]:
        """Tokens and US dollars ``name`` spent in ``period``."""
        ...

    async def add(self, name: str, period: str, tokens: int, usd: float) -> None:
        """Charge ``name`` for one request."""
        ...


class MemorySpend:
    """Spending in this process's memory."""

    def __init__(self) -> None:
        self._spent: dict[tuple[str, str], tuple[int, float]] = {}

    async def spent(self, name: str, period: str) -> tuple[int, float]:
        """See :class:`Spend`."""
        return self._spent.get((name, period), (0, 0.0))

    async def add(self, name: str, period: str, tokens: int, usd: float) -> None:
        """See :class:`Spend`."""
        had = self._spent.get((name, period), (0, 0.0))
        self._spent[(name, period)] = (had[0] + tokens, had[1] + usd)
