"""PostgresBackend: pgvector indexes, errors, atomicity and concurrency on a real server."""

from __future__ import annotations

import asyncio
import secrets
import socket
import string
from collections.abc import AsyncIterator

import asyncpg
import numpy as np
import pytest

from gemgate.errors import ConfigError, EmbeddingMismatch, StorageError, StoreNotFound
from gemgate.rag._postgres import PostgresBackend, _index_name, _vector_query
from gemgate.rag._types import Chunk, DocumentInfo
from tests.rag._pgvector import drop_rag_tables, server_has_pgvector
from tests.servers import POSTGRES_URL, reachable

pytestmark = pytest.mark.anyio


@pytest.fixture
async def pg(pgvector_url: str) -> AsyncIterator[PostgresBackend]:
    await drop_rag_tables(pgvector_url)
    backend = PostgresBackend(pgvector_url)
    yield backend
    await backend.close()


def unit(rows: int, dimensions: int, seed: int = 0) -> np.ndarray:
    matrix = np.random.default_rng(seed).standard_normal((rows, dimensions)).astype(np.float32)
    return matrix / np.linalg.norm(matrix, axis=1, keepdims=True)


def document(
    store_id: str, texts: list[str], **metadata: object
) -> tuple[DocumentInfo, list[Chunk]]:
    doc_id = f"doc_{secrets.token_hex(6)}"
    info = DocumentInfo(
        id=doc_id,
        store_id=store_id,
        name=f"{doc_id}.txt",
        content_hash=secrets.token_hex(32),
        mime_type="text/plain",
        size_bytes=sum(len(t) for t in texts),
        metadata=dict(metadata),
    )
    chunks, offset = [], 0
    for i, text in enumerate(texts):
        chunks.append(Chunk(f"{doc_id}_{i}", doc_id, i, text, offset, offset + len(text)))
        offset += len(text)
    return info, chunks


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def test_every_method_round_trips(pg: PostgresBackend) -> None:
    store = await pg.create_store("handbook", owner="alice", metadata={"team": "ops"})
    assert store.dimensions == 0 and store.metadata == {"team": "ops"}
    store = await pg.set_embedding(store.id, "text-embedding-004", 8, owner="alice")
    assert (store.embedding_model, store.dimensions) == ("text-embedding-004", 8)

    info, chunks = document(store.id, ["Cats purr softly.", "Dogs bark loudly."], lang="en")
    stored = await pg.put_document(info, chunks, unit(2, 8), owner="alice")
    assert stored.chunk_count == 2 and stored.created_at > 0
    assert await pg.find_document(store.id, info.content_hash, owner="alice") == stored
    assert await pg.find_document(store.id, "0" * 64, owner="alice") is None
    assert await pg.get_document(store.id, info.id, owner="alice") == stored
    assert await pg.document_chunks(store.id, info.id, owner="alice") == chunks
    assert await pg.list_documents(store.id, owner="alice") == [stored]

    current = await pg.get_store(store.id, owner="alice")
    assert (current.document_count, current.chunk_count) == (1, 2)
    assert await pg.find_store("handbook", owner="alice") == current
    assert await pg.list_stores(owner="alice") == [current]

    hits = await pg.keyword_search(store.id, "barking dog", 5, owner="alice")
    assert [(h.chunk.text, h.keyword_rank) for h in hits] == [("Dogs bark loudly.", 1)]
    nearest = await pg.vector_search(store.id, unit(2, 8)[1], 2, owner="alice")
    assert [h.chunk.id for h in nearest] == [chunks[1].id, chunks[0].id]
    assert nearest[0].score == pytest.approx(1.0, abs=1e-5) and nearest[0].vector_rank == 1

    await pg.delete_document(store.id, info.id, owner="alice")
    with pytest.raises(StoreNotFound, match=info.id):
        await pg.get_document(store.id, info.id, owner="alice")
    await pg.delete_store(store.id, owner="alice")
    with pytest.raises(StoreNotFound):
        await pg.get_store(store.id, owner="alice")


