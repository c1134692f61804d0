"""The request log and ``GET /api/v1/usage``: every call logged with its key's name and cost."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx2
import pytest
from rich.console import Console

from gemgate import AsyncGemini
from gemgate.config import Settings
from gemgate.console._usage import render_usage
from gemgate.gateway import create_app
from gemgate.projects import GatewayKey, hash_secret

pytestmark = pytest.mark.anyio

SECRETS = {"team-a": "s3cret-team-a-0123", "team-b": "s3cret-team-b-4567"}
FLASH, LITE = "gemini-2.5-flash", "gemini-2.5-flash-lite"


@dataclass
class Gateway:
    http: httpx2.AsyncClient
    db: Path

    def auth(self, name: str) -> dict[str, str]:
        return {"authorization": f"Bearer {SECRETS[name]}"}


@pytest.fixture
async def gateway(tmp_path: Path) -> AsyncIterator[Gateway]:
    keys = [GatewayKey(name=n, secret_sha256=hash_secret(s)) for n, s in SECRETS.items()]
    db = tmp_path / "gemgate.db"
    settings = Settings(
        upstream="emulator", gateway_keys=keys, sessions_url=f"sqlite:///{db}"
    )  # the request log goes to the sessions database
    client = AsyncGemini(settings=settings)
    app = create_app(client)
    async with httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=app), base_url="http://gw"
    ) as http:
        yield Gateway(http, db)
    await app.usage.aclose()
    await app.sessions.manager.close()
    await client.aclose()


async def _chat(gateway: Gateway, name: str, model: str) -> None:
    body = {"model": model, "messages": [{"role": "user", "content": f"Hello from {name}"}]}
    answer = await gateway.http.post("/v1/chat/completions", json=body, headers=gateway.auth(name))
    assert answer.status_code == 200, answer.text


async def test_each_key_sees_its_own_calls_by_model(gateway: Gateway) -> None:
    await _chat(gateway, "team-a", FLASH)
    await _chat(gateway, "team-a", LITE)
    await _chat(gateway, "team-b", FLASH)
    mine = await gateway.http.get(
        "/api/v1/usage", params={"group_by": "model"}, headers=gateway.auth("team-a")
    )
    assert mine.status_code == 200, mine.text
    body = mine.json()
    assert body["group_by"] == "model" and body["to"] - body["from"] == 86_400
    rows = {row["group"]: row for row in body["rows"]}
    assert set(rows) == {FLASH, LITE}  # team-b's call is not team-a's to see
    assert all(row["requests"] == 1 and row["prompt_tokens"] > 0 for row in rows.values())
    assert rows[FLASH]["cost_usd"] > rows[LITE]["cost_usd"] > 0  # flash costs more per token
    assert body["total"]["requests"] == 2
    by_key = await gateway.http.get(
        "/api/v1/usage", params={"group_by": "key"}, headers=gateway.auth("team-b")
    )
    assert [(r["group"], r["requests"]) for r in by_key.json()["rows"]] == [("team-b", 1)]

    console = Console(record=True, width=120)
    render_usage(body, console)
    text = console.export_text()
    assert FLASH in text and LITE in text and "total" in text


async def test_the_log_never_holds_a_secret(gateway: Gateway) -> None:
    await _chat(gateway, "team-a", FLASH)
    await gateway.http.get("/api/v1/usage", headers=gateway.auth("team-a"))  # flushes the log
    stored = b"".join(f.read_bytes() for f in gateway.db.parent.glob(gateway.db.name + "*"))
    assert b"team-a" in stored  # the key's name is logged ...
    assert all(secret.encode() not in stored for secret in SECRETS.values())  # ... never its secret


async def test_bad_parameters_are_a_clear_400(gateway: Gateway) -> None:
    auth = gateway.auth("team-a")
    for params, words in (
        ({"group_by": "colour"}, "'group_by' must be one of"),
        ({"from": "yesterday"}, "'from' must be Unix seconds or an ISO 8601 time"),
        ({"to": "2026-12-04T00:00:00"}, "needs a time zone"),
        ({"since": "0"}, "unknown parameter(s): since"),
    ):
        answer = await gateway.http.get("/api/v1/usage", params=params, headers=auth)
        assert answer.status_code == 400 and words in answer.json()["detail"], params
    window = await gateway.http.get(
        "/api/v1/usage",
        params={"from": "2026-01-01T00:00:00Z", "to": "2026-01-02T00:00:00+00:00"},
        headers=auth,
    )
    assert window.status_code == 200 and window.json()["rows"] == []
    assert (await gateway.http.get("/api/v1/usage")).status_code == 401
