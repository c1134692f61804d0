"""Model aliases with fallback chains on /v1."""

from __future__ import annotations

from pathlib import Path

import httpx2
import pytest

from gemgate import AsyncGemini
from gemgate.config import RetrySettings
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