async def test_owners_never_see_each_others_stores(pg: PostgresBackend) -> None:
    store = await pg.create_store("private", owner="alice")
    for call in (
        pg.get_store(store.id, owner="bob"),
        pg.delete_store(store.id, owner="bob"),
        pg.set_embedding(store.id, "m", 8, owner="bob"),
        pg.list_documents(store.id),
        pg.keyword_search(store.id, "x", 3, owner="bob"),
        pg.get_store("store_' OR 1=1 --", owner="alice"),
        pg.get_store("store_unknown", owner="alice"),
    ):
        with pytest.raises(StoreNotFound):
            await call
    assert await pg.find_store("private", owner="bob") is None
    assert store.id not in [s.id for s in await pg.list_stores(owner="bob")]


async def test_keyword_search_survives_hostile_queries(pg: PostgresBackend) -> None:
    store = await pg.set_embedding((await pg.create_store("kw")).id, "m", 4)
    texts = ["The quick brown fox", "über Straße naïve café", "version 3.14 of e-mail"]
    info, chunks = document(store.id, texts)
    await pg.put_document(info, chunks, unit(3, 4))
    hostile = ["", " ", "'", "a & b | !c", "fox:*", "((fox", "\\", "the of", "日本語", "-", "!)"]
    hostile += ["\x00", "'fox'", "fox''", "fox\\'", "a:b", "<->", "<2>", "'a' & !!'b'", "\u200b"]
    alphabet = list(string.punctuation + " \t\x00aé中:*!&|")
    rng = np.random.default_rng(7)
    hostile += ["".join(rng.choice(alphabet, size=12)) for _ in range(100)]
    for query in hostile:
        assert isinstance(await pg.keyword_search(store.id, query, 3), list)
    assert [h.chunk.index for h in await pg.keyword_search(store.id, "fox' | !", 3)] == [0]
    assert [h.chunk.index for h in await pg.keyword_search(store.id, "CAFÉ", 3)] == [1]
    assert [h.chunk.index for h in await pg.keyword_search(store.id, "3.14 e-mail", 3)] == [2]
    ranked = await pg.keyword_search(store.id, "quick zebra café", 3)
    assert {h.chunk.index for h in ranked} == {0, 1}
    assert [h.keyword_rank for h in ranked] == [1, 2]


async def test_filters_match_document_metadata(pg: PostgresBackend) -> None:
    store = await pg.set_embedding((await pg.create_store("filters")).id, "m", 4)
    for lang in ("en", "de", None):
        meta = {"lang": lang} if lang else {}
        info, chunks = document(store.id, [f"shared words {lang}"], **meta)
        await pg.put_document(info, chunks, unit(1, 4, seed=len(lang or "")))

    async def langs(filter: dict[str, object]) -> set[str]:
        kw = await pg.keyword_search(store.id, "shared", 10, filter=filter)
        vec = await pg.vector_search(store.id, unit(1, 4)[0], 10, filter=filter)
        assert {h.chunk.id for h in kw} == {h.chunk.id for h in vec}
        return {h.document.metadata.get("lang", "-") for h in kw}

    assert await langs({"lang": "en"}) == {"en"}
    assert await langs({"lang": ["en", "de"]}) == {"en", "de"}
    assert await langs({"lang": []}) == set()
    assert await langs({"missing": "x"}) == set()
    assert len(await pg.vector_search(store.id, unit(1, 4)[0], 10)) == 3


async def test_embedding_sizes_never_mix(pg: PostgresBackend) -> None:
    store = await pg.set_embedding((await pg.create_store("dims")).id, "m", 8)
    assert (await pg.set_embedding(store.id, "m", 8)).dimensions == 8
    with pytest.raises(EmbeddingMismatch, match="8"):
        await pg.set_embedding(store.id, "m", 16)
    info, chunks = document(store.id, ["a", "b"])
    with pytest.raises(EmbeddingMismatch):
        await pg.put_document(info, chunks, unit(2, 16))
    with pytest.raises(EmbeddingMismatch):
        await pg.put_document(info, chunks, unit(1, 8))
    with pytest.raises(EmbeddingMismatch):
        await pg.vector_search(store.id, unit(1, 16)[0], 3)
    assert (await pg.get_store(store.id)).document_count == 0


