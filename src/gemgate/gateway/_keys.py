"""Gateway keys: who may call the gateway, which models, and at what rate.

Configured as ``[[gateway_keys]]`` with a *hashed* secret, so the config file never holds
a usable key::

    [[gateway_keys]]
    name = "team-a"
    secret_sha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
    models = ["gemini-2.5-flash"]      # default: every model
    rpm = 600

Clients send the key as ``Authorization: Bearer …`` or ``x-goog-api-key``.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Sequence

from pydantic import BaseModel

from gemgate.policy._windows import QuotaWindow
from gemgate.projects import GatewayKey, Limits, hash_secret

__all__ = ["GatewayKey", "KeyCheck", "Keyring", "hash_secret"]


class KeyCheck(BaseModel):
    """The outcome of checking a request's key."""

    status: int
    """200 (allowed), 401 (missing or unknown key) or 429 (over budget)."""
    message: str = ""
    key: GatewayKey | None = None
    retry_after: float | None = None


class Keyring:
    """Checks presented secrets against hashed ones, and keeps each key's budget."""

    def __init__(self, keys: Sequence[GatewayKey], clock: Callable[[], float]) -> None:
        self._keys = list(keys)
        self._clock = clock
        self._windows = {k.name: QuotaWindow() for k in keys}

    @property
    def enabled(self) -> bool:
        """True when at least one key is configured."""
        return bool(self._keys)

    def check(self, secret: str | None, tokens: int) -> KeyCheck:
        """Identify the caller and charge one request of ``tokens`` input tokens."""
        if not secret:
            return KeyCheck(
                status=401, message="a gateway key is required (Authorization: Bearer …)"
            )
        digest = hash_secret(secret)
        key = next((k for k in self._keys if hmac.compare_digest(k.secret_sha256, digest)), None)
        if key is None:
            return KeyCheck(status=401, message="the gateway key is not valid")
        return self.charge(key, tokens)

    def named(self, name: str) -> GatewayKey | None:
        """The configured key called ``name`` (for a login session), if any."""
        return next((k for k in self._keys if k.name == name), None)

    def charge(self, key: GatewayKey, tokens: int) -> KeyCheck:
        """Charge one request of ``tokens`` input tokens to ``key``'s budget."""
        limits = Limits(rpm=key.rpm, tpm=key.tpm)
        window = self._windows[key.name]
        now = self._clock()
        refusal = window.check(limits, tokens, now) if key.rpm or key.tpm else None
        if refusal is not None:
            return KeyCheck(
                status=429,
                message=f"gateway key {key.name!r} is over its {refusal.metric} budget",
                key=key,
                retry_after=max(refusal.retry_at - now, 0.0),
            )
        if key.rpm or key.tpm:
            window.record(tokens, now)
        return KeyCheck(status=200, key=key)
