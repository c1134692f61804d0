"""Projects, keys and limits: the shape shared by the client, gateway and emulator.

Google applies quotas per *project* and model, not per key. A configuration lists each
project with its keys and per-model limits; the same ``[[projects]]`` table configures
the emulator (which enforces the limits) and the client (which stays under them).
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "GatewayKey",
    "Limits",
    "ProjectConfig",
    "fingerprint",
    "hash_secret",
    "next_pacific_midnight",
]


class Limits(BaseModel):
    """Per-project, per-model limits, as Google applies them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rpm: int | None = Field(default=None, ge=1)
    """Requests per minute."""
    tpm: int | None = Field(default=None, ge=1)
    """Input tokens per minute."""
    rpd: int | None = Field(default=None, ge=1)
    """Requests per day (the day ends at midnight America/Los_Angeles)."""


class ProjectConfig(BaseModel):
    """A Google Cloud project: its API keys share its quota.

    Keys stay plain strings for the code that sends them, but every representation
    (``repr``, ``str``, rich/devtools pretty-printing, validation errors) shows only
    their fingerprints.

    Example:
        >>> ProjectConfig(name="p", keys=["AIza-example"])
        ProjectConfig(name='p', keys=['key:ac7804c9'], limits={}, weight=1.0)
    """

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    name: str = Field(min_length=1)
    keys: list[str] = Field(min_length=1)
    limits: dict[str, Limits] = Field(default_factory=dict)
    """Limits keyed by model id (``gemini-2.5-flash``) or ``"*"`` for every model."""
    weight: float = Field(default=1.0, gt=0)
    """Relative share of traffic under weighted selection."""

    def limits_for(self, model: str) -> Limits | None:
        """The limits for ``model``, falling back to ``"*"``."""
        return self.limits.get(model.removeprefix("models/")) or self.limits.get("*")

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        """Pydantic's repr, str and pretty-print fields, with keys as fingerprints."""
        for name, value in super().__repr_args__():
            yield name, [fingerprint(k) for k in self.keys] if name == "keys" else value


@functools.lru_cache(maxsize=4096)
@functools.lru_cache(maxsize=4096)  # a handful of keys, fingerprinted on every attempt
def fingerprint(key: str) -> str:
    """A short, stable, non-reversible name for an API key, safe to log.

    Example:
        >>> fingerprint("AIza-example")
        'key:ac7804c9'
    """
    return "key:" + hashlib.sha256(key.encode()).hexdigest()[:8]


def hash_secret(secret: str) -> str:
    """The ``secret_sha256`` to put in a ``[[gateway_keys]]`` entry for ``secret``.

    Example:
        >>> hash_secret("test")[:12]
        '9f86d081884c'
    """
    return hashlib.sha256(secret.encode()).hexdigest()


class GatewayKey(BaseModel):
    """One gateway key."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    secret_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    models: list[str] = Field(default_factory=lambda: ["*"])
    rpm: int | None = Field(default=None, ge=1)
    tpm: int | None = Field(default=None, ge=1)
    max_tokens: int | None = Field(default=None, ge=1)
    """A hard budget: tokens (in, out, thinking) per ``budget_period``."""
    max_budget_usd: float | None = Field(default=None, gt=0)
    """A hard budget: US dollars (priced by the request log's price table) per period."""
    budget_period: Literal["day", "month", "total"] = "month"
    """When the budgets start again: each UTC day, each UTC month, or never."""
    admin: bool = False
    """May change the gateway for everyone: switch the ``/v1`` backend (``models/load``)."""

    def allows(self, model: str | None) -> bool:
        """Whether this key may use ``model``."""
        return "*" in self.models or model is None or model.removeprefix("models/") in self.models


_PACIFIC = ZoneInfo("America/Los_Angeles")


def next_pacific_midnight(now: float) -> float:
    """Epoch seconds of the first midnight in America/Los_Angeles after ``now``.

    Google's per-day quotas (``Limits.rpd``) reset then.

    Example:
        >>> next_pacific_midnight(1_750_000_000.0) - 1_750_000_000.0 < 86_400
        True
    """
    local = datetime.fromtimestamp(now, _PACIFIC)
    midnight = datetime.combine(local.date() + timedelta(days=1), datetime.min.time(), _PACIFIC)
    return midnight.timestamp()