async def test_list_documents_pages_oldest_first(pg: PostgresBackend) -> None:
    store = await pg.set_embedding((await pg.create_store("pages")).id, "m", 4)
    ids = []
    for i in range(5):
        info, chunks = document(store.id, [f"text {i}"])
        ids.append((await pg.put_document(info, chunks, unit(1, 4))).id)
    first = await pg.list_documents(store.id, limit=2)
    rest = await pg.list_documents(store.id, limit=10, after=first[-1].id)
    assert [d.id for d in first + rest] == ids


async def test_the_store_gets_an_hnsw_index_the_search_uses(pg: PostgresBackend) -> None:
    store = await pg.set_embedding((await pg.create_store("hnsw")).id, "m", 8)
    async with pg._connection() as conn:
        definition = await conn.fetchval(
            "SELECT indexdef FROM pg_indexes WHERE indexname = $1", _index_name(store.id)
        )
    assert "hnsw" in definition and store.id in definition

    vectors = unit(300, 8, seed=3)
    for start in range(0, 300, 100):
        info, chunks = document(store.id, [f"row {i}" for i in range(start, start + 100)])
        await pg.put_document(info, chunks, vectors[start : start + 100])
    async with pg._connection() as conn, conn.transaction():
        await conn.execute("SET LOCAL enable_seqscan = off")
        plan = await conn.fetch(
            "EXPLAIN " + _vector_query(store.id, 8, vectors[7], 5, None)[0], vectors[7], 5
        )
    assert _index_name(store.id) in "\n".join(row[0] for row in plan)

    hits = await pg.vector_search(store.id, vectors[7], 5)
    assert hits[0].chunk.text == "row 7" and len(hits) == 5

    await pg.delete_store(store.id)
    async with pg._connection() as conn:
        assert (
            await conn.fetchval(
                "SELECT count(*) FROM pg_indexes WHERE indexname = $1", _index_name(store.id)
            )
            == 0
        )


async def test_a_failed_put_leaves_nothing(pg: PostgresBackend) -> None:
    store = await pg.set_embedding((await pg.create_store("atomic")).id, "m", 4)
    old, old_chunks = document(store.id, ["the old text"])
    await pg.put_document(old, old_chunks, unit(1, 4))

    new, chunks = document(store.id, ["one", "two", "three"])
    vectors = unit(3, 4)
    vectors[2, 0] = np.nan
    with pytest.raises(StorageError):
        await pg.put_document(new, chunks, vectors, replaces=old.id)

    assert await pg.find_document(store.id, new.content_hash) is None
    assert await pg.get_document(store.id, old.id) == await pg.find_document(
        store.id, old.content_hash
    )
    current = await pg.get_store(store.id)
    assert (current.document_count, current.chunk_count) == (1, 1)
    assert [h.chunk.text for h in await pg.keyword_search(store.id, "one two three", 5)] == []

    replaced = await pg.put_document(new, chunks, unit(3, 4), replaces=old.id)
    assert [d.id for d in await pg.list_documents(store.id)] == [replaced.id]


async def test_concurrent_puts_keep_counts_consistent(pg: PostgresBackend) -> None:
    store = await pg.set_embedding((await pg.create_store("busy")).id, "m", 4)

    async def put(n: int) -> None:
        info, chunks = document(store.id, [f"text {n} {i}" for i in range(n % 4 + 1)])
        await pg.put_document(info, chunks, unit(len(chunks), 4, seed=n))

    await asyncio.gather(*(put(n) for n in range(20)))
    current = await pg.get_store(store.id)
    assert current.document_count == 20
    assert current.chunk_count == sum(n % 4 + 1 for n in range(20))
    documents = await pg.list_documents(store.id)
    assert [len(await pg.document_chunks(store.id, d.id)) for d in documents] == [
        d.chunk_count for d in documents
    ]


