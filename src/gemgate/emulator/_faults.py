"""Fault injection: rules that make matching requests fail the way Google's do.

A rule matches on ``method`` (``generateContent``, ``streamGenerateContent``,
``embedContent``, ``*`` …), ``model`` and ``project``, and has a ``kind``:

- ``status``: answer ``status`` (e.g. 503) in Google's error shape; ``retry_delay``
  (``"2.5s"``) adds RetryInfo.
- ``midstream``: a 200 stream that ends in an ``{"error": ...}`` event after
  ``after_chunks`` chunks (stream methods only).
- ``delay``: wait ``delay_ms`` before answering normally.
- ``drop``: close the connection without a response.
- ``malformed``: a 200 whose body is broken JSON.

For Live sessions (``method: "BidiGenerateContent"``) a rule is picked once per connection,
when its setup is admitted, and fires once the server has sent ``after_messages`` messages
after ``setupComplete`` (0: right after it): ``status`` closes the connection with the close
code of that status (400 → 1007, 401/403/404/409 → 1008, others → 1011), ``drop`` closes it
without a close frame, ``malformed`` sends a broken frame and closes with 1011, and
``goaway`` (Live only) sends ``goAway`` with ``timeLeft`` = ``delay_ms`` and closes when
that time is up (1008 "The operation was aborted.", as at the end of a connection's
life). ``delay`` holds ``setupComplete`` back by ``delay_ms``.

``times`` limits how many matching requests a rule hits; ``probability`` makes it hit
only some of them (seeded, so runs repeat).
"""

from __future__ import annotations

import random
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from gemgate.wire.durations import parse_duration

__all__ = ["LIVE_METHOD", "FaultInjector", "FaultRule"]

_STREAM_METHODS = frozenset({"streamGenerateContent"})
LIVE_METHOD = "BidiGenerateContent"
"""The method name fault rules use for Live connections."""


class FaultRule(BaseModel):
    """One fault rule, as posted to ``/_emulator/faults``."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["status", "midstream", "delay", "drop", "malformed", "goaway"]
    method: str = "*"
    model: str | None = None
    project: str | None = None
    status: int = Field(default=503, ge=400, le=599)
    retry_delay: str | None = None
    message: str | None = None
    after_chunks: int = Field(default=1, ge=0)
    after_messages: int = Field(default=0, ge=0)
    """Live: server messages sent after ``setupComplete`` before the fault fires."""
    delay_ms: int = Field(default=0, ge=0, le=600_000)
    times: int | None = Field(default=None, ge=1)
    probability: float = Field(default=1.0, ge=0.0, le=1.0)

    @field_validator("retry_delay")
    @classmethod
    def _duration(cls, value: str | None) -> str | None:
        if value is not None:
            parse_duration(value)
        return value

    @field_validator("model")
    @classmethod
    def _bare_model(cls, value: str | None) -> str | None:
        return value.removeprefix("models/") if value else value

    def applies(self, method: str, model: str | None, project: str | None) -> bool:
        """Whether this rule's filters match a request."""
        if self.method not in ("*", method):
            return False
        if self.kind == "midstream" and method not in _STREAM_METHODS:
            return False
        if self.kind == "goaway" and method != LIVE_METHOD:
            return False
        if self.model is not None and self.model != model:
            return False
        return self.project is None or self.project == project


class FaultInjector:
    """Holds the active rules and decides which one, if any, hits a request."""

    def __init__(self, seed: int = 0) -> None:
        self._seed = seed
        self._random = random.Random(seed)
        self._rules: list[FaultRule] = []
        self._remaining: list[int | None] = []

    @property
    def rules(self) -> list[FaultRule]:
        """The active rules, in order."""
        return list(self._rules)

    def set_rules(self, rules: list[FaultRule]) -> None:
        """Replace the active rules (an empty list clears them)."""
        self._rules = list(rules)
        self._remaining = [rule.times for rule in rules]
        self._random = random.Random(self._seed)

    def pick(self, method: str, model: str | None, project: str | None) -> FaultRule | None:
        """The first rule that hits this request, consuming one of its ``times``."""
        for index, rule in enumerate(self._rules):
            remaining = self._remaining[index]
            if remaining == 0 or not rule.applies(method, model, project):
                continue
            if rule.probability < 1.0 and self._random.random() >= rule.probability:
                continue
            if remaining is not None:
                self._remaining[index] = remaining - 1
            return rule
        return None
