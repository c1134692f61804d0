"""Gateway keys: hashed secrets, allowed models, per-key budgets, errors in each route's shape."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx2
import pytest

from gemgate import AsyncGemini
from gemgate.config import Settings
from gemgate.gateway import create_app
from gemgate.projects import GatewayKey, hash_secret

pytestmark = pytest.mark.anyio
CHAT = {"model": "gemini-2.5-flash", "messages": [{"role": "user", "content": "hi"}]}
NATIVE = "/gemini/v1beta/models/gemini-2.5-flash:generateContent"
BODY = {"contents": [{"parts": [{"text": "hi"}]}]}


@pytest.fixture
async def http(tmp_path: Path) -> AsyncIterator[httpx2.AsyncClient]:
    keys = [
        GatewayKey(name="full", secret_sha256=hash_secret("s3cret-full")),
        GatewayKey(
            name="lite",
            secret_sha256=hash_secret("s3cret-lite"),
            models=["gemini-2.5-flash-lite"],
            rpm=2,
        ),
    ]
    settings = Settings(gateway_keys=keys, sessions_url=f"sqlite:///{tmp_path}/s.db")
    client = AsyncGemini(settings=settings)
    app = create_app(client)
    async with httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=app), base_url="http://gw"
    ) as http:
        yield http
    await client.aclose()


async def test_missing_and_wrong_keys_are_401_in_each_shape(http: httpx2.AsyncClient) -> None:
    openai_style = await http.post("/v1/chat/completions", json=CHAT)
    assert openai_style.status_code == 401
    assert openai_style.json()["error"]["type"] == "authentication_error"
    native = await http.post(NATIVE, json=BODY, headers={"x-goog-api-key": "wrong"})
    assert native.status_code == 401
    assert native.json()["error"]["status"] == "UNAUTHENTICATED"
    assert "wrong" not in native.text
    sessions = await http.get("/api/v1/sessions", headers={"authorization": "Bearer wrong"})
    assert sessions.status_code == 401
    assert set(sessions.json()) == {"detail"}  # the shape the sessions API answers in
    assert "wrong" not in sessions.text
    assert (await http.get("/healthz")).status_code == 200  # open routes stay open


async def test_valid_keys_work_by_header_bearer_and_query(http: httpx2.AsyncClient) -> None:
    bearer = await http.post(
        "/v1/chat/completions", json=CHAT, headers={"authorization": "Bearer s3cret-full"}
    )
    assert bearer.status_code == 200
    native = await http.post(NATIVE, json=BODY, headers={"x-goog-api-key": "s3cret-full"})
    assert native.status_code == 200
    query = await http.post(NATIVE, json=BODY, params={"key": "s3cret-full"})
    assert query.status_code == 200


async def test_allowed_models_and_budget(http: httpx2.AsyncClient) -> None:
    lite = {"authorization": "Bearer s3cret-lite"}
    refused = await http.post("/v1/chat/completions", json=CHAT, headers=lite)
    assert refused.status_code == 403 and refused.json()["error"]["param"] == "model"
    allowed = {**CHAT, "model": "gemini-2.5-flash-lite"}
    ok = await http.post("/v1/chat/completions", json=allowed, headers=lite)
    assert ok.status_code == 200
    over = await http.post("/v1/chat/completions", json=allowed, headers=lite)
    assert over.status_code == 429  # rpm=2: every authenticated request counts
    assert over.json()["error"]["type"] == "rate_limit_error"
    native = await http.post(NATIVE, json=BODY, headers={"x-goog-api-key": "s3cret-full"})
    assert native.status_code == 200  # another key's budget is its own


async def test_native_model_refusal(tmp_path: Path) -> None:
    keys = [
        GatewayKey(name="lite", secret_sha256=hash_secret("k"), models=["gemini-2.5-flash-lite"])
    ]
    client = AsyncGemini(
        settings=Settings(gateway_keys=keys, sessions_url=f"sqlite:///{tmp_path}/s.db")
    )
    transport = httpx2.ASGITransport(app=create_app(client))
    async with httpx2.AsyncClient(transport=transport, base_url="http://gw") as http:
        native = await http.post(NATIVE, json=BODY, headers={"x-goog-api-key": "k"})
        assert native.status_code == 403
        assert native.json()["error"]["status"] == "PERMISSION_DENIED"
    await client.aclose()
