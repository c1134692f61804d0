"""``GET /api/v1/quota``: the engine's quota and key report, as JSON.

The answer is :meth:`gemgate.QuotaReport.as_dict`: per project, the RPM/TPM/RPD windows
per model with their limits, the active cooldowns, and each key by name and fingerprint
(never its secret). With gateway keys, the request needs one, like every ``/api/v1`` route.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from gemgate.gateway._asgi import send_json
from gemgate.upstream._engine import Engine

__all__ = ["quota_route"]

PATH = "/api/v1/quota"


def quota_route(engine: Engine) -> ASGIApp:
    """The handler of ``GET /api/v1/quota`` for ``engine``."""

    async def quota(scope: Scope, receive: Receive, send: Send) -> None:
        report = await engine.quota_report()
        await send_json(send, 200, report.as_dict())

    return quota
