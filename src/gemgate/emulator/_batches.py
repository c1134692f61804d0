"""Batch jobs: requests answered up front, revealed as time passes on the emulator's clock.

A batch is ``BATCH_STATE_PENDING`` for ``start`` seconds, then ``BATCH_STATE_RUNNING``
while its requests are worked through (``per_request`` seconds each), then
``BATCH_STATE_SUCCEEDED``. Cancelling it before then makes it ``BATCH_STATE_CANCELLED``;
one still unfinished ``expiry`` seconds after its creation is ``BATCH_STATE_EXPIRED``.
Batches belong to the project that created them.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from gemgate.emulator._errors import ApiError, failed_precondition
from gemgate.wire.durations import format_timestamp

__all__ = ["Batch", "BatchStore", "Outcome"]

_TYPE = "type.googleapis.com/google.ai.generativelanguage.v1main.{}"
_DONE = frozenset(
    {"BATCH_STATE_SUCCEEDED", "BATCH_STATE_CANCELLED", "BATCH_STATE_EXPIRED", "BATCH_STATE_FAILED"}
)


@dataclass
class Outcome:
    """One request's result: a response or a ``google.rpc.Status`` error, and its key."""

    response: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    key: str | None = None
    metadata: dict[str, Any] | None = None


@dataclass
class Batch:
    """A batch job and its precomputed outcomes."""

    name: str
    project: str
    kind: str
    """``GenerateContentBatch`` or ``EmbedContentBatch``."""
    model: str
    display_name: str
    outcomes: list[Outcome]
    from_file: bool
    create_time: float
    start_time: float
    end_time: float
    expire_time: float
    cancel_time: float | None = None
    responses_file: str | None = None

    def state(self, now: float) -> str:
        """The batch's state at ``now``."""
        if self.cancel_time is not None and self.cancel_time < self.end_time:
            return "BATCH_STATE_CANCELLED"
        if self.end_time > self.expire_time and now >= self.expire_time:
            return "BATCH_STATE_EXPIRED"
        if now >= self.end_time:
            return "BATCH_STATE_SUCCEEDED"
        return "BATCH_STATE_RUNNING" if now >= self.start_time else "BATCH_STATE_PENDING"

    def finished_at(self, now: float) -> float | None:
        """When the batch reached its final state, if it has."""
        state = self.state(now)
        if state == "BATCH_STATE_CANCELLED":
            return self.cancel_time
        if state == "BATCH_STATE_EXPIRED":
            return self.expire_time
        return self.end_time if state == "BATCH_STATE_SUCCEEDED" else None

    def _done_count(self, now: float) -> int:
        if now < self.start_time or not self.outcomes:
            return 0
        span = (self.end_time - self.start_time) / len(self.outcomes)
        limit = min(now, self.cancel_time if self.cancel_time is not None else now)
        if span <= 0:
            return len(self.outcomes)
        return min(len(self.outcomes), int((limit - self.start_time) / span))

    def _stats(self, now: float) -> dict[str, str]:
        done = self.outcomes[: self._done_count(now)]
        failed = sum(1 for o in done if o.error is not None)
        finished = self.state(now) in _DONE
        counts = {
            "requestCount": len(self.outcomes),
            "successfulRequestCount": len(done) - failed,
            "failedRequestCount": failed,
            "pendingRequestCount": 0 if finished else len(self.outcomes) - len(done),
        }
        return {key: str(value) for key, value in counts.items() if value}

    def output(self) -> dict[str, Any]:
        """The wire ``output`` of a succeeded batch."""
        if self.responses_file is not None:
            return {"responsesFile": self.responses_file}
        items = []
        for outcome in self.outcomes:
            item: dict[str, Any] = {}
            if outcome.response is not None:
                item["response"] = outcome.response
            if outcome.error is not None:
                item["error"] = outcome.error
            if outcome.metadata is not None:
                item["metadata"] = outcome.metadata
            items.append(item)
        key = "inlinedEmbedContentResponses" if self.kind == "EmbedContentBatch" else None
        return {key or "inlinedResponses": {"inlinedResponses": items}}

    def resource(self, now: float) -> dict[str, Any]:
        """The wire ``Operation`` whose ``metadata`` is the batch."""
        state = self.state(now)
        end = self.finished_at(now)
        update = max(t for t in (self.create_time, self.start_time, end or 0.0) if t <= now)
        metadata: dict[str, Any] = {"@type": _TYPE.format(self.kind), "model": self.model}
        if self.display_name:
            metadata["displayName"] = self.display_name
        metadata["createTime"] = format_timestamp(self.create_time)
        metadata["updateTime"] = format_timestamp(update)
        if end is not None:
            metadata["endTime"] = format_timestamp(end)
        metadata["batchStats"] = self._stats(now)
        metadata["state"] = state
        metadata["name"] = self.name
        out: dict[str, Any] = {"name": self.name, "metadata": metadata}
        if state == "BATCH_STATE_SUCCEEDED":
            metadata["output"] = self.output()
            out["done"] = True
            out["response"] = {"@type": _TYPE.format(f"{self.kind}Output"), **self.output()}
        elif state in _DONE:
            out["done"] = True
        return out

    def lines(self) -> bytes:
        """The responses file: one ``{"key", "response" | "error"}`` JSON line per request."""
        rows = []
        for outcome in self.outcomes:
            row: dict[str, Any] = {}
            if outcome.key is not None:
                row["key"] = outcome.key
            if outcome.response is not None:
                row["response"] = outcome.response
            if outcome.error is not None:
                row["error"] = outcome.error
            rows.append(json.dumps(row, separators=(",", ":")))
        return ("\n".join(rows) + "\n").encode()


