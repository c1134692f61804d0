"""Selectable /v1 backends: status, switching at runtime, refusing what cannot work."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx2
import pytest
import uvicorn
from openai import AsyncOpenAI

from gemgate import AsyncGemini
from gemgate.config import Settings
from gemgate.gateway import create_app
from gemgate.projects import GatewayKey, hash_secret
from tests.conftest import serve_in_loop, stop_serving

pytestmark = pytest.mark.anyio
Serve = Callable[[Any], Awaitable[str]]


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    running: list[tuple[uvicorn.Server, asyncio.Task[None]]] = []

    async def start(app: Any) -> str:
        server, task, base = await serve_in_loop(app, lifespan="on")
        running.append((server, task))
        return base

    yield start
    for server, task in running:
        await stop_serving(server, task)


def _gateway() -> Any:
    return create_app(AsyncGemini(settings=Settings()))  # no key: the emulator upstream


async def test_status_and_switch_to_an_openai_compatible_server(serve: Serve) -> None:
    upstream = await serve(_gateway())  # another gateway stands in for Ollama/vLLM
    front = await serve(_gateway())
    async with httpx2.AsyncClient(base_url=front) as http:
        status = (await http.get("/api/v1/models/status")).json()
        assert status["backend_type"] == "emulator" and status["last_error"] is None
        loaded = await http.post(
            "/api/v1/models/load",
            json={
                "backend_type": "openai_compatible",
                "model_name_or_path": "gemini-2.5-flash",
                "base_url": f"{upstream}/v1",
            },
        )
        assert loaded.status_code == 200, loaded.text
        assert loaded.json()["backend_type"] == "openai_compatible"
        relayed = await http.post(
            "/v1/chat/completions",
            json={"model": "gemini-2.5-flash", "messages": [{"role": "user", "content": "hi"}]},
        )
        assert relayed.status_code == 200
        assert relayed.headers["x-request-id"]
        assert "hi" in relayed.json()["choices"][0]["message"]["content"]
    client = AsyncOpenAI(api_key="any", base_url=f"{front}/v1")
    chunks = [
        c
        async for c in await client.chat.completions.create(
            model="gemini-2.5-flash", messages=[{"role": "user", "content": "stream"}], stream=True
        )
    ]
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    await client.close()


async def test_unreachable_backend_is_refused_and_previous_kept(serve: Serve) -> None:
    front = await serve(_gateway())
    async with httpx2.AsyncClient(base_url=front) as http:
        refused = await http.post(
            "/api/v1/models/load",
            json={"backend_type": "openai_compatible", "base_url": "http://127.0.0.1:1/v1"},
        )
        assert refused.status_code == 503
        assert "cannot reach" in refused.json()["detail"]
        status = (await http.get("/api/v1/models/status")).json()
        assert status["backend_type"] == "emulator"
        assert "cannot reach" in status["last_error"]
        for body, code in (
            ({"backend_type": "gemini"}, 400),  # no key configured
            ({"backend_type": "tensorflow"}, 400),
            ({"backend_type": "openai_compatible"}, 400),  # no base URL anywhere
        ):
            answer = await http.post("/api/v1/models/load", json=body)
            assert answer.status_code == code, answer.text
        assert (await http.post("/api/v1/models/load", content=b"{")).status_code == 400
        still = await http.post(
            "/v1/chat/completions",
            json={"model": "gemini-2.5-flash", "messages": [{"role": "user", "content": "ok?"}]},
        )
        assert still.status_code == 200
        back = await http.post("/api/v1/models/load", json={"backend_type": "emulator"})
        assert back.status_code == 200 and back.json()["last_error"] is None


async def test_seed_settings_and_aliases(serve: Serve) -> None:
    from gemgate.errors import UsageError
    from gemgate.gateway._backends import BackendError, Registry

    upstream = await serve(_gateway())
    primary = AsyncGemini(settings=Settings())
    env = {"OLLAMA_BASE_URL": upstream, "DEFAULT_LLM_MAX_NEW_TOKENS": "5", "DEFAULT_LLM_TOP_K": "3"}
    registry = Registry(primary, environ=env)
    assert registry.defaults == {"max_tokens": 5, "top_k": 3}
    status = await registry.load("ollama", "gemini-2.5-flash")
    assert status["backend_type"] == "openai_compatible" and status["base_url"] == f"{upstream}/v1"
    with pytest.raises(BackendError, match="not part of gemgate"):
        await registry.load("local", "gpt2")
    with pytest.raises(BackendError, match="VLLM_BASE_URL"):
        await registry.load("vllm", "m")
    with pytest.raises(UsageError, match="top_k >= 1"):
        Registry(primary, environ={"DEFAULT_LLM_TOP_K": "0"})
    await registry.aclose()
    await primary.aclose()


async def test_generation_defaults_apply_and_top_k_is_checked(
    serve: Serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEFAULT_LLM_MAX_NEW_TOKENS", "4")
    front = await serve(_gateway())
    async with httpx2.AsyncClient(base_url=front) as http:
        body = {
            "model": "gemini-2.5-flash",
            "messages": [{"role": "user", "content": "long answer"}],
        }
        short = (await http.post("/v1/chat/completions", json=body)).json()
        assert short["choices"][0]["finish_reason"] == "length"
        longer = (await http.post("/v1/chat/completions", json={**body, "max_tokens": 500})).json()
        assert longer["choices"][0]["finish_reason"] == "stop"
        bad = await http.post("/v1/chat/completions", json={**body, "top_k": 0})
        assert bad.status_code == 400 and bad.json()["error"]["param"] == "top_k"


async def test_a_keys_models_hold_on_an_openai_compatible_backend_too(serve: Serve) -> None:
    """Found by review: relayed bodies went on unread, so any model was open to any key."""
    keys = [
        GatewayKey(name="ops", secret_sha256=hash_secret("ops-secret"), admin=True),
        GatewayKey(name="lite", secret_sha256=hash_secret("lite-secret"), models=["lite-model"]),
    ]
    upstream = await serve(_gateway())
    front = await serve(create_app(AsyncGemini(settings=Settings(gateway_keys=keys))))
    async with httpx2.AsyncClient(base_url=front) as http:
        loaded = await http.post(
            "/api/v1/models/load",
            headers={"authorization": "Bearer ops-secret"},
            json={
                "backend_type": "openai_compatible",
                "model_name_or_path": "gemini-2.5-flash",
                "base_url": f"{upstream}/v1",
            },
        )
        assert loaded.status_code == 200, loaded.text
        lite = {"authorization": "Bearer lite-secret"}
        for path, body in (
            ("/v1/chat/completions", {"messages": [{"role": "user", "content": "hi"}]}),
            ("/v1/embeddings", {"input": "hi"}),
        ):
            refused = await http.post(
                path, headers=lite, json={"model": "gemini-2.5-flash", **body}
            )
            assert refused.status_code == 403, refused.text
            assert refused.json()["error"]["param"] == "model"
        allowed = await http.post(
            "/v1/chat/completions",
            headers={"authorization": "Bearer ops-secret"},
            json={"model": "gemini-2.5-flash", "messages": [{"role": "user", "content": "hi"}]},
        )
        assert allowed.status_code == 200, allowed.text
