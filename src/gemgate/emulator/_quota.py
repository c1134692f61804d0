"""Per-project, per-model quota windows (RPM, input-token TPM, RPD) and counters.

Like Google, limits belong to a project and a model, not to a key. Minute windows
slide; the day ends at midnight America/Los_Angeles. A refusal names the violated quota
and how long until the window frees, for ``QuotaFailure`` and ``RetryInfo``.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass

from gemgate.emulator._config import Limits
from gemgate.emulator._normalize import snake
from gemgate.projects import next_pacific_midnight
from gemgate.wire.errors import QuotaViolation

__all__ = ["QuotaRefusal", "QuotaTracker", "next_pacific_midnight"]

_WINDOW = 60.0
_SERVICE = "generativelanguage.googleapis.com"


@dataclass(frozen=True)
class QuotaRefusal:
    """A request refused by quota: which one, and when to retry."""

    violation: QuotaViolation
    retry_after: float


@dataclass
class _Window:
    requests: deque[float]
    tokens: deque[tuple[float, int]]
    day_end: float = 0.0
    day_count: int = 0


def _violation(quota_id: str, metric: str, model: str, limit: int) -> QuotaViolation:
    return QuotaViolation(
        quota_metric=f"{_SERVICE}/{metric}",
        quota_id=quota_id,
        quota_dimensions={"location": "global", "model": model},
        quota_value=str(limit),
    )


class QuotaTracker:
    """Admits or refuses requests per (project, model), with an injected clock."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._windows: dict[tuple[str, str], _Window] = {}
        self.stats: dict[str, dict[str, int]] = defaultdict(
            lambda: {
                "requests": 0,
                "admitted": 0,
                "rate_limited": 0,
                "input_tokens": 0,
                "faults": 0,
            }
        )

    def reset(self) -> None:
        """Forget every window and counter."""
        self._windows.clear()
        self.stats.clear()

    def record_fault(self, project: str, *, before_admission: bool) -> None:
        """Count a request hit by an injected fault.

        A fault that answers before admission (status, drop) counts as a request that
        was neither admitted nor rate limited; a later one (midstream, malformed) hits a
        request already counted as admitted.
        """
        stats = self.stats[project]
        stats["faults"] += 1
        if before_admission:
            stats["requests"] += 1

    def _window(self, project: str, model: str) -> _Window:
        key = (project, model)
        if key not in self._windows:
            self._windows[key] = _Window(deque(), deque())
        return self._windows[key]

    def admit(
        self, project: str, model: str, limits: Limits | None, tokens: int, *, family: str
    ) -> QuotaRefusal | None:
        """Count one request; return a refusal if a limit is exceeded, else record it."""
        stats = self.stats[project]
        stats["requests"] += 1
        if limits is not None:
            refusal = self._check(project, model, limits, tokens, family)
            if refusal is not None:
                stats["rate_limited"] += 1
                return refusal
            # Windows exist only where limits apply, so unlimited traffic keeps no history.
            now = self._clock()
            window = self._window(project, model)
            window.requests.append(now)
            window.tokens.append((now, tokens))
            window.day_count += 1
        stats["admitted"] += 1
        stats["input_tokens"] += tokens
        return None

    def _check(
        self, project: str, model: str, limits: Limits, tokens: int, family: str
    ) -> QuotaRefusal | None:
        now = self._clock()
        window = self._window(project, model)
        while window.requests and window.requests[0] <= now - _WINDOW:
            window.requests.popleft()
        while window.tokens and window.tokens[0][0] <= now - _WINDOW:
            window.tokens.popleft()
        if now >= window.day_end:
            window.day_end, window.day_count = next_pacific_midnight(now), 0
        if limits.rpd is not None and window.day_count >= limits.rpd:
            quota = f"{family}RequestsPerDayPerProjectPerModel"
            metric = f"{snake(family)}_requests_per_model_per_day"
            return QuotaRefusal(_violation(quota, metric, model, limits.rpd), window.day_end - now)
        if limits.rpm is not None and len(window.requests) >= limits.rpm:
            delay = window.requests[len(window.requests) - limits.rpm] + _WINDOW - now
            quota = f"{family}RequestsPerMinutePerProjectPerModel"
            metric = f"{snake(family)}_requests_per_model"
            return QuotaRefusal(_violation(quota, metric, model, limits.rpm), delay)
        if limits.tpm is not None:
            return self._check_tokens(window, model, limits.tpm, tokens, family, now)
        return None

    @staticmethod
    def _check_tokens(
        window: _Window, model: str, tpm: int, tokens: int, family: str, now: float
    ) -> QuotaRefusal | None:
        used = sum(n for _, n in window.tokens)
        if used + tokens <= tpm:
            return None
        delay = _WINDOW
        freed = used
        for stamp, n in window.tokens:
            freed -= n
            if freed + tokens <= tpm:
                delay = stamp + _WINDOW - now
                break
        prefix = "GenerateContent" if family == "Generate" else family
        quota = f"{prefix}InputTokensPerModelPerMinute"
        metric = f"{snake(prefix)}_input_token_count"
        return QuotaRefusal(_violation(quota, metric, model, tpm), delay)
