"""``/api/v1/sessions`` and the web chat page, in-process."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx2
import pytest

from gemgate import AsyncGemini
from gemgate.config import Settings
from gemgate.gateway import create_app
from gemgate.sessions import ChatManager, ChatStorage

pytestmark = pytest.mark.anyio


@pytest.fixture
async def http(tmp_path: Path) -> AsyncIterator[httpx2.AsyncClient]:
    client = AsyncGemini(settings=Settings(sessions_url=f"sqlite:///{tmp_path}/sessions.db"))
    app = create_app(client)
    async with httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=app), base_url="http://gateway"
    ) as http:
        yield http
    await app.aclose()


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


def _events(text: str) -> list[dict[str, object]]:
    return [json.loads(line[6:]) for line in text.split("\n\n") if line.startswith("data: ")]


async def _history(http: httpx2.AsyncClient, sid: str) -> list[tuple[str, str]]:
    detail = (await http.get(f"/api/v1/sessions/{sid}")).json()
    assert detail["message_count"] == len(detail["messages"])
    return [(m["role"], m["parts"][0].get("text", "")) for m in detail["messages"]]


async def test_a_failed_turn_is_a_4xx_and_leaves_no_orphan(http: httpx2.AsyncClient) -> None:
    sid = (await http.post("/api/v1/sessions", json={})).json()["id"]
    await http.post(f"/api/v1/sessions/{sid}/messages", json={"content": "Hello"})
    before = await _history(http, sid)
    assert [role for role, _ in before] == ["user", "model"]
    for stream in (False, True, False, True):  # retries add nothing either
        answer = await http.post(
            f"/api/v1/sessions/{sid}/messages",
            json={"content": "Still there?", "model": "gemini-nope", "stream": stream},
        )
        assert answer.status_code == 404, answer.text
        assert answer.headers["content-type"] == "application/json"
        assert "gemini-nope" in answer.json()["detail"]
    assert await _history(http, sid) == before
    after = await http.post(f"/api/v1/sessions/{sid}/messages", json={"content": "Still there?"})
    assert after.status_code == 200
    assert [role for role, _ in await _history(http, sid)] == ["user", "model"] * 2


async def test_regenerate_replaces_the_last_answer(http: httpx2.AsyncClient) -> None:
    sid = (await http.post("/api/v1/sessions", json={})).json()["id"]
    assert (await http.post(f"/api/v1/sessions/{sid}/regenerate")).status_code == 400
    for question in ("First question", "Second question"):
        await http.post(f"/api/v1/sessions/{sid}/messages", json={"content": question})
    before = await _history(http, sid)
    again = await http.post(f"/api/v1/sessions/{sid}/regenerate", json={"stream": True})
    assert again.status_code == 200
    events = _events(again.text)
    assert events[-1]["type"] == "final_answer"
    after = await _history(http, sid)
    assert after[:3] == before[:3] and after[3] == ("model", events[-1]["text"])
    assert len(after) == 4
    failed = await http.post(f"/api/v1/sessions/{sid}/regenerate", json={"model": "gemini-nope"})
    assert failed.status_code == 404
    assert await _history(http, sid) == after  # the old answer survives a failed regenerate


async def test_rename(http: httpx2.AsyncClient) -> None:
    sid = (await http.post("/api/v1/sessions", json={"title": "Draft"})).json()["id"]
    renamed = await http.patch(f"/api/v1/sessions/{sid}", json={"title": "  Trip  "})
    assert renamed.status_code == 200 and renamed.json()["title"] == "Trip"
    assert (await http.get(f"/api/v1/sessions/{sid}")).json()["title"] == "Trip"
    for body, code in (({}, 400), ({"title": 3}, 400)):
        assert (await http.patch(f"/api/v1/sessions/{sid}", json=body)).status_code == code
    assert (await http.patch("/api/v1/sessions/nope", json={"title": "x"})).status_code == 404
    cleared = await http.patch(f"/api/v1/sessions/{sid}", json={"title": None})
    assert cleared.json()["title"] is None


async def test_images_are_stored_with_the_question(http: httpx2.AsyncClient) -> None:
    sid = (await http.post("/api/v1/sessions", json={})).json()["id"]
    png = base64.b64encode(b"\x89PNG\r\n\x1a\n" + bytes(64)).decode()
    for images in (
        [{"mime_type": "text/plain", "data": png}],
        [{"mime_type": "image/png", "data": "not base64!"}],
        [{"mime_type": "image/png"}],
        {"mime_type": "image/png", "data": png},
    ):
        bad = await http.post(
            f"/api/v1/sessions/{sid}/messages", json={"content": "x", "images": images}
        )
        assert bad.status_code == 400, images
    assert (await http.get(f"/api/v1/sessions/{sid}")).json()["message_count"] == 0
    answer = await http.post(
        f"/api/v1/sessions/{sid}/messages",
        json={"images": [{"mime_type": "image/png", "data": png}]},
    )
    assert answer.status_code == 200
    question = (await http.get(f"/api/v1/sessions/{sid}")).json()["messages"][0]
    assert question["parts"] == [{"inlineData": {"mimeType": "image/png", "data": png}}]
    assert question["message_type"] == "image"


async def test_a_stopped_turn_stores_nothing_and_an_edit_replaces_the_turn(
    tmp_path: Path,
) -> None:
    manager = ChatManager(ChatStorage.from_url(f"sqlite:///{tmp_path}/chats.db"))
    async with AsyncGemini() as client:
        chat = (await manager.create_chat()).id
        async for _ in client.chat_with_tools(
            "Tell me a story", chat_id=chat, chat_manager=manager
        ):
            pass
        events = client.chat_with_tools("And another", chat_id=chat, chat_manager=manager)
        first = await anext(events)
        assert first.type == "text_delta"
        await events.aclose()  # the reader stopped the answer
        assert [m.text for m in await manager.get_history(chat)][0] == "Tell me a story"
        assert (await manager.get_chat(chat)).message_count == 2
        async for _ in client.chat_with_tools(
            "Tell me a poem", chat_id=chat, chat_manager=manager, replace_last=True
        ):
            pass
        history = await manager.get_history(chat)
        assert [m.role for m in history] == ["user", "model"]
        assert history[0].text == "Tell me a poem" and "Tell me a poem" in history[1].text
    await manager.close()
