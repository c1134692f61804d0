"""Ephemeral auth tokens (``POST /v1alpha/auth_tokens``) for Live sessions.

A token belongs to the project whose key created it. It opens new sessions until
``newSessionExpireTime`` (default 60 s), at most ``uses`` times (default 1, 0 = no limit),
and is refused from ``expireTime`` on (default 30 min), also mid-session. Resuming a
session neither needs the new-session window nor spends a use. Both times must be less
than 20 hours ahead. ``bidiGenerateContentSetup`` locks the session's setup: without
``fieldMask`` every field it sets wins over the client's; with one, only the listed
paths do and its other fields are defaults the client may change.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from gemgate.emulator._errors import invalid_argument
from gemgate.emulator._normalize import camel
from gemgate.wire.durations import parse_timestamp

__all__ = ["AuthToken", "AuthTokenStore", "TokenRefused", "constrain"]

_DEFAULT_EXPIRE = 30 * 60.0
_DEFAULT_NEW_SESSION = 60.0
_MAX_AHEAD = 20 * 3600.0
_EXPIRED = "The ephemeral token has expired."


class TokenRefused(Exception):
    """A token that cannot be used now; the message says why."""


@dataclass
class AuthToken:
    """One ephemeral token."""

    name: str
    project: str
    expire_time: float
    new_session_expire_time: float
    uses: int
    setup: dict[str, Any] | None
    field_mask: list[str] | None
    used: int = 0


def _time(body: Mapping[str, Any], key: str, default: float, now: float, label: str) -> float:
    if key not in body:
        return now + default
    value = parse_timestamp(body[key])
    if value >= now + _MAX_AHEAD:
        raise invalid_argument(f"{label} must be less than 20 hours in the future.")
    return value


class AuthTokenStore:
    """The tokens of one emulator, checked against an injected clock."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._tokens: dict[str, AuthToken] = {}

    def reset(self) -> None:
        """Forget every token."""
        self._tokens.clear()

    def create(self, project: str, body: Mapping[str, Any]) -> AuthToken:
        """A new token from a normalized ``AuthToken`` body."""
        now = self._clock()
        uses = body.get("uses", 1)
        if uses < 0:
            raise invalid_argument("uses must not be negative.")
        mask = body.get("fieldMask")
        token = AuthToken(
            name=f"auth_tokens/{secrets.token_hex(32)}",
            project=project,
            expire_time=_time(body, "expireTime", _DEFAULT_EXPIRE, now, "expire_time"),
            new_session_expire_time=_time(
                body, "newSessionExpireTime", _DEFAULT_NEW_SESSION, now, "new_session_expire_time"
            ),
            uses=uses,
            setup=body.get("bidiGenerateContentSetup"),
            field_mask=[p.strip() for p in mask.split(",") if p.strip()] if mask else None,
        )
        self._tokens[token.name] = token
        return token

    def lookup(self, name: str) -> AuthToken:
        """The token ``name`` if it exists and has not expired."""
        token = self._tokens.get(name)
        if token is None:
            raise TokenRefused("The ephemeral token is not valid.")
        if self.expired(token):
            raise TokenRefused(_EXPIRED)
        return token

    def open(self, token: AuthToken, *, resuming: bool) -> None:
        """Let ``token`` open a session: spends a use unless the session is resumed."""
        if self.expired(token):
            raise TokenRefused(_EXPIRED)
        if resuming:
            return
        if self._clock() >= token.new_session_expire_time:
            raise TokenRefused(
                "The ephemeral token can no longer open new sessions "
                "(its new_session_expire_time has passed)."
            )
        if token.uses and token.used >= token.uses:
            raise TokenRefused("The ephemeral token has no uses left.")
        token.used += 1

    def expired(self, token: AuthToken) -> bool:
        """Whether ``token`` has passed its ``expireTime``."""
        return self._clock() >= token.expire_time


def _merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _lookup(value: Mapping[str, Any], path: list[str]) -> tuple[bool, Any]:
    current: Any = value
    for key in path:
        if not isinstance(current, Mapping) or key not in current:
            return False, None
        current = current[key]
    return True, current


def _assign(value: dict[str, Any], path: list[str], item: Any) -> None:
    for key in path[:-1]:
        child = value.get(key)
        value[key] = dict(child) if isinstance(child, Mapping) else {}
        value = value[key]
    value[path[-1]] = item


def constrain(setup: Mapping[str, Any], token: AuthToken) -> dict[str, Any]:
    """The effective setup of a session opened with ``token``."""
    if not token.setup:
        return dict(setup)
    if token.field_mask is None:
        return _merge(setup, token.setup)
    out = _merge(token.setup, setup)
    for field in token.field_mask:
        path = [camel(part) for part in field.split(".")]
        found, locked = _lookup(token.setup, path)
        if found:
            _assign(out, path, locked)
    return out
