"""SQL chat storage through SQLAlchemy async: SQLite (the default, WAL) and PostgreSQL.

An append locks the chat's row while it bumps ``message_count`` (``UPDATE … RETURNING``),
then inserts the messages with the sequence numbers it reserved, in one transaction:
concurrent appenders serialise on that row and nothing is lost or interleaved.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError, ProgrammingError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from gemgate.sessions._base import (
    ChatExists,
    ChatNotFound,
    ChatStorage,
    StorageUnavailable,
    decoding,
    token_totals,
)
from gemgate.sessions._message import ChatInfo, ChatMessage

__all__ = [
    "PostgresChatStorage",
    "SQLChatStorage",
    "SQLiteChatStorage",
    "SQLTables",
    "create_tables",
    "sql_engine",
]

metadata = sa.MetaData()
chats = sa.Table(
    "gemgate_chats",
    metadata,
    sa.Column("id", sa.String(128), primary_key=True),
    sa.Column("title", sa.Text),
    sa.Column("user_id", sa.String(256), index=True),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False, index=True),
    sa.Column("message_count", sa.Integer, nullable=False, default=0),
    sa.Column("prompt_tokens", sa.Integer, nullable=False, default=0),
    sa.Column("completion_tokens", sa.Integer, nullable=False, default=0),
    sa.Column("total_tokens", sa.Integer, nullable=False, default=0),
    sa.Column("metadata", sa.Text, nullable=False, default="{}"),
)
message_rows = sa.Table(
    "gemgate_messages",
    metadata,
    sa.Column(
        "chat_id",
        sa.String(128),
        sa.ForeignKey("gemgate_chats.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("seq", sa.Integer, primary_key=True),
    sa.Column("payload", sa.Text, nullable=False),
)


def _row_info(row: Any) -> ChatInfo:
    with decoding(row.id, "metadata"):
        meta = json.loads(row.metadata)
        return ChatInfo(
            id=row.id,
            title=row.title,
            user=row.user_id,
            created_at=row.created_at,
            updated_at=row.updated_at,
            message_count=row.message_count,
            prompt_tokens=row.prompt_tokens,
            completion_tokens=row.completion_tokens,
            total_tokens=row.total_tokens,
            metadata=meta,
        )


class SQLChatStorage(ChatStorage):
    """One implementation for SQLite and PostgreSQL."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._ready = False
        self._schema_lock = asyncio.Lock()

    @contextlib.asynccontextmanager
    async def _tx(self) -> AsyncIterator[AsyncConnection]:
        try:
            if not self._ready:
                await self._create_schema()
            async with self._engine.begin() as conn:
                yield conn
        except (OperationalError, OSError, ConnectionError) as exc:
            raise StorageUnavailable(f"chat storage unavailable: {type(exc).__name__}") from exc
        except DBAPIError as exc:
            if exc.connection_invalidated:
                raise StorageUnavailable("chat storage connection lost") from exc
            raise

    async def _create_schema(self) -> None:
        """Create the tables once; another process creating them at the same time is fine."""
        async with self._schema_lock:
            if self._ready:
                return
            await create_tables(self._engine, metadata)
            self._ready = True

    async def create_chat(
        self,
        chat_id: str | None = None,
        *,
        title: str | None = None,
        user: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> ChatInfo:
        """See :meth:`ChatStorage.create_chat`."""
        info = ChatInfo.new(chat_id, title=title, user=user, metadata=metadata)
        values = {
            "id": info.id,
            "title": title,
            "user_id": user,
            "created_at": info.created_at,
            "updated_at": info.updated_at,
            "message_count": 0,
            "prompt_tokens": 0,
            "completion_tokens": 0,
            "total_tokens": 0,
            "metadata": json.dumps(info.metadata),
        }
        try:
            async with self._tx() as conn:
                await conn.execute(chats.insert().values(**values))
        except IntegrityError:
            raise ChatExists(f"chat {info.id!r} already exists") from None
        return info

    async def get_chat(self, chat_id: str) -> ChatInfo:
        """See :meth:`ChatStorage.get_chat`."""
        async with self._tx() as conn:
            row = (await conn.execute(chats.select().where(chats.c.id == chat_id))).first()
        if row is None:
            raise ChatNotFound(chat_id)
        return _row_info(row)

    async def get_history(self, chat_id: str) -> list[ChatMessage]:
        """See :meth:`ChatStorage.get_history`."""
        async with self._tx() as conn:
            found = await conn.scalar(sa.select(chats.c.id).where(chats.c.id == chat_id))
            rows = await conn.execute(
                sa.select(message_rows.c.seq, message_rows.c.payload)
                .where(message_rows.c.chat_id == chat_id)
                .order_by(message_rows.c.seq)
            )
            stored = rows.all()
        if found is None:
            raise ChatNotFound(chat_id)
        history = []
        for seq, payload in stored:
            with decoding(chat_id, seq):
                history.append(ChatMessage.model_validate_json(payload))
        return history

    async def _bump(
        self, conn: AsyncConnection, chat_id: str, batch: Sequence[ChatMessage], *, reset: bool
    ) -> Any:
        prompt, completion, total = token_totals(batch)
        table = chats.c
        base = (lambda column: sa.literal(0)) if reset else (lambda column: column)
        statement = (
            chats.update()
            .where(table.id == chat_id)
            .values(
                message_count=base(table.message_count) + len(batch),
                prompt_tokens=base(table.prompt_tokens) + prompt,
                completion_tokens=base(table.completion_tokens) + completion,
                total_tokens=base(table.total_tokens) + total,
                updated_at=time.time(),
            )
            .returning(*chats.c)
        )
        row = (await conn.execute(statement)).first()
        if row is None:
            raise ChatNotFound(chat_id)
        return row

    async def _insert(
        self, conn: AsyncConnection, chat_id: str, batch: Sequence[ChatMessage], first: int
    ) -> None:
        if batch:
            await conn.execute(
                message_rows.insert(),
                [
                    {"chat_id": chat_id, "seq": first + i, "payload": m.model_dump_json()}
                    for i, m in enumerate(batch)
                ],
            )

    async def append_history(self, chat_id: str, messages: Sequence[ChatMessage]) -> ChatInfo:
        """See :meth:`ChatStorage.append_history`."""
        async with self._tx() as conn:
            row = await self._bump(conn, chat_id, messages, reset=False)
            await self._insert(conn, chat_id, messages, row.message_count - len(messages))
        return _row_info(row)

    async def update_history(self, chat_id: str, messages: Sequence[ChatMessage]) -> ChatInfo:
        """See :meth:`ChatStorage.update_history`."""
        async with self._tx() as conn:
            row = await self._bump(conn, chat_id, messages, reset=True)
            await conn.execute(sa.delete(message_rows).where(message_rows.c.chat_id == chat_id))
            await self._insert(conn, chat_id, messages, 0)
        return _row_info(row)

    async def list_chats(self, *, user: str | None = None, limit: int = 100) -> list[ChatInfo]:
        """See :meth:`ChatStorage.list_chats`."""
        query = chats.select().order_by(chats.c.updated_at.desc()).limit(limit)
        if user is not None:
            query = query.where(chats.c.user_id == user)
        async with self._tx() as conn:
            rows = (await conn.execute(query)).all()
        return [_row_info(r) for r in rows]

    async def rename_chat(self, chat_id: str, title: str | None) -> ChatInfo:
        """See :meth:`ChatStorage.rename_chat`."""
        return await self._set(chat_id, title=title)

    async def set_metadata(self, chat_id: str, metadata: Mapping[str, Any]) -> ChatInfo:
        """See :meth:`ChatStorage.set_metadata`."""
        return await self._set(chat_id, metadata=json.dumps(dict(metadata)))

    async def _set(self, chat_id: str, **values: Any) -> ChatInfo:
        statement = chats.update().where(chats.c.id == chat_id).values(**values).returning(*chats.c)
        async with self._tx() as conn:
            row = (await conn.execute(statement)).first()
        if row is None:
            raise ChatNotFound(chat_id)
        return _row_info(row)

    async def delete_chat(self, chat_id: str) -> None:
        """See :meth:`ChatStorage.delete_chat`."""
        async with self._tx() as conn:
            await conn.execute(sa.delete(message_rows).where(message_rows.c.chat_id == chat_id))
            result = await conn.execute(sa.delete(chats).where(chats.c.id == chat_id))
        if result.rowcount == 0:
            raise ChatNotFound(chat_id)

    async def close(self) -> None:
        """Dispose of the connection pool."""
        await self._engine.dispose()


class SQLiteChatStorage(SQLChatStorage):
    """A SQLite file in WAL mode; writes take the database lock up front.

    Example::

        storage = SQLiteChatStorage("sqlite:///chats.db")
    """

    def __init__(self, url: str = "sqlite:///gemgate.db") -> None:
        super().__init__(sql_engine(url))


class PostgresChatStorage(SQLChatStorage):
    """PostgreSQL through asyncpg.

    Example::

        storage = PostgresChatStorage("postgresql://user@127.0.0.1/test")
    """

    def __init__(self, url: str) -> None:
        super().__init__(sql_engine(url))


def sql_engine(url: str) -> AsyncEngine:
    """An async engine for ``sqlite:///…`` or ``postgresql://…``.

    SQLite runs in WAL mode and writers wait for the lock, so several processes (and the
    request log) share one file safely; PostgreSQL goes through asyncpg. A URL that names
    its driver (``sqlite+aiosqlite://``) is taken as it is.
    """
    scheme, rest = url.split("://", 1) if "://" in url else (url, "")
    if scheme.startswith("sqlite"):
        driver_url = url if "+" in scheme else f"sqlite+aiosqlite://{rest}"
        engine = create_async_engine(driver_url, connect_args={"timeout": 30})

        @event.listens_for(engine.sync_engine, "connect")
        def _connect(dbapi_connection: Any, _: Any) -> None:
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        @event.listens_for(engine.sync_engine, "begin")
        def _begin(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    if scheme.startswith(("postgresql", "postgres")):
        driver_url = url if "+" in scheme else f"postgresql+asyncpg://{rest}"
        return create_async_engine(driver_url, pool_pre_ping=True, pool_size=10)
    raise ValueError(f"expected a sqlite:/// or postgresql:// URL, not {scheme}://…")


async def create_tables(engine: AsyncEngine, tables: sa.MetaData) -> None:
    """Create ``tables`` if missing; another process creating them at once is fine."""
    for attempt in range(3):
        try:
            async with engine.begin() as conn:
                await conn.run_sync(tables.create_all)
            return
        except (IntegrityError, ProgrammingError):
            if attempt == 2:
                raise


class SQLTables:
    """The tables of one ``MetaData`` in a SQL database, created on first use.

    A base for the gateway's small SQL stores (``/v1/files``, ``/v1/batches``): subclasses
    ``await self._schema()`` before a query and use ``self._engine``.
    """

    def __init__(self, url: str, tables: sa.MetaData) -> None:
        self._engine = sql_engine(url)
        self._tables = tables
        self._ready = False

    async def _schema(self) -> None:
        if not self._ready:
            await create_tables(self._engine, self._tables)
            self._ready = True

    async def aclose(self) -> None:
        """Close the database connections."""
        await self._engine.dispose()
