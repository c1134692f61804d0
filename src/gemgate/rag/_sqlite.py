"""Retrieval stores in one SQLite file: FTS5 for keywords, float32 BLOBs and numpy for vectors.

Tables are prefixed ``rag_`` so the file can be shared. Chunk text is indexed by an
external-content FTS5 table kept in step by triggers; vectors are searched exactly (one
matrix product) from a per-store matrix loaded lazily and brought up to date when the
store's ``generation`` (bumped by every write, in the database, so other connections see
it) changes: chunk numbers are never reused, so only rows added since are read again.
All calls run in a worker thread on one connection, serialised by a lock.

Ids: stores ``store_…``, documents ``doc_…`` (unless the caller gives one); chunks keep the
id they come with, or ``{document_id}:{index}`` when it is empty.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from gemgate.errors import ConfigError, EmbeddingMismatch, StorageError, StoreNotFound
from gemgate.rag._backend import Filter, Vectors
from gemgate.rag._ids import check_filter, matches, new_id
from gemgate.rag._sqlite_schema import (
    CHUNK_COLUMNS,
    DOCUMENT_COLUMNS,
    STORE_COLUMNS,
    chunk_of,
    document_info,
    dumps,
    open_database,
    store_info,
    transaction,
)
from gemgate.rag._types import Chunk, DocumentInfo, Hit, StoreInfo

__all__ = ["SQLiteBackend"]

T = TypeVar("T")


_WORD = re.compile(r"\w+")
_MAX_TERMS = 64


@dataclass(frozen=True, slots=True)
class _Matrix:
    """One store's vectors as loaded at ``generation``: row ``i`` is chunk ``seqs[i]``."""

    generation: int
    seqs: npt.NDArray[np.int64]
    documents: npt.NDArray[np.int64]
    vectors: npt.NDArray[np.float32]


