"""The gateway's request log and ``GET /api/v1/usage``: sums by project, key or model.

Every upstream call the gateway makes is logged with the gateway key's name (never its
secret), tokens, status, latency and cost (`gemgate.usage`). ``/api/v1/usage`` sums the
log over ``from``/``to`` (Unix seconds or ISO 8601; default: the last 24 hours) and
``group_by`` (``project``, ``key`` or ``model``). With gateway keys, a key sees only its
own calls.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import Receive, Scope, Send

from gemgate.config import Settings
from gemgate.gateway._asgi import send_json
from gemgate.gateway._faces import Problem
from gemgate.usage import RequestLog, UsageEntry

__all__ = ["UsageRoute", "log_url"]

DAY = 86_400.0
GROUPS = ("project", "key", "model")


def log_url(settings: Settings) -> str | None:
    """Where to log requests: ``request_log_url``, else the sessions database if SQL."""
    url = settings.request_log_url
    if url == "off":
        return None
    if url is not None:
        return url
    sessions = settings.sessions_url
    return sessions if sessions.startswith(("sqlite:///", "postgresql://", "postgres://")) else None


class UsageRoute:
    """The request log (when a log URL is set) and ``/api/v1/usage`` over it."""

    def __init__(self, settings: Settings) -> None:
        url = log_url(settings)
        self.log = RequestLog(url) if url else None

    def record(self, entry: UsageEntry) -> None:
        """Log one finished call (nothing when the log is off)."""
        if self.log is not None:
            self.log.record(entry)

    async def usage(self, scope: Scope, receive: Receive, send: Send) -> None:
        """``GET /api/v1/usage?from=&to=&group_by=``."""
        if self.log is None:
            raise Problem(404, "the request log is off (set request_log_url)")
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
        unknown = set(query) - {"from", "to", "group_by"}
        if unknown:
            raise Problem(400, f"unknown parameter(s): {', '.join(sorted(unknown))}")
        now = time.time()
        end = _instant(query, "to", now)
        start = _instant(query, "from", end - DAY)
        group = query.get("group_by")
        if group is not None and group not in GROUPS:
            raise Problem(400, f"'group_by' must be one of {', '.join(GROUPS)}")
        key = scope.get("gemgate.key")
        caller = key.name if key is not None else None
        rows = await self.log.summary(start=start, end=end, group_by=group, caller=caller)
        total = await self.log.summary(start=start, end=end, caller=caller)
        body: dict[str, Any] = {
            "from": start,
            "to": end,
            "group_by": group,
            "rows": [asdict(row) for row in rows],
            "total": asdict(total[0]) if total else None,
        }
        await send_json(send, 200, body)

    async def aclose(self) -> None:
        """Write what is queued and close the log."""
        if self.log is not None:
            await self.log.close()


def _instant(query: dict[str, str], name: str, default: float) -> float:
    value = query.get(name)
    if value is None:
        return default
    try:
        return float(value)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise Problem(400, f"'{name}' must be Unix seconds or an ISO 8601 time") from None
    if moment.tzinfo is None:
        raise Problem(400, f"'{name}' needs a time zone (e.g. 2026-12-04T00:00:00Z)")
    return moment.timestamp()
