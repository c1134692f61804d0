"""Live helpers over HTTP: browser logins (a session cookie) and ephemeral Live tokens.

- ``POST /api/v1/login`` with a gateway key (``Authorization: Bearer …``) sets an HttpOnly,
  SameSite=Strict ``gemgate_session`` cookie that stands for the key on every route
  (``/ws/live`` included), so a browser page need not keep the key or put it in a URL.
  The cookie is signed (HMAC-SHA256) and carries the key's name and its expiry, so every
  gateway process that shares the ``login_secret`` setting accepts it (``gemgate serve
  --workers N`` gives its workers one).
- ``POST /api/v1/live/tokens`` mints an ephemeral token upstream (``v1alpha/auth_tokens``)
  with one of the gateway's keys, for clients that talk to the Live API directly:
  ``{"uses": 1, "expire_seconds": 1800, "new_session_expire_seconds": 60, "model": …}``
  (all optional; ``model`` defaults to the ``live_model`` setting and must be one the
  caller's gateway key may use) → ``{"name": "auth_tokens/…", "expire_time",
  "new_session_expire_time"}``. The token is locked to that model.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from starlette.types import Receive, Scope, Send

from gemgate.client._async_client import AsyncGemini
from gemgate.gateway._asgi import header, read_json, send_json
from gemgate.gateway._faces import Problem
from gemgate.upstream._pipeline import Call

__all__ = ["COOKIE", "LiveRoute", "Logins"]

COOKIE = "gemgate_session"


class Logins:
    """Browser sessions: a signed cookie naming the gateway key, valid for ``ttl`` seconds.

    Example:
        >>> logins = Logins(lambda: 1000.0, secret=b"k" * 32)
        >>> token = logins.start("team-a")
        >>> logins.verify(token)
        'team-a'
        >>> logins.verify(token[:-1] + "0") is None
        True
    """

    def __init__(
        self, clock: Callable[[], float], *, secret: bytes | None = None, ttl: float = 12 * 3600
    ) -> None:
        self._clock = clock
        self._ttl = ttl
        self._secret = secret or secrets.token_bytes(32)

    def _sign(self, payload: str) -> str:
        return hmac.new(self._secret, payload.encode(), hashlib.sha256).hexdigest()

    def start(self, key_name: str) -> str:
        """A new session for ``key_name``; returns the cookie value."""
        name = base64.urlsafe_b64encode(key_name.encode()).decode().rstrip("=")
        payload = f"{name}.{int(self._clock() + self._ttl)}.{secrets.token_hex(8)}"
        return f"{payload}.{self._sign(payload)}"

    def verify(self, token: str) -> str | None:
        """The key name of a valid, unexpired cookie value; else None."""
        payload, _, signature = token.rpartition(".")
        if not payload or not hmac.compare_digest(self._sign(payload), signature):
            return None
        name, expires, _ = (payload.split(".") + ["", "", ""])[:3]
        if not expires.isdigit() or int(expires) <= self._clock():
            return None
        try:
            return base64.urlsafe_b64decode(name + "=" * (-len(name) % 4)).decode()
        except ValueError:
            return None

    async def login(self, scope: Scope, receive: Receive, send: Send) -> None:
        """``POST /api/v1/login``: trade the request's gateway key for a session cookie."""
        key = scope.get("gemgate.key")
        if key is None:
            raise Problem(400, "no gateway keys are configured")
        cookie = f"{COOKIE}={self.start(key.name)}; HttpOnly; SameSite=Strict; Path=/"
        if scope.get("scheme") == "https":
            cookie += "; Secure"
        await send_json(send, 200, {"user": key.name}, [("set-cookie", cookie)])

    def user(self, scope: Scope) -> str | None:
        """The key name behind the request's session cookie, if it is valid."""
        cookies = header(scope, b"cookie") or ""
        for item in cookies.split(";"):
            name, _, value = item.strip().partition("=")
            if name == COOKIE:
                return self.verify(value)
        return None


class LiveRoute:
    """Serves ``/api/v1/live/tokens``."""

    def __init__(self, client: AsyncGemini) -> None:
        self._client = client

    async def tokens(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Mint an ephemeral Live token upstream, locked to one model the caller's key may use.

        An error status from the upstream is answered with its status and message.
        """
        body = await read_json(receive, 65536, empty_ok=True)
        try:
            request = self._request(body)
        except (ValueError, TypeError) as exc:
            raise Problem(400, f"invalid token request: {exc}") from None
        model = request["bidiGenerateContentSetup"]["model"].removeprefix("models/")
        key = scope.get("gemgate.key")
        if key is not None and not key.allows(model):
            raise Problem(403, f"this gateway key may not use {model}")
        call = Call(
            "POST",
            "/v1alpha/auth_tokens",
            body=json.dumps(request).encode(),
            headers={"content-type": "application/json"},
        )
        token = await self._client.engine.call_json(call)
        await send_json(
            send,
            200,
            {
                "name": token.get("name"),
                "expire_time": token.get("expireTime", request["expireTime"]),
                "new_session_expire_time": token.get(
                    "newSessionExpireTime", request["newSessionExpireTime"]
                ),
                "uses": token.get("uses", request["uses"]),
            },
        )

    def _request(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise TypeError("the body must be a JSON object")
        unknown = set(body) - {"uses", "expire_seconds", "new_session_expire_seconds", "model"}
        if unknown:
            raise ValueError(f"unknown fields: {', '.join(sorted(unknown))}")
        uses = _bounded(body, "uses", 1, 1, 100)
        expire = _bounded(body, "expire_seconds", 1800, 1, 20 * 3600)
        start = _bounded(body, "new_session_expire_seconds", min(60, expire), 1, expire)
        now = self._client.engine.clock()
        request: dict[str, Any] = {
            "uses": uses,
            "expireTime": _rfc3339(now + expire),
            "newSessionExpireTime": _rfc3339(now + start),
        }
        model = body.get("model", self._client.settings.live_model)
        if not isinstance(model, str) or not model:
            raise TypeError("'model' must be a model name")
        name = model if model.startswith("models/") else f"models/{model}"
        request["bidiGenerateContentSetup"] = {"model": name}  # the token is for this model
        return request


def _bounded(body: dict[str, Any], name: str, default: int, low: int, high: int) -> int:
    value = body.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"'{name}' must be an integer from {low} to {high}")
    return value


def _rfc3339(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
