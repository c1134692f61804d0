"""Quota windows per (project, model): sliding-minute RPM and TPM, Pacific-day RPD.

The client keeps its own count of what it sent so it stays under each project's limits
instead of discovering them through 429s. Token use is estimated before a call and
reconciled with ``usageMetadata.promptTokenCount`` afterwards; a Live session's turns
are counted as they are used (tokens, no request).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from gemgate.projects import Limits, next_pacific_midnight

__all__ = ["QuotaWindow", "Refusal", "Ticket", "WindowCounts", "next_pacific_midnight"]

MINUTE = 60.0


@dataclass(frozen=True)
class Refusal:
    """Why a window refused a request, and when it can take one again."""

    metric: str
    """``rpm``, ``tpm`` or ``rpd``."""
    retry_at: float


@dataclass
class Ticket:
    """One admitted request; lets its token estimate be corrected later."""

    at: float
    tokens: int


@dataclass(frozen=True)
class WindowCounts:
    """What a window counts now, for reports."""

    requests: int
    """Requests of the last minute."""
    tokens: int
    """Input tokens of the last minute."""
    oldest: float | None
    """When the oldest request of the minute was admitted (None: none is)."""
    day_requests: int
    """Requests of the Pacific day."""
    day_end: float | None
    """When the day ends (None: nothing was ever counted)."""


@dataclass
class QuotaWindow:
    """The usage of one (project, model) pair."""

    tokens: deque[Ticket] = field(default_factory=deque)
    """One ticket per request of the last minute (so also the minute's request count)."""
    spent: deque[Ticket] = field(default_factory=deque)
    """Tokens used on open connections (Live turns) in the last minute: no requests."""
    day_end: float = 0.0
    day_count: int = 0

    def _expire(self, now: float) -> None:
        for tickets in (self.tokens, self.spent):
            while tickets and tickets[0].at <= now - MINUTE:
                tickets.popleft()
        if now >= self.day_end:
            self.day_end, self.day_count = next_pacific_midnight(now), 0

    def check(self, limits: Limits, tokens: int, now: float) -> Refusal | None:
        """Would a request of ``tokens`` input tokens fit now? If not, until when."""
        self._expire(now)
        if limits.rpd is not None and self.day_count >= limits.rpd:
            return Refusal("rpd", self.day_end)
        if limits.rpm is not None and len(self.tokens) >= limits.rpm:
            return Refusal("rpm", self.tokens[len(self.tokens) - limits.rpm].at + MINUTE)
        if limits.tpm is not None:
            counted = sorted((*self.tokens, *self.spent), key=lambda t: t.at)
            used = sum(t.tokens for t in counted)
            if used and used + tokens > limits.tpm:
                freed = used
                for ticket in counted:
                    freed -= ticket.tokens
                    if freed + tokens <= limits.tpm:
                        return Refusal("tpm", ticket.at + MINUTE)
                return Refusal("tpm", counted[-1].at + MINUTE)
        return None

    def counts(self, now: float) -> WindowCounts:
        """The minute's and the day's counts at ``now``."""
        self._expire(now)
        oldest = self.tokens[0].at if self.tokens else None
        used = sum(t.tokens for t in self.tokens) + sum(t.tokens for t in self.spent)
        return WindowCounts(len(self.tokens), used, oldest, self.day_count, self.day_end)

    def record(self, tokens: int, now: float) -> Ticket:
        """Count an admitted request."""
        self._expire(now)
        ticket = Ticket(now, tokens)
        self.tokens.append(ticket)
        self.day_count += 1
        return ticket

    def spend(self, tokens: int, now: float) -> None:
        """Count tokens used now without a new request (a Live turn on an open session)."""
        self._expire(now)
        self.spent.append(Ticket(now, tokens))
