"""Model aliases with fallback chains on /v1."""

from __future__ import annotations

from pathlib import Path

import httpx2
import pytest
from openai import APIStatusError, AsyncOpenAI, NotFoundError

from gemgate import AsyncGemini
from gemgate.config import BackendConfig, RetrySettings, Settings
from gemgate.emulator import EmulatorConfig
from gemgate.emulator import create_app as create_emulator
from gemgate.gateway import create_app

from .conftest import serve

pytestmark = pytest.mark.anyio
ROUTES = {"fast": ["gemini-2.5-flash-lite", "gemini-2.5-flash"], "solo": ["gemini-2.5-flash-lite"]}


async def test_alias_falls_back_on_retryable_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    emu_server, emu_task, emulator = await serve(create_emulator(EmulatorConfig(), control=True))
    client = AsyncGemini(
        api_key="k", base_url=emulator, retry=RetrySettings(max_retries=0), model_routes=ROUTES
    )
    gw_server, gw_task, url = await serve(create_app(client), lifespan="on")
    try:
        async with httpx2.AsyncClient(base_url=url, timeout=30) as http:
            body = {"model": "fast", "messages": [{"role": "user", "content": "hello"}]}
            healthy = await http.post("/v1/chat/completions", json=body)
            assert healthy.status_code == 200 and healthy.json()["model"] == "fast"
            faults = {
                "faults": [{"kind": "status", "status": 503, "model": "gemini-2.5-flash-lite"}]
            }
            (await http.post(f"{emulator}/_emulator/faults", json=faults)).raise_for_status()
            fell_back = await http.post("/v1/chat/completions", json=body)
            assert fell_back.status_code == 200
            streamed = await http.post("/v1/chat/completions", json={**body, "stream": True})
            assert streamed.status_code == 200 and "[DONE]" in streamed.text
            alone = await http.post("/v1/chat/completions", json={**body, "model": "solo"})
            assert alone.status_code == 503
            bad = await http.post("/v1/chat/completions", json={**body, "temperature": 9})
            assert bad.status_code == 400  # not retryable: no fallback hides it
        models = [h["model"] for h in client.get_request_history().values()]
        assert models[:3] == ["gemini-2.5-flash-lite", "gemini-2.5-flash-lite", "gemini-2.5-flash"]
    finally:
        gw_server.should_exit = True
        await gw_task
        emu_server.should_exit = True
        await emu_task


async def test_routes_fall_back_across_backends(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    emu_server, emu_task, emulator = await serve(create_emulator(EmulatorConfig(), control=True))
    local_client = AsyncGemini(settings=Settings())  # another gateway stands in for Ollama/vLLM
    local_server, local_task, local = await serve(create_app(local_client), lifespan="on")
    routes = {
        "mixed": ["gemini-2.5-flash-lite", "local/gemini-2.5-flash"],
        "rescue": ["dead/some-model", "gemini-2.5-flash"],
        "down": ["dead/some-model"],
        "strict": ["local/no-such-model", "gemini-2.5-flash"],
    }
    backends = {
        "local": BackendConfig(base_url=f"{local}/v1", api_key="backend-secret"),
        "dead": BackendConfig(base_url="http://127.0.0.1:1/v1"),
    }
    client = AsyncGemini(
        api_key="k",
        base_url=emulator,
        retry=RetrySettings(max_retries=0),
        model_routes=routes,
        backends=backends,
    )
    gw_server, gw_task, url = await serve(create_app(client), lifespan="on")
    message = [{"role": "user", "content": "hello"}]
    try:
        faults = {"faults": [{"kind": "status", "status": 503, "model": "gemini-2.5-flash-lite"}]}
        async with httpx2.AsyncClient(timeout=30) as http:
            (await http.post(f"{emulator}/_emulator/faults", json=faults)).raise_for_status()
        openai = AsyncOpenAI(api_key="any", base_url=f"{url}/v1", max_retries=0)
        mixed = await openai.chat.completions.create(model="mixed", messages=message)  # type: ignore[arg-type]
        assert mixed.choices[0].message.content
        stream = await openai.chat.completions.create(
            model="mixed",
            messages=message,  # type: ignore[arg-type]
            stream=True,
        )
        assert "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
        local_models = [h["model"] for h in local_client.get_request_history().values()]
        assert local_models == ["gemini-2.5-flash", "gemini-2.5-flash"]

        direct = await openai.chat.completions.create(
            model="local/gemini-2.5-flash",
            messages=message,  # type: ignore[arg-type]
        )
        assert direct.choices[0].message.content == mixed.choices[0].message.content
        assert len(local_client.get_request_history()) == 3

        rescued = await openai.chat.completions.create(model="rescue", messages=message)  # type: ignore[arg-type]
        assert rescued.choices[0].message.content
        with pytest.raises(APIStatusError) as down:
            await openai.chat.completions.create(model="down", messages=message)  # type: ignore[arg-type]
        assert down.value.status_code == 503 and "unreachable" in down.value.message
        assert down.value.response.headers["retry-after"]
        with pytest.raises(NotFoundError):  # a 404 is the caller's problem: no fallback
            await openai.chat.completions.create(model="strict", messages=message)  # type: ignore[arg-type]
        await openai.close()
        front_models = [h["model"] for h in client.get_request_history().values()]
        assert front_models == ["gemini-2.5-flash-lite"] * 2 + ["gemini-2.5-flash"]
    finally:
        for server, task in ((gw_server, gw_task), (local_server, local_task)):
            server.should_exit = True
            await task
        emu_server.should_exit = True
        await emu_task
        await local_client.aclose()
