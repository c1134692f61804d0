"""Stores through the library: ingest, dedup, replace, search modes, failures, isolation."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import numpy as np
import pytest

from gemgate import AsyncGemini
from gemgate.errors import DocumentError, EmbeddingMismatch, StoreNotFound, UsageError
from gemgate.rag import Source, Store, Vectors

pytestmark = pytest.mark.anyio

ANIMALS = """# Animals of the north

The arctic fox changes its coat from brown in summer to white in winter.

Walruses use their long tusks to haul themselves onto the ice.
"""
PLANTS = """<html><head><title>Plants</title><script>var secret = "nope";</script></head>
<body><h1>Desert plants</h1><p>The saguaro cactus stores water in its pleated stem.</p>
<p>Welwitschia grows only two leaves in its whole life.</p></body></html>"""
SPACE = "Jupiter's great red spot is a storm larger than the Earth. " * 3


@pytest.fixture
async def g(tmp_path: Path) -> AsyncIterator[AsyncGemini]:
    async with AsyncGemini.emulated(stores_url=f"sqlite:///{tmp_path}/stores.db") as client:
        yield client


@pytest.fixture
async def store(g: AsyncGemini, tmp_path: Path) -> Store:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "animals.md").write_text(ANIMALS)
    (tmp_path / "docs" / "plants.html").write_text(PLANTS)
    (tmp_path / "docs" / ".hidden.txt").write_text("never ingested")
    made = await g.stores.create("nature")
    report = await made.add(tmp_path / "docs", Source("space.txt", SPACE.encode()))
    assert not report.failed
    assert sorted(d.name for d in report.added) == ["animals.md", "plants.html", "space.txt"]
    return made


async def test_each_search_mode_finds_the_document_that_answers(store: Store) -> None:
    for mode in ("hybrid", "keyword", "vector"):
        hits = await store.search("saguaro cactus water", k=3, mode=mode)
        assert hits, mode
        assert hits[0].document.name == "plants.html", mode
        assert "saguaro" in hits[0].chunk.text
    hits = await store.search("walrus tusks ice", k=2)
    assert hits[0].document.name == "animals.md"
    assert hits[0].keyword_rank is not None and hits[0].vector_rank is not None
    assert all(a.score >= b.score for a, b in zip(hits, hits[1:], strict=False))


async def test_html_keeps_visible_text_only_and_spans_point_into_the_text(store: Store) -> None:
    hits = await store.search("secret nope", k=5, mode="keyword")
    assert all("secret" not in h.chunk.text for h in hits)
    document = next(d for d in await store.documents() if d.name == "animals.md")
    chunks = await store.chunks(document.id)
    assert chunks and all(c.document_id == document.id for c in chunks)
    assert [c.index for c in chunks] == list(range(len(chunks)))


async def test_counts_and_unchanged_reingest_is_a_no_op(store: Store, tmp_path: Path) -> None:
    info = await store.refresh()
    assert info.document_count == 3
    assert info.chunk_count >= 3
    assert info.dimensions == 768
    again = await store.add(tmp_path / "docs")
    assert again.added == [] and len(again.unchanged) == 2
    assert (await store.refresh()).chunk_count == info.chunk_count


async def test_a_changed_file_replaces_its_old_document(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "docs" / "animals.md"
    before = {d.name: d for d in await store.documents()}["animals.md"]
    path.write_text("Penguins huddle together against the antarctic wind.")
    report = await store.add(path)
    assert [d.name for d in report.added] == ["animals.md"]
    documents = await store.documents()
    assert [d.name for d in documents].count("animals.md") == 1
    with pytest.raises(StoreNotFound):
        await store.document(before.id)
    assert not await store.search("walrus tusks", k=5, mode="keyword")
    assert (await store.search("penguins huddle", k=1))[0].document.name == "animals.md"


async def test_replace_and_delete_a_document(store: Store) -> None:
    document = {d.name: d for d in await store.documents()}["space.txt"]
    new = await store.replace(document.id, Source("space.txt", b"Saturn has rings of ice."))
    assert new.id != document.id
    assert (await store.search("Saturn rings", k=1))[0].document.id == new.id
    await store.delete_document(new.id)
    assert all(h.document.id != new.id for h in await store.search("Saturn rings", k=5))
    assert (await store.refresh()).document_count == 2


async def test_bad_sources_are_reported_and_the_rest_is_ingested(g: AsyncGemini) -> None:
    store = await g.stores.create("mixed")
    report = await store.add(
        Source("notes.xyz", b"\x00\x01binary"),
        Source("empty.txt", b"   \n"),
        Source("broken.pdf", b"%PDF-1.7 this is not a pdf"),
        Source("good.txt", b"Good documents still get in."),
    )
    assert [d.name for d in report.added] == ["good.txt"]
    failed = dict(report.failed)
    assert set(failed) == {"notes.xyz", "empty.txt", "broken.pdf"}
    assert all(reason for reason in failed.values())
    assert (await store.refresh()).document_count == 1


async def test_missing_file_and_oversized_file(g: AsyncGemini, tmp_path: Path) -> None:
    store = await g.stores.create("limits")
    big = tmp_path / "big.txt"
    big.write_bytes(b"word " * 3000)
    report = await store.add(tmp_path / "nowhere.txt", big, max_bytes=10_000)
    reasons = dict(report.failed)
    assert "no such file" in reasons[str(tmp_path / "nowhere.txt")]
    assert "over the limit" in reasons[str(big)]
    assert (await store.refresh()).document_count == 0


class Failing:
    """An embedder that fails on its second call: the second document must leave nothing."""

    def __init__(self, inner: object) -> None:
        self.inner = inner
        self.model = inner.model  # type: ignore[attr-defined]
        self.calls = 0

    async def embed(
        self, texts: Sequence[str], task: str, *, titles: Sequence[str] | None = None
    ) -> Vectors:
        self.calls += 1
        if self.calls == 2:
            raise RuntimeError("embedding service fell over")
        result: Vectors = await self.inner.embed(texts, task, titles=titles)  # type: ignore[attr-defined]
        return result


async def test_a_failure_mid_ingest_commits_nothing_of_that_document(g: AsyncGemini) -> None:
    stores = g.stores
    failing = type(stores)(stores.backend, Failing(stores.embedder))
    store = await failing.create("fragile")
    await store.add(Source("one.txt", b"The first document is fine."))
    with pytest.raises(RuntimeError, match="fell over"):
        await store.add(Source("two.txt", ("Second document. " * 500).encode()))
    info = await store.refresh()
    assert info.document_count == 1
    assert [d.name for d in await store.documents()] == ["one.txt"]
    assert all(h.document.name == "one.txt" for h in await store.search("second document"))


async def test_another_embedding_size_is_refused(g: AsyncGemini, tmp_path: Path) -> None:
    store = await g.stores.create("sized")
    await store.add(Source("a.txt", b"Vectors of seven hundred and sixty eight numbers."))
    url = f"sqlite:///{tmp_path}/stores.db"
    async with AsyncGemini.emulated(stores_url=url, stores_dimensions=256) as other:
        same = await other.stores.get(store.id)
        with pytest.raises(EmbeddingMismatch):
            await same.add(Source("b.txt", b"Shorter vectors."))
        with pytest.raises(EmbeddingMismatch):
            await same.search("vectors", mode="vector")
        keyword = await same.search("vectors", mode="keyword")
        assert keyword[0].document.name == "a.txt"
    assert (await store.refresh()).document_count == 1


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


async def test_open_finds_or_creates_by_name(g: AsyncGemini) -> None:
    first = await g.stores.open("manuals")
    again = await g.stores.open("manuals")
    by_id = await g.stores.open(first.id)
    assert first.id == again.id == by_id.id
    await first.delete()
    with pytest.raises(StoreNotFound):
        await g.stores.get(first.id)


async def test_wrong_arguments_are_usage_errors(store: Store, g: AsyncGemini) -> None:
    with pytest.raises(UsageError):
        await store.search("   ")
    with pytest.raises(UsageError):
        await store.search("fox", k=0)
    with pytest.raises(UsageError):
        await store.search("fox", mode="semantic")  # type: ignore[arg-type]
    with pytest.raises(UsageError):
        await store.add()
    with pytest.raises(UsageError):
        await g.stores.create(" ")


async def test_filters_match_document_metadata(g: AsyncGemini) -> None:
    store = await g.stores.create("filtered")
    await store.add(Source("en.txt", b"The harbour opens at dawn."), metadata={"lang": "en"})
    await store.add(Source("fr.txt", b"Le harbour ouvre a l'aube."), metadata={"lang": "fr"})
    for mode in ("hybrid", "keyword", "vector"):
        hits = await store.search("harbour", filter={"lang": "fr"}, mode=mode)
        assert [h.document.name for h in hits] == ["fr.txt"], mode
        both = await store.search("harbour", filter={"lang": ["fr", "en"]}, mode=mode)
        assert {h.document.name for h in both} == {"en.txt", "fr.txt"}, mode
        assert await store.search("harbour", filter={"lang": "de"}, mode=mode) == []


async def test_progress_reports_each_document(g: AsyncGemini) -> None:
    store = await g.stores.create("progress")
    seen: list[tuple[str, int]] = []
    await store.add(
        Source("a.txt", b"Alpha text."),
        Source("b.txt", b""),
        progress=lambda name, added: seen.append((name, added)),
    )
    assert sorted(n for n, _ in seen) == ["a.txt", "b.txt"]
    assert dict(seen)["a.txt"] >= 1 and dict(seen)["b.txt"] == 0


async def test_embeddings_are_unit_vectors_from_the_emulator(g: AsyncGemini) -> None:
    vectors = await g.stores.embedder.embed(["one text", "another"], "document")
    assert vectors.shape == (2, 768) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


async def test_document_error_carries_its_status(g: AsyncGemini) -> None:
    from gemgate.rag._sources import read

    with pytest.raises(DocumentError) as caught:
        await read(b"x" * 11, max_bytes=10)
    assert caught.value.status_code == 413


def test_the_blocking_client_has_the_same_stores(tmp_path: Path) -> None:
    from gemgate import Gemini

    with Gemini.emulated(stores_url=f"sqlite:///{tmp_path}/stores.db") as g:
        store = g.stores.create("blocking")
        report = store.add(Source("tide.txt", b"High tide comes twice a day."))
        assert [d.name for d in report.added] == ["tide.txt"]
        (hit,) = store.search("tide", k=1)
        assert hit.document.name == "tide.txt"
        assert store.name == "blocking" and store.info.document_count == 1
        assert g.stores.find("blocking") is not None
        assert g.stores.for_owner("someone").find("blocking") is None
        assert [s.name for s in g.stores.list()] == ["blocking"]
        store.delete()
        assert g.stores.list() == []
