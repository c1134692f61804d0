"""Retrieval stores in PostgreSQL: pgvector for vectors, ``tsvector`` for keywords.

Chunks of every store share one table with an untyped ``vector`` column. Once a store's
size is fixed it gets its own partial HNSW index on ``embedding::vector(D)``, and vector
searches are written with the store id as a literal so the planner can use it. Stores
of more than 2,000 dimensions (HNSW's limit) are searched exactly.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import secrets
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import numpy as np

from gemgate.errors import ConfigError, EmbeddingMismatch, StorageError, StoreNotFound
from gemgate.rag._backend import Filter, Vectors
from gemgate.rag._postgres_schema import (
    SCHEMA,
    chunk_of,
    decode_vector,
    document_of,
    encode_vector,
    store_of,
)
from gemgate.rag._types import Chunk, DocumentInfo, Hit, StoreInfo

__all__ = ["PostgresBackend"]

_DDL_LOCK = 0x67656D676174  # pg_advisory_xact_lock key shared by every gemgate process
_HNSW_MAX_DIMENSIONS = 2000
_MAX_QUERY_WORDS = 64
_STORE_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_WORD = re.compile(r"\w+(?:[.\-]\w+)*")


_CHUNK_COLUMNS = (
    "id",
    "store_id",
    "document_id",
    "index",
    "text",
    "start_offset",
    "end_offset",
    "page",
    "tokens",
    "embedding",
)

_STORE = """
SELECT s.*,
       (SELECT count(*) FROM rag_documents d WHERE d.store_id = s.id) AS document_count,
       (SELECT coalesce(sum(d.chunk_count), 0) FROM rag_documents d
         WHERE d.store_id = s.id) AS chunk_count