class SQLiteBackend:
    """Stores, documents, chunks and vectors in one SQLite file (WAL, FTS5, numpy search).

    Example:
        >>> backend = SQLiteBackend("stores.db")  # doctest: +SKIP
        >>> store = await backend.create_store("handbook")  # doctest: +SKIP
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._matrices: dict[str, _Matrix] = {}
        # Opened by the first call, in the worker thread: opening may wait for another
        # connection's lock, and that connection may need this event loop to finish.
        self._connection: sqlite3.Connection | None = None
        self._closed = False

    @classmethod
    def from_url(cls, url: str) -> SQLiteBackend:
        """A backend for ``sqlite:///relative.db`` or ``sqlite:////absolute/path.db``.

        In-memory databases are refused: the worker thread and other processes need a file.
        """
        prefix = "sqlite:///"
        if not url.startswith(prefix):
            raise ConfigError("a SQLite store URL starts with sqlite:/// (then a file path)")
        path = url[len(prefix) :]
        if not path or path.startswith((":memory:", "file::memory:")):
            raise ConfigError(
                "SQLite retrieval stores need a file: in-memory databases are not supported"
            )
        return cls(path)

    async def create_store(
        self, name: str, *, owner: str = "", metadata: Mapping[str, Any] | None = None
    ) -> StoreInfo:
        """A new, empty store (names need not be unique; ids are)."""
        info = StoreInfo(
            id=new_id("store"),
            name=name,
            owner=owner,
            created_at=time.time(),
            metadata=dict(metadata or {}),
        )

        def create(db: sqlite3.Connection) -> StoreInfo:
            with transaction(db):
                db.execute(
                    "INSERT INTO rag_stores (id, name, owner, created_at, metadata)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (info.id, name, owner, info.created_at, dumps(info.metadata)),
                )
            return info

        return await self._run(create)

    async def get_store(self, store_id: str, *, owner: str = "") -> StoreInfo:
        """The store with its current document and chunk counts, or ``StoreNotFound``."""
        return await self._run(lambda db: _store(db, store_id, owner))

    async def find_store(self, name: str, *, owner: str = "") -> StoreInfo | None:
        """The owner's most recent store called ``name``, if any."""

        def find(db: sqlite3.Connection) -> StoreInfo | None:
            row = db.execute(
                f"SELECT {STORE_COLUMNS} FROM rag_stores s WHERE s.owner = ? AND s.name = ?"
                " ORDER BY s.seq DESC LIMIT 1",
                (owner, name),
            ).fetchone()
            return None if row is None else store_info(row)

        return await self._run(find)

    async def list_stores(self, *, owner: str = "") -> list[StoreInfo]:
        """The owner's stores, newest first."""

        def stores(db: sqlite3.Connection) -> list[StoreInfo]:
            rows = db.execute(
                f"SELECT {STORE_COLUMNS} FROM rag_stores s WHERE s.owner = ? ORDER BY s.seq DESC",
                (owner,),
            ).fetchall()
            return [store_info(row) for row in rows]

        return await self._run(stores)

    async def delete_store(self, store_id: str, *, owner: str = "") -> None:
        """Delete a store with all its documents, chunks and vectors."""

        def delete(db: sqlite3.Connection) -> None:
            with transaction(db):
                _store(db, store_id, owner)
                db.execute("DELETE FROM rag_chunks WHERE store_id = ?", (store_id,))
                db.execute("DELETE FROM rag_documents WHERE store_id = ?", (store_id,))
                db.execute("DELETE FROM rag_stores WHERE id = ?", (store_id,))
            self._matrices.pop(store_id, None)

        await self._run(delete)

    async def set_embedding(
        self, store_id: str, model: str, dimensions: int, *, owner: str = ""
    ) -> StoreInfo:
        """Fix the store's embedding model and size on first use.

        ``EmbeddingMismatch`` if the store already has another size.
        """
        if dimensions <= 0:
            raise EmbeddingMismatch(f"embedding size must be positive, not {dimensions}")

        def fix(db: sqlite3.Connection) -> StoreInfo:
            with transaction(db):
                store = _store(db, store_id, owner)
                if store.dimensions == 0:
                    db.execute(
                        "UPDATE rag_stores SET embedding_model = ?, dimensions = ? WHERE id = ?",
                        (model, dimensions, store_id),
                    )
                    return dataclasses.replace(store, embedding_model=model, dimensions=dimensions)
            if store.dimensions != dimensions:
                raise EmbeddingMismatch(
                    f"store {store_id!r} holds {store.dimensions}-dimension embeddings"
                    f" ({store.embedding_model}); these have {dimensions}"
                )
            return store

        return await self._run(fix)

    async def find_document(
        self, store_id: str, content_hash: str, *, owner: str = ""
    ) -> DocumentInfo | None:
        """The document with these exact bytes, if the store has it."""

        def find(db: sqlite3.Connection) -> DocumentInfo | None:
            _store(db, store_id, owner)
            row = db.execute(
                f"SELECT {DOCUMENT_COLUMNS} FROM rag_documents d"
                " WHERE d.store_id = ? AND d.content_hash = ? ORDER BY d.seq DESC LIMIT 1",
                (store_id, content_hash),
            ).fetchone()
            return None if row is None else document_info(row)

        return await self._run(find)

    async def put_document(
        self,
        document: DocumentInfo,
        chunks: Sequence[Chunk],
        vectors: Vectors,
        *,
        owner: str = "",
        replaces: str | None = None,
    ) -> DocumentInfo:
        """Commit a document, its chunks and their vectors in one transaction.

        Row ``i`` of ``vectors`` is chunk ``i``; ``replaces`` is deleted in the same one (if
        it is still there). An empty ``document.id`` gets a new ``doc_…`` id.
        """
        matrix = np.asarray(vectors, dtype="<f4")
        if matrix.ndim != 2 or matrix.shape[0] != len(chunks):
            raise EmbeddingMismatch(
                f"{len(chunks)} chunks need a ({len(chunks)}, dimensions) matrix of vectors,"
                f" not shape {matrix.shape}"
            )
        info = dataclasses.replace(
            document,
            id=document.id or new_id("doc"),
            chunk_count=len(chunks),
            created_at=document.created_at or time.time(),
            metadata=dict(document.metadata),
        )
        store_id = info.store_id

        def put(db: sqlite3.Connection) -> DocumentInfo:
            with transaction(db):
                store = _store(db, store_id, owner)
                if matrix.shape[1] != store.dimensions:
                    raise EmbeddingMismatch(
                        f"store {store_id!r} holds {store.dimensions}-dimension embeddings;"
                        f" these have {matrix.shape[1]}"
                    )
                if replaces is not None:
                    _delete_document(db, store_id, replaces)
                db.execute(
                    "INSERT INTO rag_documents (id, store_id, name, content_hash, mime_type,"
                    " size_bytes, chunk_count, created_at, source, metadata)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        info.id,
                        store_id,
                        info.name,
                        info.content_hash,
                        info.mime_type,
                        info.size_bytes,
                        info.chunk_count,
                        info.created_at,
                        info.source,
                        dumps(info.metadata),
                    ),
                )
                db.executemany(
                    "INSERT INTO rag_chunks (id, document_id, store_id, idx, text, start,"
                    ' "end", page, tokens, embedding) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
                    (
                        (
                            chunk.id or f"{info.id}:{chunk.index}",
                            info.id,
                            store_id,
                            chunk.index,
                            chunk.text,
                            chunk.start,
                            chunk.end,
                            chunk.page,
                            chunk.tokens,
                            matrix[i].tobytes() if matrix.shape[1] else None,
                        )
                        for i, chunk in enumerate(chunks)
                    ),
                )
                _bump(db, store_id)
            return info

        return await self._run(put)

    async def get_document(
        self, store_id: str, document_id: str, *, owner: str = ""
    ) -> DocumentInfo:
        """One document, or ``StoreNotFound`` (naming the document)."""

        def get(db: sqlite3.Connection) -> DocumentInfo:
            _store(db, store_id, owner)
            return _document(db, store_id, document_id)

        return await self._run(get)

    async def list_documents(
        self, store_id: str, *, owner: str = "", limit: int = 100, after: str | None = None
    ) -> list[DocumentInfo]:
        """The store's documents, oldest first, ``limit`` at a time after id ``after``.

        ``StoreNotFound`` if ``after`` names no document of the store.
        """

        def documents(db: sqlite3.Connection) -> list[DocumentInfo]:
            _store(db, store_id, owner)
            if limit <= 0:
                return []
            start = 0
            if after is not None:
                row = db.execute(
                    "SELECT seq FROM rag_documents WHERE store_id = ? AND id = ?",
                    (store_id, after),
                ).fetchone()
                if row is None:
                    raise StoreNotFound(f"no document {after!r} in store {store_id!r}")
                start = row[0]
            rows = db.execute(
                f"SELECT {DOCUMENT_COLUMNS} FROM rag_documents d"
                " WHERE d.store_id = ? AND d.seq > ? ORDER BY d.seq LIMIT ?",
                (store_id, start, limit),
            ).fetchall()
            return [document_info(row) for row in rows]

        return await self._run(documents)

    async def document_chunks(
        self, store_id: str, document_id: str, *, owner: str = ""
    ) -> list[Chunk]:
        """A document's chunks in order."""

        def chunks(db: sqlite3.Connection) -> list[Chunk]:
            _store(db, store_id, owner)
            _document(db, store_id, document_id)
            rows = db.execute(
                f"SELECT {CHUNK_COLUMNS} FROM rag_chunks c WHERE c.document_id = ? ORDER BY c.idx",
                (document_id,),
            ).fetchall()
            return [chunk_of(row) for row in rows]

        return await self._run(chunks)

    async def delete_document(self, store_id: str, document_id: str, *, owner: str = "") -> None:
        """Delete a document with its chunks and vectors."""

        def delete(db: sqlite3.Connection) -> None:
            with transaction(db):
                _store(db, store_id, owner)
                if not _delete_document(db, store_id, document_id):
                    raise StoreNotFound(f"no document {document_id!r} in store {store_id!r}")
                _bump(db, store_id)

        await self._run(delete)

    async def keyword_search(
        self, store_id: str, query: str, k: int, *, owner: str = "", filter: Filter | None = None
    ) -> list[Hit]:
        """The ``k`` best chunks by BM25 over the query's words (any of them); score ``-bm25``.

        The query is plain text: its words are quoted, so FTS5 syntax in it means nothing.
        """
        wanted = check_filter(filter)
        words = list(dict.fromkeys(_WORD.findall(query)))[:_MAX_TERMS]
        expression = " OR ".join('"' + word.replace('"', '""') + '"' for word in words)

        def search(db: sqlite3.Connection) -> list[Hit]:
            _store(db, store_id, owner)
            if not expression or k <= 0:
                return []
            sql = (
                "SELECT c.seq, -bm25(rag_chunks_fts) FROM rag_chunks_fts"
                " JOIN rag_chunks c ON c.seq = rag_chunks_fts.rowid"
                " WHERE rag_chunks_fts MATCH ? AND c.store_id = ?"
            )
            params: list[Any] = [expression, store_id]
            if wanted:
                allowed = _allowed_documents(db, store_id, wanted)
                if not allowed:
                    return []
                sql += (
                    " AND c.document_id IN"
                    " (SELECT id FROM rag_documents WHERE seq IN (SELECT value FROM json_each(?)))"
                )
                params.append(json.dumps(sorted(allowed)))
            sql += " ORDER BY bm25(rag_chunks_fts) LIMIT ?"
            params.append(k)
            ranked = db.execute(sql, params).fetchall()
            found = _hits_by_seq(db, [seq for seq, _ in ranked])
            return [
                Hit(chunk=found[seq][0], document=found[seq][1], score=float(score), keyword_rank=i)
                for i, (seq, score) in enumerate(ranked, 1)
                if seq in found
            ]

        return await self._run(search)

    async def vector_search(
        self,
        store_id: str,
        vector: Vectors,
        k: int,
        *,
        owner: str = "",
        filter: Filter | None = None,
    ) -> list[Hit]:
        """The ``k`` chunks whose vectors have the highest cosine similarity to ``vector``.

        Exact: one product of the store's matrix with the query, computed outside the
        connection's lock. A store without vectors yet finds nothing; a query of another
        size is ``EmbeddingMismatch``.
        """
        wanted = check_filter(filter)
        query = np.asarray(vector, dtype=np.float32).reshape(-1)

        def candidates(db: sqlite3.Connection) -> tuple[_Matrix, npt.NDArray[np.intp] | None]:
            store = _store(db, store_id, owner)
            if store.dimensions and query.shape[0] != store.dimensions:
                raise EmbeddingMismatch(
                    f"store {store_id!r} holds {store.dimensions}-dimension embeddings;"
                    f" the query has {query.shape[0]}"
                )
            matrix = self._matrix(db, store_id, store.dimensions)
            if not wanted:
                return matrix, None
            allowed = np.fromiter(_allowed_documents(db, store_id, wanted), np.int64)
            return matrix, np.flatnonzero(np.isin(matrix.documents, allowed))

        matrix, rows = await self._run(candidates)
        if k <= 0 or len(matrix.seqs) == 0:
            return []
        ranked = await asyncio.to_thread(_nearest, matrix, query, k, rows)
        found = await self._run(lambda db: _hits_by_seq(db, [seq for seq, _ in ranked]))
        return [
            Hit(chunk=found[seq][0], document=found[seq][1], score=score, vector_rank=i)
            for i, (seq, score) in enumerate(ranked, 1)
            if seq in found
        ]

    async def close(self) -> None:
        """Close the connection (later calls raise ``StorageError``)."""

        def close() -> None:
            with self._lock:
                self._closed = True
                if self._connection is not None:
                    self._connection.close()
                    self._connection = None
                self._matrices.clear()

        await asyncio.to_thread(close)

    def _matrix(self, db: sqlite3.Connection, store_id: str, dimensions: int) -> _Matrix:
        cached = self._matrices.get(store_id)
        db.execute("BEGIN")
        try:
            generation = db.execute(
                "SELECT generation FROM rag_stores WHERE id = ?", (store_id,)
            ).fetchone()[0]
            if cached is not None and cached.generation == generation:
                return cached
            rows = db.execute(
                "SELECT c.seq, d.seq FROM rag_chunks c"
                " JOIN rag_documents d ON d.id = c.document_id"
                " WHERE c.store_id = ? AND c.embedding IS NOT NULL ORDER BY c.seq",
                (store_id,),
            ).fetchall()
            seqs = np.fromiter((row[0] for row in rows), np.int64, len(rows))
            vectors = np.empty((len(rows), dimensions), dtype=np.float32)
            known = 0
            if cached is not None and len(cached.seqs) and cached.vectors.shape[1] == dimensions:
                known = int(cached.seqs[-1])
            kept = int(np.count_nonzero(seqs <= known))
            if kept and cached is not None:
                vectors[:kept] = cached.vectors[np.searchsorted(cached.seqs, seqs[:kept])]
            fresh = db.execute(
                "SELECT embedding FROM rag_chunks"
                " WHERE store_id = ? AND seq > ? AND embedding IS NOT NULL ORDER BY seq",
                (store_id, known),
            )
            for row, (blob,) in enumerate(fresh, kept):
                vectors[row] = np.frombuffer(blob, dtype="<f4")
        finally:
            if db.in_transaction:
                db.execute("COMMIT")
        added = vectors[kept:]
        norms = np.linalg.norm(added, axis=1, keepdims=True)
        added /= np.where(norms == 0, np.float32(1), norms)
        loaded = _Matrix(
            generation=generation,
            seqs=seqs,
            documents=np.fromiter((row[1] for row in rows), np.int64, len(rows)),
            vectors=vectors,
        )
        self._matrices[store_id] = loaded
        return loaded

    async def _run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        def locked() -> T:
            with self._lock:
                if self._closed:
                    raise StorageError(f"retrieval store {self.path.name}: closed")
                if self._connection is None:
                    self._connection = open_database(self.path)
                try:
                    return work(self._connection)
                except sqlite3.Error as exc:
                    raise StorageError(f"retrieval store {self.path.name}: {exc}") from exc

        return await asyncio.to_thread(locked)


