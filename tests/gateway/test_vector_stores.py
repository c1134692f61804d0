"""``/v1/vector_stores`` with the official OpenAI client: files, search, filters, isolation."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import openai
import pytest

from gemgate.gateway import Gateway
from gemgate.gateway._faces import Problem
from gemgate.gateway._vector_stores_api import openai_filter
from tests.gateway._rag_app import KEY_A, KEY_B, http_of, openai_of, rag_gateway

pytestmark = pytest.mark.anyio

FOXES = b"The arctic fox changes its coat from brown in summer to white in winter."
CACTI = b"The saguaro cactus stores water in its pleated stem for the dry months."


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[Gateway]:
    async with rag_gateway(tmp_path) as app:
        yield app


async def test_vector_store_lifecycle_with_the_official_client(app: Gateway) -> None:
    client = openai_of(app, KEY_A)
    foxes = await client.files.create(file=("foxes.txt", FOXES), purpose="assistants")
    store = await client.vector_stores.create(
        name="nature", file_ids=[foxes.id], metadata={"team": "x"}
    )
    assert store.object == "vector_store" and store.status == "completed"
    assert store.file_counts.completed == 1 and store.file_counts.total == 1
    assert store.metadata == {"team": "x"} and store.usage_bytes == len(FOXES)

    cacti = await client.vector_stores.files.upload_and_poll(
        vector_store_id=store.id, file=("cacti.md", CACTI), attributes={"kind": "plant"}
    )
    assert cacti.status == "completed" and cacti.last_error is None
    assert cacti.attributes == {"kind": "plant"} and cacti.vector_store_id == store.id
    again = await client.vector_stores.files.create_and_poll(
        file_id=foxes.id, vector_store_id=store.id, attributes={"kind": "animal"}
    )
    assert again.status == "completed"

    page = await client.vector_stores.search(store.id, query="saguaro water", max_num_results=2)
    best = page.data[0]
    assert best.file_id == cacti.id and best.filename == "cacti.md"
    assert best.attributes == {"kind": "plant"} and "saguaro" in best.content[0].text
    assert best.score > 0
    only = await client.vector_stores.search(
        store.id, query="coat", filters={"type": "eq", "key": "kind", "value": "animal"}
    )
    assert [r.file_id for r in only.data] == [foxes.id]
    either = await client.vector_stores.search(
        store.id,
        query="water coat",
        filters={
            "type": "or",
            "filters": [
                {"type": "eq", "key": "kind", "value": "animal"},
                {"type": "eq", "key": "kind", "value": "plant"},
            ],
        },
    )
    assert {r.file_id for r in either.data} == {foxes.id, cacti.id}

    listed = [f.id async for f in client.vector_stores.files.list(vector_store_id=store.id)]
    assert sorted(listed) == sorted([foxes.id, cacti.id])
    retrieved = await client.vector_stores.files.retrieve(cacti.id, vector_store_id=store.id)
    assert retrieved.status == "completed"
    assert [s.id async for s in client.vector_stores.list()] == [store.id]

    async with http_of(app, KEY_A) as http:  # its document deleted the other way first
        listed_docs = (await http.get(f"/api/v1/stores/{store.id}/documents")).json()
        doc = next(d["id"] for d in listed_docs["documents"] if d["name"] == "cacti.md")
        assert (await http.delete(f"/api/v1/stores/{store.id}/documents/{doc}")).status_code == 204
    gone = await client.vector_stores.files.delete(cacti.id, vector_store_id=store.id)
    assert gone.deleted
    after = await client.vector_stores.search(store.id, query="saguaro water")
    assert cacti.id not in {r.file_id for r in after.data}
    assert (await client.vector_stores.retrieve(store.id)).file_counts.total == 1
    deleted = await client.vector_stores.delete(store.id)
    assert deleted.deleted and deleted.object == "vector_store.deleted"
    with pytest.raises(openai.NotFoundError):
        await client.vector_stores.retrieve(store.id)


async def test_a_file_that_cannot_be_ingested_is_failed_with_its_reason(app: Gateway) -> None:
    client = openai_of(app, KEY_A)
    store = await client.vector_stores.create(name="docs")
    for name, data, code in (
        ("tool.exe", b"MZ\x90\x00binary\x00", "unsupported_file"),
        ("broken.pdf", b"%PDF-1.7 nope", "invalid_file"),
        ("empty.txt", b"", "invalid_file"),
    ):
        made = await client.files.create(file=(name, data), purpose="assistants")
        attached = await client.vector_stores.files.create_and_poll(
            file_id=made.id, vector_store_id=store.id
        )
        assert attached.status == "failed", name
        assert attached.last_error is not None and attached.last_error.code == code
        assert attached.last_error.message
    counts = (await client.vector_stores.retrieve(store.id)).file_counts
    assert (counts.failed, counts.completed, counts.total) == (3, 0, 3)
    failed = client.vector_stores.files.list(vector_store_id=store.id, filter="failed", limit=2)
    assert len([f async for f in failed]) == 3
    done = client.vector_stores.files.list(vector_store_id=store.id, filter="completed")
    assert [f async for f in done] == []
    async with http_of(app, KEY_A) as http:
        info = (await http.get(f"/api/v1/stores/{store.id}")).json()
    assert info["document_count"] == 0


async def test_bad_requests_are_openai_errors(app: Gateway) -> None:
    client = openai_of(app, KEY_A)
    store = await client.vector_stores.create(name="docs")
    with pytest.raises(openai.NotFoundError):
        await client.vector_stores.create(name="x", file_ids=["file-nope"])
    assert [s.id async for s in client.vector_stores.list()] == [store.id]
    with pytest.raises(openai.NotFoundError):
        await client.vector_stores.files.create(vector_store_id=store.id, file_id="file-nope")
    with pytest.raises(openai.NotFoundError):
        await client.vector_stores.search("store_nope", query="x")
    with pytest.raises(openai.BadRequestError, match="not supported"):
        await client.vector_stores.search(
            store.id, query="x", filters={"type": "gt", "key": "n", "value": 3}
        )
    with pytest.raises(openai.BadRequestError):
        await client.vector_stores.search(store.id, query="x", max_num_results=99)
    async with http_of(app, KEY_A) as http:
        for url, body in (
            (f"/v1/vector_stores/{store.id}/files", {}),
            (f"/v1/vector_stores/{store.id}/files", {"file_id": "f", "attributes": [1]}),
            (f"/v1/vector_stores/{store.id}/search", {"query": ""}),
            ("/v1/vector_stores", {"file_ids": "file-1"}),
        ):
            answer = await http.post(url, json=body)
            assert answer.status_code == 400, (url, body, answer.text)
            assert answer.json()["error"]["message"]
        broken = await http.post("/v1/vector_stores", content=b"{nope")
        assert broken.status_code == 400


def test_openai_filters_become_metadata_matches() -> None:
    eq = {"type": "eq", "key": "lang", "value": "en"}
    assert openai_filter(eq) == {"lang": "en"}
    assert openai_filter({"type": "in", "key": "lang", "value": ["en", "fr"]}) == {
        "lang": ["en", "fr"]
    }
    either = {"type": "or", "filters": [eq, {"type": "eq", "key": "lang", "value": "de"}]}
    assert openai_filter(either) == {"lang": ["en", "de"]}
    both = {"type": "and", "filters": [either, {"type": "eq", "key": "team", "value": 3}]}
    assert openai_filter(both) == {"lang": ["en", "de"], "team": 3}
    for bad in (
        {"type": "ne", "key": "lang", "value": "en"},
        {"type": "or", "filters": [eq, {"type": "eq", "key": "team", "value": 1}]},
        {"type": "and", "filters": [eq, eq]},
        {"type": "or", "filters": []},
        {"type": "eq", "value": "en"},
        "lang=en",
    ):
        with pytest.raises(Problem):
            openai_filter(bad)


async def test_a_key_never_sees_another_keys_vector_stores(app: Gateway) -> None:
    mine = openai_of(app, KEY_A)
    theirs = openai_of(app, KEY_B)
    file = await mine.files.create(file=("foxes.txt", FOXES), purpose="assistants")
    store = await mine.vector_stores.create(name="private", file_ids=[file.id])
    their_file = await theirs.files.create(file=("x.txt", b"intruder text"), purpose="assistants")
    assert [s async for s in theirs.vector_stores.list()] == []
    calls = (
        lambda: theirs.vector_stores.retrieve(store.id),
        lambda: theirs.vector_stores.delete(store.id),
        lambda: theirs.vector_stores.search(store.id, query="fox"),
        lambda: theirs.vector_stores.files.list(vector_store_id=store.id),
        lambda: theirs.vector_stores.files.retrieve(file.id, vector_store_id=store.id),
        lambda: theirs.vector_stores.files.delete(file.id, vector_store_id=store.id),
        lambda: theirs.vector_stores.files.create(vector_store_id=store.id, file_id=their_file.id),
        lambda: theirs.vector_stores.create(name="steal", file_ids=[file.id]),
    )
    for call in calls:
        with pytest.raises(openai.NotFoundError):
            await call()
    assert [s async for s in theirs.vector_stores.list()] == []
    found = await mine.vector_stores.search(store.id, query="fox coat")
    assert [r.file_id for r in found.data] == [file.id]


async def _fox_store(client: openai.AsyncOpenAI) -> str:
    file = await client.files.create(file=("foxes.txt", FOXES), purpose="assistants")
    return (await client.vector_stores.create(name="foxes", file_ids=[file.id])).id


async def test_chat_completions_are_grounded_on_vector_stores(app: Gateway) -> None:
    client = openai_of(app, KEY_A)
    store_id = await _fox_store(client)
    question = [{"role": "user", "content": "Does the arctic fox change its coat in winter?"}]
    reply = await client.chat.completions.create(
        model="gemini-2.5-flash",
        messages=question,  # type: ignore[arg-type]
        extra_body={"vector_store_ids": [store_id]},
    )
    message = reply.choices[0].message
    assert message.annotations, message
    cited = message.annotations[0].model_dump()
    assert cited["type"] == "file_citation"
    assert cited["file_citation"]["filename"] == "foxes.txt"
    assert store_id in cited["file_citation"]["file_id"]

    stream = await client.chat.completions.create(
        model="gemini-2.5-flash",
        messages=question,  # type: ignore[arg-type]
        tools=[{"type": "file_search", "vector_store_ids": [store_id], "max_num_results": 3}],  # type: ignore[list-item]
        stream=True,
    )
    deltas = [c.choices[0].delta async for c in stream if c.choices]
    annotated = [d for d in deltas if (d.model_extra or {}).get("annotations")]
    assert len(annotated) == 1 and annotated[0] is deltas[-1]
    notes = (annotated[0].model_extra or {})["annotations"]
    assert notes[0]["file_citation"]["filename"] == "foxes.txt"
    text = "".join(d.content or "" for d in deltas)
    assert notes[0]["file_citation"]["end_index"] <= len(text)

    plain = await client.chat.completions.create(
        model="gemini-2.5-flash",
        messages=question,  # type: ignore[arg-type]
    )
    assert not plain.choices[0].message.annotations


async def test_chat_completions_refuse_unknown_and_foreign_stores(app: Gateway) -> None:
    store_id = await _fox_store(openai_of(app, KEY_A))
    theirs = openai_of(app, KEY_B)
    question = [{"role": "user", "content": "Foxes?"}]
    for extra in (
        {"vector_store_ids": [store_id]},
        {"vector_store_ids": ["store_nope"]},
        {"tools": [{"type": "file_search", "vector_store_ids": [store_id]}]},
    ):
        with pytest.raises(openai.NotFoundError) as refused:
            await theirs.chat.completions.create(
                model="gemini-2.5-flash",
                messages=question,  # type: ignore[arg-type]
                extra_body=extra,
            )
        assert refused.value.body["type"] == "not_found_error"  # type: ignore[index]
    for extra in (
        {"vector_store_ids": store_id},
        {"tools": [{"type": "file_search", "vector_store_ids": [store_id], "max_num_results": 0}]},
    ):
        with pytest.raises(openai.BadRequestError):
            await openai_of(app, KEY_A).chat.completions.create(
                model="gemini-2.5-flash",
                messages=question,  # type: ignore[arg-type]
                extra_body=extra,
            )


async def test_file_search_stores_ground_chat_completions_through_gemini(tmp_path: Path) -> None:
    async with rag_gateway(tmp_path, stores_url="gemini://file-search") as app:
        http = http_of(app, KEY_A)
        made = await http.post("/api/v1/stores", json={"name": "shop"})
        assert made.status_code == 201, made.text
        store_id = made.json()["id"]
        assert "/" not in store_id  # the File Search store's id, without its prefix
        added = await http.post(
            f"/api/v1/stores/{store_id}/documents",
            json={"name": "refunds.txt", "text": "Refunds are paid within 14 days of a return."},
        )
        assert added.status_code == 201, added.text
        client = openai_of(app, KEY_A)
        reply = await client.chat.completions.create(
            model="gemini-2.5-flash",
            messages=[{"role": "user", "content": "How long until refunds are paid?"}],
            extra_body={"vector_store_ids": [store_id]},
        )
        message = reply.choices[0].message
        assert "14 days" in (message.content or "")
        notes = [
            a.model_dump() if hasattr(a, "model_dump") else a for a in message.annotations or []
        ]
        assert notes and notes[0]["type"] == "file_citation"
        with pytest.raises(openai.NotFoundError):
            await openai_of(app, KEY_B).chat.completions.create(
                model="gemini-2.5-flash",
                messages=[{"role": "user", "content": "Refunds?"}],
                extra_body={"vector_store_ids": [store_id]},
            )
        await http.aclose()
