"""Hard budgets per gateway key: tokens and US dollars per day, month or ever.

``max_tokens`` and ``max_budget_usd`` on a ``[[gateway_keys]]`` entry. Spending is kept
in the engine's state (Redis with ``state_url``, so every process enforces one budget);
each finished upstream call is charged to the key that asked for it, from its request-log
entry (tokens in, out and thinking; cost at the price table's rates). A key that has
spent its budget gets a 429 until the period ends.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence

from gemgate.gateway._faces import Problem
from gemgate.projects import GatewayKey
from gemgate.state._spend import Spend, period_of
from gemgate.usage import UsageEntry

__all__ = ["Budgets"]

log = logging.getLogger("gemgate.gateway")


class Budgets:
    """Checks and charges the budgets of the keys that have one."""

    def __init__(self, keys: Sequence[GatewayKey], spend: Spend) -> None:
        self._keys = {k.name: k for k in keys if k.max_tokens or k.max_budget_usd}
        self._spend = spend
        self._pending: set[asyncio.Task[None]] = set()

    @property
    def active(self) -> bool:
        """Whether any key has a budget."""
        return bool(self._keys)

    async def check(self, key: GatewayKey, now: float | None = None) -> None:
        """Raise a 429 :class:`Problem` if ``key`` has spent its budget for the period."""
        if key.name not in self._keys:
            return
        now = time.time() if now is None else now
        period, ends = period_of(key.budget_period, now)
        tokens, usd = await self._spend.spent(key.name, period)
        over = ""
        if key.max_tokens is not None and tokens >= key.max_tokens:
            over = f"{tokens:,} of its {key.max_tokens:,} tokens"
        elif key.max_budget_usd is not None and usd >= key.max_budget_usd:
            over = f"${usd:.4g} of its ${key.max_budget_usd:.4g}"
        if over:
            span = "ever" if ends is None else f"this {key.budget_period}"
            raise Problem(
                429,
                f"gateway key {key.name!r} has spent {over} {span}",
                code="budget_exceeded",
                retry_after=None if ends is None else max(ends - now, 0.0),
            )

    def charge(self, entry: UsageEntry) -> None:
        """Charge a finished call to the key that made it, if that key has a budget."""
        key = self._keys.get(entry.caller or "")
        if key is None:
            return
        tokens = entry.prompt_tokens + entry.completion_tokens + entry.thoughts_tokens
        if not tokens and not entry.cost_usd:
            return
        period, _ = period_of(key.budget_period, entry.at)
        task = asyncio.get_running_loop().create_task(
            self._add(key.name, period, tokens, entry.cost_usd or 0.0)
        )
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _add(self, name: str, period: str, tokens: int, usd: float) -> None:
        try:
            await self._spend.add(name, period, tokens, usd)
        except Exception as exc:  # a charge that could not be stored must not fail a request
            log.warning("could not charge gateway key %r: %s", name, type(exc).__name__)

    async def settle(self) -> None:
        """Wait for the charges in flight (tests, shutdown)."""
        while self._pending:
            await asyncio.gather(*list(self._pending))
