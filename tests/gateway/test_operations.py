"""/healthz, /readyz, /metrics and the per-response envelope."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx2
import pytest

from gemgate import AsyncGemini
from gemgate.config import Settings
from gemgate.gateway import create_app

pytestmark = pytest.mark.anyio


@pytest.fixture
async def http(tmp_path: Path) -> AsyncIterator[httpx2.AsyncClient]:
    client = AsyncGemini(settings=Settings(sessions_url=f"sqlite:///{tmp_path}/s.db"))
    transport = httpx2.ASGITransport(app=create_app(client))
    async with httpx2.AsyncClient(transport=transport, base_url="http://gw") as http:
        yield http
    await client.aclose()


async def test_ready_and_metrics(http: httpx2.AsyncClient) -> None:
    ready = await http.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {
        "ready": True,
        "checks": {"upstream": "ok", "store": "ok", "state": "ok"},
    }
    chat = {"model": "gemini-2.5-flash", "messages": [{"role": "user", "content": "count me"}]}
    assert (await http.post("/v1/chat/completions", json=chat)).status_code == 200
    assert (await http.post("/v1/chat/completions", json={"model": 1})).status_code == 400
    text = (await http.get("/metrics")).text
    assert 'gemgate_requests_total{route="v1",status_class="2xx"} 1.0' in text
    assert 'gemgate_requests_total{route="v1",status_class="4xx"} 1.0' in text
    assert 'gemgate_request_seconds_count{route="v1"} 2.0' in text
    total = next(
        line for line in text.splitlines() if line.startswith('gemgate_tokens_total{kind="total"}')
    )
    assert float(total.split()[-1]) > 0


async def test_ready_reports_a_broken_store(tmp_path: Path) -> None:
    client = AsyncGemini(settings=Settings(sessions_url="postgresql://nobody@127.0.0.1:1/none"))
    transport = httpx2.ASGITransport(app=create_app(client))
    async with httpx2.AsyncClient(transport=transport, base_url="http://gw") as http:
        ready = await http.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["checks"]["store"].startswith("failed")
    await client.aclose()


async def test_every_response_has_the_envelope(http: httpx2.AsyncClient) -> None:
    for method, url in (("GET", "/healthz"), ("GET", "/nowhere"), ("POST", "/v1/embeddings")):
        response = await http.request(method, url, headers={"x-request-id": "abc-123"})
        assert response.headers["x-request-id"] == "abc-123"
        assert float(response.headers["x-gemgate-overhead-ms"]) >= 0


async def test_openapi_document_lists_the_routes(http: httpx2.AsyncClient) -> None:
    document = (await http.get("/openapi.json")).json()
    assert document["openapi"].startswith("3.1")
    for path in (
        "/v1/chat/completions",
        "/v1/embeddings",
        "/api/v1/sessions",
        "/api/v1/models/load",
    ):
        assert path in document["paths"]


async def test_access_log_has_no_secrets(
    http: httpx2.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    caplog.set_level(logging.INFO, logger="gemgate.access")
    await http.post(
        "/gemini/v1beta/models/gemini-2.5-flash:generateContent",
        params={"key": "AIzaSECRET-in-query"},
        headers={"x-goog-api-key": "AIzaSECRET-in-header", "x-request-id": "log-1"},
        json={"contents": [{"parts": [{"text": "hi"}]}]},
    )
    lines = [r.getMessage() for r in caplog.records if r.name == "gemgate.access"]
    assert len(lines) == 1
    assert "status=200" in lines[0] and "request_id=log-1" in lines[0]
    assert "SECRET" not in lines[0]
