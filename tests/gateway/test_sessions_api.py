"""``/api/v1/sessions`` and the web chat page, in-process."""

from __future__ import annotations

import json
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
    client = AsyncGemini(settings=Settings(sessions_url=f"sqlite:///{tmp_path}/sessions.db"))
    app = create_app(client)
    async with httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=app), base_url="http://gateway"
    ) as http:
        yield http
    await app.sessions.manager.close()
    await client.aclose()


async def test_session_lifecycle_and_messages(http: httpx2.AsyncClient) -> None:
    created = await http.post("/api/v1/sessions", json={"title": "Trip", "user": "ada"})
    assert created.status_code == 201
    sid = created.json()["id"]
    answer = await http.post(f"/api/v1/sessions/{sid}/messages", json={"content": "Hello there"})
    assert answer.status_code == 200
    assert answer.json()["type"] == "final_answer" and "Hello there" in answer.json()["text"]
    streamed = await http.post(
        f"/api/v1/sessions/{sid}/messages", json={"content": "And now?", "stream": True}
    )
    assert streamed.headers["content-type"].startswith("text/event-stream")
    events = [
        json.loads(line[6:]) for line in streamed.text.split("\n\n") if line.startswith("data: ")
    ]
    assert events[-1]["type"] == "final_answer"
    assert "".join(e["text"] for e in events if e["type"] == "text_delta") == events[-1]["text"]
    detail = (await http.get(f"/api/v1/sessions/{sid}")).json()
    assert detail["title"] == "Trip" and detail["message_count"] == 4
    assert [m["role"] for m in detail["messages"]] == ["user", "model", "user", "model"]
    listed = (await http.get("/api/v1/sessions", params={"user": "ada"})).json()["sessions"]
    assert [s["id"] for s in listed] == [sid]
    assert (await http.delete(f"/api/v1/sessions/{sid}")).status_code == 204
    assert (await http.get(f"/api/v1/sessions/{sid}")).status_code == 404


async def test_bad_input_is_a_clear_4xx(http: httpx2.AsyncClient) -> None:
    sid = (await http.post("/api/v1/sessions", json={})).json()["id"]
    for url, body, code in (
        ("/api/v1/sessions/nope/messages", {"content": "x"}, 404),
        (f"/api/v1/sessions/{sid}/messages", {"content": ""}, 400),
        (f"/api/v1/sessions/{sid}/messages", {"content": 3}, 400),
        ("/api/v1/sessions", {"title": 5}, 400),
    ):
        answer = await http.post(url, json=body)
        assert answer.status_code == code, (url, body, answer.text)
        assert answer.json()["detail"]
    broken = await http.post(f"/api/v1/sessions/{sid}/messages", content=b"{not json")
    assert broken.status_code == 400
    assert (await http.get(f"/api/v1/sessions/{sid}")).json()["message_count"] == 0


async def test_web_page_uses_the_sessions_api(http: httpx2.AsyncClient) -> None:
    page = await http.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert '<script src="/static/app.js" type="module">' in page.text
    script = "".join([(await http.get(f"/static/{name}")).text for name in ("app.js", "api.js")])
    assert "/api/v1/sessions" in script and "text_delta" in script
