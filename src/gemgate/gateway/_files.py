"""Files uploaded through ``/v1/files``, and which vector store each is attached to.

Both live in SQL (the sessions database when it is SQL, else the stores database), each
row scoped by its owner (the gateway key's name, "" without keys): another owner's file
is absent. Files keep their bytes, so that they can be attached to stores (and read back).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from gemgate.sessions._sql import SQLTables

__all__ = ["Attachment", "FileRecord", "Files"]

_metadata = sa.MetaData()
_files = sa.Table(
    "gemgate_files",
    _metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("id", sa.String(64), nullable=False, unique=True),
    sa.Column("owner", sa.String(256), nullable=False, index=True),
    sa.Column("filename", sa.String(1024), nullable=False),
    sa.Column("purpose", sa.String(64), nullable=False),
    sa.Column("bytes", sa.Integer, nullable=False),
    sa.Column("created_at", sa.Integer, nullable=False),
    sa.Column("data", sa.LargeBinary, nullable=False),
)
_attached = sa.Table(
    "gemgate_vector_store_files",
    _metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("owner", sa.String(256), nullable=False),
    sa.Column("store_id", sa.String(64), nullable=False, index=True),
    sa.Column("file_id", sa.String(64), nullable=False),
    sa.Column("document_id", sa.String(64)),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("error_code", sa.String(32)),
    sa.Column("error_message", sa.Text),
    sa.Column("attributes", sa.JSON, nullable=False),
    sa.Column("usage_bytes", sa.Integer, nullable=False),
    sa.Column("created_at", sa.Integer, nullable=False),
    sa.UniqueConstraint("store_id", "file_id"),
)
_COLUMNS = [c for c in _files.c if c.name != "data"]


@dataclass(frozen=True, slots=True)
class FileRecord:
    """A stored file, without its bytes."""

    id: str
    filename: str
    purpose: str
    bytes: int
    created_at: int


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file attached to a vector store: its document there, or why it failed."""

    store_id: str
    file_id: str
    status: str
    created_at: int
    usage_bytes: int = 0
    document_id: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)


class Files(SQLTables):
    """The files and attachments of every owner, in one SQL database."""

    def __init__(self, url: str) -> None:
        super().__init__(url, _metadata)

    async def add(self, owner: str, filename: str, purpose: str, data: bytes) -> FileRecord:
        """Store a new file."""
        await self._schema()
        record = FileRecord(
            f"file-{uuid.uuid4().hex[:24]}", filename, purpose, len(data), int(time.time())
        )
        async with self._engine.begin() as conn:
            await conn.execute(
                _files.insert().values(
                    id=record.id,
                    owner=owner,
                    filename=filename,
                    purpose=purpose,
                    bytes=record.bytes,
                    created_at=record.created_at,
                    data=data,
                )
            )
        return record

    async def list_files(
        self, owner: str, *, limit: int, after: str | None = None, purpose: str | None = None
    ) -> list[FileRecord]:
        """The owner's files, newest first (``after``: the last id of the page before)."""
        await self._schema()
        query = sa.select(*_COLUMNS).where(_files.c.owner == owner)
        if purpose:
            query = query.where(_files.c.purpose == purpose)
        if after:
            seq = sa.select(_files.c.seq).where(_files.c.id == after).scalar_subquery()
            query = query.where(_files.c.seq < seq)
        query = query.order_by(_files.c.seq.desc()).limit(limit)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [_record(row) for row in rows]

    async def get(self, owner: str, file_id: str) -> FileRecord | None:
        """The owner's file with this id, or None."""
        await self._schema()
        query = sa.select(*_COLUMNS).where(_files.c.id == file_id, _files.c.owner == owner)
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).mappings().first()
        return _record(row) if row is not None else None

    async def content(self, owner: str, file_id: str) -> bytes | None:
        """The bytes of the owner's file, or None."""
        await self._schema()
        query = sa.select(_files.c.data).where(_files.c.id == file_id, _files.c.owner == owner)
        async with self._engine.connect() as conn:
            data = (await conn.execute(query)).scalar()
        return bytes(data) if data is not None else None

    async def delete(self, owner: str, file_id: str) -> bool:
        """Delete the owner's file; False if there was none."""
        await self._schema()
        async with self._engine.begin() as conn:
            done = await conn.execute(
                _files.delete().where(_files.c.id == file_id, _files.c.owner == owner)
            )
        return bool(done.rowcount)

    async def attach(self, owner: str, attachment: Attachment) -> None:
        """Record ``attachment`` (in place of an earlier one of the same file and store)."""
        await self._schema()
        values = {
            "owner": owner,
            "store_id": attachment.store_id,
            "file_id": attachment.file_id,
            "document_id": attachment.document_id,
            "status": attachment.status,
            "error_code": attachment.error_code,
            "error_message": attachment.error_message,
            "attributes": attachment.attributes,
            "usage_bytes": attachment.usage_bytes,
            "created_at": attachment.created_at,
        }
        async with self._engine.begin() as conn:
            await conn.execute(
                _attached.delete().where(
                    _attached.c.store_id == attachment.store_id,
                    _attached.c.file_id == attachment.file_id,
                )
            )
            await conn.execute(_attached.insert().values(**values))

    async def attachments(
        self,
        owner: str,
        store_id: str,
        *,
        limit: int = 10_000,
        after: str | None = None,
        status: str | None = None,
    ) -> list[Attachment]:
        """The files attached to a store, newest first (only ``status`` ones, if given)."""
        await self._schema()
        query = sa.select(_attached).where(
            _attached.c.owner == owner, _attached.c.store_id == store_id
        )
        if status:
            query = query.where(_attached.c.status == status)
        if after:
            seq = (
                sa.select(_attached.c.seq)
                .where(_attached.c.store_id == store_id, _attached.c.file_id == after)
                .scalar_subquery()
            )
            query = query.where(_attached.c.seq < seq)
        query = query.order_by(_attached.c.seq.desc()).limit(limit)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [_attachment(row) for row in rows]

    async def attachment(self, owner: str, store_id: str, file_id: str) -> Attachment | None:
        """One file's attachment to a store, or None."""
        await self._schema()
        query = sa.select(_attached).where(
            _attached.c.owner == owner,
            _attached.c.store_id == store_id,
            _attached.c.file_id == file_id,
        )
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).mappings().first()
        return _attachment(row) if row is not None else None

    async def detach(self, owner: str, store_id: str, file_id: str | None = None) -> None:
        """Forget a file's attachment to a store (every attachment, without ``file_id``)."""
        await self._schema()
        query = _attached.delete().where(
            _attached.c.owner == owner, _attached.c.store_id == store_id
        )
        if file_id is not None:
            query = query.where(_attached.c.file_id == file_id)
        async with self._engine.begin() as conn:
            await conn.execute(query)


def _record(row: sa.RowMapping) -> FileRecord:
    return FileRecord(row["id"], row["filename"], row["purpose"], row["bytes"], row["created_at"])


def _attachment(row: sa.RowMapping) -> Attachment:
    return Attachment(
        store_id=row["store_id"],
        file_id=row["file_id"],
        status=row["status"],
        created_at=row["created_at"],
        usage_bytes=row["usage_bytes"],
        document_id=row["document_id"],
        error_code=row["error_code"],
        error_message=row["error_message"],
        attributes=dict(row["attributes"] or {}),
    )
