"""The same store behaviour on both kinds of store: gemgate's own and Gemini's File Search."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gemgate import AsyncGemini
from gemgate.errors import StoreNotFound, UsageError
from gemgate.rag import FileSearchStore, RetrievalStore, Source, Store, search_stores

pytestmark = pytest.mark.anyio

FOX = b"The arctic fox changes its coat from brown in summer to white in winter."
CACTUS = b"The saguaro cactus stores water in its pleated stem."
BINARY = b"\x00\x01\xff\xfe binary \x80"


@pytest.fixture(params=["local", "file-search"])
async def g(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AsyncGemini]:
    url = f"sqlite:///{tmp_path}/stores.db" if request.param == "local" else "gemini://file-search"
    async with AsyncGemini.emulated(stores_url=url) as client:
        yield client


@pytest.fixture
async def store(g: AsyncGemini) -> RetrievalStore:
    made = await g.stores.create("nature")
    report = await made.add(Source("fox.txt", FOX), Source("cactus.md", CACTUS))
    assert not report.failed
    assert sorted(d.name for d in report.added) == ["cactus.md", "fox.txt"]
    return made


async def test_the_store_kind_follows_stores_url(g: AsyncGemini, store: RetrievalStore) -> None:
    assert isinstance(store, RetrievalStore)
    local = g.settings.stores_url != "gemini://file-search"
    assert isinstance(store, Store if local else FileSearchStore)


async def test_unchanged_readd_is_a_no_op(store: RetrievalStore, tmp_path: Path) -> None:
    again = await store.add(Source("fox.txt", FOX))
    assert again.added == [] and [d.name for d in again.unchanged] == ["fox.txt"]
    assert (await store.refresh()).document_count == 2
    assert len(await store.documents()) == 2


async def test_a_changed_file_replaces_its_document(store: RetrievalStore, tmp_path: Path) -> None:
    path = tmp_path / "tide.txt"
    path.write_text("High tide comes twice a day.")
    first = (await store.add(path)).added[0]
    path.write_text("Low tide uncovers the rock pools.")
    second = (await store.add(path)).added[0]
    assert second.id != first.id and second.source == str(path)
    names = [d.name for d in await store.documents()]
    assert names.count("tide.txt") == 1
    with pytest.raises(StoreNotFound):
        await store.document(first.id)


async def test_search_finds_the_chunk_that_answers(store: RetrievalStore) -> None:
    hits = await store.search("Where does the saguaro cactus store water?", k=2)
    assert hits and hits[0].document.name == "cactus.md"
    assert "pleated stem" in hits[0].chunk.text
    assert all(a.score >= b.score for a, b in zip(hits, hits[1:], strict=False))
    merged = await search_stores([store], "arctic fox coat in winter", 1)
    assert [h.document.name for h in merged] == ["fox.txt"]


async def test_a_failing_document_is_reported_and_the_rest_goes_in(g: AsyncGemini) -> None:
    store = await g.stores.create("mixed")
    report = await store.add(Source("notes.bin", BINARY), Source("good.txt", b"Good text."))
    assert [d.name for d in report.added] == ["good.txt"]
    assert [name for name, _ in report.failed] == ["notes.bin"]
    assert report.failed[0][1]
    assert [d.name for d in await store.documents()] == ["good.txt"]


async def test_documents_get_and_delete(store: RetrievalStore) -> None:
    documents = {d.name: d for d in await store.documents()}
    fox = documents["fox.txt"]
    assert fox.size_bytes == len(FOX) and fox.content_hash and fox.store_id == store.id
    assert (await store.document(fox.id)).name == "fox.txt"
    await store.delete_document(fox.id)
    with pytest.raises(StoreNotFound):
        await store.document(fox.id)
    assert [d.name for d in await store.documents()] == ["cactus.md"]
    assert all(h.document.name != "fox.txt" for h in await store.search("arctic fox", k=5))
    assert (await store.refresh()).document_count == 1


async def test_filters_match_document_metadata(g: AsyncGemini) -> None:
    store = await g.stores.create("filtered")
    await store.add(Source("en.txt", b"The harbour opens at dawn."), metadata={"lang": "en"})
    await store.add(Source("fr.txt", b"Le harbour ouvre a l'aube."), metadata={"lang": "fr"})
    hits = await store.search("harbour", filter={"lang": "fr"})
    assert [h.document.name for h in hits] == ["fr.txt"]
    assert hits[0].document.metadata.get("lang") == "fr"
    both = await store.search("harbour", filter={"lang": ["fr", "en"]})
    assert {h.document.name for h in both} == {"en.txt", "fr.txt"}
    assert await store.search("harbour", filter={"lang": "de"}) == []


async def test_owners_never_see_each_others_stores(g: AsyncGemini) -> None:
    alice, bob = g.stores.for_owner("alice"), g.stores.for_owner("bob")
    store = await alice.create("diary")
    await store.add(Source("d.txt", b"Alice hid the key under the mat."))
    assert [s.name for s in await alice.list()] == ["diary"]
    assert await bob.list() == []
    with pytest.raises(StoreNotFound):
        await bob.get(store.id)
    with pytest.raises(StoreNotFound):
        await bob.delete(store.id)
    assert await bob.find("diary") is None
    assert (await alice.get(store.id)).name == "diary"
    assert all(s.id != store.id for s in await g.stores.list())


async def test_open_finds_or_creates_and_delete_removes(g: AsyncGemini) -> None:
    first = await g.stores.open("manuals")
    again = await g.stores.open("manuals")
    by_id = await g.stores.open(first.id)
    assert first.id == again.id == by_id.id
    assert [s.name for s in await g.stores.list()] == ["manuals"]
    await first.delete()
    with pytest.raises(StoreNotFound):
        await g.stores.get(first.id)
    assert await g.stores.find("manuals") is None


async def test_wrong_arguments_are_usage_errors(store: RetrievalStore, g: AsyncGemini) -> None:
    with pytest.raises(UsageError):
        await store.search("   ")
    with pytest.raises(UsageError):
        await store.search("fox", k=0)
    with pytest.raises(UsageError):
        await store.search("fox", mode="semantic")
    with pytest.raises(UsageError):
        await store.add()
    with pytest.raises(UsageError):
        await g.stores.create(" ")


async def test_chat_is_grounded_on_either_store(g: AsyncGemini, store: RetrievalStore) -> None:
    reply = await g.chat(
        [{"role": "user", "content": "Where does the saguaro cactus store water?"}],
        stores=[store],
    )
    message = reply["choices"][0]["message"]
    assert "pleated stem" in message["content"]
    assert [n["file_citation"]["filename"] for n in message["annotations"]][:1] == ["cactus.md"]
