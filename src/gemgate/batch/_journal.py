"""The batch journal: every batch submitted, so that another process can wait for it.

A :class:`BatchRecord` holds what the API does not keep: the caller's keys in request
order, the project that owns the batch (its calls must use that project's keys), the
kind, model and submission time, and the last state seen. Records live at
``batches_url``:

- ``sqlite:///file.db``: a ``gemgate_batch_jobs`` table in that file (default: the
  sessions database when it is SQLite, else ``gemgate.db`` in the working directory), so
  a restarted process finds its batches again;
- ``redis://…``: one hash per batch under ``{state_prefix}batch:`` and an index sorted by
  submission time (default when ``state_url`` is Redis), shared by every process;
- ``memory://``: this process only (nothing survives it).

No record holds an API key: only project names.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

from gemgate.errors import ConfigError, StorageError

__all__ = [
    "BatchJournal",
    "BatchRecord",
    "MemoryJournal",
    "RedisJournal",
    "SQLiteJournal",
    "journal_url_of",
    "open_journal",
]

T = TypeVar("T")
DEFAULT_URL = "sqlite:///gemgate.db"


@dataclass
class BatchRecord:
    """One submitted batch, as the journal keeps it."""

    name: str
    """``batches/…``."""
    kind: str
    """``generate`` or ``embed``."""
    model: str
    project: str
    """The project that owns the batch (its keys poll, cancel and download it)."""
    keys: list[str]
    """The caller's keys, in the order the requests were sent."""
    submitted_at: float
    display_name: str = ""
    owner: str = ""
    """Who submitted it (a gateway key's name; ``""`` for the library)."""
    input_file: str | None = None
    """``files/…`` holding the requests, when they did not go inline."""
    state: str = "BATCH_STATE_PENDING"
    """The last state seen."""
    done: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> str:
        """The record as one JSON text."""
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes) -> BatchRecord:
        """A record from :meth:`to_json`'s text."""
        return cls(**json.loads(text))


class BatchJournal(Protocol):
    """Where batch records are kept."""

    async def put(self, record: BatchRecord) -> None:
        """Add or replace a record."""
        ...

    async def get(self, name: str) -> BatchRecord | None:
        """The record of ``batches/…``, if any."""
        ...

    async def list(self, *, pending: bool = False) -> list[BatchRecord]:
        """Every record (only unfinished ones with ``pending``), oldest first."""
        ...

    async def remove(self, name: str) -> None:
        """Forget a record."""
        ...

    async def aclose(self) -> None:
        """Close connections."""
        ...


class MemoryJournal:
    """Records in this process's memory (``batches_url = "memory://"``)."""

    def __init__(self) -> None:
        self._records: dict[str, str] = {}

    async def put(self, record: BatchRecord) -> None:
        """See :class:`BatchJournal`."""
        self._records[record.name] = record.to_json()

    async def get(self, name: str) -> BatchRecord | None:
        """See :class:`BatchJournal`."""
        text = self._records.get(name)
        return None if text is None else BatchRecord.from_json(text)

    async def list(self, *, pending: bool = False) -> list[BatchRecord]:
        """See :class:`BatchJournal`."""
        records = [BatchRecord.from_json(t) for t in self._records.values()]
        records.sort(key=lambda r: r.submitted_at)
        return [r for r in records if not (pending and r.done)]

    async def remove(self, name: str) -> None:
        """See :class:`BatchJournal`."""
        self._records.pop(name, None)

    async def aclose(self) -> None:
        """Nothing to close."""


_SCHEMA = """
CREATE TABLE IF NOT EXISTS gemgate_batch_jobs (
    name TEXT PRIMARY KEY,
    submitted_at REAL NOT NULL,
    done INTEGER NOT NULL,
    record TEXT NOT NULL
)
"""


