"""Key A can never read, list, post to or delete key B's resources, on any route.

The probe walks the gateway's route table (`gemgate.gateway._table`): every route must
have a row in `ROWS` saying how it is probed, so a new route without one fails here.

* ``FOREIGN``: the path names a resource (``{session_id}``, ``{file_id}``…); key A calls
  it with key B's ids and gets a 404 (nothing of B's in the body), and B's resources are
  unchanged afterwards.
* ``LIST``: key A lists and sees none of B's ids.
* ``REFERS``: key A creates something that names B's resources in its body (a session
  over B's store, a batch over B's file, a response continuing B's…): refused (4xx).
* ``OWN``: creates only the caller's own resources and names none of B's.
* ``ADMIN``: changes the gateway for every key (the ``/v1`` backend): key A, not an
  ``admin`` key, gets a 403.
* ``UNOWNED``: touches no per-key resource (models, health, the relay…), or is probed
  elsewhere (the native relay: ``test_isolation_native_paths``).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import pytest

from gemgate.gateway import Gateway
from gemgate.gateway._routing import Route
from tests.adversarial._isolation_support import socket_exchange
from tests.gateway._rag_app import KEY_A, KEY_B, http_of, openai_of, rag_gateway

pytestmark = pytest.mark.anyio

FOREIGN, LIST, REFERS, OWN, UNOWNED = "foreign", "list", "refers", "own", "unowned"
ADMIN = "admin"
MARKER = "b-private-marker-7731"
FLASH = "gemini-2.5-flash"


@dataclass(frozen=True)
class Row:
    kind: str
    body: Any = None
    """The JSON body sent (FOREIGN, REFERS), ``{name}`` filled with B's ids."""