async def test_two_backends_see_each_others_writes(pgvector_url: str) -> None:
    first, second = PostgresBackend(pgvector_url), PostgresBackend(pgvector_url)
    try:
        store = await first.create_store("shared", owner="team")
        await second.set_embedding(store.id, "m", 4, owner="team")
        info, chunks = document(store.id, ["written by the second"])
        await second.put_document(info, chunks, unit(1, 4), owner="team")
        seen = await first.get_store(store.id, owner="team")
        assert (seen.dimensions, seen.document_count) == (4, 1)
        await first.delete_document(store.id, info.id, owner="team")
        assert await second.list_documents(store.id, owner="team") == []
    finally:
        await first.close()
        await second.close()


async def test_several_backends_create_the_schema_at_once(pgvector_url: str) -> None:
    name = f"rag_fresh_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(pgvector_url)
    await admin.execute(f"CREATE DATABASE {name}")
    fresh = pgvector_url.rsplit("/", 1)[0] + f"/{name}"
    backends = [PostgresBackend(fresh) for _ in range(4)]
    try:
        stores = await asyncio.gather(*(b.create_store(f"s{i}") for i, b in enumerate(backends)))
        assert len({s.id for s in stores}) == 4
    finally:
        for backend in backends:
            await backend.close()
        await admin.execute(f"DROP DATABASE {name}")
        await admin.close()


async def test_a_server_without_pgvector_is_a_clear_storage_error() -> None:
    if not reachable(5432):
        pytest.skip("no PostgreSQL on 127.0.0.1:5432 to try")
    if await asyncio.to_thread(server_has_pgvector, POSTGRES_URL):
        pytest.skip("the server on 127.0.0.1:5432 has pgvector")
    backend = PostgresBackend(POSTGRES_URL)
    with pytest.raises(StorageError, match="127.0.0.1:5432 has no pgvector extension"):
        await backend.create_store("x")
    await backend.close()


@pytest.mark.parametrize("scheme", ["postgresql", "postgres", "postgresql+asyncpg"])
async def test_a_refused_connection_never_shows_the_password(scheme: str) -> None:
    port = free_port()
    backend = PostgresBackend(f"{scheme}://gemgate:Hunter2-secret@127.0.0.1:{port}/rag")
    with pytest.raises(StorageError) as caught:
        await backend.list_stores()
    assert f"127.0.0.1:{port}" in str(caught.value)
    assert "Hunter2-secret" not in str(caught.value) + repr(caught.value)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    await backend.close()


def test_other_urls_are_refused_without_echoing_them() -> None:
    with pytest.raises(ConfigError) as caught:
        PostgresBackend("mysql://root:Hunter2-secret@db/rag")
    assert "Hunter2-secret" not in str(caught.value)


async def test_stores_beyond_the_hnsw_limit_are_searched_exactly(pg: PostgresBackend) -> None:
    store = await pg.set_embedding((await pg.create_store("wide")).id, "m", 3072)
    async with pg._connection() as conn:
        assert (
            await conn.fetchval(
                "SELECT count(*) FROM pg_indexes WHERE indexname = $1", _index_name(store.id)
            )
            == 0
        )
    vectors = unit(3, 3072)
    info, chunks = document(store.id, ["a", "b", "c"])
    await pg.put_document(info, chunks, vectors)
    hits = await pg.vector_search(store.id, vectors[2], 3)
    assert [h.chunk.text for h in hits][0] == "c" and len(hits) == 3


async def test_chunks_need_the_store_size_first(pg: PostgresBackend) -> None:
    store = await pg.create_store("unsized")
    info, chunks = document(store.id, ["a"])
    with pytest.raises(EmbeddingMismatch, match="no embedding size"):
        await pg.put_document(info, chunks, unit(1, 4))
    assert await pg.vector_search(store.id, unit(1, 4)[0], 3) == []
    empty = await pg.put_document(info, [], np.zeros((0, 4), dtype=np.float32))
    assert empty.chunk_count == 0
    assert (await pg.get_store(store.id)).document_count == 1
