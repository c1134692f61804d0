"""Shared state behind small async protocols: quotas, cooldowns, cache, resource owners.

The in-memory implementations serve one process. Each protocol call is one decision
(``acquire`` checks cooldowns and windows of every candidate and records the winner), so
a Redis implementation can make it one atomic round trip.
"""

from __future__ import annotations

from gemgate.state._base import (
    Candidate,
    Grant,
    OwnerStore,
    QuotaState,
    ResponseCache,
    Shortage,
)
from gemgate.state._memory import MemoryOwners, MemoryQuotaState, MemoryResponseCache

__all__ = [
    "Candidate",
    "Grant",
    "MemoryOwners",
    "MemoryQuotaState",
    "MemoryResponseCache",
    "OwnerStore",
    "QuotaState",
    "ResponseCache",
    "Shortage",
]
