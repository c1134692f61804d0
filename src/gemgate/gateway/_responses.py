"""Stored responses of ``/v1/responses``: what ``previous_response_id`` continues from.

Each stored response keeps the Response object, its input items (with ids) and the whole
Gemini conversation up to and including the model's answer, thought signatures and all,
so a follow-up sends the upstream exactly what it answered. The calls it made are kept
apart by call id (name and thought signature), so that a client that sends its own
``function_call`` items back gets their signatures restored.

Rows live in SQL (the database of ``/v1/files``), each scoped by its owner (the gateway
key's name, "" without keys): another owner's response is absent.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from gemgate.sessions._sql import create_tables, sql_engine
from gemgate.wire.responses import KnownCall

__all__ = ["StoredResponse", "StoredResponses"]

_metadata = sa.MetaData()
_responses = sa.Table(
    "gemgate_responses",
    _metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("id", sa.String(64), nullable=False, unique=True),
    sa.Column("owner", sa.String(256), nullable=False, index=True),
    sa.Column("created_at", sa.Integer, nullable=False),
    sa.Column("response", sa.JSON, nullable=False),
    sa.Column("items", sa.JSON, nullable=False),
    sa.Column("contents", sa.JSON, nullable=False),
)
_calls = sa.Table(
    "gemgate_response_calls",
    _metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("owner", sa.String(256), nullable=False),
    sa.Column("call_id", sa.String(64), nullable=False),
    sa.Column("response_id", sa.String(64), nullable=False, index=True),
    sa.Column("name", sa.String(256), nullable=False),
    sa.Column("signature", sa.Text),
    sa.Index("gemgate_response_calls_owner_call", "owner", "call_id"),
)


@dataclass(frozen=True, slots=True)
class StoredResponse:
    """A stored response.

    Attributes:
        id: ``resp_…``.
        response: The Response object as it was answered.
        items: Its input items, each with an ``id``.
        contents: The Gemini conversation through the model's answer.
    """

    id: str
    response: dict[str, Any]
    items: list[dict[str, Any]]
    contents: list[dict[str, Any]]


class StoredResponses:
    """Every owner's stored responses, in one SQL database."""

    def __init__(self, url: str) -> None:
        self._engine = sql_engine(url)
        self._ready = False

    async def _schema(self) -> None:
        if not self._ready:
            await create_tables(self._engine, _metadata)
            self._ready = True

    async def save(
        self, owner: str, stored: StoredResponse, calls: Mapping[str, KnownCall]
    ) -> None:
        """Keep ``stored`` and the calls it made."""
        await self._schema()
        async with self._engine.begin() as conn:
            await conn.execute(
                _responses.insert().values(
                    id=stored.id,
                    owner=owner,
                    created_at=int(stored.response.get("created_at", 0)),
                    response=stored.response,
                    items=stored.items,
                    contents=stored.contents,
                )
            )
            if calls:
                rows = [
                    {
                        "owner": owner,
                        "call_id": call_id,
                        "response_id": stored.id,
                        "name": call.name,
                        "signature": call.signature,
                    }
                    for call_id, call in calls.items()
                ]
                await conn.execute(_calls.insert(), rows)

    async def get(self, owner: str, response_id: str) -> StoredResponse | None:
        """The owner's response with this id, or None."""
        await self._schema()
        query = sa.select(_responses).where(
            _responses.c.id == response_id, _responses.c.owner == owner
        )
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).mappings().first()
        if row is None:
            return None
        return StoredResponse(
            row["id"], dict(row["response"]), list(row["items"]), list(row["contents"])
        )

    async def calls(self, owner: str, call_ids: Sequence[str]) -> dict[str, KnownCall]:
        """The owner's stored calls among ``call_ids``."""
        if not call_ids:
            return {}
        await self._schema()
        query = sa.select(_calls.c.call_id, _calls.c.name, _calls.c.signature).where(
            _calls.c.owner == owner, _calls.c.call_id.in_(list(set(call_ids)))
        )
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return {row.call_id: KnownCall(row.name, row.signature) for row in rows}

    async def delete(self, owner: str, response_id: str) -> bool:
        """Delete the owner's response (and its calls); False if there was none."""
        await self._schema()
        async with self._engine.begin() as conn:
            done = await conn.execute(
                _responses.delete().where(
                    _responses.c.id == response_id, _responses.c.owner == owner
                )
            )
            await conn.execute(
                _calls.delete().where(_calls.c.response_id == response_id, _calls.c.owner == owner)
            )
        return bool(done.rowcount)

    async def aclose(self) -> None:
        """Close the database connections."""
        await self._engine.dispose()
