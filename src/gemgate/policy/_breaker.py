"""A circuit breaker per upstream endpoint."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CircuitBreaker"]


@dataclass
class CircuitBreaker:
    """Opens after ``threshold`` consecutive failures; lets one probe through after ``reset``.

    Example:
        >>> breaker = CircuitBreaker(threshold=2, reset=10.0)
        >>> breaker.failure(0.0); breaker.failure(1.0)
        >>> breaker.blocked_until(2.0)
        11.0
        >>> breaker.blocked_until(11.0) is None  # half-open: one probe may go
        True
        >>> breaker.blocked_until(11.5)  # the others wait for the probe's outcome
        21.0
    """

    threshold: int = 5
    reset: float = 30.0
    failures: int = 0
    opened_at: float | None = None
    probing: bool = False

    @property
    def state(self) -> str:
        """``closed``, ``open`` or ``half-open`` (a probe is out)."""
        if self.opened_at is None:
            return "closed"
        return "half-open" if self.probing else "open"

    def blocked_until(self, now: float) -> float | None:
        """None if a request may go now, else when to ask again.

        Once ``reset`` has passed, the first caller goes as the probe and the window
        re-arms, so the others wait until the probe succeeds (closing the breaker) or
        another ``reset`` passes.
        """
        if self.opened_at is None:
            return None
        reopen = self.opened_at + self.reset
        if now < reopen:
            return reopen
        self.opened_at, self.probing = now, True
        return None

    def reopens_in(self, now: float) -> float | None:
        """Seconds until the open breaker lets a probe through (None: it is closed).

        Unlike `blocked_until`, only reads: asking does not make the caller the probe.
        """
        return None if self.opened_at is None else max(self.opened_at + self.reset - now, 0.0)

    def success(self) -> None:
        """A request succeeded: close the breaker."""
        self.failures = 0
        self.opened_at = None
        self.probing = False

    def failure(self, now: float) -> None:
        """A request failed in a way that counts against the endpoint."""
        self.failures += 1
        self.probing = False
        if self.failures >= self.threshold:
            self.opened_at = now
