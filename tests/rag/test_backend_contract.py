"""The StoreBackend contract, run against every backend (see conftest.py)."""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import pytest

from gemgate.errors import EmbeddingMismatch, StoreNotFound
from gemgate.rag import Chunk, DocumentInfo, StoreInfo
from gemgate.rag._backend import StoreBackend
from gemgate.rag._ids import new_id

pytestmark = pytest.mark.anyio

DIMS = 8


def unit_vectors(count: int, seed: int = 0) -> np.ndarray[Any, np.dtype[np.float32]]:
    rng = np.random.default_rng(seed)
    vectors = rng.normal(size=(count, DIMS)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


async def add(
    backend: StoreBackend,
    store: StoreInfo,
    texts: list[str],
    vectors: np.ndarray[Any, np.dtype[np.float32]] | None = None,
    *,
    owner: str,
    name: str = "doc.txt",
    metadata: dict[str, Any] | None = None,
    replaces: str | None = None,
) -> DocumentInfo:
    """Put a document whose chunks are ``texts`` (vectors random unless given)."""
    body = "\n".join(texts).encode()
    document_id = new_id("doc")
    document = DocumentInfo(
        id=document_id,
        store_id=store.id,
        name=name,
        content_hash=hashlib.sha256(body + document_id.encode()).hexdigest(),
        mime_type="text/plain",
        size_bytes=len(body),
        source=f"/data/{name}",
        metadata=metadata or {},
    )
    chunks, offset = [], 0
    for index, text in enumerate(texts):
        chunks.append(
            Chunk(
                id=f"{document_id}:{index}",
                document_id=document_id,
                index=index,
                text=text,
                start=offset,
                end=offset + len(text),
                tokens=len(text.split()),
            )
        )
        offset += len(text) + 1
    if vectors is None:
        vectors = unit_vectors(len(texts), seed=len(texts))
    return await backend.put_document(document, chunks, vectors, owner=owner, replaces=replaces)


async def embedded_store(backend: StoreBackend, owner: str, name: str = "docs") -> StoreInfo:
    store = await backend.create_store(name, owner=owner)
    return await backend.set_embedding(store.id, "text-embedding-004", DIMS, owner=owner)


# Stores


async def test_create_get_find_list_delete_stores(backend: StoreBackend, owner: str) -> None:
    first = await backend.create_store("handbook", owner=owner, metadata={"team": "ops"})
    second = await backend.create_store("handbook", owner=owner)
    other = await backend.create_store("notes", owner=owner)

    assert first.id != second.id
    assert first.id.startswith("store_")
    got = await backend.get_store(first.id, owner=owner)
    assert (got.id, got.name, got.owner, got.metadata) == (
        first.id,
        "handbook",
        owner,
        {"team": "ops"},
    )
    assert (got.dimensions, got.document_count, got.chunk_count) == (0, 0, 0)
    assert got.created_at > 0

    found = await backend.find_store("handbook", owner=owner)
    assert found is not None and found.id == second.id
    assert await backend.find_store("nothing-called-this", owner=owner) is None
    assert [s.id for s in await backend.list_stores(owner=owner)] == [other.id, second.id, first.id]

    await backend.delete_store(second.id, owner=owner)
    with pytest.raises(StoreNotFound, match=second.id):
        await backend.get_store(second.id, owner=owner)
    found = await backend.find_store("handbook", owner=owner)
    assert found is not None and found.id == first.id
    assert [s.id for s in await backend.list_stores(owner=owner)] == [other.id, first.id]
    with pytest.raises(StoreNotFound):
        await backend.delete_store(second.id, owner=owner)


async def test_unknown_store_is_not_found(backend: StoreBackend, owner: str) -> None:
    with pytest.raises(StoreNotFound, match="store_missing"):
        await backend.get_store("store_missing", owner=owner)
    with pytest.raises(StoreNotFound):
        await backend.keyword_search("store_missing", "anything", 5, owner=owner)
    with pytest.raises(StoreNotFound):
        await backend.list_documents("store_missing", owner=owner)


async def test_delete_store_removes_its_documents(backend: StoreBackend, owner: str) -> None:
    store = await embedded_store(backend, owner)
    document = await add(backend, store, ["quasar observations"], owner=owner)
    await backend.delete_store(store.id, owner=owner)

    with pytest.raises(StoreNotFound):
        await backend.get_document(store.id, document.id, owner=owner)
    with pytest.raises(StoreNotFound):
        await backend.keyword_search(store.id, "quasar", 5, owner=owner)
    again = await embedded_store(backend, owner)
    assert await backend.keyword_search(again.id, "quasar", 5, owner=owner) == []


# Owners


async def test_another_owner_sees_nothing(backend: StoreBackend, owner: str, intruder: str) -> None:
    store = await embedded_store(backend, owner, name="private")
    document = await add(backend, store, ["the secret plans"], owner=owner)
    query = unit_vectors(1)[0]

    assert await backend.list_stores(owner=intruder) == []
    assert await backend.find_store("private", owner=intruder) is None
    attempts = [
        backend.get_store(store.id, owner=intruder),
        backend.set_embedding(store.id, "m", DIMS, owner=intruder),
        backend.find_document(store.id, document.content_hash, owner=intruder),
        backend.get_document(store.id, document.id, owner=intruder),
        backend.list_documents(store.id, owner=intruder),
        backend.document_chunks(store.id, document.id, owner=intruder),
        backend.delete_document(store.id, document.id, owner=intruder),
        backend.keyword_search(store.id, "secret", 5, owner=intruder),
        backend.vector_search(store.id, query, 5, owner=intruder),
        backend.delete_store(store.id, owner=intruder),
    ]
    for attempt in attempts:
        with pytest.raises(StoreNotFound) as caught:
            await attempt
        assert owner not in str(caught.value)
    with pytest.raises(StoreNotFound):
        await add(backend, store, ["planted"], owner=intruder)

    kept = await backend.get_store(store.id, owner=owner)
    assert (kept.document_count, kept.chunk_count) == (1, 1)
    assert [d.id for d in await backend.list_documents(store.id, owner=owner)] == [document.id]
    hits = await backend.keyword_search(store.id, "secret planted", 5, owner=owner)
    assert [h.chunk.text for h in hits] == ["the secret plans"]


# Embeddings


async def test_set_embedding_fixes_the_size_once(backend: StoreBackend, owner: str) -> None:
    store = await backend.create_store("e", owner=owner)
    fixed = await backend.set_embedding(store.id, "text-embedding-004", 768, owner=owner)
    assert (fixed.embedding_model, fixed.dimensions) == ("text-embedding-004", 768)
    again = await backend.set_embedding(store.id, "text-embedding-004", 768, owner=owner)
    assert again.dimensions == 768

    with pytest.raises(EmbeddingMismatch) as caught:
        await backend.set_embedding(store.id, "gemini-embedding-001", 3072, owner=owner)
    assert "768" in str(caught.value) and "3072" in str(caught.value)
    assert (await backend.get_store(store.id, owner=owner)).dimensions == 768


async def test_vectors_of_another_size_are_refused(backend: StoreBackend, owner: str) -> None:
    store = await embedded_store(backend, owner)
    wrong = np.ones((1, DIMS + 1), dtype=np.float32)
    with pytest.raises(EmbeddingMismatch):
        await add(backend, store, ["text"], wrong, owner=owner)
    too_few = unit_vectors(1)
    with pytest.raises(EmbeddingMismatch):
        await add(backend, store, ["one", "two"], too_few, owner=owner)

    info = await backend.get_store(store.id, owner=owner)
    assert (info.document_count, info.chunk_count) == (0, 0)
    assert await backend.list_documents(store.id, owner=owner) == []


# Documents


async def test_put_get_list_delete_documents(backend: StoreBackend, owner: str) -> None:
    store = await embedded_store(backend, owner)
    documents = [
        await add(backend, store, [f"part {n} a", f"part {n} b"], owner=owner, name=f"d{n}.txt")
        for n in range(5)
    ]
    assert all(d.chunk_count == 2 for d in documents)

    got = await backend.get_document(store.id, documents[2].id, owner=owner)
    assert (got.id, got.name, got.mime_type, got.source) == (
        documents[2].id,
        "d2.txt",
        "text/plain",
        "/data/d2.txt",
    )
    assert (got.content_hash, got.size_bytes, got.chunk_count) == (
        documents[2].content_hash,
        documents[2].size_bytes,
        2,
    )

    chunks = await backend.document_chunks(store.id, documents[2].id, owner=owner)
    assert [(c.index, c.text, c.start, c.end) for c in chunks] == [
        (0, "part 2 a", 0, 8),
        (1, "part 2 b", 9, 17),
    ]
    assert all(c.document_id == documents[2].id for c in chunks)

    pages, after = [], None
    while page := await backend.list_documents(store.id, owner=owner, limit=2, after=after):
        pages.append([d.id for d in page])
        after = page[-1].id
    assert pages == [[d.id for d in documents[i : i + 2]] for i in (0, 2, 4)]

    await backend.delete_document(store.id, documents[2].id, owner=owner)
    with pytest.raises(StoreNotFound, match=documents[2].id):
        await backend.get_document(store.id, documents[2].id, owner=owner)
    with pytest.raises(StoreNotFound):
        await backend.delete_document(store.id, documents[2].id, owner=owner)
    remaining = await backend.list_documents(store.id, owner=owner)
    assert [d.id for d in remaining] == [d.id for d in documents if d is not documents[2]]


async def test_find_document_by_hash(backend: StoreBackend, owner: str) -> None:
    store = await embedded_store(backend, owner)
    document = await add(backend, store, ["hello"], owner=owner)
    found = await backend.find_document(store.id, document.content_hash, owner=owner)
    assert found is not None and found.id == document.id
    assert await backend.find_document(store.id, "0" * 64, owner=owner) is None
    other = await embedded_store(backend, owner, name="other")
    assert await backend.find_document(other.id, document.content_hash, owner=owner) is None


async def test_replaces_swaps_documents_in_one_step(backend: StoreBackend, owner: str) -> None:
    store = await embedded_store(backend, owner)
    old = await add(backend, store, ["old walrus text", "more old"], owner=owner)
    new = await add(backend, store, ["new narwhal text"], owner=owner, replaces=old.id)

    with pytest.raises(StoreNotFound):
        await backend.get_document(store.id, old.id, owner=owner)
    assert [d.id for d in await backend.list_documents(store.id, owner=owner)] == [new.id]
    assert await backend.keyword_search(store.id, "walrus", 5, owner=owner) == []
    assert len(await backend.keyword_search(store.id, "narwhal", 5, owner=owner)) == 1
    vector_hits = await backend.vector_search(store.id, unit_vectors(1)[0], 10, owner=owner)
    assert {h.document.id for h in vector_hits} == {new.id}
    info = await backend.get_store(store.id, owner=owner)
    assert (info.document_count, info.chunk_count) == (1, 1)


async def test_counts_follow_writes(backend: StoreBackend, owner: str) -> None:
    store = await embedded_store(backend, owner)
    first = await add(backend, store, ["a", "b", "c"], owner=owner)
    await add(backend, store, ["d", "e"], owner=owner)
    info = await backend.get_store(store.id, owner=owner)
    assert (info.document_count, info.chunk_count) == (2, 5)
    await backend.delete_document(store.id, first.id, owner=owner)
    info = await backend.get_store(store.id, owner=owner)
    assert (info.document_count, info.chunk_count) == (1, 2)
    listed = await backend.list_stores(owner=owner)
    assert (listed[0].document_count, listed[0].chunk_count) == (1, 2)


# Keyword search


async def test_keyword_search_ranks_the_rare_word_first(backend: StoreBackend, owner: str) -> None:
    store = await embedded_store(backend, owner)
    await add(
        backend,
        store,
        [
            "The history of the railway in the north.",
            "The history of the zeppelin and its crossings.",
            "The history of the canal system.",
        ],
        owner=owner,
    )
    other = await embedded_store(backend, owner, name="elsewhere")
    await add(backend, other, ["zeppelin zeppelin zeppelin"], owner=owner)

    hits = await backend.keyword_search(store.id, "history of the zeppelin", 3, owner=owner)
    assert hits[0].chunk.text == "The history of the zeppelin and its crossings."
    assert [h.keyword_rank for h in hits] == list(range(1, len(hits) + 1))
    assert all(h.document.store_id == store.id for h in hits)
    assert all(h.vector_rank is None for h in hits)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert hits[0].score > hits[-1].score

    assert len(await backend.keyword_search(store.id, "history", 2, owner=owner)) == 2
    assert await backend.keyword_search(store.id, "submarine", 5, owner=owner) == []


@pytest.mark.parametrize(
    "query",
    [
        "",
        "   ",
        '"',
        "'",
        '"unbalanced',
        "AND OR NOT",
        "NEAR(a b)",
        "-x",
        "col:val",
        "text:zeppelin",
        "*",
        "zep*",
        "^start",
        "(((",
        "a + b - c",
        "naïve café 日本語 🚀",
        "'; DROP TABLE rag_chunks; --",
        "\x00",
    ],
)
async def test_keyword_search_takes_any_text(backend: StoreBackend, owner: str, query: str) -> None:
    store = await embedded_store(backend, owner)
    await add(backend, store, ["a zeppelin over the naïve café", "col val text"], owner=owner)
    hits = await backend.keyword_search(store.id, query, 5, owner=owner)
    assert isinstance(hits, list)
    assert (await backend.get_store(store.id, owner=owner)).chunk_count == 2


async def test_keyword_search_ignores_syntax_but_keeps_words(
    backend: StoreBackend, owner: str
) -> None:
    store = await embedded_store(backend, owner)
    await add(backend, store, ["a zeppelin overhead", "a canal below"], owner=owner)
    hits = await backend.keyword_search(store.id, 'title:"zeppelin -NEAR(', 5, owner=owner)
    assert [h.chunk.text for h in hits] == ["a zeppelin overhead"]


# Vector search


async def test_vector_search_finds_the_nearest(backend: StoreBackend, owner: str) -> None:
    store = await embedded_store(backend, owner)
    vectors = unit_vectors(20, seed=7)
    texts = [f"chunk {i}" for i in range(20)]
    await add(backend, store, texts[:10], vectors[:10], owner=owner)
    await add(backend, store, texts[10:], vectors[10:], owner=owner)

    rng = np.random.default_rng(1)
    query = (vectors[13] + rng.normal(scale=0.05, size=DIMS)).astype(np.float32)
    query /= np.linalg.norm(query)
    hits = await backend.vector_search(store.id, query, 5, owner=owner)

    assert len(hits) == 5
    assert hits[0].chunk.text == "chunk 13"
    assert [h.vector_rank for h in hits] == [1, 2, 3, 4, 5]
    assert all(h.keyword_rank is None for h in hits)
    expected = vectors @ query
    for hit in hits:
        index = int(hit.chunk.text.split()[1])
        assert hit.score == pytest.approx(float(expected[index]), abs=1e-4)
    assert [h.chunk.text for h in hits] == [f"chunk {i}" for i in np.argsort(-expected)[:5]]

    everything = await backend.vector_search(store.id, query, 100, owner=owner)
    assert len(everything) == 20


async def test_vector_search_of_another_size_is_refused(backend: StoreBackend, owner: str) -> None:
    store = await embedded_store(backend, owner)
    await add(backend, store, ["x"], owner=owner)
    with pytest.raises(EmbeddingMismatch):
        await backend.vector_search(store.id, np.ones(DIMS + 2, dtype=np.float32), 3, owner=owner)


# Filters


async def filtered_store(
    backend: StoreBackend, owner: str
) -> tuple[StoreInfo, np.ndarray[Any, Any]]:
    store = await embedded_store(backend, owner)
    vectors = unit_vectors(3, seed=3)
    for i, (lang, topic) in enumerate([("en", "ships"), ("fr", "ships"), ("de", "trains")]):
        await add(
            backend,
            store,
            [f"harbour report {lang}"],
            vectors[i : i + 1],
            owner=owner,
            name=f"{lang}.txt",
            metadata={"lang": lang, "topic": topic},
        )
    return store, vectors


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ({"lang": "en"}, {"en.txt"}),
        ({"lang": ["en", "de"]}, {"en.txt", "de.txt"}),
        ({"topic": "ships", "lang": ["fr", "de"]}, {"fr.txt"}),
        ({"lang": "it"}, set()),
        ({"colour": "red"}, set()),
        ({}, {"en.txt", "fr.txt", "de.txt"}),
    ],
)
async def test_filters_apply_to_both_searches(
    backend: StoreBackend, owner: str, where: dict[str, Any], expected: set[str]
) -> None:
    store, vectors = await filtered_store(backend, owner)
    keyword = await backend.keyword_search(store.id, "harbour", 10, owner=owner, filter=where)
    assert {h.document.name for h in keyword} == expected
    nearest = await backend.vector_search(store.id, vectors[1], 10, owner=owner, filter=where)
    assert {h.document.name for h in nearest} == expected


