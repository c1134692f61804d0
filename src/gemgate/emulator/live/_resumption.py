"""Session resumption: handles that restore a conversation on a new connection.

Each ``sessionResumptionUpdate`` carries a fresh handle naming a snapshot of the
conversation at that point. A handle stays usable for ``live_resumption_seconds`` (two
hours by default, like the service) and only by the project that got it; older handles of
the same session keep working and restore the older state.
"""

from __future__ import annotations

import copy
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ResumptionStore", "Snapshot"]


@dataclass(frozen=True)
class Snapshot:
    """A resumable state of a Live session."""

    project: str
    model: str
    history: list[dict[str, Any]]
    pending_calls: list[dict[str, Any]] = field(default_factory=list)


class ResumptionStore:
    """Resumption handles and their snapshots, expired by an injected clock."""

    def __init__(self, clock: Callable[[], float], ttl: float) -> None:
        self._clock = clock
        self._ttl = ttl
        self._handles: dict[str, tuple[float, Snapshot]] = {}

    def reset(self) -> None:
        """Forget every handle."""
        self._handles.clear()

    def save(self, snapshot: Snapshot) -> str:
        """Store a deep copy of ``snapshot``; return its new handle."""
        self._prune()
        handle = secrets.token_urlsafe(24)
        self._handles[handle] = (self._clock() + self._ttl, copy.deepcopy(snapshot))
        return handle

    def restore(self, handle: str, project: str) -> Snapshot | None:
        """A deep copy of the snapshot behind ``handle`` for ``project``, if still valid."""
        self._prune()
        entry = self._handles.get(handle)
        if entry is None or entry[1].project != project:
            return None
        return copy.deepcopy(entry[1])

    def _prune(self) -> None:
        now = self._clock()
        for handle in [h for h, (end, _) in self._handles.items() if end <= now]:
            del self._handles[handle]
