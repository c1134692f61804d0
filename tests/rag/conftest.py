"""Retrieval-store backends for the contract suite: SQLite, and PostgreSQL with pgvector."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from gemgate.rag._backend import StoreBackend
from gemgate.rag._sqlite import SQLiteBackend
from tests.rag._pgvector import pgvector_url

__all__ = ["pgvector_url"]


def make_backend(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> StoreBackend:
    if kind == "sqlite":
        return SQLiteBackend(tmp_path / "stores.db")
    from gemgate.rag._postgres import PostgresBackend

    url = request.getfixturevalue("pgvector_url")
    backend: StoreBackend = PostgresBackend(url)
    return backend


@pytest.fixture(params=["sqlite", "postgres"])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[StoreBackend]:
    """Each backend in turn; every store a test creates is deleted afterwards."""
    store = make_backend(request.param, request, tmp_path)
    created: list[tuple[str, str]] = []
    original = store.create_store

    async def tracking_create(name: str, *, owner: str = "", **kwargs: Any) -> Any:
        info = await original(name, owner=owner, **kwargs)
        created.append((info.id, owner))
        return info

    store.create_store = tracking_create  # type: ignore[method-assign]
    try:
        yield store
    finally:
        for store_id, owner in created:
            with contextlib.suppress(Exception):  # best-effort cleanup of test data
                await store.delete_store(store_id, owner=owner)
        await store.close()


@pytest.fixture
def owner() -> str:
    """An owner no other test (or run against a shared database) uses."""
    return f"test-{uuid.uuid4().hex}"


@pytest.fixture
def intruder() -> str:
    """Another unique owner, who must never see ``owner``'s stores."""
    return f"intruder-{uuid.uuid4().hex}"
