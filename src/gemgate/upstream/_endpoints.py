"""Dedicated endpoints: a named model + key set with its own limits, queue and breaker."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from gemgate.policy._breaker import CircuitBreaker
from gemgate.projects import ProjectConfig

__all__ = ["Endpoint"]


@dataclass
class Endpoint:
    """Where calls go: the projects they may use, a concurrency cap and a breaker.

    The default endpoint uses every configured project; dedicated ones (made by
    ``AsyncGemini.create_endpoint``) use a subset, or keys of their own.
    """

    id: str
    name: str
    model: str | None
    projects: list[ProjectConfig]
    max_concurrency: int | None = None
    breaker: CircuitBreaker = field(default_factory=CircuitBreaker)
    active: bool = True
    waiting: int = 0
    backoff: float = 0.0
    """The delay of the latest backoff or cooldown wait, for status reports."""
    _slots: asyncio.Semaphore | None = None

    def __post_init__(self) -> None:
        if self.max_concurrency is not None:
            self._slots = asyncio.Semaphore(self.max_concurrency)

    async def __aenter__(self) -> Endpoint:
        if self._slots is not None:
            self.waiting += 1
            try:
                await self._slots.acquire()
            finally:
                self.waiting -= 1
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._slots is not None:
            self._slots.release()
