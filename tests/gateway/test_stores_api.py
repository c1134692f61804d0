"""``/api/v1/stores`` in-process: stores, documents (multipart and JSON), search, errors."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route

from gemgate import AsyncGemini
from gemgate.config import Settings
from gemgate.gateway import create_app
from gemgate.projects import GatewayKey, hash_secret
from tests.conftest import serve_in_loop, stop_serving
from tests.gateway._rag_app import KEY_A, http_of, rag_gateway

pytestmark = pytest.mark.anyio

FOXES = "The arctic fox changes its coat from brown in summer to white in winter."
CACTI = "The saguaro cactus stores water in its pleated stem for the dry months."
A = {"authorization": "Bearer key-a"}
B = {"authorization": "Bearer key-b"}


@pytest.fixture
async def http(tmp_path: Path) -> AsyncIterator[httpx2.AsyncClient]:
    keys = [
        GatewayKey(name="a", secret_sha256=hash_secret("key-a")),
        GatewayKey(name="b", secret_sha256=hash_secret("key-b")),
    ]
    settings = Settings(
        gateway_keys=keys,
        sessions_url=f"sqlite:///{tmp_path}/gw.db",
        max_body_bytes=64 * 1024,
    )
    client = AsyncGemini(settings=settings)
    app = create_app(client)
    async with httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=app), base_url="http://gateway", headers=A
    ) as http:
        yield http
    await app.aclose()


async def _store(http: httpx2.AsyncClient, name: str = "nature") -> str:
    made = await http.post("/api/v1/stores", json={"name": name, "metadata": {"team": "x"}})
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


async def test_store_lifecycle_documents_and_search(http: httpx2.AsyncClient) -> None:
    sid = await _store(http)
    listed = (await http.get("/api/v1/stores")).json()["stores"]
    assert [s["id"] for s in listed] == [sid] and listed[0]["metadata"] == {"team": "x"}
    form = await http.post(
        f"/api/v1/stores/{sid}/documents",
        files=[
            ("file", ("foxes.txt", FOXES.encode(), "text/plain")),
            ("file", ("cacti.md", CACTI.encode(), "text/markdown")),
        ],
        data={"metadata": json.dumps({"lang": "en"})},
    )
    assert form.status_code == 201, form.text
    report = form.json()
    assert sorted(d["name"] for d in report["added"]) == ["cacti.md", "foxes.txt"]
    assert report["failed"] == [] and report["chunks"] == 2
    assert all(d["metadata"] == {"lang": "en"} for d in report["added"])
    text = await http.post(
        f"/api/v1/stores/{sid}/documents",
        json={"name": "space.txt", "text": "Jupiter has a great red storm.", "metadata": {"k": 1}},
    )
    assert text.status_code == 201 and text.json()["added"][0]["name"] == "space.txt"
    again = await http.post(
        f"/api/v1/stores/{sid}/documents",
        json={"name": "foxes.txt", "data": base64.b64encode(FOXES.encode()).decode()},
    )
    assert again.status_code == 201 and len(again.json()["unchanged"]) == 1
    assert (await http.get(f"/api/v1/stores/{sid}")).json()["document_count"] == 3

    found = await http.post(f"/api/v1/stores/{sid}/search", json={"query": "saguaro water"})
    assert found.status_code == 200, found.text
    best = found.json()["hits"][0]
    assert best["document_name"] == "cacti.md" and "saguaro" in best["text"]
    assert best["end"] > best["start"] and best["score"] > 0
    assert {"keyword_rank", "vector_rank", "page", "document_id"} <= set(best)
    only = await http.post(
        f"/api/v1/stores/{sid}/search",
        json={"query": "storm", "filter": {"k": 1}, "mode": "keyword", "k": 5},
    )
    assert [h["document_name"] for h in only.json()["hits"]] == ["space.txt"]

    page = (await http.get(f"/api/v1/stores/{sid}/documents", params={"limit": 2})).json()
    assert len(page["documents"]) == 2 and page["has_more"] is True
    rest = await http.get(
        f"/api/v1/stores/{sid}/documents", params={"after": page["documents"][-1]["id"]}
    )
    assert len(rest.json()["documents"]) == 1 and rest.json()["has_more"] is False
    doc = best["document_id"]
    detail = (await http.get(f"/api/v1/stores/{sid}/documents/{doc}?chunks=true")).json()
    assert detail["chunks"][0]["text"] == CACTI
    replaced = await http.put(
        f"/api/v1/stores/{sid}/documents/{doc}", json={"name": "cacti.md", "text": "Agave."}
    )
    assert replaced.status_code == 200, replaced.text
    new_id = replaced.json()["id"]
    assert (await http.get(f"/api/v1/stores/{sid}/documents/{doc}")).status_code == 404
    assert (await http.delete(f"/api/v1/stores/{sid}/documents/{new_id}")).status_code == 204
    assert (await http.get(f"/api/v1/stores/{sid}")).json()["document_count"] == 2
    assert (await http.delete(f"/api/v1/stores/{sid}")).status_code == 204
    assert (await http.get(f"/api/v1/stores/{sid}")).status_code == 404


async def test_failed_uploads_answer_their_own_status_and_store_nothing(
    http: httpx2.AsyncClient,
) -> None:
    sid = await _store(http)
    docs = f"/api/v1/stores/{sid}/documents"
    for files, status in (
        ([("file", ("tool.exe", b"MZ\x90\x00\x03binary", "application/x-msdownload"))], 415),
        ([("file", ("broken.pdf", b"%PDF-1.7 not really", "application/pdf"))], 422),
        ([("file", ("empty.txt", b"", "text/plain"))], 422),
        ([("file", ("big.txt", b"x" * 70_000, "text/plain"))], 413),
    ):
        answer = await http.post(docs, files=files)
        assert answer.status_code == status, (files[0][1][0], answer.text)
        assert answer.json()["detail"]
    mixed = await http.post(
        docs,
        files=[
            ("file", ("ok.txt", FOXES.encode(), "text/plain")),
            ("file", ("empty.txt", b"", "text/plain")),
        ],
    )
    assert mixed.status_code == 201
    assert [f["source"] for f in mixed.json()["failed"]] == ["empty.txt"]
    assert (await http.get(f"/api/v1/stores/{sid}")).json()["document_count"] == 1


async def test_bad_input_is_a_clear_4xx(http: httpx2.AsyncClient) -> None:
    sid = await _store(http)
    docs = f"/api/v1/stores/{sid}/documents"
    for method, url, body, status in (
        ("POST", "/api/v1/stores", {}, 400),
        ("POST", "/api/v1/stores", {"name": 3}, 400),
        ("POST", "/api/v1/stores", {"name": "x", "metadata": []}, 400),
        ("POST", docs, {"name": "a.txt"}, 400),
        ("POST", docs, {"name": "a.txt", "text": "x", "data": "eA=="}, 400),
        ("POST", docs, {"text": "no name"}, 400),
        ("POST", docs, {"name": "a.txt", "data": "not base64!"}, 400),
        ("POST", docs, {"name": "a.txt", "text": "x", "chunking": {"max_tokens": 2}}, 400),
        ("POST", docs, {"url": "http://127.0.0.1/secret.txt"}, 400),
        ("POST", docs, {"url": "file:///etc/passwd"}, 400),
        ("POST", f"/api/v1/stores/{sid}/search", {}, 400),
        ("POST", f"/api/v1/stores/{sid}/search", {"query": "x", "k": 0}, 400),
        ("POST", f"/api/v1/stores/{sid}/search", {"query": "x", "mode": "fuzzy"}, 400),
        ("POST", "/api/v1/stores/store_nope/search", {"query": "x"}, 404),
        ("POST", "/api/v1/stores/store_nope/documents", {"name": "a", "text": "b"}, 404),
        ("GET", f"{docs}/doc_nope", None, 404),
        ("PUT", f"{docs}/doc_nope", {"name": "a", "text": "b"}, 404),
        ("DELETE", f"{docs}/doc_nope", None, 404),
        ("GET", f"{docs}?limit=0", None, 400),
    ):
        answer = await http.request(method, url, json=body)
        assert answer.status_code == status, (method, url, body, answer.text)
        assert answer.json()["detail"]
    broken = await http.post(docs, content=b"{nope", headers={"content-type": "application/json"})
    assert broken.status_code == 400
    no_file = await http.post(docs, files=[("other", ("a.txt", b"x", "text/plain"))])
    assert no_file.status_code == 400
    assert (await http.get(f"/api/v1/stores/{sid}")).json()["document_count"] == 0


async def test_an_oversized_upload_is_refused_by_its_declared_length(
    http: httpx2.AsyncClient,
) -> None:
    sid = await _store(http)
    sent = [0]

    async def body() -> AsyncIterator[bytes]:
        for _ in range(200):
            sent[0] += 1
            yield b"x" * 1024 * 1024

    answer = await http.post(
        f"/api/v1/stores/{sid}/documents",
        content=body(),
        headers={
            "content-type": "multipart/form-data; boundary=abc",
            "content-length": str(200 * 1024 * 1024),
        },
    )
    assert answer.status_code == 413
    assert sent[0] <= 1


async def test_a_key_never_sees_another_keys_stores(http: httpx2.AsyncClient) -> None:
    sid = await _store(http)
    added = await http.post(
        f"/api/v1/stores/{sid}/documents", json={"name": "foxes.txt", "text": FOXES}
    )
    doc = added.json()["added"][0]["id"]
    one = f"/api/v1/stores/{sid}"
    for method, url, body in (
        ("GET", one, None),
        ("DELETE", one, None),
        ("POST", f"{one}/documents", {"name": "x.txt", "text": "intruder"}),
        ("GET", f"{one}/documents", None),
        ("GET", f"{one}/documents/{doc}", None),
        ("PUT", f"{one}/documents/{doc}", {"name": "x.txt", "text": "intruder"}),
        ("DELETE", f"{one}/documents/{doc}", None),
        ("POST", f"{one}/search", {"query": "fox"}),
    ):
        answer = await http.request(method, url, json=body, headers=B)
        assert answer.status_code == 404, (method, url, answer.text)
    assert (await http.get("/api/v1/stores", headers=B)).json()["stores"] == []
    mine = (await http.get(one)).json()
    assert mine["document_count"] == 1
    hits = (await http.post(f"{one}/search", json={"query": "fox"})).json()["hits"]
    assert hits[0]["document_id"] == doc


def _events(text: str) -> list[dict[str, object]]:
    return [json.loads(line[6:]) for line in text.split("\n\n") if line.startswith("data: ")]


async def test_sessions_answer_grounded_on_their_stores(http: httpx2.AsyncClient) -> None:
    sid = await _store(http)
    await http.post(f"/api/v1/stores/{sid}/documents", json={"name": "foxes.txt", "text": FOXES})
    made = await http.post("/api/v1/sessions", json={"title": "t", "store_ids": [sid]})
    assert made.status_code == 201 and made.json()["metadata"]["store_ids"] == [sid]
    chat = made.json()["id"]
    answer = await http.post(
        f"/api/v1/sessions/{chat}/messages", json={"content": "Arctic fox coat in winter?"}
    )
    assert answer.status_code == 200, answer.text
    grounding = answer.json()["grounding_metadata"]
    context = grounding["groundingChunks"][0]["retrievedContext"]
    assert context["title"] == "foxes.txt" and "arctic fox" in context["text"]
    streamed = await http.post(
        f"/api/v1/sessions/{chat}/messages",
        json={"content": "And the arctic fox in summer?", "stream": True},
    )
    final = _events(streamed.text)[-1]
    assert final["type"] == "final_answer" and final["grounding_metadata"]
    plain = (await http.post("/api/v1/sessions", json={})).json()["id"]
    unground = await http.post(f"/api/v1/sessions/{plain}/messages", json={"content": "Fox?"})
    assert unground.json()["grounding_metadata"] is None
    override = await http.post(
        f"/api/v1/sessions/{plain}/messages", json={"content": "Arctic fox?", "store_ids": [sid]}
    )
    assert override.json()["grounding_metadata"]["groundingChunks"]
    off = await http.post(
        f"/api/v1/sessions/{chat}/messages", json={"content": "Arctic fox?", "store_ids": []}
    )
    assert off.status_code == 200 and off.json()["grounding_metadata"] is None


async def test_a_sessions_stores_are_changed_by_patch(http: httpx2.AsyncClient) -> None:
    sid = await _store(http)
    await http.post(f"/api/v1/stores/{sid}/documents", json={"name": "foxes.txt", "text": FOXES})
    chat = (await http.post("/api/v1/sessions", json={"title": "Foxes"})).json()["id"]
    url = f"/api/v1/sessions/{chat}"
    attached = await http.patch(url, json={"store_ids": [sid]})
    assert attached.status_code == 200, attached.text
    assert attached.json()["metadata"]["store_ids"] == [sid] and attached.json()["title"] == "Foxes"
    assert (await http.get(url)).json()["metadata"]["store_ids"] == [sid]
    answer = await http.post(f"{url}/messages", json={"content": "Arctic fox coat in winter?"})
    assert answer.json()["grounding_metadata"]["groundingChunks"]
    for body, code in (
        ({"store_ids": ["store_nope"]}, 404),
        ({"store_ids": sid}, 400),
        ({"store_ids": [sid], "title": 3}, 400),
    ):
        refused = await http.patch(url, json=body)
        assert refused.status_code == code, (body, refused.text)
    assert (await http.patch(url, json={"store_ids": [sid]}, headers=B)).status_code == 404
    session = (await http.get(url)).json()
    assert session["metadata"]["store_ids"] == [sid] and session["title"] == "Foxes"
    detached = await http.patch(url, json={"store_ids": None, "title": "Plain"})
    assert detached.json()["metadata"]["store_ids"] == [] and detached.json()["title"] == "Plain"
    plain = await http.post(f"{url}/messages", json={"content": "Arctic fox?"})
    assert plain.status_code == 200 and plain.json()["grounding_metadata"] is None


async def test_sessions_refuse_stores_they_may_not_use(http: httpx2.AsyncClient) -> None:
    sid = await _store(http)
    for body in ({"store_ids": [sid]}, {"store_ids": ["store_nope"]}):
        refused = await http.post("/api/v1/sessions", json=body, headers=B)
        assert refused.status_code == 404 and refused.json()["detail"]
    bad = await http.post("/api/v1/sessions", json={"store_ids": sid})
    assert bad.status_code == 400
    assert (await http.get("/api/v1/sessions", headers=B)).json()["sessions"] == []
    chat = (await http.post("/api/v1/sessions", json={}, headers=B)).json()["id"]
    for url in (f"/api/v1/sessions/{chat}/messages", f"/api/v1/sessions/{chat}/regenerate"):
        refused = await http.post(url, json={"content": "Fox?", "store_ids": [sid]}, headers=B)
        assert refused.status_code == 404, refused.text
    assert (await http.get(f"/api/v1/sessions/{chat}", headers=B)).json()["message_count"] == 0


async def test_the_openapi_document_lists_the_retrieval_routes(http: httpx2.AsyncClient) -> None:
    paths = (await http.get("/openapi.json")).json()["paths"]
    documents = paths["/api/v1/stores/{store_id}/documents"]["post"]["requestBody"]["content"]
    assert {"application/json", "multipart/form-data"} <= set(documents)
    upload = paths["/v1/files"]["post"]["requestBody"]["content"]["multipart/form-data"]
    assert upload["schema"]["required"] == ["file", "purpose"]
    for path, method in (
        ("/api/v1/stores", "post"),
        ("/api/v1/stores/{store_id}/search", "post"),
        ("/api/v1/stores/{store_id}/documents/{document_id}", "put"),
        ("/v1/vector_stores", "post"),
        ("/v1/vector_stores/{store_id}/files", "post"),
        ("/v1/vector_stores/{store_id}/search", "post"),
    ):
        assert paths[path][method]["requestBody"]["content"], (path, method)
    for path in (
        "/api/v1/stores/{store_id}",
        "/v1/files/{file_id}/content",
        "/v1/vector_stores/{store_id}/files/{file_id}",
    ):
        assert "get" in paths[path]
    session = paths["/api/v1/sessions"]["post"]["requestBody"]["content"]["application/json"]
    assert "store_ids" in session["schema"]["properties"]


async def test_documents_are_fetched_from_urls_with_the_guard(tmp_path: Path) -> None:
    async def page(request: Any) -> Response:
        return Response(FOXES.encode(), media_type="text/plain; charset=utf-8")

    async def moved(request: Any) -> Response:
        return Response(status_code=302, headers={"location": "/foxes.txt"})

    async def huge(request: Any) -> Response:
        return Response(b"y" * 70_000, media_type="text/plain")

    site = Starlette(
        routes=[Route("/foxes.txt", page), Route("/moved", moved), Route("/huge.txt", huge)]
    )
    server, task, base = await serve_in_loop(site)
    (tmp_path / "open").mkdir()
    (tmp_path / "guarded").mkdir()
    try:
        async with (
            rag_gateway(tmp_path / "open", fetch_private=True) as app,
            http_of(app, KEY_A) as http,
        ):
            sid = await _store(http)
            docs = f"/api/v1/stores/{sid}/documents"
            fetched = await http.post(docs, json={"url": f"{base}/foxes.txt"})
            assert fetched.status_code == 201, fetched.text
            added = fetched.json()["added"][0]
            assert added["name"] == "foxes.txt" and added["source"] == f"{base}/foxes.txt"
            assert added["mime_type"] == "text/plain"
            assert (await http.post(docs, json={"url": f"{base}/moved"})).status_code == 400
            assert (await http.post(docs, json={"url": f"{base}/huge.txt"})).status_code == 413
        async with rag_gateway(tmp_path / "guarded") as app, http_of(app, KEY_A) as http:
            sid = await _store(http)
            refused = await http.post(
                f"/api/v1/stores/{sid}/documents", json={"url": f"{base}/foxes.txt"}
            )
            assert refused.status_code == 400 and "non-public" in refused.json()["detail"]
    finally:
        await stop_serving(server, task)


async def test_a_chunked_upload_is_cut_off_at_the_cap(http: httpx2.AsyncClient) -> None:
    sid = await _store(http)
    sent = [0]

    async def body() -> AsyncIterator[bytes]:
        yield b"--abc\r\nContent-Disposition: form-data; name=file; filename=a.txt\r\n\r\n"
        for _ in range(200):
            sent[0] += 1
            yield b"x" * 16 * 1024

    answer = await http.post(
        f"/api/v1/stores/{sid}/documents",
        content=body(),
        headers={"content-type": "multipart/form-data; boundary=abc"},
    )
    assert answer.status_code == 413
    assert sent[0] <= 5