async def test_filter_keeps_k_after_filtering(backend: StoreBackend, owner: str) -> None:
    store = await embedded_store(backend, owner)
    vectors = unit_vectors(12, seed=11)
    for i in range(12):
        group = "wanted" if i % 3 == 0 else "other"
        await add(
            backend, store, [f"item {i}"], vectors[i : i + 1], owner=owner, metadata={"g": group}
        )
    hits = await backend.vector_search(store.id, vectors[1], 3, owner=owner, filter={"g": "wanted"})
    assert len(hits) == 3
    assert {h.chunk.text for h in hits} <= {"item 0", "item 3", "item 6", "item 9"}


# Deletion reaches the searches


async def test_deleted_documents_leave_both_searches(backend: StoreBackend, owner: str) -> None:
    store = await embedded_store(backend, owner)
    vectors = unit_vectors(2, seed=5)
    gone = await add(backend, store, ["ephemeral albatross"], vectors[:1], owner=owner)
    kept = await add(backend, store, ["lasting albatross"], vectors[1:], owner=owner)
    before = await backend.vector_search(store.id, vectors[0], 5, owner=owner)
    assert before[0].document.id == gone.id

    await backend.delete_document(store.id, gone.id, owner=owner)
    keyword = await backend.keyword_search(store.id, "albatross ephemeral", 5, owner=owner)
    assert [h.document.id for h in keyword] == [kept.id]
    nearest = await backend.vector_search(store.id, vectors[0], 5, owner=owner)
    assert [h.document.id for h in nearest] == [kept.id]