ROWS: dict[tuple[str, str], Row] = {
    # sessions
    ("GET", "/api/v1/sessions"): Row(LIST),
    ("POST", "/api/v1/sessions"): Row(REFERS, {"title": "x", "store_ids": ["{store}"]}),
    ("GET", "/api/v1/sessions/{session_id}"): Row(FOREIGN),
    ("PATCH", "/api/v1/sessions/{session_id}"): Row(FOREIGN, {"title": "stolen"}),
    ("DELETE", "/api/v1/sessions/{session_id}"): Row(FOREIGN),
    ("POST", "/api/v1/sessions/{session_id}/messages"): Row(FOREIGN, {"content": "hi"}),
    ("POST", "/api/v1/sessions/{session_id}/regenerate"): Row(FOREIGN, {}),
    # retrieval stores and their documents
    ("GET", "/api/v1/stores"): Row(LIST),
    ("POST", "/api/v1/stores"): Row(OWN),
    ("GET", "/api/v1/stores/{store_id}"): Row(FOREIGN),
    ("DELETE", "/api/v1/stores/{store_id}"): Row(FOREIGN),
    ("POST", "/api/v1/stores/{store_id}/documents"): Row(FOREIGN, {"name": "n", "text": "t"}),
    ("GET", "/api/v1/stores/{store_id}/documents"): Row(FOREIGN),
    ("GET", "/api/v1/stores/{store_id}/documents/{document_id}"): Row(FOREIGN),
    ("PUT", "/api/v1/stores/{store_id}/documents/{document_id}"): Row(FOREIGN, {"text": "t"}),
    ("DELETE", "/api/v1/stores/{store_id}/documents/{document_id}"): Row(FOREIGN),
    ("POST", "/api/v1/stores/{store_id}/search"): Row(FOREIGN, {"query": "marker"}),
    # files
    ("POST", "/v1/files"): Row(OWN),
    ("GET", "/v1/files"): Row(LIST),
    ("GET", "/v1/files/{file_id}"): Row(FOREIGN),
    ("GET", "/v1/files/{file_id}/content"): Row(FOREIGN),
    ("DELETE", "/v1/files/{file_id}"): Row(FOREIGN),
    # batches
    ("POST", "/v1/batches"): Row(
        REFERS,
        {"input_file_id": "{file}", "endpoint": "/v1/chat/completions", "completion_window": "24h"},
    ),
    ("GET", "/v1/batches"): Row(LIST),
    ("GET", "/v1/batches/{batch_id}"): Row(FOREIGN),
    ("POST", "/v1/batches/{batch_id}/cancel"): Row(FOREIGN, {}),
    # vector stores
    ("POST", "/v1/vector_stores"): Row(REFERS, {"name": "x", "file_ids": ["{text_file}"]}),
    ("GET", "/v1/vector_stores"): Row(LIST),
    ("GET", "/v1/vector_stores/{store_id}"): Row(FOREIGN),
    ("DELETE", "/v1/vector_stores/{store_id}"): Row(FOREIGN),
    ("POST", "/v1/vector_stores/{store_id}/files"): Row(FOREIGN, {"file_id": "{a_file}"}),
    ("GET", "/v1/vector_stores/{store_id}/files"): Row(FOREIGN),
    ("GET", "/v1/vector_stores/{store_id}/files/{file_id}"): Row(FOREIGN),
    ("DELETE", "/v1/vector_stores/{store_id}/files/{file_id}"): Row(FOREIGN),
    ("POST", "/v1/vector_stores/{store_id}/search"): Row(FOREIGN, {"query": "marker"}),
    # responses
    ("POST", "/v1/responses"): Row(
        REFERS, {"model": FLASH, "input": "go on", "previous_response_id": "{response}"}
    ),
    ("GET", "/v1/responses/{response_id}"): Row(FOREIGN),
    ("DELETE", "/v1/responses/{response_id}"): Row(FOREIGN),
    ("GET", "/v1/responses/{response_id}/input_items"): Row(FOREIGN),
    # chat over stores
    ("POST", "/v1/chat/completions"): Row(
        REFERS,
        {
            "model": FLASH,
            "messages": [{"role": "user", "content": "hi"}],
            "vector_store_ids": ["{vector_store}"],
        },
    ),
    # no per-key resources
    ("POST", "/v1/embeddings"): Row(UNOWNED),
    ("GET", "/v1/models"): Row(UNOWNED),
    ("GET", "/v1/models/{model}"): Row(UNOWNED),
    ("POST", "/v1/messages"): Row(OWN),
    ("POST", "/v1/messages/count_tokens"): Row(UNOWNED),
    ("POST", "/v1/images/generations"): Row(OWN),
    ("POST", "/v1/images/edits"): Row(OWN),
    ("POST", "/v1/audio/speech"): Row(OWN),
    ("GET", "/api/v1/quota"): Row(UNOWNED),
    ("GET", "/api/v1/models/status"): Row(UNOWNED),
    ("POST", "/api/v1/models/load"): Row(
        ADMIN, {"backend_type": "vllm", "base_url": "http://127.0.0.1:9/v1"}
    ),
    ("POST", "/api/v1/live/tokens"): Row(OWN),
    ("POST", "/api/v1/login"): Row(OWN),
    ("GET", "/api/v1/usage"): Row(UNOWNED),
    ("GET", "/"): Row(UNOWNED),
    ("GET", "/static/{name}"): Row(UNOWNED),
    ("GET", "/static/vendor/{name}"): Row(UNOWNED),
    ("GET", "/healthz"): Row(UNOWNED),
    ("GET", "/readyz"): Row(UNOWNED),
    ("GET", "/metrics"): Row(UNOWNED),
    ("GET", "/openapi.json"): Row(UNOWNED),
    # the native relay (documented operations of the /gemini mount)
    ("GET", "/gemini/{version}/models"): Row(UNOWNED),
    ("GET", "/gemini/{version}/models/{model}"): Row(UNOWNED),
    ("POST", "/gemini/{version}/models/{model}:generateContent"): Row(UNOWNED),
    ("POST", "/gemini/{version}/models/{model}:streamGenerateContent"): Row(UNOWNED),
    ("POST", "/gemini/{version}/models/{model}:countTokens"): Row(UNOWNED),
    ("POST", "/gemini/{version}/models/{model}:embedContent"): Row(UNOWNED),
}


@dataclass
class World:
    app: Gateway
    a: httpx2.AsyncClient
    b: httpx2.AsyncClient
    ids: dict[str, str]
    """Key B's resources by kind, and ``a_file`` (one of A's)."""


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async with rag_gateway(tmp_path) as app:
        b_openai = openai_of(app, KEY_B)
        a_openai = openai_of(app, KEY_A)
        async with http_of(app, KEY_A) as a, http_of(app, KEY_B) as b:
            yield World(app, a, b, await _b_resources(b, b_openai, a_openai))
        await b_openai.close()
        await a_openai.close()