def _store(db: sqlite3.Connection, store_id: str, owner: str) -> StoreInfo:
    row = db.execute(
        f"SELECT {STORE_COLUMNS} FROM rag_stores s WHERE s.id = ? AND s.owner = ?",
        (store_id, owner),
    ).fetchone()
    if row is None:
        raise StoreNotFound(f"no store {store_id!r}")
    return store_info(row)


def _document(db: sqlite3.Connection, store_id: str, document_id: str) -> DocumentInfo:
    row = db.execute(
        f"SELECT {DOCUMENT_COLUMNS} FROM rag_documents d WHERE d.store_id = ? AND d.id = ?",
        (store_id, document_id),
    ).fetchone()
    if row is None:
        raise StoreNotFound(f"no document {document_id!r} in store {store_id!r}")
    return document_info(row)


def _delete_document(db: sqlite3.Connection, store_id: str, document_id: str) -> bool:
    row = db.execute(
        "SELECT 1 FROM rag_documents WHERE store_id = ? AND id = ?", (store_id, document_id)
    ).fetchone()
    if row is None:
        return False
    db.execute("DELETE FROM rag_chunks WHERE document_id = ?", (document_id,))
    db.execute("DELETE FROM rag_documents WHERE id = ?", (document_id,))
    return True


def _bump(db: sqlite3.Connection, store_id: str) -> None:
    db.execute("UPDATE rag_stores SET generation = generation + 1 WHERE id = ?", (store_id,))


