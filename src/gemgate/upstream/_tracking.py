"""Request tracking: active calls, bounded history, token usage and endpoint metrics.

Entries name the key by fingerprint only.
"""

from __future__ import annotations

import asyncio
import statistics
from collections import deque
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

__all__ = ["CALLER", "RequestRecord", "TokenUsage", "Tracker"]

CALLER: ContextVar[str | None] = ContextVar("gemgate_caller", default=None)
"""The gateway key's name for calls made while serving its request (for the request log)."""


@dataclass
class TokenUsage:
    """Token totals read from ``usageMetadata``."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    thoughts_tokens: int = 0
    total_tokens: int = 0
    requests: int = 0

    def add(self, usage: Mapping[str, Any]) -> None:
        """Add one response's ``usageMetadata``."""
        prompt = int(usage.get("promptTokenCount", 0))
        total = int(usage.get("totalTokenCount", 0))
        self.prompt_tokens += prompt
        self.completion_tokens += int(usage.get("candidatesTokenCount", 0))
        self.cached_tokens += int(usage.get("cachedContentTokenCount", 0))
        self.thoughts_tokens += int(usage.get("thoughtsTokenCount", 0))
        self.total_tokens += total
        self.requests += 1

    def as_dict(self) -> dict[str, int]:
        """The seed's shape: ``prompt_tokens``, ``completion_tokens``, ``total_tokens``, etc."""
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "cached_tokens": self.cached_tokens,
            "thoughts_tokens": self.thoughts_tokens,
            "total_tokens": self.total_tokens,
            "requests": self.requests,
        }


@dataclass
class RequestRecord:
    """One call, from start to end."""

    request_id: str
    model: str | None
    endpoint: str | None
    kind: str
    started: float
    status: str = "active"
    """``active``, ``success``, ``error`` or ``cancelled`` (the caller stopped early)."""
    ended: float | None = None
    attempts: int = 0
    project: str | None = None
    key: str | None = None
    """The fingerprint of the last key used."""
    http_status: int | None = None
    error: str | None = None
    usage: dict[str, int] = field(default_factory=dict)
    caller: str | None = field(default_factory=lambda: CALLER.get())
    """Who asked: the gateway key's name, when a gateway call set `CALLER`."""

    def view(self, now: float) -> dict[str, Any]:
        """A plain dict for callers (``status``, ``model``, ``duration`` …)."""
        end = self.ended if self.ended is not None else now
        return {
            "request_id": self.request_id,
            "status": self.status,
            "model": self.model,
            "endpoint": self.endpoint,
            "kind": self.kind,
            "start_time": self.started,
            "duration": end - self.started,
            "attempts": self.attempts,
            "project": self.project,
            "key": self.key,
            "http_status": self.http_status,
            "error": self.error,
            "usage": dict(self.usage),
        }


@dataclass
class _Stats:
    requests: int = 0
    successes: int = 0
    errors: int = 0
    tokens: int = 0
    latencies: deque[float] = field(default_factory=lambda: deque(maxlen=1000))

    def view(self) -> dict[str, Any]:
        done = self.successes + self.errors
        lat = sorted(self.latencies)
        return {
            "requests": self.requests,
            "successes": self.successes,
            "errors": self.errors,
            "success_rate": self.successes / done if done else 1.0,
            "error_rate": self.errors / done if done else 0.0,
            "latency_p50": statistics.median(lat) if lat else 0.0,
            "latency_p95": lat[min(len(lat) - 1, int(len(lat) * 0.95))] if lat else 0.0,
            "tokens": self.tokens,
        }


class Tracker:
    """Active calls, a bounded history, token totals and per-model/endpoint stats."""

    def __init__(self, clock: Callable[[], float], history_size: int) -> None:
        self._clock = clock
        self.active: dict[str, RequestRecord] = {}
        self.history: deque[RequestRecord] = deque(maxlen=history_size)
        self.usage = TokenUsage()
        self.by_model: dict[str, _Stats] = {}
        self.by_endpoint: dict[str, _Stats] = {}
        self.listeners: list[Callable[[RequestRecord], None]] = []
        """Called with every finished call (the request log listens here)."""

    def start(
        self, request_id: str, model: str | None, endpoint: str | None, kind: str
    ) -> RequestRecord:
        """Begin tracking a call."""
        record = RequestRecord(request_id, model, endpoint, kind, self._clock())
        self.active[request_id] = record
        for stats in self._stats(record):
            stats.requests += 1
        return record

    def _stats(self, record: RequestRecord) -> list[_Stats]:
        out = []
        if record.model:
            out.append(self.by_model.setdefault(record.model, _Stats()))
        if record.endpoint:
            out.append(self.by_endpoint.setdefault(record.endpoint, _Stats()))
        return out

    def finish(self, record: RequestRecord, *, error: BaseException | None = None) -> None:
        """End a call (success unless ``error``)."""
        if record.ended is not None:
            return
        record.ended = self._clock()
        record.status = "error" if error is not None else "success"
        if isinstance(error, GeneratorExit | asyncio.CancelledError):
            record.status = "cancelled"
        elif error is not None:
            record.error = f"{type(error).__name__}: {error}"
            record.http_status = getattr(error, "status_code", record.http_status)
        self.active.pop(record.request_id, None)
        self.history.append(record)
        for stats in self._stats(record):
            if record.status == "success":
                stats.successes += 1
            elif record.status == "error":
                stats.errors += 1
            stats.latencies.append(record.ended - record.started)
            stats.tokens += record.usage.get("total_tokens", 0)
        for listener in self.listeners:
            listener(record)

    def add_usage(self, record: RequestRecord, usage: Mapping[str, Any]) -> None:
        """Account one response's ``usageMetadata``."""
        self.usage.add(usage)
        record.usage = {
            "prompt_tokens": int(usage.get("promptTokenCount", 0)),
            "completion_tokens": int(usage.get("candidatesTokenCount", 0)),
            "total_tokens": int(usage.get("totalTokenCount", 0)),
        }
        for name, wire in (
            ("cached_tokens", "cachedContentTokenCount"),
            ("thoughts_tokens", "thoughtsTokenCount"),
        ):
            if usage.get(wire):
                record.usage[name] = int(usage[wire])

    def history_view(
        self,
        limit: int | None = None,
        status: str | None = None,
        model: str | None = None,
        endpoint: str | None = None,
    ) -> dict[str, dict[str, Any]]:
        """Finished calls, newest last, filtered."""
        now = self._clock()
        rows = [
            r
            for r in self.history
            if (status is None or r.status == status)
            and (model is None or r.model == model)
            and (endpoint is None or r.endpoint == endpoint)
        ]
        if limit is not None:
            rows = rows[-limit:] if limit > 0 else []
        return {r.request_id: r.view(now) for r in rows}

    def active_view(self) -> dict[str, dict[str, Any]]:
        """Calls in flight."""
        now = self._clock()
        return {rid: r.view(now) for rid, r in self.active.items()}

    def model_metrics(self) -> dict[str, dict[str, Any]]:
        """Per-model stats."""
        return {m: s.view() for m, s in self.by_model.items()}

    def endpoint_metrics(self, endpoint: str) -> dict[str, Any]:
        """Stats of one endpoint."""
        return self.by_endpoint.get(endpoint, _Stats()).view()
