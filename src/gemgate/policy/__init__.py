"""Sans-I/O policy: quota windows, error classification, backoff, selection, the report.

Nothing here sleeps, reads a clock or opens a socket; callers pass ``now`` and random
draws in, so every decision is unit-tested without waiting.
"""

from __future__ import annotations

from gemgate.policy._breaker import CircuitBreaker
from gemgate.policy._report import (
    Cooldown,
    KeyReport,
    KeyState,
    ModelQuota,
    ProjectReport,
    QuotaReport,
    WindowUsage,
    build_report,
)
from gemgate.policy._retry import Action, Backoff, Verdict, classify_status, classify_transport
from gemgate.policy._selection import Strategy, order
from gemgate.policy._windows import QuotaWindow, Refusal, WindowCounts, next_pacific_midnight

__all__ = [
    "Action",
    "Backoff",
    "CircuitBreaker",
    "Cooldown",
    "KeyReport",
    "KeyState",
    "ModelQuota",
    "ProjectReport",
    "QuotaReport",
    "QuotaWindow",
    "Refusal",
    "Strategy",
    "Verdict",
    "WindowCounts",
    "WindowUsage",
    "build_report",
    "classify_status",
    "classify_transport",
    "next_pacific_midnight",
    "order",
]