def _allowed_documents(
    db: sqlite3.Connection, store_id: str, wanted: Mapping[str, Any]
) -> set[int]:
    rows = db.execute(
        "SELECT seq, metadata FROM rag_documents WHERE store_id = ?", (store_id,)
    ).fetchall()
    return {seq for seq, metadata in rows if matches(wanted, json.loads(metadata))}


def _nearest(
    matrix: _Matrix, query: npt.NDArray[np.float32], k: int, rows: npt.NDArray[np.intp] | None
) -> list[tuple[int, float]]:
    norm = float(np.linalg.norm(query))
    unit = query / norm if norm else query
    vectors = matrix.vectors if rows is None else matrix.vectors[rows]
    seqs = matrix.seqs if rows is None else matrix.seqs[rows]
    if len(seqs) == 0:
        return []
    scores = vectors @ unit
    top = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(len(scores))
    top = top[np.argsort(-scores[top], kind="stable")]
    return [(int(seqs[i]), float(scores[i])) for i in top]


def _hits_by_seq(
    db: sqlite3.Connection, seqs: Sequence[int]
) -> dict[int, tuple[Chunk, DocumentInfo]]:
    if not seqs:
        return {}
    rows = db.execute(
        f"SELECT c.seq, {CHUNK_COLUMNS}, {DOCUMENT_COLUMNS} FROM rag_chunks c"
        " JOIN rag_documents d ON d.id = c.document_id"
        " WHERE c.seq IN (SELECT value FROM json_each(?))",
        (json.dumps(list(seqs)),),
    ).fetchall()
    documents: dict[str, DocumentInfo] = {}
    found: dict[int, tuple[Chunk, DocumentInfo]] = {}
    for row in rows:
        document = documents.get(row[9]) or document_info(row[9:])
        documents[document.id] = document
        found[row[0]] = (chunk_of(row[1:9]), document)
    return found
