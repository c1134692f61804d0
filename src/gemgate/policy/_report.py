"""The quota and key report: what the pipeline knows, read-only, with no secret in it.

:func:`build_report` is sans-I/O: the engine reads the state store and hands the pieces
in. Keys appear by name (``project/1``, ``project/2`` … in the order they are listed) and
fingerprint only, never by their secret.

Example:
    >>> from gemgate.projects import Limits, ProjectConfig
    >>> project = ProjectConfig(name="p", keys=["AIza-example"], limits={"m": Limits(rpm=5)})
    >>> report = build_report(0.0, [project], {}, {}, {}, {}, {})
    >>> report.projects[0].models[0].rpm
    WindowUsage(used=0, limit=5, resets_in=None)
    >>> report.projects[0].keys[0].fingerprint
    'key:ac7804c9'
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from gemgate.policy._windows import MINUTE, WindowCounts
from gemgate.projects import Limits, ProjectConfig, fingerprint

__all__ = [
    "Cooldown",
    "KeyReport",
    "KeyState",
    "ModelQuota",
    "ProjectReport",
    "QuotaReport",
    "WindowUsage",
    "build_report",
]

KeyState = Literal["ok", "cooling", "disabled"]
"""``disabled``: the key is out of use; ``cooling``: its project rests (on a model or all)."""


@dataclass(frozen=True)
class WindowUsage:
    """One quota window: how much is used of its limit, and when it frees up."""

    used: int
    limit: int | None
    """None: no limit is configured (gemgate counts nothing against it)."""
    resets_in: float | None
    """Seconds until the window frees room (the oldest counted request leaves the minute,
    or the Pacific day ends); None when nothing is counted."""


@dataclass(frozen=True)
class ModelQuota:
    """A project's RPM, TPM and RPD windows for one model (``*``: every model)."""

    model: str
    rpm: WindowUsage
    tpm: WindowUsage
    rpd: WindowUsage


@dataclass(frozen=True)
class Cooldown:
    """A project kept off a model (``*``: every model) after a 429, until a time."""

    model: str
    until: float
    """Epoch seconds."""
    ends_in: float
    """Seconds from the report's time."""
    reason: str
    """``per-minute quota`` or ``per-day quota``."""


@dataclass(frozen=True)
class KeyReport:
    """One API key, by name and fingerprint."""

    name: str
    fingerprint: str
    state: KeyState
    reason: str | None
    """Why the key is disabled (the upstream's status), or why its project cools."""
    requests: int
    """Attempts sent with this key by this process."""
    errors: int
    """Of those, the ones that failed (an error status or no answer)."""


@dataclass(frozen=True)
class ProjectReport:
    """One project: its windows per model, its cooldowns and its keys."""

    name: str
    models: tuple[ModelQuota, ...]
    cooldowns: tuple[Cooldown, ...]
    keys: tuple[KeyReport, ...]


@dataclass(frozen=True)
class QuotaReport:
    """Every project's quota windows, cooldowns and keys at one moment.

    ``as_dict()`` is the JSON shape ``GET /api/v1/quota`` answers, and
    :meth:`from_dict` reads it back.
    """

    at: float
    """Epoch seconds of the snapshot."""
    projects: tuple[ProjectReport, ...]

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (tuples become lists)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> QuotaReport:
        """The report from :meth:`as_dict`'s shape (a gateway's ``/api/v1/quota``)."""

        def window(raw: Mapping[str, Any]) -> WindowUsage:
            return WindowUsage(raw["used"], raw.get("limit"), raw.get("resets_in"))

        return cls(
            float(data["at"]),
            tuple(
                ProjectReport(
                    p["name"],
                    tuple(
                        ModelQuota(m["model"], window(m["rpm"]), window(m["tpm"]), window(m["rpd"]))
                        for m in p.get("models", [])
                    ),
                    tuple(Cooldown(**c) for c in p.get("cooldowns", [])),
                    tuple(KeyReport(**k) for k in p.get("keys", [])),
                )
                for p in data.get("projects", [])
            ),
        )


def _window(used: int, limit: int | None, resets_at: float | None, now: float) -> WindowUsage:
    return WindowUsage(used, limit, round(resets_at - now, 3) if resets_at is not None else None)


def _model_quota(model: str, limits: Limits, counts: WindowCounts | None, now: float) -> ModelQuota:
    if counts is None:
        counts = WindowCounts(0, 0, None, 0, None)
    minute_end = counts.oldest + MINUTE if counts.oldest is not None else None
    day_end = counts.day_end if counts.day_requests else None
    return ModelQuota(
        model,
        _window(counts.requests, limits.rpm, minute_end, now),
        _window(counts.tokens, limits.tpm, minute_end, now),
        _window(counts.day_requests, limits.rpd, day_end, now),
    )


def build_report(
    now: float,
    projects: Iterable[ProjectConfig],
    usage: Mapping[tuple[str, str], WindowCounts],
    cooldowns: Mapping[tuple[str, str], tuple[float, str]],
    disabled: Mapping[str, str],
    requests: Mapping[str, int],
    errors: Mapping[str, int],
) -> QuotaReport:
    """The report from the pipeline's state.

    Args:
        now: The report's time (epoch seconds).
        projects: The configured projects (names are unique; a repeat is skipped).
        usage: Window counts per (project, model).
        cooldowns: Active cooldowns: (project, model) → (until, reason).
        disabled: Disabled keys: fingerprint → reason.
        requests: Attempts per key fingerprint.
        errors: Failed attempts per key fingerprint.

    Returns:
        Per project: the models with limits or counted use, cooldowns and keys.
    """
    reports: list[ProjectReport] = []
    seen: set[str] = set()
    for project in projects:
        if project.name in seen:
            continue
        seen.add(project.name)
        models = sorted(
            {m for m in project.limits if m != "*"} | {m for p, m in usage if p == project.name}
        )
        if not models and "*" in project.limits:
            models = ["*"]
        quotas = tuple(
            _model_quota(m, project.limits_for(m) or Limits(), usage.get((project.name, m)), now)
            for m in models
        )
        cooling = tuple(
            Cooldown(model, until, round(until - now, 3), reason)
            for (name, model), (until, reason) in sorted(cooldowns.items())
            if name == project.name and until > now
        )
        resting = min(cooling, key=lambda c: c.model != "*", default=None)
        keys = []
        for index, key in enumerate(project.keys, 1):
            fp = fingerprint(key)
            state: KeyState = "ok"
            reason = None
            if fp in disabled:
                state, reason = "disabled", disabled[fp] or "disabled"
            elif resting is not None:
                on = "" if resting.model == "*" else f" on {resting.model}"
                state, reason = "cooling", f"{resting.reason}{on}"
            keys.append(
                KeyReport(
                    f"{project.name}/{index}",
                    fp,
                    state,
                    reason,
                    requests.get(fp, 0),
                    errors.get(fp, 0),
                )
            )
        reports.append(ProjectReport(project.name, quotas, cooling, tuple(keys)))
    return QuotaReport(now, tuple(reports))
