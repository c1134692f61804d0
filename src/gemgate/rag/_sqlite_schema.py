"""The SQLite side of the stores: the tables, opening the file, transactions, row mapping."""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from gemgate.errors import StorageError
from gemgate.rag._types import Chunk, DocumentInfo, StoreInfo

__all__ = [
    "CHUNK_COLUMNS",
    "DOCUMENT_COLUMNS",
    "SCHEMA",
    "STORE_COLUMNS",
    "chunk_of",
    "document_info",
    "dumps",
    "open_database",
    "statements",
    "store_info",
    "transaction",
]

SCHEMA = """
CREATE TABLE IF NOT EXISTS rag_stores (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    owner TEXT NOT NULL,
    embedding_model TEXT NOT NULL DEFAULT '',
    dimensions INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    metadata TEXT NOT NULL DEFAULT '{}',
    generation INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS rag_stores_owner_name ON rag_stores (owner, name);
CREATE TABLE IF NOT EXISTS rag_documents (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    store_id TEXT NOT NULL REFERENCES rag_stores (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    mime_type TEXT NOT NULL,
    size_bytes INTEGER NOT NULL,
    chunk_count INTEGER NOT NULL,
    created_at REAL NOT NULL,
    source TEXT NOT NULL DEFAULT '',
    metadata TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS rag_documents_hash ON rag_documents (store_id, content_hash);
CREATE TABLE IF NOT EXISTS rag_chunks (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    document_id TEXT NOT NULL REFERENCES rag_documents (id) ON DELETE CASCADE,
    store_id TEXT NOT NULL,
    idx INTEGER NOT NULL,
    text TEXT NOT NULL,
    start INTEGER NOT NULL,
    "end" INTEGER NOT NULL,
    page INTEGER NOT NULL DEFAULT 0,
    tokens INTEGER NOT NULL DEFAULT 0,
    embedding BLOB
);
CREATE INDEX IF NOT EXISTS rag_chunks_document ON rag_chunks (document_id, idx);
CREATE INDEX IF NOT EXISTS rag_chunks_store ON rag_chunks (store_id);
CREATE VIRTUAL TABLE IF NOT EXISTS rag_chunks_fts USING fts5 (
    text, content='rag_chunks', content_rowid='seq',
    tokenize='porter unicode61 remove_diacritics 2'
);
CREATE TRIGGER IF NOT EXISTS rag_chunks_fts_insert AFTER INSERT ON rag_chunks BEGIN
    INSERT INTO rag_chunks_fts (rowid, text) VALUES (new.seq, new.text);
END;
CREATE TRIGGER IF NOT EXISTS rag_chunks_fts_delete AFTER DELETE ON rag_chunks BEGIN
    INSERT INTO rag_chunks_fts (rag_chunks_fts, rowid, text) VALUES ('delete', old.seq, old.text);
END;
CREATE TRIGGER IF NOT EXISTS rag_chunks_fts_update AFTER UPDATE OF text ON rag_chunks BEGIN
    INSERT INTO rag_chunks_fts (rag_chunks_fts, rowid, text) VALUES ('delete', old.seq, old.text);
    INSERT INTO rag_chunks_fts (rowid, text) VALUES (new.seq, new.text);
END;
"""


STORE_COLUMNS = """
    s.id, s.name, s.owner, s.embedding_model, s.dimensions, s.created_at, s.metadata,
    (SELECT COUNT(*) FROM rag_documents d WHERE d.store_id = s.id),
    (SELECT COALESCE(SUM(d.chunk_count), 0) FROM rag_documents d WHERE d.store_id = s.id)
"""


DOCUMENT_COLUMNS = """
    d.id, d.store_id, d.name, d.content_hash, d.mime_type, d.size_bytes, d.chunk_count,
    d.created_at, d.source, d.metadata
"""


CHUNK_COLUMNS = 'c.id, c.document_id, c.idx, c.text, c.start, c."end", c.page, c.tokens'


def open_database(path: Path) -> sqlite3.Connection:
    try:
        db = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
    except sqlite3.Error as exc:
        raise StorageError(f"retrieval store {path.name}: cannot open: {exc}") from exc
    try:
        db.execute("PRAGMA busy_timeout = 30000")
        if db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":  # switching needs the lock
            db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA foreign_keys = ON")
        db.execute("PRAGMA synchronous = NORMAL")
        options = {row[0] for row in db.execute("PRAGMA compile_options")}
        if "ENABLE_FTS5" not in options:
            raise StorageError(
                f"retrieval store {path.name}: this SQLite ({sqlite3.sqlite_version}) was built"
                " without FTS5, which keyword search needs"
            )
        with transaction(db):
            for statement in statements(SCHEMA):
                db.execute(statement)
    except sqlite3.Error as exc:
        db.close()
        raise StorageError(f"retrieval store {path.name}: cannot open: {exc}") from exc
    except BaseException:
        db.close()
        raise
    return db


def statements(script: str) -> list[str]:
    statements, current = [], ""
    for line in script.strip().splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            statements.append(current.strip())
            current = ""
    return statements


@contextlib.contextmanager
def transaction(db: sqlite3.Connection) -> Iterator[None]:
    """``BEGIN IMMEDIATE`` … ``COMMIT``, or ``ROLLBACK`` on any exception."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def store_info(row: Sequence[Any]) -> StoreInfo:
    return StoreInfo(
        id=row[0],
        name=row[1],
        owner=row[2],
        embedding_model=row[3],
        dimensions=row[4],
        created_at=row[5],
        metadata=json.loads(row[6]),
        document_count=row[7],
        chunk_count=row[8],
    )


def document_info(row: Sequence[Any]) -> DocumentInfo:
    return DocumentInfo(
        id=row[0],
        store_id=row[1],
        name=row[2],
        content_hash=row[3],
        mime_type=row[4],
        size_bytes=row[5],
        chunk_count=row[6],
        created_at=row[7],
        source=row[8],
        metadata=json.loads(row[9]),
    )


def chunk_of(row: Sequence[Any]) -> Chunk:
    return Chunk(
        id=row[0],
        document_id=row[1],
        index=row[2],
        text=row[3],
        start=row[4],
        end=row[5],
        page=row[6],
        tokens=row[7],
    )


def dumps(metadata: Mapping[str, Any]) -> str:
    return json.dumps(dict(metadata), ensure_ascii=False, sort_keys=True)