async def _b_resources(b: httpx2.AsyncClient, client: Any, a_client: Any) -> dict[str, str]:
    """Key B makes one of everything; each holds ``MARKER``."""
    store = await b.post("/api/v1/stores", json={"name": MARKER})
    assert store.status_code == 201, store.text
    store_id = store.json()["id"]
    document = await b.post(
        f"/api/v1/stores/{store_id}/documents", json={"name": "d", "text": f"{MARKER} text"}
    )
    assert document.status_code == 201, document.text
    session = await b.post("/api/v1/sessions", json={"title": MARKER, "store_ids": [store_id]})
    assert session.status_code == 201, session.text
    session_id = session.json()["id"]
    sent = await b.post(f"/api/v1/sessions/{session_id}/messages", json={"content": MARKER})
    assert sent.status_code == 200, sent.text
    line = {
        "custom_id": MARKER,
        "method": "POST",
        "url": "/v1/chat/completions",
        "body": {"model": FLASH, "messages": [{"role": "user", "content": MARKER}]},
    }
    batch_file = await client.files.create(
        file=("b.jsonl", json.dumps(line).encode() + b"\n"), purpose="batch"
    )
    batch = await client.batches.create(
        input_file_id=batch_file.id, endpoint="/v1/chat/completions", completion_window="24h"
    )
    text_file = await client.files.create(file=("b.txt", MARKER.encode()), purpose="assistants")
    vector_store = await client.vector_stores.create(name=MARKER, file_ids=[text_file.id])
    response = await client.responses.create(model=FLASH, input=MARKER, store=True)
    a_file = await a_client.files.create(file=("a.txt", b"mine"), purpose="assistants")
    return {
        "store": store_id,
        "document": document.json()["added"][0]["id"],
        "session": session_id,
        "file": batch_file.id,
        "text_file": text_file.id,
        "batch": batch.id,
        "vector_store": vector_store.id,
        "response": response.id,
        "a_file": a_file.id,
    }


def _path(route: Route, ids: dict[str, str]) -> str:
    """``route``'s path with B's ids in its parameters."""
    vector = route.path.startswith("/v1/vector_stores")
    by_param = {
        "session_id": ids["session"],
        "store_id": ids["vector_store"] if vector else ids["store"],
        "document_id": ids["document"],
        "file_id": ids["text_file"] if vector else ids["file"],
        "batch_id": ids["batch"],
        "response_id": ids["response"],
    }
    path = route.path
    for name in route.params:
        path = path.replace("{" + name + "}", by_param[name])
    return path


def _fill(body: Any, ids: dict[str, str]) -> Any:
    text = json.dumps(body)
    for name, value in ids.items():
        text = text.replace("{" + name + "}", value)
    return json.loads(text)


def test_every_route_has_an_isolation_row(tmp_path: Path) -> None:
    """A route added to the table without a row here fails this test."""
    from gemgate import AsyncGemini
    from gemgate.config import Settings
    from gemgate.gateway import create_app

    app = create_app(AsyncGemini(settings=Settings(sessions_url=f"sqlite:///{tmp_path}/x.db")))
    table = {(r.method, r.path) for r in app.router.routes}
    missing = sorted(table - set(ROWS))
    assert not missing, f"routes without an isolation row: {missing}"
    stale = sorted(set(ROWS) - table)
    assert not stale, f"rows for routes that no longer exist: {stale}"
    for (method, path), row in ROWS.items():
        if "{" in path and not path.startswith(("/gemini/", "/static/", "/v1/models/")):
            assert row.kind == FOREIGN, (method, path)


async def test_key_a_never_reaches_key_b_resources(world: World) -> None:
    failures: list[str] = []
    ids = world.ids
    for route in world.app.router.routes:
        row = ROWS[(route.method, route.path)]
        if row.kind == FOREIGN:
            path = _path(route, ids)
            body = None if row.body is None else _fill(row.body, ids)
            got = await world.a.request(route.method, path, json=body)
            if got.status_code != 404 or MARKER in got.text:
                failures.append(f"{route.method} {path}: {got.status_code} {got.text[:200]}")
        elif row.kind == LIST:
            got = await world.a.get(route.path)
            leaked = [v for k, v in ids.items() if k != "a_file" and v in got.text]
            if got.status_code != 200 or leaked or MARKER in got.text:
                failures.append(f"GET {route.path}: {got.status_code} lists {leaked}")
        elif row.kind == REFERS:
            got = await world.a.request(route.method, route.path, json=_fill(row.body, ids))
            if not 400 <= got.status_code < 500 or MARKER in got.text:
                failures.append(f"{route.method} {route.path}: {got.status_code} {got.text[:200]}")
        elif row.kind == ADMIN:
            got = await world.a.request(route.method, route.path, json=row.body)
            if got.status_code != 403:
                failures.append(f"{route.method} {route.path}: {got.status_code} {got.text[:200]}")
    assert not failures, "\n".join(failures)
    await _b_still_has_everything(world)


