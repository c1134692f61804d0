"""Stored responses in SQLite and PostgreSQL: round trip, owners apart, calls, deletion."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gemgate.gateway._responses import StoredResponse, StoredResponses
from gemgate.wire.responses import KnownCall
from tests.servers import POSTGRES_URL, need_server

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["sqlite", "postgres"])
async def stored(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[StoredResponses]:
    if request.param == "postgres":
        need_server("PostgreSQL", 5432)
        url = POSTGRES_URL
    else:
        url = f"sqlite:///{tmp_path}/responses.db"
    responses = StoredResponses(url)
    try:
        yield responses
    finally:
        await responses.aclose()


def _stored() -> StoredResponse:
    response_id = f"resp_{uuid.uuid4().hex}"
    contents = [
        {"role": "user", "parts": [{"text": "Weather in Paris?"}]},
        {
            "role": "model",
            "parts": [
                {
                    "functionCall": {"name": "get_weather", "args": {"city": "Paris"}},
                    "thoughtSignature": "c2ln",
                }
            ],
        },
    ]
    items = [{"id": "msg_1", "type": "message", "role": "user", "content": "Weather in Paris?"}]
    response = {"id": response_id, "object": "response", "created_at": 7, "output": []}
    return StoredResponse(response_id, response, items, contents)


async def test_a_response_round_trips_for_its_owner_only(stored: StoredResponses) -> None:
    kept = _stored()
    call_id = f"call_{uuid.uuid4().hex}"
    await stored.save("a", kept, {call_id: KnownCall("get_weather", "c2ln")})
    assert await stored.get("a", kept.id) == kept
    assert await stored.get("b", kept.id) is None
    assert await stored.calls("a", [call_id, "call_other"]) == {
        call_id: KnownCall("get_weather", "c2ln")
    }
    assert await stored.calls("b", [call_id]) == {}
    assert await stored.calls("a", []) == {}
    assert not await stored.delete("b", kept.id)
    assert await stored.delete("a", kept.id)
    assert await stored.get("a", kept.id) is None
    assert await stored.calls("a", [call_id]) == {}
    assert not await stored.delete("a", kept.id)
