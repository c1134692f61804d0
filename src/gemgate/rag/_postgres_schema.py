"""The PostgreSQL side of the stores: the tables, the vector codec, row mapping."""

from __future__ import annotations

import struct
from collections.abc import Mapping
from typing import Any

import numpy as np

from gemgate.rag._backend import Vectors
from gemgate.rag._types import Chunk, DocumentInfo, StoreInfo

__all__ = ["SCHEMA", "chunk_of", "decode_vector", "document_of", "encode_vector", "store_of"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS rag_stores (
    seq bigserial UNIQUE,
    id text PRIMARY KEY,
    name text NOT NULL,
    owner text NOT NULL DEFAULT '',
    embedding_model text NOT NULL DEFAULT '',
    dimensions integer NOT NULL DEFAULT 0,
    created_at double precision NOT NULL,
    metadata jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS rag_stores_owner ON rag_stores (owner, name, seq);
CREATE TABLE IF NOT EXISTS rag_documents (
    seq bigserial UNIQUE,
    id text PRIMARY KEY,
    store_id text NOT NULL REFERENCES rag_stores (id) ON DELETE CASCADE,
    name text NOT NULL,
    content_hash text NOT NULL,
    mime_type text NOT NULL,
    size_bytes bigint NOT NULL,
    chunk_count integer NOT NULL DEFAULT 0,
    created_at double precision NOT NULL,
    source text NOT NULL DEFAULT '',
    metadata jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS rag_documents_store ON rag_documents (store_id, seq);
CREATE INDEX IF NOT EXISTS rag_documents_hash ON rag_documents (store_id, content_hash);
CREATE TABLE IF NOT EXISTS rag_chunks (
    id text PRIMARY KEY,
    store_id text NOT NULL,
    document_id text NOT NULL REFERENCES rag_documents (id) ON DELETE CASCADE,
    index integer NOT NULL,
    text text NOT NULL,
    start_offset integer NOT NULL,
    end_offset integer NOT NULL,
    page integer NOT NULL DEFAULT 0,
    tokens integer NOT NULL DEFAULT 0,
    embedding vector,
    tsv tsvector GENERATED ALWAYS AS (to_tsvector('english', text)) STORED
);
CREATE INDEX IF NOT EXISTS rag_chunks_document ON rag_chunks (document_id, index);
CREATE INDEX IF NOT EXISTS rag_chunks_tsv ON rag_chunks USING gin (tsv);
"""


def encode_vector(value: Any) -> bytes:
    array = np.asarray(value, dtype=">f4").reshape(-1)
    return struct.pack(">HH", array.size, 0) + array.tobytes()


def decode_vector(data: bytes) -> Vectors:
    (dimensions,) = struct.unpack_from(">H", data)
    return np.frombuffer(data, dtype=">f4", count=dimensions, offset=4).astype(np.float32)


def store_of(row: Mapping[str, Any]) -> StoreInfo:
    return StoreInfo(
        id=row["id"],
        name=row["name"],
        owner=row["owner"],
        embedding_model=row["embedding_model"],
        dimensions=row["dimensions"],
        created_at=row["created_at"],
        document_count=int(row["document_count"]),
        chunk_count=int(row["chunk_count"]),
        metadata=row["metadata"],
    )


def document_of(row: Mapping[str, Any]) -> DocumentInfo:
    return DocumentInfo(
        id=row["id"],
        store_id=row["store_id"],
        name=row["name"],
        content_hash=row["content_hash"],
        mime_type=row["mime_type"],
        size_bytes=row["size_bytes"],
        chunk_count=row["chunk_count"],
        created_at=row["created_at"],
        source=row["source"],
        metadata=row["metadata"],
    )


def chunk_of(row: Mapping[str, Any]) -> Chunk:
    return Chunk(
        id=row["c_id"],
        document_id=row["c_document_id"],
        index=row["c_index"],
        text=row["c_text"],
        start=row["c_start"],
        end=row["c_end"],
        page=row["c_page"],
        tokens=row["c_tokens"],
    )
