"""The state protocols the upstream pipeline needs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from gemgate.policy._windows import WindowCounts
from gemgate.projects import Limits

__all__ = ["Candidate", "Grant", "QuotaState", "ResponseCache", "Shortage"]


@dataclass(frozen=True)
class Candidate:
    """A project that could serve a call, with its limits for the model."""

    project: str
    limits: Limits | None


@dataclass(frozen=True)
class Grant:
    """Admission: the project chosen and a ticket to reconcile token use."""

    project: str
    ticket: object


@dataclass(frozen=True)
class Shortage:
    """No candidate can take the call now.

    ``retry_at`` is the earliest time one could (None when none ever will, e.g. every
    candidate is parked past the deadline or has no keys); ``reasons`` says why, per
    project.
    """

    retry_at: float | None
    reasons: dict[str, str] = field(default_factory=dict)


class QuotaState(Protocol):
    """Quota windows and cooldowns per (project, model), plus disabled keys."""

    async def acquire(
        self, model: str, candidates: Sequence[Candidate], tokens: int, now: float
    ) -> Grant | Shortage:
        """Admit the call on the first candidate that is not cooling and has room."""
        ...

    async def reconcile(self, model: str, grant: Grant, tokens: int) -> None:
        """Replace the grant's token estimate with the real prompt token count."""
        ...

    async def spend(self, project: str, model: str, tokens: int, now: float) -> None:
        """Count ``tokens`` used now on a connection admitted earlier (a Live turn).

        They count against the minute's TPM like a request's tokens, but make no request.
        """
        ...

    async def cool(self, project: str, model: str, until: float, reason: str) -> None:
        """Keep ``project`` off ``model`` until ``until`` (a 429's delay or the daily reset)."""
        ...

    async def disable_key(self, fingerprint: str, reason: str) -> None:
        """Stop using a key (by fingerprint) everywhere."""
        ...

    async def disabled_keys(self) -> frozenset[str]:
        """Fingerprints of disabled keys."""
        ...

    async def cooldowns(self, now: float) -> dict[tuple[str, str], tuple[float, str]]:
        """Active cooldowns: (project, model) → (until, reason)."""
        ...

    async def health(self) -> str:
        """``ok``; ``degraded: …`` while serving without the shared store; ``failed: …``."""
        ...

    async def disabled_reasons(self) -> dict[str, str]:
        """Disabled keys: fingerprint → why (the upstream's status)."""
        ...

    async def usage(self, now: float) -> dict[tuple[str, str], WindowCounts]:
        """What each (project, model) window counts at ``now``, for reports."""
        ...


class ResponseCache(Protocol):
    """A byte cache with TTL for whole responses."""

    async def get(self, key: str) -> bytes | None:
        """The cached value, or None if absent or expired."""
        ...

    async def set(self, key: str, value: bytes) -> None:
        """Store a value."""
        ...

    async def clear(self) -> None:
        """Drop everything."""
        ...


class OwnerStore(Protocol):
    """Which project owns a resource (``cachedContents/…``, ``files/…``, an upload id).

    A cache or file lives in one Google project: calls that use it must be sent with that
    project's keys. The store is bounded; a forgotten owner is found again by trying the
    projects in turn (the pipeline's ``OTHER_PROJECT`` rule).
    """

    async def get(self, name: str) -> str | None:
        """The owner of ``name``, if known."""
        ...

    async def first(self, names: Sequence[str]) -> str | None:
        """The owner of the first of ``names`` whose owner is known."""
        ...

    async def set(self, name: str, project: str, *, replace: bool = True) -> None:
        """Record ``project`` as the owner (``replace=False``: only if none is known)."""
        ...
