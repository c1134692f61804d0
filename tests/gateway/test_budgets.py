"""Hard budgets per gateway key (tokens, dollars), in memory and shared over Redis."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import httpx2
import pytest

from gemgate import AsyncGemini
from gemgate.config import Settings
from gemgate.gateway import create_app
from gemgate.gateway._app import Gateway
from gemgate.projects import GatewayKey, hash_secret
from gemgate.state._spend import period_of
from tests.servers import REDIS_URL, need_server

pytestmark = pytest.mark.anyio

CHAT = {"model": "gemini-2.5-flash", "messages": [{"role": "user", "content": "Hello"}]}
KEYS = [
    GatewayKey(name="tokens", secret_sha256=hash_secret("t-secret"), max_tokens=1),
    GatewayKey(name="dollars", secret_sha256=hash_secret("d-secret"), max_budget_usd=1e-6),
    GatewayKey(name="free", secret_sha256=hash_secret("f-secret")),
]


@asynccontextmanager
async def gateway(**settings: object) -> AsyncIterator[tuple[Gateway, httpx2.AsyncClient]]:
    client = AsyncGemini(
        settings=Settings(
            upstream="emulator", gateway_keys=KEYS, sessions_url="memory://", **settings
        )
    )
    app = create_app(client)
    await client.engine.shared.start()
    transport = httpx2.ASGITransport(app=app)
    async with httpx2.AsyncClient(transport=transport, base_url="http://gw") as http:
        yield app, http
    await client.aclose()


def _as(secret: str) -> dict[str, str]:
    return {"authorization": f"Bearer {secret}"}


async def test_a_key_over_its_budget_is_refused_until_the_period_ends() -> None:
    async with gateway() as (app, http):
        for secret in ("t-secret", "d-secret", "f-secret"):
            first = await http.post("/v1/chat/completions", json=CHAT, headers=_as(secret))
            assert first.status_code == 200  # nothing spent yet
        await app.budgets.settle()
        for secret, words in (("t-secret", "tokens this month"), ("d-secret", "$")):
            refused = await http.post("/v1/chat/completions", json=CHAT, headers=_as(secret))
            assert refused.status_code == 429, refused.text
            error = refused.json()["error"]
            assert error["code"] == "budget_exceeded" and words in error["message"]
            month_end = period_of("month", datetime.now(UTC).timestamp())[1]
            assert month_end is not None
            assert (
                0
                < int(refused.headers["retry-after"])
                <= month_end - datetime.now(UTC).timestamp() + 1
            )
            assert "secret" not in refused.text
        free = await http.post("/v1/chat/completions", json=CHAT, headers=_as("f-secret"))
        assert free.status_code == 200  # a key without a budget is not affected


def test_periods() -> None:
    moment = datetime(2026, 12, 31, 23, 30, tzinfo=UTC).timestamp()
    assert period_of("day", moment) == ("2026-12-31", datetime(2027, 1, 1, tzinfo=UTC).timestamp())
    assert period_of("month", moment) == ("2026-12", datetime(2027, 1, 1, tzinfo=UTC).timestamp())
    assert period_of("total", moment) == ("total", None)


async def test_every_process_on_one_redis_enforces_one_budget() -> None:
    need_server("Redis", 6379)
    shared = {"state_url": REDIS_URL, "state_prefix": f"gemgate-test-{uuid.uuid4().hex[:8]}:"}
    async with gateway(**shared) as (first, one), gateway(**shared) as (_, other):
        spent = await one.post("/v1/chat/completions", json=CHAT, headers=_as("t-secret"))
        assert spent.status_code == 200
        await first.budgets.settle()
        refused = await other.post("/v1/chat/completions", json=CHAT, headers=_as("t-secret"))
        assert refused.status_code == 429  # the other process saw the spending
        month = period_of("month", datetime.now(UTC).timestamp())[0]
        tokens, _ = await first.client.engine.shared.spend.spent("tokens", month)
        assert tokens > 1


async def test_a_socket_of_a_key_over_its_budget_is_refused_and_its_turns_are_charged() -> None:
    import json

    import websockets

    from tests.conftest import serve_in_loop, stop_serving

    async with gateway() as (app, http):
        server, task, base = await serve_in_loop(app)
        url = base.replace("http", "ws") + "/ws/chat?key=t-secret"
        try:
            async with websockets.connect(url) as ws:  # nothing spent yet: a turn
                await ws.send(json.dumps({"content": "hi"}))
                while json.loads(await ws.recv())["type"] != "final_answer":
                    pass
            await app.budgets.settle()  # the socket's turn was charged to its key
            with pytest.raises(websockets.ConnectionClosed) as refused:
                async with websockets.connect(url) as ws:
                    await ws.recv()
            assert refused.value.rcvd is not None and refused.value.rcvd.code == 1008
            assert "has spent" in refused.value.rcvd.reason
        finally:
            await stop_serving(server, task)
