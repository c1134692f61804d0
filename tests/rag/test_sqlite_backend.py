"""What only the SQLite backend promises: its file, its transactions and its vector cache."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import numpy as np
import pytest

from gemgate.errors import ConfigError, RetrievalError, StorageError, StoreNotFound
from gemgate.rag import Chunk, DocumentInfo
from gemgate.rag._sqlite import SQLiteBackend
from gemgate.sessions._sql import sql_engine
from tests.rag.test_backend_contract import DIMS, add, embedded_store, unit_vectors

pytestmark = pytest.mark.anyio

OWNER = "team-a"


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "stores.db"


@pytest.fixture
async def sqlite(path: Path) -> AsyncIterator[SQLiteBackend]:
    backend = SQLiteBackend(path)
    try:
        yield backend
    finally:
        await backend.close()


@contextlib.contextmanager
def raw(path: Path) -> Iterator[sqlite3.Connection]:
    """A separate connection that looks at the file directly."""
    db = sqlite3.connect(path)
    try:
        yield db
    finally:
        db.close()


def fts_rows(db: sqlite3.Connection, word: str) -> int:
    """Rows the full-text index itself holds for ``word`` (not the content table)."""
    db.execute("INSERT INTO rag_chunks_fts (rag_chunks_fts) VALUES ('integrity-check')")
    return int(
        db.execute(
            "SELECT COUNT(*) FROM rag_chunks_fts WHERE rag_chunks_fts MATCH ?", (word,)
        ).fetchone()[0]
    )


async def test_a_failure_mid_document_leaves_nothing(sqlite: SQLiteBackend, path: Path) -> None:
    store = await embedded_store(sqlite, OWNER)
    old = await add(sqlite, store, ["original ibis text"], owner=OWNER)
    document = DocumentInfo(
        id="doc_broken",
        store_id=store.id,
        name="broken.txt",
        content_hash="f" * 64,
        mime_type="text/plain",
        size_bytes=30,
    )
    chunks = [
        Chunk(
            id="doc_broken:0",
            document_id="doc_broken",
            index=0,
            text="flamingo one",
            start=0,
            end=12,
        ),
        Chunk(
            id="doc_broken:1",
            document_id="doc_broken",
            index=1,
            text="flamingo two",
            start=13,
            end=25,
        ),
        Chunk(
            id="doc_broken:0",
            document_id="doc_broken",
            index=2,
            text="flamingo dup",
            start=26,
            end=30,
        ),
    ]
    with pytest.raises(StorageError, match="UNIQUE"):
        await sqlite.put_document(document, chunks, unit_vectors(3), owner=OWNER, replaces=old.id)

    with raw(path) as db:
        assert db.execute(
            "SELECT COUNT(*) FROM rag_documents WHERE id = 'doc_broken'"
        ).fetchone() == (0,)
        assert db.execute(
            "SELECT COUNT(*) FROM rag_chunks WHERE document_id = 'doc_broken'"
        ).fetchone() == (0,)
        assert fts_rows(db, "flamingo") == 0
        assert fts_rows(db, "ibis") == 1
    assert (await sqlite.get_document(store.id, old.id, owner=OWNER)).id == old.id
    info = await sqlite.get_store(store.id, owner=OWNER)
    assert (info.document_count, info.chunk_count) == (1, 1)
    assert await sqlite.keyword_search(store.id, "flamingo", 5, owner=OWNER) == []


async def test_deletes_keep_the_index_in_step(sqlite: SQLiteBackend, path: Path) -> None:
    store = await embedded_store(sqlite, OWNER)
    document = await add(sqlite, store, ["pelican", "pelican again"], owner=OWNER)
    other = await embedded_store(sqlite, OWNER, name="other")
    await add(sqlite, other, ["pelican elsewhere"], owner=OWNER)
    with raw(path) as db:
        assert fts_rows(db, "pelican") == 3

    await sqlite.delete_document(store.id, document.id, owner=OWNER)
    with raw(path) as db:
        assert fts_rows(db, "pelican") == 1
    await sqlite.delete_store(other.id, owner=OWNER)
    with raw(path) as db:
        assert fts_rows(db, "pelican") == 0
        assert db.execute("SELECT COUNT(*) FROM rag_chunks").fetchone() == (0,)


async def test_reopening_the_file_keeps_everything(path: Path) -> None:
    first = SQLiteBackend(path)
    store = await embedded_store(first, OWNER)
    vectors = unit_vectors(2, seed=9)
    document = await add(
        first, store, ["osprey nest", "heron pond"], vectors, owner=OWNER, metadata={"k": "v"}
    )
    await first.close()

    second = SQLiteBackend(path)
    try:
        info = await second.get_store(store.id, owner=OWNER)
        assert (info.dimensions, info.document_count, info.chunk_count) == (DIMS, 1, 2)
        assert await second.get_document(store.id, document.id, owner=OWNER) == document
        hits = await second.keyword_search(store.id, "heron", 5, owner=OWNER)
        assert [h.chunk.text for h in hits] == ["heron pond"]
        nearest = await second.vector_search(
            store.id, vectors[0], 1, owner=OWNER, filter={"k": "v"}
        )
        assert nearest[0].chunk.text == "osprey nest"
        assert nearest[0].score == pytest.approx(1.0, abs=1e-5)
    finally:
        await second.close()


async def test_the_vector_cache_follows_writes(sqlite: SQLiteBackend) -> None:
    store = await embedded_store(sqlite, OWNER)
    vectors = unit_vectors(3, seed=4)
    first = await add(sqlite, store, ["one"], vectors[:1], owner=OWNER)
    assert [
        h.chunk.text for h in await sqlite.vector_search(store.id, vectors[1], 5, owner=OWNER)
    ] == ["one"]

    await add(sqlite, store, ["two"], vectors[1:2], owner=OWNER)
    hits = await sqlite.vector_search(store.id, vectors[1], 5, owner=OWNER)
    assert hits[0].chunk.text == "two" and len(hits) == 2

    await sqlite.delete_document(store.id, first.id, owner=OWNER)
    hits = await sqlite.vector_search(store.id, vectors[0], 5, owner=OWNER)
    assert [h.chunk.text for h in hits] == ["two"]


async def test_two_connections_see_each_others_writes(path: Path) -> None:
    one, two = SQLiteBackend(path), SQLiteBackend(path)
    try:
        store = await embedded_store(one, OWNER)
        vectors = unit_vectors(2, seed=2)
        await add(one, store, ["kestrel"], vectors[:1], owner=OWNER)
        assert [
            h.chunk.text for h in await two.vector_search(store.id, vectors[1], 5, owner=OWNER)
        ] == ["kestrel"]

        await add(two, store, ["merlin"], vectors[1:], owner=OWNER)
        assert (await one.get_store(store.id, owner=OWNER)).document_count == 2
        assert [
            h.chunk.text for h in await one.keyword_search(store.id, "merlin", 5, owner=OWNER)
        ] == ["merlin"]
        nearest = await one.vector_search(store.id, vectors[1], 5, owner=OWNER)
        assert nearest[0].chunk.text == "merlin"
        nearest = await two.vector_search(store.id, vectors[1], 5, owner=OWNER)
        assert [h.chunk.text for h in nearest] == ["merlin", "kestrel"]

        await two.delete_store(store.id, owner=OWNER)
        with pytest.raises(StoreNotFound):
            await one.vector_search(store.id, vectors[0], 5, owner=OWNER)
    finally:
        await one.close()
        await two.close()


async def test_words_are_stemmed_and_accents_folded(sqlite: SQLiteBackend) -> None:
    store = await embedded_store(sqlite, OWNER)
    await add(sqlite, store, ["She runs to the Café every morning", "quiet evenings"], owner=OWNER)
    for query in ("running", "cafe", "CAFÉ"):
        hits = await sqlite.keyword_search(store.id, query, 5, owner=OWNER)
        assert [h.chunk.text for h in hits] == ["She runs to the Café every morning"], query


async def test_the_filter_must_be_metadata_values(sqlite: SQLiteBackend) -> None:
    store = await embedded_store(sqlite, OWNER)
    with pytest.raises(RetrievalError, match="'lang'"):
        await sqlite.keyword_search(store.id, "x", 5, owner=OWNER, filter={"lang": {"$in": ["en"]}})
    with pytest.raises(RetrievalError, match="'n'"):
        await sqlite.vector_search(
            store.id, unit_vectors(1)[0], 5, owner=OWNER, filter={"n": [None]}
        )


async def test_filters_distinguish_booleans_and_numbers(sqlite: SQLiteBackend) -> None:
    store = await embedded_store(sqlite, OWNER)
    await add(sqlite, store, ["gannet flag"], owner=OWNER, metadata={"draft": True})
    await add(sqlite, store, ["gannet count"], owner=OWNER, metadata={"draft": 1})
    hits = await sqlite.keyword_search(store.id, "gannet", 5, owner=OWNER, filter={"draft": True})
    assert [h.chunk.text for h in hits] == ["gannet flag"]
    hits = await sqlite.keyword_search(store.id, "gannet", 5, owner=OWNER, filter={"draft": [1, 2]})
    assert [h.chunk.text for h in hits] == ["gannet count"]


async def test_list_documents_after_an_unknown_id(sqlite: SQLiteBackend) -> None:
    store = await embedded_store(sqlite, OWNER)
    with pytest.raises(StoreNotFound, match="doc_nope"):
        await sqlite.list_documents(store.id, owner=OWNER, after="doc_nope")


async def test_a_store_without_embeddings_searches_by_keyword_only(sqlite: SQLiteBackend) -> None:
    store = await sqlite.create_store("plain", owner=OWNER)
    await add(sqlite, store, ["cormorant"], np.zeros((1, 0), dtype=np.float32), owner=OWNER)
    assert len(await sqlite.keyword_search(store.id, "cormorant", 5, owner=OWNER)) == 1
    assert await sqlite.vector_search(store.id, unit_vectors(1)[0], 5, owner=OWNER) == []


async def test_a_closed_backend_refuses_calls(path: Path) -> None:
    backend = SQLiteBackend(path)
    await backend.close()
    await backend.close()
    with pytest.raises(StorageError, match="closed"):
        await backend.list_stores()


async def test_from_url_takes_file_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    relative = SQLiteBackend.from_url("sqlite:///relative.db")
    absolute = SQLiteBackend.from_url(f"sqlite:///{tmp_path}/absolute.db")
    try:
        assert relative.path == Path("relative.db")
        assert absolute.path == tmp_path / "absolute.db"
        for backend in (relative, absolute):
            assert await backend.list_stores() == []
        assert (tmp_path / "relative.db").exists() and (tmp_path / "absolute.db").exists()
    finally:
        for backend in (relative, absolute):
            await backend.close()


@pytest.mark.parametrize(
    "url", ["sqlite:///:memory:", "sqlite://", "sqlite:///", "postgresql://db/x"]
)
def test_from_url_refuses_what_is_not_a_file(url: str) -> None:
    with pytest.raises(ConfigError):
        SQLiteBackend.from_url(url)


async def test_a_file_that_is_not_a_database_is_a_storage_error(tmp_path: Path) -> None:
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not sqlite" * 100)
    backend = SQLiteBackend(junk)
    with pytest.raises(StorageError, match="junk.db"):
        await backend.list_stores()
    await backend.close()


async def test_opening_waits_for_a_writer_that_needs_the_event_loop(path: Path) -> None:
    """The sessions engine shares the file and runs its transactions from the event loop.

    While it holds the write lock, opening the stores must not block the loop: the
    transaction can only end when the loop runs it to its ``COMMIT``.
    """
    engine = sql_engine(f"sqlite:///{path}")
    try:
        async with engine.begin() as connection:
            await connection.exec_driver_sql("CREATE TABLE held (x INTEGER)")
            backend = SQLiteBackend(path)
            listing = asyncio.create_task(backend.list_stores())
            await asyncio.sleep(0.2)
            assert not listing.done()
        assert await asyncio.wait_for(listing, 10) == []
        await backend.close()
    finally:
        await engine.dispose()


async def test_the_vector_cache_survives_deleting_the_newest_rows(sqlite: SQLiteBackend) -> None:
    store = await embedded_store(sqlite, OWNER)
    vectors = unit_vectors(4, seed=6)
    await add(sqlite, store, ["first"], vectors[:1], owner=OWNER)
    newest = await add(sqlite, store, ["second"], vectors[1:2], owner=OWNER)
    assert len(await sqlite.vector_search(store.id, vectors[0], 5, owner=OWNER)) == 2

    await sqlite.delete_document(store.id, newest.id, owner=OWNER)
    await add(sqlite, store, ["third", "fourth"], vectors[2:], owner=OWNER)
    for i, text in [(0, "first"), (2, "third"), (3, "fourth")]:
        hits = await sqlite.vector_search(store.id, vectors[i], 5, owner=OWNER)
        assert hits[0].chunk.text == text
        assert hits[0].score == pytest.approx(1.0, abs=1e-5)
        assert "second" not in {h.chunk.text for h in hits}


async def test_concurrent_writers_on_one_file_lose_nothing(path: Path) -> None:
    one, two = SQLiteBackend(path), SQLiteBackend(path)
    try:
        store = await embedded_store(one, OWNER)
        writes = [
            add(backend, store, [f"puffin {n}", "more"], owner=OWNER)
            for n in range(10)
            for backend in (one, two)
        ]
        documents = await asyncio.gather(*writes)
        info = await two.get_store(store.id, owner=OWNER)
        assert (info.document_count, info.chunk_count) == (20, 40)
        listed = await one.list_documents(store.id, owner=OWNER)
        assert {d.id for d in listed} == {d.id for d in documents}
        assert len(await two.vector_search(store.id, unit_vectors(1)[0], 100, owner=OWNER)) == 40
    finally:
        await one.close()
        await two.close()
