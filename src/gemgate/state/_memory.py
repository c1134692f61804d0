"""In-memory state for one process (the default)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence

from gemgate.policy._windows import QuotaWindow, Ticket, WindowCounts
from gemgate.state._base import Candidate, Grant, Shortage

__all__ = ["MemoryOwners", "MemoryQuotaState", "MemoryResponseCache"]


class MemoryQuotaState:
    """Quota windows, cooldowns and disabled keys in this process's memory."""

    def __init__(self) -> None:
        self._windows: dict[tuple[str, str], QuotaWindow] = {}
        self._cooling: dict[tuple[str, str], tuple[float, str]] = {}
        self._disabled: frozenset[str] = frozenset()
        self._reasons: dict[str, str] = {}

    async def acquire(
        self, model: str, candidates: Sequence[Candidate], tokens: int, now: float
    ) -> Grant | Shortage:
        """Admit on the first free candidate; otherwise say when one frees up."""
        earliest: float | None = None
        reasons: dict[str, str] = {}
        for candidate in candidates:
            key = (candidate.project, model)
            cooling = self._cooling.get(key)
            if cooling is not None and cooling[0] > now:
                reasons[candidate.project] = f"{cooling[1]} until {cooling[0]:.3f}"
                earliest = cooling[0] if earliest is None else min(earliest, cooling[0])
                continue
            if candidate.limits is None:  # nothing to count against
                return Grant(candidate.project, None)
            window = self._windows.setdefault(key, QuotaWindow())
            refusal = window.check(candidate.limits, tokens, now)
            if refusal is not None:
                reasons[candidate.project] = f"{refusal.metric} until {refusal.retry_at:.3f}"
                earliest = refusal.retry_at if earliest is None else min(earliest, refusal.retry_at)
                continue
            return Grant(candidate.project, window.record(tokens, now))
        return Shortage(earliest, reasons)

    async def reconcile(self, model: str, grant: Grant, tokens: int) -> None:
        """Correct the token count of an admitted call."""
        if isinstance(grant.ticket, Ticket):
            grant.ticket.tokens = tokens

    async def spend(self, project: str, model: str, tokens: int, now: float) -> None:
        """Count tokens used on an admitted connection, without a request."""
        self._windows.setdefault((project, model), QuotaWindow()).spend(tokens, now)

    async def cool(self, project: str, model: str, until: float, reason: str) -> None:
        """Cool ``project`` for ``model`` (keeps the later of two cooldowns)."""
        key = (project, model)
        current = self._cooling.get(key)
        if current is None or current[0] < until:
            self._cooling[key] = (until, reason)

    async def disable_key(self, fingerprint: str, reason: str) -> None:
        """Disable a key everywhere, keeping the first reason given."""
        self._disabled |= {fingerprint}
        self._reasons.setdefault(fingerprint, reason)

    async def disabled_keys(self) -> frozenset[str]:
        """Fingerprints of disabled keys."""
        return self._disabled

    async def health(self) -> str:
        """Always ``ok``: memory does not go away."""
        return "ok"

    def known_cooldowns(self) -> dict[tuple[str, str], tuple[float, str]]:
        """Every cooldown this process knows of, ended or not (for metrics; no I/O)."""
        return dict(self._cooling)

    async def cooldowns(self, now: float) -> dict[tuple[str, str], tuple[float, str]]:
        """Active cooldowns."""
        return {k: v for k, v in self._cooling.items() if v[0] > now}

    async def disabled_reasons(self) -> dict[str, str]:
        """Disabled keys and why."""
        return {fp: self._reasons.get(fp, "") for fp in self._disabled}

    async def usage(self, now: float) -> dict[tuple[str, str], WindowCounts]:
        """Every window's counts at ``now``."""
        return {key: window.counts(now) for key, window in self._windows.items()}


class MemoryResponseCache:
    """An LRU byte cache with a size bound and a TTL."""

    def __init__(self, max_size: int, ttl: float | None, clock: Callable[[], float]) -> None:
        self._max = max_size
        self._ttl = ttl
        self._clock = clock
        self._items: OrderedDict[str, tuple[float | None, bytes]] = OrderedDict()

    async def get(self, key: str) -> bytes | None:
        """The value, refreshed as most recently used; None if absent or expired."""
        item = self._items.get(key)
        if item is None:
            return None
        expires, value = item
        if expires is not None and expires <= self._clock():
            del self._items[key]
            return None
        self._items.move_to_end(key)
        return value

    async def set(self, key: str, value: bytes) -> None:
        """Store a value, evicting the least recently used beyond ``max_size``."""
        expires = self._clock() + self._ttl if self._ttl is not None else None
        self._items[key] = (expires, value)
        self._items.move_to_end(key)
        while len(self._items) > self._max:
            self._items.popitem(last=False)

    async def clear(self) -> None:
        """Drop everything."""
        self._items.clear()

    def __len__(self) -> int:
        return len(self._items)


class MemoryOwners:
    """Resource owners in this process's memory, the least recently used dropped first.

    Example::

        owners = MemoryOwners(max_entries=2)
        await owners.set("files/a", "p1")
        assert await owners.get("files/a") == "p1"
    """

    def __init__(self, max_entries: int = 100_000) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self._owners: OrderedDict[str, str] = OrderedDict()
        self._max = max_entries

    async def get(self, name: str) -> str | None:
        """The owner of ``name``, if known (and now the most recently used)."""
        owner = self._owners.get(name)
        if owner is not None:
            self._owners.move_to_end(name)
        return owner

    async def first(self, names: Sequence[str]) -> str | None:
        """The owner of the first of ``names`` whose owner is known."""
        for name in names:
            owner = await self.get(name)
            if owner is not None:
                return owner
        return None

    async def set(self, name: str, project: str, *, replace: bool = True) -> None:
        """Record the owner; beyond ``max_entries`` the least recently used is dropped."""
        if not replace and name in self._owners:
            return
        self._owners[name] = project
        self._owners.move_to_end(name)
        if len(self._owners) > self._max:
            self._owners.popitem(last=False)

    def __len__(self) -> int:
        return len(self._owners)
