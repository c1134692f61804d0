"""Gemini's File Search as gemgate's store backend, on the emulator."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from gemgate import AsyncGemini, Gemini
from gemgate.documents import Chunking
from gemgate.errors import StoreNotFound, UsageError
from gemgate.rag import (
    FileSearchStore,
    FileSearchStores,
    GeminiEmbedder,
    Source,
    Stores,
    metadata_filter,
)
from gemgate.rag._filesearch import HASH_KEY
from gemgate.rag._sqlite import SQLiteBackend
from gemgate.sessions import ChatManager, MemoryChatStorage

pytestmark = pytest.mark.anyio

REFUNDS = b"Refunds are paid within 14 days of the returned item's arrival."
HOURS = b"# Opening hours\n\nThe shop opens at nine in the morning and closes at six.\n"
FILE_SEARCH = "gemini://file-search"


@pytest.fixture
async def g() -> AsyncIterator[AsyncGemini]:
    async with AsyncGemini.emulated(stores_url=FILE_SEARCH) as client:
        yield client


@pytest.fixture
async def store(g: AsyncGemini) -> FileSearchStore:
    made = await g.stores.create("shop")
    assert isinstance(made, FileSearchStore)
    report = await made.add(Source("refunds.txt", REFUNDS), Source("hours.md", HOURS))
    assert not report.failed and len(report.added) == 2
    return made


async def test_stores_are_file_search_stores_of_the_api(g: AsyncGemini) -> None:
    assert isinstance(g.stores, FileSearchStores)
    store = await g.stores.for_owner("team-a").create("manuals")
    assert store.resource == f"fileSearchStores/{store.id}" and store.name == "manuals"
    assert "/" not in store.id  # an id fits in a URL path
    assert store.info.owner == "team-a" and store.info.created_at > 0
    raw = await g.sdk.aio.file_search_stores.get(name=store.resource)
    assert raw.display_name == "team-a/manuals"
    library = await g.stores.create("plain")
    assert (await g.sdk.aio.file_search_stores.get(name=library.resource)).display_name == "plain"
    assert [s.id for s in await g.stores.list()] == [library.id]
    await g.stores.for_owner("team-a").delete(store.id)
    assert await g.stores.for_owner("team-a").list() == []


async def test_documents_carry_their_hash_type_and_metadata(
    g: AsyncGemini, store: FileSearchStore
) -> None:
    documents = {d.name: d for d in await store.documents()}
    assert documents["refunds.txt"].mime_type == "text/plain"
    assert documents["hours.md"].mime_type == "text/markdown"
    raw = await g.sdk.aio.file_search_stores.documents.get(
        name=f"{store.resource}/documents/{documents['refunds.txt'].id}"
    )
    custom = {m.key: m.string_value for m in raw.custom_metadata or []}
    assert custom[HASH_KEY] == Source("x", REFUNDS).content_hash
    assert documents["refunds.txt"].metadata == {}  # gemgate's own keys are not the caller's
    numbered = await store.add(
        Source("n.txt", b"Numbered."), metadata={"year": 2024, "tags": ["a", "b"], "ok": True}
    )
    assert numbered.added[0].metadata == {"year": 2024, "tags": ["a", "b"], "ok": "true"}
    assert (await store.refresh()).document_count == 3


async def test_the_same_bytes_twice_in_one_add_are_uploaded_once(g: AsyncGemini) -> None:
    store = await g.stores.create("twice")
    report = await store.add(Source("a.txt", REFUNDS), Source("b.txt", REFUNDS))
    assert len(report.added) == 1 and len(report.unchanged) == 1
    assert report.unchanged[0].id == report.added[0].id
    assert len(await store.documents()) == 1


async def test_unsupported_type_fails_its_upload_and_leaves_nothing(g: AsyncGemini) -> None:
    store = await g.stores.create("mixed")
    report = await store.add(
        Source("archive.tar", b"\x00\x01 not text \xff"), Source("ok.txt", b"Fine text.")
    )
    assert [d.name for d in report.added] == ["ok.txt"]
    ((name, reason),) = report.failed
    assert name == "archive.tar" and "unsupported" in reason
    info = await store.refresh()
    assert info.document_count == 1 and info.metadata["failed_documents"] == 0
    malformed = await store.add(Source("odd", b"text", mime_type="plain"))
    assert [n for n, _ in malformed.failed] == ["odd"] and "type/subtype" in malformed.failed[0][1]


async def test_chunking_goes_to_the_white_space_config(g: AsyncGemini) -> None:
    store = await g.stores.create("chunked")
    text = " ".join(f"Lighthouse fact {i} says the keeper climbs the tower." for i in range(20))
    await store.add(Source("long.txt", text.encode()), chunking=Chunking(max_tokens=16, overlap=2))
    hits = await store.search("keeper climbs the lighthouse tower", k=5)
    assert len(hits) == 5
    assert all(len(h.chunk.text) < len(text) // 4 for h in hits)
    assert [h.score for h in hits] == [1.0, 1 / 2, 1 / 3, 1 / 4, 1 / 5]
    assert all(h.chunk.start == 0 and h.chunk.end == len(h.chunk.text) for h in hits)


async def test_search_only_by_file_search_ranking(store: FileSearchStore) -> None:
    (hit,) = await store.search("When does the shop open?", k=1)
    assert hit.document.name == "hours.md" and "nine" in hit.chunk.text
    assert hit.document.store_id == store.id and hit.document.content_hash
    for mode in ("keyword", "vector"):
        with pytest.raises(UsageError, match="hybrid"):
            await store.search("shop", mode=mode)
    assert await store.search("quantum chromodynamics explained", k=3) == []
    with pytest.raises(UsageError):
        await store.chunks("anything")


def test_metadata_filters_are_file_search_expressions() -> None:
    assert metadata_filter({"lang": "en"}) == 'lang = "en"'
    assert metadata_filter({"year": 2024, "lang": ["en", "fr"]}) == (
        'year = 2024 AND (lang = "en" OR lang = "fr")'
    )
    assert metadata_filter({"q": 'say "hi"'}) == 'q = "say \\"hi\\""'
    with pytest.raises(UsageError):
        metadata_filter({"bad key": "x"})
    with pytest.raises(UsageError):
        metadata_filter({"lang": []})


async def test_missing_and_foreign_stores_are_not_found(
    g: AsyncGemini, store: FileSearchStore
) -> None:
    with pytest.raises(StoreNotFound):
        await g.stores.get("fileSearchStores/nope-123")
    with pytest.raises(StoreNotFound):
        await store.document("nope")
    with pytest.raises(StoreNotFound):
        await store.document("fileSearchStores/other-1/documents/x")
    intruder = g.stores.for_owner("intruder")
    with pytest.raises(StoreNotFound):
        await intruder.get(store.id)
    assert await intruder.find("shop") is None
    with pytest.raises(UsageError):
        await g.stores.create("a/b")
    with pytest.raises(UsageError):
        await g.stores.create("meta", metadata={"k": "v"})
    with pytest.raises(UsageError):
        await store.add(Source("x.txt", b"x"), metadata={HASH_KEY: "forged"})
    await store.delete()
    with pytest.raises(StoreNotFound):
        await store.search("refunds")


async def test_replace_puts_new_content_in_place(store: FileSearchStore) -> None:
    old = {d.name: d for d in await store.documents()}["refunds.txt"]
    new = await store.replace(old.id, Source("refunds.txt", b"Refunds take 30 days now."))
    assert new.id != old.id
    with pytest.raises(StoreNotFound):
        await store.document(old.id)
    (hit,) = await store.search("How many days do refunds take?", k=1)
    assert "30 days" in hit.chunk.text


async def test_chat_sends_the_file_search_tool_and_annotates_from_gemini(
    g: AsyncGemini, store: FileSearchStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent = _spy(g, monkeypatch, "generate")
    reply = await g.chat(
        [{"role": "user", "content": "How long until refunds are paid?"}], stores=[store], top_k=3
    )
    message = reply["choices"][0]["message"]
    assert "14 days" in message["content"]
    (note, *_) = message["annotations"]
    assert note["file_citation"]["filename"] == "refunds.txt"
    start, end = note["file_citation"]["start_index"], note["file_citation"]["end_index"]
    assert "14 days" in message["content"][start:end]
    (request,) = sent
    assert {"fileSearch": {"fileSearchStoreNames": [store.resource], "topK": 3}} in request["tools"]
    assert "systemInstruction" not in request  # nothing retrieved locally


async def test_stream_chat_carries_gemini_grounding(g: AsyncGemini, store: FileSearchStore) -> None:
    chunks = [
        c
        async for c in g.stream_chat(
            [{"role": "user", "content": "When does the shop open?"}], stores=[store]
        )
    ]
    noted = [
        c["choices"][0]["delta"]["annotations"]
        for c in chunks
        if c["choices"] and "annotations" in c["choices"][0]["delta"]
    ]
    assert len(noted) == 1 and noted[0][0]["file_citation"]["filename"] == "hours.md"


async def test_chat_with_tools_keeps_the_file_search_grounding(
    g: AsyncGemini, store: FileSearchStore
) -> None:
    manager = ChatManager(MemoryChatStorage())
    events = [
        e
        async for e in g.chat_with_tools(
            "How long until refunds are paid?", stores=[store], chat_id="c", chat_manager=manager
        )
    ]
    final = events[-1]
    assert final.type == "final_answer" and "14 days" in final.text
    grounding = final.grounding_metadata
    assert grounding is not None
    contexts = [c["retrievedContext"] for c in grounding["groundingChunks"]]
    assert contexts[0]["title"] == "refunds.txt"
    assert {c["fileSearchStore"] for c in contexts} == {store.resource}
    history = await manager.get_history("c")
    assert history[-1].metadata["grounding_metadata"] == grounding


async def test_local_and_file_search_stores_together(
    g: AsyncGemini, store: FileSearchStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = g.settings
    embedder = GeminiEmbedder(g.engine, settings.embedding_model, settings.stores_dimensions)
    local_stores = Stores(SQLiteBackend(tmp_path / "local.db"), embedder)
    local = await local_stores.create("garden")
    await local.add(Source("roses.txt", b"Roses are pruned in late winter."))
    sent = _spy(g, monkeypatch, "stream_generate")
    try:
        events = [
            e async for e in g.chat_with_tools("When are roses pruned?", stores=[local, store])
        ]
    finally:
        await local_stores.aclose()
    (request,) = sent
    assert {"fileSearch": {"fileSearchStoreNames": [store.resource], "topK": 8}} in request["tools"]
    assert "Roses are pruned" in request["systemInstruction"]["parts"][0]["text"]
    final = events[-1]
    assert final.type == "final_answer" and "winter" in final.text
    assert final.grounding_metadata is not None


def test_the_blocking_client_on_file_search() -> None:
    with Gemini.emulated(stores_url=FILE_SEARCH) as g:
        stores = g.stores
        store = stores.create("blocking")
        report = store.add(Source("tide.txt", b"High tide comes twice a day."))
        assert [d.name for d in report.added] == ["tide.txt"]
        (hit,) = store.search("How often does high tide come?", k=1)
        assert hit.document.name == "tide.txt"
        assert store.name == "blocking" and store.info.document_count == 1
        assert stores.find("blocking") is not None
        assert stores.for_owner("someone").find("blocking") is None
        assert [s.name for s in stores.list()] == ["blocking"]
        store.delete()
        assert stores.list() == []


def _spy(g: AsyncGemini, monkeypatch: pytest.MonkeyPatch, method: str) -> list[dict[str, Any]]:
    """Record the requests the engine's ``method`` is given (and still send them)."""
    sent: list[dict[str, Any]] = []
    original = getattr(g.engine, method)

    def recording(request: Mapping[str, Any], model: str, **kwargs: Any) -> Any:
        if any("fileSearch" in t for t in request.get("tools", [])):
            sent.append(dict(request))
        return original(request, model, **kwargs)

    monkeypatch.setattr(g.engine, method, recording)
    return sent