def _missing(name: str) -> ApiError:
    return ApiError(404, f"Batch {name} was not found.", status="NOT_FOUND")


@dataclass
class BatchStore:
    """In-memory batches, timed by the emulator's clock."""

    clock: Callable[[], float]
    start: float
    per_request: float
    expiry: float
    _batches: dict[str, Batch] = field(default_factory=dict)
    outputs: set[tuple[str, str]] = field(default_factory=set)
    """``(project, file name)`` of every responses file written."""

    def reset(self) -> None:
        """Forget every batch."""
        self._batches.clear()
        self.outputs.clear()

    def now(self) -> float:
        """The store's clock."""
        return self.clock()

    def create(
        self,
        project: str,
        kind: str,
        model: str,
        display_name: str,
        outcomes: list[Outcome],
        from_file: bool,
    ) -> Batch:
        """Start a batch over already answered requests."""
        now = self.clock()
        begin = now + self.start
        batch = Batch(
            name=f"batches/{secrets.token_hex(10)}",
            project=project,
            kind=kind,
            model=model,
            display_name=display_name,
            outcomes=outcomes,
            from_file=from_file,
            create_time=now,
            start_time=begin,
            end_time=begin + self.per_request * len(outcomes),
            expire_time=now + self.expiry,
        )
        self._batches[batch.name] = batch
        return batch

    def get(self, project: str, name: str) -> Batch:
        """The project's batch ``name``."""
        batch = self._batches.get(name)
        if batch is None or batch.project != project:
            raise _missing(name)
        return batch

    def list(self, project: str) -> list[Batch]:
        """The project's batches, newest first."""
        items = [b for b in self._batches.values() if b.project == project]
        return sorted(items, key=lambda b: b.create_time, reverse=True)

    def cancel(self, project: str, name: str) -> Batch:
        """Cancel a batch that has not finished."""
        batch = self.get(project, name)
        now = self.clock()
        if batch.state(now) in _DONE:
            raise failed_precondition(f"Batch {name} is already in a terminal state.")
        batch.cancel_time = now
        return batch

    def delete(self, project: str, name: str) -> None:
        """Delete a batch (its responses file stays)."""
        self.get(project, name)
        del self._batches[name]

    def is_output(self, project: str, file_name: str) -> bool:
        """Whether ``file_name`` is a responses file the project's batches wrote."""
        return (project, file_name) in self.outputs
