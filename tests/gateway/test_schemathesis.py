"""A schemathesis run against the gateway's own /openapi.json: no request makes a 5xx."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, settings
from starlette.types import Receive, Scope, Send

from gemgate import AsyncGemini
from gemgate.config import Settings
from gemgate.gateway import create_app

GATEWAY = create_app(AsyncGemini(settings=Settings(sessions_url="memory://")))


async def APP(scope: Scope, receive: Receive, send: Send) -> None:
    """The gateway, minus lifespan: each schemathesis call would otherwise close it."""
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    await GATEWAY(scope, receive, send)


SCHEMA = schemathesis.openapi.from_asgi("/openapi.json", APP)


@SCHEMA.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors(case: schemathesis.Case) -> None:
    response = case.call()
    assert response.status_code < 500, (case.method, case.path, response.text[:300])