FROM rag_stores s
"""

_HIT = """
c.id AS c_id, c.document_id AS c_document_id, c.index AS c_index, c.text AS c_text,
c.start_offset AS c_start, c.end_offset AS c_end, c.page AS c_page, c.tokens AS c_tokens,
d.id, d.store_id, d.name, d.content_hash, d.mime_type, d.size_bytes, d.chunk_count,
d.created_at, d.source, d.metadata
"""


class PostgresBackend:
    """A :class:`~gemgate.rag.StoreBackend` in PostgreSQL with the pgvector extension.

    The pool is opened on first use, which also creates the ``vector`` extension and the
    ``rag_*`` tables if they are missing (several processes starting at once is fine).

    Example::

        backend = PostgresBackend("postgresql://gemgate@127.0.0.1:5432/gemgate")
        store = await backend.create_store("handbook")
    """

    def __init__(self, url: str) -> None:
        scheme, sep, rest = url.partition("://")
        if not sep or scheme not in ("postgresql", "postgres", "postgresql+asyncpg"):
            raise ConfigError("PostgresBackend expects a postgresql:// URL")
        self._url = f"postgresql://{rest}"
        parts = urlsplit(self._url)
        self._where = f"{parts.hostname or 'localhost'}:{parts.port or 5432}"
        self._password = parts.password or ""
        self._pool: asyncpg.Pool | None = None
        self._opening = asyncio.Lock()

    async def create_store(
        self, name: str, *, owner: str = "", metadata: Mapping[str, Any] | None = None
    ) -> StoreInfo:
        """A new, empty store (names need not be unique; ids are)."""
        store_id = f"store_{secrets.token_hex(12)}"
        async with self._connection() as conn:
            row = await conn.fetchrow(
                "INSERT INTO rag_stores (id, name, owner, created_at, metadata)"
                " VALUES ($1, $2, $3, $4, $5) RETURNING *, 0 AS document_count, 0 AS chunk_count",
                store_id,
                name,
                owner,
                time.time(),
                dict(metadata or {}),
            )
        return store_of(row)

    async def get_store(self, store_id: str, *, owner: str = "") -> StoreInfo:
        """The store with its current document and chunk counts, or ``StoreNotFound``."""
        async with self._connection() as conn:
            return await _owned_store(conn, store_id, owner)

    async def find_store(self, name: str, *, owner: str = "") -> StoreInfo | None:
        """The owner's most recent store called ``name``, if any."""
        async with self._connection() as conn:
            row = await conn.fetchrow(
                _STORE + " WHERE s.owner = $1 AND s.name = $2 ORDER BY s.seq DESC LIMIT 1",
                owner,
                name,
            )
        return None if row is None else store_of(row)

    async def list_stores(self, *, owner: str = "") -> list[StoreInfo]:
        """The owner's stores, newest first."""
        async with self._connection() as conn:
            rows = await conn.fetch(_STORE + " WHERE s.owner = $1 ORDER BY s.seq DESC", owner)
        return [store_of(row) for row in rows]

    async def delete_store(self, store_id: str, *, owner: str = "") -> None:
        """Delete a store with all its documents, chunks, vectors and its vector index."""
        async with self._connection() as conn, conn.transaction():
            await _owned_store(conn, store_id, owner, lock=True)
            await conn.execute(f"DROP INDEX IF EXISTS {_index_name(store_id)}")
            await conn.execute("DELETE FROM rag_stores WHERE id = $1", store_id)

    async def set_embedding(
        self, store_id: str, model: str, dimensions: int, *, owner: str = ""
    ) -> StoreInfo:
        """Fix the store's embedding model and size on first use, and index its vectors.

        ``EmbeddingMismatch`` if the store already has another size.
        """
        if dimensions < 1:
            raise EmbeddingMismatch(f"embeddings need at least 1 dimension, not {dimensions}")
        async with self._connection() as conn, conn.transaction():
            store = await _owned_store(conn, store_id, owner, lock=True)
            if store.dimensions == dimensions:
                return store
            if store.dimensions:
                raise EmbeddingMismatch(
                    f"store {store_id!r} holds {store.dimensions}-dimensional embeddings"
                    f" ({store.embedding_model}), not {dimensions}"
                )
            await conn.execute(
                "UPDATE rag_stores SET embedding_model = $2, dimensions = $3 WHERE id = $1",
                store_id,
                model,
                dimensions,
            )
            if dimensions <= _HNSW_MAX_DIMENSIONS:
                await conn.execute("SELECT pg_advisory_xact_lock($1)", _DDL_LOCK)
                await conn.execute(
                    f"CREATE INDEX IF NOT EXISTS {_index_name(store_id)} ON rag_chunks"
                    f" USING hnsw ((embedding::vector({dimensions})) vector_cosine_ops)"
                    f" WHERE store_id = '{store_id}'"
                )
            return await _owned_store(conn, store_id, owner)

    async def find_document(
        self, store_id: str, content_hash: str, *, owner: str = ""
    ) -> DocumentInfo | None:
        """The document with these exact bytes, if the store has it."""
        async with self._connection() as conn:
            await _owned_store(conn, store_id, owner)
            row = await conn.fetchrow(
                "SELECT * FROM rag_documents WHERE store_id = $1 AND content_hash = $2"
                " ORDER BY seq DESC LIMIT 1",
                store_id,
                content_hash,
            )
        return None if row is None else document_of(row)

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

        Row ``i`` of ``vectors`` is chunk ``i``; ``replaces`` is deleted in the same one.
        ``EmbeddingMismatch`` unless ``vectors`` is ``(len(chunks), store dimensions)``.
        """
        store_id = document.store_id
        stored = DocumentInfo(
            id=document.id,
            store_id=store_id,
            name=document.name,
            content_hash=document.content_hash,
            mime_type=document.mime_type,
            size_bytes=document.size_bytes,
            chunk_count=len(chunks),
            created_at=document.created_at or time.time(),
            source=document.source,
            metadata=dict(document.metadata),
        )
        async with self._connection() as conn, conn.transaction():
            store = await _owned_store(conn, store_id, owner, share=True)
            if chunks and not store.dimensions:
                raise EmbeddingMismatch(f"store {store_id!r} has no embedding size yet")
            if chunks and vectors.shape != (len(chunks), store.dimensions):
                raise EmbeddingMismatch(
                    f"expected {len(chunks)} vectors of {store.dimensions} dimensions"
                    f" for store {store_id!r}, got an array of shape {vectors.shape}"
                )
            if replaces is not None:
                await conn.execute(
                    "DELETE FROM rag_documents WHERE id = $1 AND store_id = $2", replaces, store_id
                )
            await conn.execute(
                "INSERT INTO rag_documents (id, store_id, name, content_hash, mime_type,"
                " size_bytes, chunk_count, created_at, source, metadata)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                stored.id,
                store_id,
                stored.name,
                stored.content_hash,
                stored.mime_type,
                stored.size_bytes,
                stored.chunk_count,
                stored.created_at,
                stored.source,
                stored.metadata,
            )
            if chunks:
                records = [
                    (
                        c.id,
                        store_id,
                        stored.id,
                        c.index,
                        c.text,
                        c.start,
                        c.end,
                        c.page,
                        c.tokens,
                        v,
                    )
                    for c, v in zip(chunks, vectors, strict=True)
                ]
                await conn.copy_records_to_table(
                    "rag_chunks", records=records, columns=_CHUNK_COLUMNS
                )
        return stored

    async def get_document(
        self, store_id: str, document_id: str, *, owner: str = ""
    ) -> DocumentInfo:
        """One document, or ``StoreNotFound`` (naming the document)."""
        async with self._connection() as conn:
            await _owned_store(conn, store_id, owner)
            return await _owned_document(conn, store_id, document_id)

    async def list_documents(
        self, store_id: str, *, owner: str = "", limit: int = 100, after: str | None = None
    ) -> list[DocumentInfo]:
        """The store's documents, oldest first, ``limit`` at a time after id ``after``."""
        async with self._connection() as conn:
            await _owned_store(conn, store_id, owner)
            rows = await conn.fetch(
                "SELECT * FROM rag_documents WHERE store_id = $1 AND ($3::text IS NULL OR seq >"
                " (SELECT seq FROM rag_documents WHERE id = $3 AND store_id = $1))"
                " ORDER BY seq LIMIT $2",
                store_id,
                max(limit, 0),
                after,
            )
        return [document_of(row) for row in rows]

    async def document_chunks(
        self, store_id: str, document_id: str, *, owner: str = ""
    ) -> list[Chunk]:
        """A document's chunks in order."""
        async with self._connection() as conn:
            await _owned_store(conn, store_id, owner)
            await _owned_document(conn, store_id, document_id)
            rows = await conn.fetch(
                f"SELECT {_HIT} FROM rag_chunks c JOIN rag_documents d ON d.id = c.document_id"
                " WHERE c.document_id = $1 ORDER BY c.index",
                document_id,
            )
        return [chunk_of(row) for row in rows]

    async def delete_document(self, store_id: str, document_id: str, *, owner: str = "") -> None:
        """Delete a document with its chunks and vectors."""
        async with self._connection() as conn, conn.transaction():
            await _owned_store(conn, store_id, owner, share=True)
            await _owned_document(conn, store_id, document_id)
            await conn.execute(
                "DELETE FROM rag_documents WHERE id = $1 AND store_id = $2", document_id, store_id
            )

    async def keyword_search(
        self, store_id: str, query: str, k: int, *, owner: str = "", filter: Filter | None = None
    ) -> list[Hit]:
        """The ``k`` best chunks by full-text relevance (``ts_rank_cd``), any word matching."""
        words = _WORD.findall(query)[:_MAX_QUERY_WORDS]
        async with self._connection() as conn:
            await _owned_store(conn, store_id, owner)
            if not words or k < 1:
                return []
            tsquery = " | ".join(f"'{word}'" for word in words)
            where, args = _filter_sql(filter, first=4)
            rows = await conn.fetch(
                f"SELECT {_HIT}, ts_rank_cd(c.tsv, q) AS score"
                " FROM rag_chunks c JOIN rag_documents d ON d.id = c.document_id,"
                " to_tsquery('english', $2) AS q"
                f" WHERE c.store_id = $1 AND c.tsv @@ q{where}"
                " ORDER BY score DESC, d.seq, c.index LIMIT $3",
                store_id,
                tsquery,
                k,
                *args,
            )
        return [
            Hit(chunk_of(row), document_of(row), float(row["score"]), keyword_rank=rank)
            for rank, row in enumerate(rows, 1)
        ]

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

        Unfiltered searches use the store's HNSW index; filtered ones are exact.
        """
        query = np.asarray(vector, dtype=np.float32).reshape(-1)
        async with self._connection() as conn, conn.transaction():
            store = await _owned_store(conn, store_id, owner)
            if not store.dimensions or k < 1:
                return []
            if query.size != store.dimensions:
                raise EmbeddingMismatch(
                    f"store {store_id!r} holds {store.dimensions}-dimensional embeddings,"
                    f" not {query.size}"
                )
            await conn.execute(f"SET LOCAL hnsw.ef_search = {max(40, min(k, 1000))}")
            rows = await conn.fetch(*_vector_query(store_id, store.dimensions, query, k, filter))
        return [
            Hit(chunk_of(row), document_of(row), 1.0 - float(row["distance"]), vector_rank=rank)
            for rank, row in enumerate(rows, 1)
        ]

    async def close(self) -> None:
        """Release connections."""
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[asyncpg.Connection]:
        pool = self._pool or await self._open()
        try:
            async with pool.acquire() as conn:
                yield conn
        except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise self._storage_error(exc) from None

    async def _open(self) -> asyncpg.Pool:
        async with self._opening:
            if self._pool is not None:
                return self._pool
            try:
                conn = await asyncpg.connect(self._url, timeout=10)
            except (TimeoutError, OSError, asyncpg.PostgresError) as exc:
                raise self._storage_error(exc, connecting=True) from None
            try:
                schema = await self._create_schema(conn)
            finally:
                await conn.close()

            async def init(conn: asyncpg.Connection) -> None:
                await conn.set_type_codec(
                    "jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog"
                )
                await conn.set_type_codec(
                    "vector",
                    encoder=encode_vector,
                    decoder=decode_vector,
                    schema=schema,
                    format="binary",
                )

            try:
                self._pool = await asyncpg.create_pool(self._url, min_size=1, init=init)
            except (TimeoutError, OSError, asyncpg.PostgresError) as exc:
                raise self._storage_error(exc, connecting=True) from None
            return self._pool

    async def _create_schema(self, conn: asyncpg.Connection) -> str:
        try:
            async with conn.transaction():
                await conn.execute("SELECT pg_advisory_xact_lock($1)", _DDL_LOCK)
                try:
                    await conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
                except (asyncpg.FeatureNotSupportedError, asyncpg.UndefinedFileError):
                    raise StorageError(
                        f"the PostgreSQL server at {self._where} has no pgvector extension:"
                        " install pgvector (https://github.com/pgvector/pgvector) on it,"
                        " then gemgate creates the extension itself"
                    ) from None
                except asyncpg.InsufficientPrivilegeError:
                    raise StorageError(
                        f"the PostgreSQL user may not create the vector extension on the"
                        f" server at {self._where}: run CREATE EXTENSION vector as an admin"
                    ) from None
                await conn.execute(SCHEMA)
                schema: str = await conn.fetchval(
                    "SELECT typnamespace::regnamespace::text FROM pg_type"
                    " WHERE typname = 'vector' ORDER BY oid LIMIT 1"
                )
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise self._storage_error(exc) from None
        return schema

    def _storage_error(self, exc: BaseException, *, connecting: bool = False) -> StorageError:
        detail = str(exc) or type(exc).__name__
        if self._password:
            detail = detail.replace(self._password, "***")
        prefix = "cannot connect to PostgreSQL" if connecting else "PostgreSQL"
        return StorageError(f"{prefix} at {self._where}: {detail}")


async def _owned_store(
    conn: asyncpg.Connection, store_id: str, owner: str, *, lock: bool = False, share: bool = False
) -> StoreInfo:
    if _STORE_ID.fullmatch(store_id) is None:
        raise StoreNotFound(f"no store {store_id!r}")
    if lock or share:
        mode = "UPDATE" if lock else "KEY SHARE"
        found = await conn.fetchval(
            f"SELECT 1 FROM rag_stores WHERE id = $1 AND owner = $2 FOR {mode}", store_id, owner
        )
        if found is None:
            raise StoreNotFound(f"no store {store_id!r}")
    row = await conn.fetchrow(_STORE + " WHERE s.id = $1 AND s.owner = $2", store_id, owner)
    if row is None:
        raise StoreNotFound(f"no store {store_id!r}")
    return store_of(row)


async def _owned_document(
    conn: asyncpg.Connection, store_id: str, document_id: str
) -> DocumentInfo:
    row = await conn.fetchrow(
        "SELECT * FROM rag_documents WHERE id = $1 AND store_id = $2", document_id, store_id
    )
    if row is None:
        raise StoreNotFound(f"no document {document_id!r} in store {store_id!r}")
    return document_of(row)


def _vector_query(
    store_id: str, dimensions: int, query: Vectors, k: int, filter: Filter | None
) -> tuple[Any, ...]:
    if filter:
        where, args = _filter_sql(filter, first=3)
        sql = (
            f"SELECT {_HIT}, c.embedding <=> $1::vector AS distance"
            " FROM rag_chunks c JOIN rag_documents d ON d.id = c.document_id"
            f" WHERE c.store_id = '{store_id}'{where}"
            " ORDER BY distance, c.id LIMIT $2"
        )
        return (sql, query, k, *args)
    typed = f"vector({dimensions})"
    sql = (
        f"SELECT {_HIT}, c.distance FROM ("
        f" SELECT *, embedding::{typed} <=> $1::{typed} AS distance FROM rag_chunks"
        f" WHERE store_id = '{store_id}' ORDER BY embedding::{typed} <=> $1::{typed} LIMIT $2"
        ") c JOIN rag_documents d ON d.id = c.document_id ORDER BY c.distance, c.id"
    )
    return (sql, query, k)


def _filter_sql(filter: Filter | None, *, first: int) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    args: list[Any] = []
    for key, value in (filter or {}).items():
        n = first + len(args)
        if isinstance(value, list | tuple | set | frozenset):
            clauses.append(f" AND d.metadata -> ${n}::text = ANY(${n + 1}::jsonb[])")
            args += [key, list(value)]
        else:
            clauses.append(f" AND d.metadata -> ${n}::text = ${n + 1}::jsonb")
            args += [key, value]
    return "".join(clauses), args


def _index_name(store_id: str) -> str:
    return "rag_chunks_hnsw_" + hashlib.sha256(store_id.encode()).hexdigest()[:20]
