"""What to do after an upstream answer: classified from status and structured details.

Messages are never read. A per-minute 429 cools the project for ``RetryInfo``'s delay,
a per-day 429 parks it until the Pacific midnight, an invalid key is disabled, and
transient failures are retried with full-jitter exponential backoff.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass

from gemgate.policy._windows import next_pacific_midnight
from gemgate.wire.errors import GoogleError

__all__ = ["Action", "Backoff", "Verdict", "classify_status", "classify_transport"]

RETRYABLE = frozenset({408, 500, 502, 503, 504})
DEFAULT_COOLDOWN = 1.0
"""Seconds to cool a project after a 429 that carries no RetryInfo."""


class Action(enum.Enum):
    """The pipeline's reaction to one failed attempt."""

    RETRY = "retry"
    """Transient: back off, then try again (spends a retry)."""
    COOL = "cool"
    """Per-minute quota: cool the project/model until ``until``; try another at once."""
    PARK = "park"
    """Per-day quota: park the project/model until the daily reset."""
    DISABLE_KEY = "disable_key"
    """The key is invalid or forbidden: stop using it; try another at once."""
    OTHER_PROJECT = "other_project"
    """The file or cache used is not this project's: try the other projects at once."""
    FAIL = "fail"
    """Not retryable: surface the error."""


@dataclass(frozen=True)
class Verdict:
    """An :class:`Action` and, for cooling and parking, until when."""

    action: Action
    until: float | None = None


def classify_status(
    status_code: int,
    error: GoogleError,
    now: float,
    *,
    scoped_resource: bool = False,
    owner_unknown: bool = False,
) -> Verdict:
    """Decide what an error status means for the key, the project and the call.

    Args:
        status_code: The HTTP status.
        error: The parsed error body.
        now: The current time (epoch seconds).
        scoped_resource: The request used a project-owned file or cache; a 403 then
            means "not yours", not "bad key" (a 401 still condemns the key).
        owner_unknown: Which project owns that resource is not known yet, so after such
            a 403 another project may own it.

    Returns:
        What to do: cool or park the project, disable the key, try the other projects,
        retry or fail.
    """
    if status_code == 429:
        if error.is_daily_quota:
            return Verdict(Action.PARK, next_pacific_midnight(now))
        delay = error.retry_delay if error.retry_delay is not None else DEFAULT_COOLDOWN
        return Verdict(Action.COOL, now + delay)
    if status_code == 400 and error.api_key_invalid:
        return Verdict(Action.DISABLE_KEY)
    if status_code == 401 or (status_code == 403 and not scoped_resource):
        return Verdict(Action.DISABLE_KEY)
    if status_code == 403 and owner_unknown:
        return Verdict(Action.OTHER_PROJECT)
    if status_code in RETRYABLE:
        return Verdict(Action.RETRY)
    return Verdict(Action.FAIL)


def classify_transport() -> Verdict:
    """Timeouts, refused connections and broken responses are retried."""
    return Verdict(Action.RETRY)


@dataclass(frozen=True)
class Backoff:
    """Full-jitter exponential backoff: ``uniform(0, min(cap, base * 2**attempt))``.

    Example:
        >>> Backoff(base=0.5, cap=8.0).delay(3, draw=lambda: 1.0)
        4.0
    """

    base: float = 0.5
    cap: float = 20.0
    multiplier: float = 2.0

    def delay(self, attempt: int, draw: Callable[[], float]) -> float:
        """The wait before retry number ``attempt`` (0-based); ``draw`` gives [0, 1)."""
        try:
            ceiling = min(self.cap, self.base * self.multiplier**attempt)
        except OverflowError:  # a huge attempt number: the cap applies
            ceiling = self.cap
        return draw() * ceiling
