"""The request log: one row per upstream call, in SQLite or PostgreSQL, and sums over it.

A row holds who asked (the gateway key's *name*, never its secret; the Google key's
fingerprint), the project and model, the tokens in, out, cached and thought, the status,
the latency and the cost. Writing never holds up a request: rows are buffered and
written in batches by a background task (and at :meth:`RequestLog.flush` / close).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

import sqlalchemy as sa

from gemgate.sessions._sql import create_tables, sql_engine
from gemgate.upstream._tracking import RequestRecord
from gemgate.usage._prices import PriceTable

__all__ = ["GROUPS", "RequestLog", "UsageEntry", "UsageRow", "entry_of"]

log = logging.getLogger("gemgate.usage")

metadata = sa.MetaData()
requests = sa.Table(
    "gemgate_requests",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.Float, nullable=False, index=True),
    sa.Column("request_id", sa.String(64), nullable=False),
    sa.Column("caller", sa.String(256), index=True),
    sa.Column("project", sa.String(256)),
    sa.Column("api_key", sa.String(32)),
    sa.Column("model", sa.String(256)),
    sa.Column("kind", sa.String(32)),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("http_status", sa.Integer),
    sa.Column("latency_ms", sa.Float, nullable=False),
    sa.Column("prompt_tokens", sa.Integer, nullable=False, default=0),
    sa.Column("completion_tokens", sa.Integer, nullable=False, default=0),
    sa.Column("cached_tokens", sa.Integer, nullable=False, default=0),
    sa.Column("thoughts_tokens", sa.Integer, nullable=False, default=0),
    sa.Column("cost_usd", sa.Float),
)

GROUPS = {
    "project": requests.c.project,
    "key": requests.c.caller,
    "model": requests.c.model,
    "api_key": requests.c.api_key,
}
"""What :meth:`RequestLog.summary` can group by (``key`` is the gateway key's name)."""


class UsageEntry(NamedTuple):
    """One upstream call, as logged (a named tuple: cheap to make on every call)."""

    at: float
    request_id: str
    caller: str | None
    """The gateway key's name (``None`` for library calls and keyless gateways)."""
    project: str | None
    api_key: str | None
    """The Google key's fingerprint."""
    model: str | None
    kind: str
    status: str
    http_status: int | None
    latency_ms: float
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    thoughts_tokens: int = 0
    cost_usd: float | None = None


@dataclass(frozen=True)
class UsageRow:
    """Sums over the log for one group."""

    group: str | None
    requests: int
    errors: int
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int
    thoughts_tokens: int
    cost_usd: float


def entry_of(record: RequestRecord, prices: PriceTable) -> UsageEntry:
    """The log row of a finished call, priced."""
    usage = record.usage
    prompt = usage.get("prompt_tokens", 0)
    completion = usage.get("completion_tokens", 0)
    cached = usage.get("cached_tokens", 0)
    thoughts = usage.get("thoughts_tokens", 0)
    ended = record.ended if record.ended is not None else record.started
    cost = prices.cost(record.model, prompt, completion, cached, thoughts) if record.model else None
    return UsageEntry(
        at=record.started,
        request_id=record.request_id,
        caller=record.caller,
        project=record.project,
        api_key=record.key,
        model=record.model,
        kind=record.kind,
        status=record.status,
        http_status=record.http_status,
        latency_ms=(ended - record.started) * 1000,
        prompt_tokens=prompt,
        completion_tokens=completion,
        cached_tokens=cached,
        thoughts_tokens=thoughts,
        cost_usd=cost if usage else (0.0 if cost is not None else None),
    )


class RequestLog:
    """Buffered writes of :class:`UsageEntry` rows, and sums over them.

    Example::

        usage = RequestLog("sqlite:///gemgate.db")
        usage.record(entry)                    # never waits
        await usage.flush()
        rows = await usage.summary(group_by="model")
    """

    def __init__(self, url: str, *, batch: int = 200, interval: float = 0.5) -> None:
        self._engine = sql_engine(url)
        self._buffer: list[UsageEntry] = []
        self._batch = batch
        self._interval = interval
        self._ready = False
        self._sql: str | None = None
        self._lock = asyncio.Lock()
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None

    def record(self, entry: UsageEntry) -> None:
        """Queue a row; it is written within ``interval`` seconds (or sooner when many)."""
        self._buffer.append(entry)
        if self._task is None:
            with contextlib.suppress(RuntimeError):  # no running loop: flush() writes it
                self._wake = asyncio.Event()
                self._task = asyncio.get_running_loop().create_task(self._run())
        if len(self._buffer) >= self._batch and self._wake is not None:
            self._wake.set()

    async def _run(self) -> None:
        assert self._wake is not None
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._interval)
            self._wake.clear()
            try:
                await self.flush()
            except Exception as exc:  # keep the rows for the next try; never fail a request
                log.warning("request log write failed (%s); will retry", type(exc).__name__)

    async def _schema(self) -> None:
        if not self._ready:
            await create_tables(self._engine, metadata)
            self._ready = True

    def _insert_sql(self) -> str:
        """``INSERT`` with positional parameters in :class:`UsageEntry`'s field order.

        A batch of entries is then written as the tuples they are, without a dict per row.
        """
        if self._sql is None:
            values: dict[str, Any] = {name: sa.bindparam(name) for name in UsageEntry._fields}
            compiled = requests.insert().values(values).compile(dialect=self._engine.dialect)
            assert compiled.positiontup == list(UsageEntry._fields)
            self._sql = str(compiled)
        return self._sql

    async def flush(self) -> None:
        """Write every queued row now."""
        async with self._lock:
            rows, self._buffer = self._buffer, []
            if not rows:
                return
            try:
                await self._schema()
                async with self._engine.begin() as conn:
                    await conn.exec_driver_sql(self._insert_sql(), rows)
            except BaseException:
                self._buffer[:0] = rows
                raise

    async def summary(
        self,
        *,
        start: float | None = None,
        end: float | None = None,
        group_by: Literal["project", "key", "model", "api_key"] | None = None,
        caller: str | None = None,
    ) -> list[UsageRow]:
        """Sums of the rows logged in ``[start, end)``, per group (biggest cost first)."""
        await self.flush()
        await self._schema()
        c = requests.c
        column = GROUPS[group_by] if group_by is not None else sa.literal(None)
        errors = sa.func.sum(sa.case((c.status == "error", 1), else_=0))
        query = sa.select(
            column.label("grp"),
            sa.func.count().label("requests"),
            errors.label("errors"),
            sa.func.coalesce(sa.func.sum(c.prompt_tokens), 0),
            sa.func.coalesce(sa.func.sum(c.completion_tokens), 0),
            sa.func.coalesce(sa.func.sum(c.cached_tokens), 0),
            sa.func.coalesce(sa.func.sum(c.thoughts_tokens), 0),
            sa.func.coalesce(sa.func.sum(c.cost_usd), 0.0).label("cost"),
        )
        if start is not None:
            query = query.where(c.at >= start)
        if end is not None:
            query = query.where(c.at < end)
        if caller is not None:
            query = query.where(c.caller == caller)
        if group_by is not None:
            query = query.group_by(column)
        query = query.order_by(sa.desc("cost"), sa.asc("grp"))
        async with self._engine.connect() as conn:
            found = (await conn.execute(query)).all()
        return [
            UsageRow(
                group=row[0],
                requests=int(row[1]),
                errors=int(row[2] or 0),
                prompt_tokens=int(row[3]),
                completion_tokens=int(row[4]),
                cached_tokens=int(row[5]),
                thoughts_tokens=int(row[6]),
                cost_usd=round(float(row[7]), 10),
            )
            for row in found
            if row[1]
        ]

    async def entries(self, *, limit: int = 100) -> Sequence[UsageEntry]:
        """The newest rows, newest first."""
        await self.flush()
        await self._schema()
        query = sa.select(requests).order_by(requests.c.id.desc()).limit(limit)
        async with self._engine.connect() as conn:
            found = (await conn.execute(query)).mappings().all()
        return [UsageEntry(**{k: v for k, v in row.items() if k != "id"}) for row in found]

    async def close(self) -> None:
        """Write what is queued, stop the writer and close the pool."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        with contextlib.suppress(Exception):
            await self.flush()
        await self._engine.dispose()