class SQLiteJournal:
    """Records in a SQLite file, opened in a worker thread on first use.

    Example::

        journal = SQLiteJournal("gemgate.db")
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None

    @classmethod
    def from_url(cls, url: str) -> SQLiteJournal:
        """The journal of ``sqlite:///relative.db`` or ``sqlite:////absolute.db``."""
        path = url.removeprefix("sqlite:///")
        if path == url or not path or path.startswith((":memory:", "file::memory:")):
            raise ConfigError("batches_url: a SQLite journal is sqlite:/// and then a file path")
        return cls(path)

    def _open(self) -> sqlite3.Connection:
        if self._db is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
            db.execute(_SCHEMA)
            db.commit()
            self._db = db
        return self._db

    async def _run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        def locked() -> T:
            with self._lock:
                try:
                    db = self._open()
                    result = work(db)
                    db.commit()
                    return result
                except sqlite3.Error as exc:
                    raise StorageError(f"batch journal {self.path.name}: {exc}") from exc

        return await asyncio.to_thread(locked)

    async def put(self, record: BatchRecord) -> None:
        """See :class:`BatchJournal`."""
        row = (record.name, record.submitted_at, int(record.done), record.to_json())
        await self._run(
            lambda db: db.execute("INSERT OR REPLACE INTO gemgate_batch_jobs VALUES (?,?,?,?)", row)
        )

    async def get(self, name: str) -> BatchRecord | None:
        """See :class:`BatchJournal`."""
        found = await self._run(
            lambda db: db.execute(
                "SELECT record FROM gemgate_batch_jobs WHERE name = ?", (name,)
            ).fetchone()
        )
        return None if found is None else BatchRecord.from_json(found[0])

    async def list(self, *, pending: bool = False) -> list[BatchRecord]:
        """See :class:`BatchJournal`."""
        where = " WHERE done = 0" if pending else ""
        rows = await self._run(
            lambda db: db.execute(
                f"SELECT record FROM gemgate_batch_jobs{where} ORDER BY submitted_at"
            ).fetchall()
        )
        return [BatchRecord.from_json(r[0]) for r in rows]

    async def remove(self, name: str) -> None:
        """See :class:`BatchJournal`."""
        await self._run(
            lambda db: db.execute("DELETE FROM gemgate_batch_jobs WHERE name = ?", (name,))
        )

    async def aclose(self) -> None:
        """Close the file."""

        def close() -> None:
            with self._lock:
                if self._db is not None:
                    self._db.close()
                    self._db = None

        await asyncio.to_thread(close)


class RedisJournal:
    """Records in Redis, shared by every process: ``{prefix}batch:{name}`` and an index."""

    def __init__(self, client: Any, *, prefix: str = "gemgate:") -> None:
        self._redis = client
        self._index = f"{prefix}batches"
        self._prefix = f"{prefix}batch:"

    @classmethod
    def from_url(cls, url: str, *, prefix: str = "gemgate:") -> RedisJournal:
        """A journal on the Redis at ``url``."""
        try:
            import redis.asyncio as aioredis
        except ImportError:
            raise ConfigError(
                "a redis:// batches_url needs redis-py: pip install 'gemgate[redis]'"
            ) from None
        client = aioredis.from_url(url, decode_responses=True, socket_connect_timeout=1.0)
        return cls(client, prefix=prefix)

    async def _do(self, work: Callable[[], Any]) -> Any:
        from redis.exceptions import RedisError

        try:
            return await work()
        except RedisError as exc:
            raise StorageError(f"batch journal: {exc}") from exc

    async def put(self, record: BatchRecord) -> None:
        """See :class:`BatchJournal` (one transaction)."""

        async def write() -> None:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.set(self._prefix + record.name, record.to_json())
                pipe.zadd(self._index, {record.name: record.submitted_at})
                await pipe.execute()

        await self._do(write)

    async def get(self, name: str) -> BatchRecord | None:
        """See :class:`BatchJournal`."""
        text = await self._do(lambda: self._redis.get(self._prefix + name))
        return None if text is None else BatchRecord.from_json(text)

    async def list(self, *, pending: bool = False) -> list[BatchRecord]:
        """See :class:`BatchJournal`."""
        names = await self._do(lambda: self._redis.zrange(self._index, 0, -1))
        if not names:
            return []
        texts = await self._do(lambda: self._redis.mget([self._prefix + n for n in names]))
        records = [BatchRecord.from_json(t) for t in texts if t is not None]
        return [r for r in records if not (pending and r.done)]

    async def remove(self, name: str) -> None:
        """See :class:`BatchJournal`."""

        async def drop() -> None:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.delete(self._prefix + name)
                pipe.zrem(self._index, name)
                await pipe.execute()

        await self._do(drop)

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._redis.aclose()


def journal_url_of(batches_url: str | None, state_url: str | None, sessions_url: str) -> str:
    """``batches_url``; else Redis when ``state_url`` is; else the sessions SQLite file."""
    if batches_url:
        return batches_url
    if state_url:
        return state_url
    if sessions_url.startswith("sqlite:///"):
        return sessions_url
    return DEFAULT_URL


def open_journal(url: str, *, prefix: str = "gemgate:") -> BatchJournal:
    """The journal at ``url`` (``sqlite:///…``, ``redis://…`` or ``memory://``)."""
    scheme = url.split(":", 1)[0].split("+", 1)[0].lower()
    if scheme == "sqlite":
        return SQLiteJournal.from_url(url)
    if scheme in ("redis", "rediss", "unix"):
        return RedisJournal.from_url(url, prefix=prefix)
    if scheme == "memory":
        return MemoryJournal()
    raise ConfigError(
        f"batches_url: unsupported scheme {scheme!r} (use sqlite:///file.db, redis://… or "
        "memory://)"
    )