async def _b_still_has_everything(world: World) -> None:
    b, ids = world.b, world.ids
    session = await b.get(f"/api/v1/sessions/{ids['session']}")
    assert session.status_code == 200 and session.json()["title"] == MARKER
    document = await b.get(f"/api/v1/stores/{ids['store']}/documents/{ids['document']}")
    assert document.status_code == 200
    for path in (
        f"/api/v1/stores/{ids['store']}",
        f"/v1/files/{ids['file']}",
        f"/v1/files/{ids['text_file']}",
        f"/v1/batches/{ids['batch']}",
        f"/v1/vector_stores/{ids['vector_store']}",
        f"/v1/vector_stores/{ids['vector_store']}/files/{ids['text_file']}",
        f"/v1/responses/{ids['response']}",
    ):
        got = await b.get(path)
        assert got.status_code == 200, (path, got.text)
    attached = (await b.get(f"/v1/vector_stores/{ids['vector_store']}/files")).json()["data"]
    assert [f["id"] for f in attached] == [ids["text_file"]]


async def test_key_a_cannot_open_key_b_sessions_over_sockets(world: World) -> None:
    """``/ws/live?session_id=`` and ``/ws/chat`` frames naming B's session are refused."""
    b_session = world.ids["session"]
    live = await socket_exchange(world.app, f"/ws/live?key={KEY_A}&session_id={b_session}", [])
    assert live[-1]["type"] == "websocket.close" and live[-1]["code"] == 1008, live
    assert not any(MARKER in json.dumps(m) for m in live)
    frame = json.dumps({"content": "hi", "session_id": b_session})
    chat = await socket_exchange(world.app, f"/ws/chat?key={KEY_A}", [frame])
    answers = [json.loads(m["text"]) for m in chat if m["type"] == "websocket.send"]
    assert answers and answers[0]["type"] == "error", answers
    assert not any(MARKER in json.dumps(m) for m in chat)
    session = await world.b.get(f"/api/v1/sessions/{b_session}")
    assert '"hi"' not in json.dumps(session.json()["messages"])


@pytest.mark.parametrize("path", ["/metrics", "/openapi.json"])
async def test_metrics_and_the_document_need_a_key_when_keys_exist(
    tmp_path: Path, path: str
) -> None:
    async with rag_gateway(tmp_path) as app:
        transport = httpx2.ASGITransport(app=app)
        async with httpx2.AsyncClient(transport=transport, base_url="http://gw") as anonymous:
            refused = await anonymous.get(path)
            wrong = await anonymous.get(path, headers={"authorization": "Bearer nope"})
        async with http_of(app, KEY_A) as keyed:
            allowed = await keyed.get(path)
    assert (refused.status_code, wrong.status_code, allowed.status_code) == (401, 401, 200)


async def test_only_an_admin_key_switches_the_backend(tmp_path: Path) -> None:
    from gemgate import AsyncGemini
    from gemgate.config import Settings
    from gemgate.gateway import create_app
    from gemgate.projects import GatewayKey, hash_secret

    settings = Settings(
        gateway_keys=[
            GatewayKey(name="a", secret_sha256=hash_secret(KEY_A)),
            GatewayKey(name="ops", secret_sha256=hash_secret("ops-secret"), admin=True),
        ],
        sessions_url=f"sqlite:///{tmp_path}/gw.db",
    )
    app = create_app(AsyncGemini(settings=settings))
    hijack = {"backend_type": "vllm", "base_url": "http://127.0.0.1:9/v1"}
    async with http_of(app, KEY_A) as user, http_of(app, "ops-secret") as ops:
        refused = await user.post("/api/v1/models/load", json=hijack)
        active = (await user.get("/api/v1/models/status")).json()
        switched = await ops.post("/api/v1/models/load", json={"backend_type": "emulator"})
    await app.aclose()
    assert refused.status_code == 403, refused.text
    assert "not admin" in refused.json()["detail"]
    assert "127.0.0.1:9" not in json.dumps(active)  # nothing changed
    assert switched.status_code == 200, switched.text


@pytest.mark.parametrize("path", ["/metrics", "/openapi.json"])
async def test_public_metrics_opens_them(tmp_path: Path, path: str) -> None:
    from gemgate import AsyncGemini
    from gemgate.config import Settings
    from gemgate.gateway import create_app
    from gemgate.projects import GatewayKey, hash_secret

    settings = Settings(
        gateway_keys=[GatewayKey(name="a", secret_sha256=hash_secret(KEY_A))],
        sessions_url=f"sqlite:///{tmp_path}/gw.db",
        public_metrics=True,
    )
    app = create_app(AsyncGemini(settings=settings))
    transport = httpx2.ASGITransport(app=app)
    async with httpx2.AsyncClient(transport=transport, base_url="http://gw") as anonymous:
        assert (await anonymous.get(path)).status_code == 200
        assert (await anonymous.get("/v1/models")).status_code == 401  # only those two
    await app.aclose()
