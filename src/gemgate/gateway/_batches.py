"""OpenAI batches made through ``/v1/batches``, and the Gemini batch behind each.

Rows live in the same SQL database as ``/v1/files`` (`gemgate.gateway._files`), scoped by
their owner (the gateway key's name, "" without keys): another owner's batch is absent.
A row maps the OpenAI id to the Gemini batch (and the project whose key made it), and
keeps what OpenAI's batch object shows: status, timestamps, counts, file ids, errors.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from gemgate.sessions._sql import SQLTables

__all__ = ["TERMINAL", "TIMES", "BatchRecord", "Batches", "new_batch_id"]

TERMINAL = frozenset({"failed", "completed", "expired", "cancelled"})
"""Statuses a batch never leaves."""

TIMES = (
    "created_at",
    "in_progress_at",
    "expires_at",
    "finalizing_at",
    "completed_at",
    "failed_at",
    "expired_at",
    "cancelling_at",
    "cancelled_at",
)
"""A batch's timestamps, as OpenAI names them."""

_metadata = sa.MetaData()
_batches = sa.Table(
    "gemgate_batches",
    _metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("id", sa.String(64), nullable=False, unique=True),
    sa.Column("owner", sa.String(256), nullable=False, index=True),
    sa.Column("endpoint", sa.String(64), nullable=False),
    sa.Column("model", sa.String(256)),
    sa.Column("input_file_id", sa.String(64), nullable=False),
    sa.Column("completion_window", sa.String(16), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("gemini_batch", sa.String(256)),
    sa.Column("gemini_file", sa.String(256)),
    sa.Column("project", sa.String(256)),
    sa.Column("output_file_id", sa.String(64)),
    sa.Column("error_file_id", sa.String(64)),
    sa.Column("errors", sa.JSON),
    sa.Column("meta", sa.JSON),
    sa.Column("total", sa.Integer, nullable=False, default=0),
    sa.Column("completed", sa.Integer, nullable=False, default=0),
    sa.Column("failed", sa.Integer, nullable=False, default=0),
    *(sa.Column(name, sa.Integer) for name in TIMES),
)


@dataclass(frozen=True, slots=True)
class BatchRecord:
    """One batch, as stored."""

    id: str
    owner: str
    endpoint: str
    input_file_id: str
    created_at: int
    expires_at: int
    status: str = "validating"
    completion_window: str = "24h"
    model: str | None = None
    gemini_batch: str | None = None
    """The Gemini batch's name (``batches/…``)."""
    gemini_file: str | None = None
    """The Gemini input file's name (``files/…``)."""
    project: str | None = None
    """The project whose key created the Gemini batch (every later call uses it)."""
    output_file_id: str | None = None
    error_file_id: str | None = None
    errors: list[dict[str, Any]] | None = None
    meta: dict[str, str] | None = None
    total: int = 0
    completed: int = 0
    failed: int = 0
    in_progress_at: int | None = None
    finalizing_at: int | None = None
    completed_at: int | None = None
    failed_at: int | None = None
    expired_at: int | None = None
    cancelling_at: int | None = None
    cancelled_at: int | None = None

    def with_(self, **changes: Any) -> BatchRecord:
        """A copy with ``changes``."""
        return dataclasses.replace(self, **changes)


_FIELDS = [f.name for f in dataclasses.fields(BatchRecord)]


def new_batch_id() -> str:
    """A fresh OpenAI-style batch id."""
    return f"batch_{uuid.uuid4().hex[:24]}"


class Batches(SQLTables):
    """Every owner's batches, in one SQL database."""

    def __init__(self, url: str) -> None:
        super().__init__(url, _metadata)

    async def add(self, record: BatchRecord) -> None:
        """Store a new batch."""
        await self._schema()
        async with self._engine.begin() as conn:
            await conn.execute(_batches.insert().values(**_values(record)))

    async def get(self, owner: str, batch_id: str) -> BatchRecord | None:
        """The owner's batch with this id, or None."""
        await self._schema()
        query = sa.select(_batches).where(_batches.c.id == batch_id, _batches.c.owner == owner)
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).mappings().first()
        return _record(row) if row is not None else None

    async def list_batches(
        self, owner: str, *, limit: int, after: str | None = None
    ) -> list[BatchRecord]:
        """The owner's batches, newest first (``after``: the last id of the page before)."""
        await self._schema()
        query = sa.select(_batches).where(_batches.c.owner == owner)
        if after:
            seq = sa.select(_batches.c.seq).where(_batches.c.id == after).scalar_subquery()
            query = query.where(_batches.c.seq < seq)
        query = query.order_by(_batches.c.seq.desc()).limit(limit)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [_record(row) for row in rows]

    async def reading(self, owner: str, file_id: str) -> str | None:
        """The id of an unfinished batch of ``owner``'s whose input is ``file_id``, if any."""
        await self._schema()
        query = (
            sa.select(_batches.c.id)
            .where(_batches.c.owner == owner, _batches.c.input_file_id == file_id)
            .where(_batches.c.status.not_in(sorted(TERMINAL)))
            .limit(1)
        )
        async with self._engine.connect() as conn:
            found = (await conn.execute(query)).scalar()
        return None if found is None else str(found)

    async def update(self, record: BatchRecord, expect: Mapping[str, Any] | None = None) -> bool:
        """Write ``record`` over its row; with ``expect``, only if the row still has those values.

        The condition (``{"status": "in_progress"}``) makes one process (or request) the
        one that moves a batch on, e.g. the one that collects its results and charges
        them, once.
        """
        await self._schema()
        query = _batches.update().where(
            _batches.c.id == record.id, _batches.c.owner == record.owner
        )
        for name, value in (expect or {}).items():
            column = _batches.c[name]
            query = query.where(column.is_(None) if value is None else column == value)
        async with self._engine.begin() as conn:
            done = await conn.execute(query.values(**_values(record)))
        return bool(done.rowcount)


def _values(record: BatchRecord) -> dict[str, Any]:
    return {name: getattr(record, name) for name in _FIELDS}


def _record(row: sa.RowMapping) -> BatchRecord:
    return BatchRecord(**{name: row[name] for name in _FIELDS})
