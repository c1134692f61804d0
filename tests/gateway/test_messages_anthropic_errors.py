"""Every failure on /v1/messages in Anthropic's error shape, as ``/openapi.json`` publishes it.

Each case injects one failure (an emulator fault, an unreachable upstream, a body cap)
into a fresh client and an in-process gateway, and checks status, error type and body.
"""

from __future__ import annotations

from typing import Any

import httpx2
import jsonschema
import pytest

from gemgate import AsyncGemini
from gemgate.config import RetrySettings, Timeouts
from gemgate.gateway import create_app

from .conftest import FLASH, Stack

pytestmark = pytest.mark.anyio

QUESTION = [{"role": "user", "content": "hello"}]

SHORT = Timeouts(
    connect=1, generate=0.3, stream_first_byte=0.3, stream_idle=0.3, embed=0.3, other=0.3, total=5
)
MESSAGE = {"model": FLASH, "max_tokens": 64, "messages": QUESTION}
FAILURES: dict[str, tuple[int, str, dict[str, Any] | None, dict[str, Any], Any]] = {
    "upstream timeout": (504, "api_error", {"kind": "delay", "delay_ms": 1500}, {}, MESSAGE),
    "unreachable upstream": (
        529,
        "overloaded_error",
        None,
        {"upstream_url": "http://127.0.0.1:1"},
        MESSAGE,
    ),
    "upstream hangs up": (502, "api_error", {"kind": "drop"}, {}, MESSAGE),
    "overloaded": (529, "overloaded_error", {"kind": "status", "status": 503}, {}, MESSAGE),
    "quota exhausted": (
        429,
        "rate_limit_error",
        {"kind": "status", "status": 429, "retry_delay": "30s"},
        {},
        MESSAGE,
    ),
    "upstream 4xx": (
        400,
        "invalid_request_error",
        {"kind": "status", "status": 400, "message": "the upstream refuses this"},
        {},
        MESSAGE,
    ),
    "oversized body": (413, "request_too_large", None, {}, {**MESSAGE, "system": "x" * 2000}),
    "malformed JSON": (400, "invalid_request_error", None, {}, b'{"model": "x", "messages": ['),
    "wrong method": (405, "invalid_request_error", None, {}, None),
}


@pytest.mark.parametrize("case", list(FAILURES))
async def test_failures_in_anthropics_shape(stack: Stack, case: str) -> None:
    status, kind, fault, settings, body = FAILURES[case]
    await stack.faults(*([fault] if fault else []))
    client = AsyncGemini(
        api_key="k",
        retry=RetrySettings(max_retries=0),
        sessions_url="memory://",
        timeouts=SHORT,
        **{"upstream_url": stack.emulator_url, **settings},
    )
    gateway = create_app(client, max_body=1000)
    transport = httpx2.ASGITransport(app=gateway)
    async with httpx2.AsyncClient(transport=transport, base_url="http://gw", timeout=30) as http:
        schema = (await http.get("/openapi.json")).json()["components"]["schemas"]
        if body is None:
            response = await http.get("/v1/messages")
        elif isinstance(body, bytes):
            response = await http.post("/v1/messages", content=body)
        else:
            response = await http.post("/v1/messages", json=body)
    await gateway.sessions.manager.close()
    await client.aclose()
    assert response.status_code == status, response.text
    error = response.json()
    jsonschema.validate(error, schema["AnthropicError"])
    assert error["type"] == "error"
    assert error["error"]["type"] == kind
    if status == 429:
        assert 25 <= int(response.headers["retry-after"]) <= 30
