"""Gateway keys: who may call the gateway, which models, and at what rate.

Configured as ``[[gateway_keys]]`` with a *hashed* secret, so the config file never holds
a usable key::

    [[gateway_keys]]
    name = "team-a"
    secret_sha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
    models = ["gemini-2.5-flash"]      # default: every model
    rpm = 600

Clients send the key as ``Authorization: Bearer …``, ``x-goog-api-key`` or (Anthropic's
clients) ``x-api-key``.

A key's rpm and tpm are counted in the engine's quota state, like a project's: with
``state_url`` every gateway process counts against the same window.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Sequence

from pydantic import BaseModel

from gemgate.projects import GatewayKey, Limits, hash_secret
from gemgate.state import Candidate, Grant, QuotaState

__all__ = ["BUDGETS", "GatewayKey", "KeyCheck", "Keyring", "hash_secret"]

BUDGETS = "gateway-keys"
"""The quota state's "model" under which gateway keys' windows are counted."""


class KeyCheck(BaseModel):
    """The outcome of checking a request's key."""

    status: int
    """200 (allowed), 401 (missing or unknown key) or 429 (over budget)."""
    message: str = ""
    key: GatewayKey | None = None
    retry_after: float | None = None


class Keyring:
    """Checks presented secrets against hashed ones, and keeps each key's budget."""

    def __init__(
        self, keys: Sequence[GatewayKey], state: QuotaState, clock: Callable[[], float]
    ) -> None:
        self._keys = list(keys)
        self._state = state
        self._clock = clock

    @property
    def enabled(self) -> bool:
        """True when at least one key is configured."""
        return bool(self._keys)

    def identify(self, secret: str | None) -> GatewayKey | KeyCheck:
        """The key ``secret`` belongs to, or the 401 refusing it."""
        if not secret:
            return KeyCheck(
                status=401, message="a gateway key is required (Authorization: Bearer …)"
            )
        digest = hash_secret(secret)
        key = next((k for k in self._keys if hmac.compare_digest(k.secret_sha256, digest)), None)
        if key is None:
            return KeyCheck(status=401, message="the gateway key is not valid")
        return key

    async def check(self, secret: str | None, tokens: int) -> KeyCheck:
        """Identify the caller and charge one request of ``tokens`` input tokens."""
        key = self.identify(secret)
        return key if isinstance(key, KeyCheck) else await self.charge(key, tokens)

    def named(self, name: str) -> GatewayKey | None:
        """The configured key called ``name`` (for a login session), if any."""
        return next((k for k in self._keys if k.name == name), None)

    async def charge(self, key: GatewayKey, tokens: int) -> KeyCheck:
        """Charge one request of ``tokens`` input tokens to ``key``'s rpm and tpm."""
        if not (key.rpm or key.tpm):
            return KeyCheck(status=200, key=key)
        now = self._clock()
        candidate = Candidate(f"key:{key.name}", Limits(rpm=key.rpm, tpm=key.tpm))
        result = await self._state.acquire(BUDGETS, [candidate], tokens, now)
        if isinstance(result, Grant):
            return KeyCheck(status=200, key=key)
        why = next(iter(result.reasons.values()), "")
        metric = why.split(" ", 1)[0] if why.startswith(("rpm", "tpm")) else "rate"
        wait = None if result.retry_at is None else max(result.retry_at - now, 0.0)
        return KeyCheck(
            status=429,
            message=f"gateway key {key.name!r} is over its {metric} budget",
            key=key,
            retry_after=wait,
        )
