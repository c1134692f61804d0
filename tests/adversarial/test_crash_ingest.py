"""kill -9 `gemgate serve` while it ingests a document into a store, then restart it.

On SQLite and on PostgreSQL (with pgvector) the store keeps whole documents only: every
document has all its chunks and no chunk lacks its document (the checks of
``tests/rag/test_crash.py``); after a restart the store searches, and takes a new document.
"""

from __future__ import annotations

import asyncio
import sqlite3
from contextlib import AsyncExitStack
from pathlib import Path

import asyncpg
import httpx2
import pytest

from tests.rag._pgvector import drop_rag_tables, pgvector_url
from tests.rag.test_crash import SQLITE_CHECKS

from ._crash_support import served, slow_upstream, storage_url

__all__ = ["pgvector_url"]  # the fixture, for the PostgreSQL case

pytestmark = pytest.mark.anyio
STORES = "/api/v1/stores"
CHUNKING = {"max_tokens": 24, "overlap": 4}


def _text(n: int, paragraphs: int) -> str:
    return " ".join(f"Paragraph {n}.{j} about lighthouse number {j}." for j in range(paragraphs))


async def _broken_rows(kind: str, url: str, tmp_path: Path) -> list[int]:
    if kind == "sqlite":
        with sqlite3.connect(tmp_path / "gemgate.db") as db:
            return [db.execute(check).fetchone()[0] for check in SQLITE_CHECKS]
    conn = await asyncpg.connect(url)
    try:
        return [await conn.fetchval(check) for check in SQLITE_CHECKS]
    finally:
        await conn.close()


@pytest.mark.parametrize("kind", ["sqlite", "pg"])
async def test_crash_mid_ingest_keeps_whole_documents(
    tmp_path: Path, kind: str, request: pytest.FixtureRequest
) -> None:
    async with AsyncExitStack() as stack:
        # PostgreSQL with pgvector: the machine's server if it has it, else a private one.
        database = request.getfixturevalue("pgvector_url") if kind == "pg" else None
        if database is not None:
            await drop_rag_tables(database)
        url = storage_url(kind, tmp_path, database)
        upstream = await stack.enter_async_context(slow_upstream())
        gateway = await stack.enter_async_context(
            served(tmp_path, upstream, {"sessions_url": url, "stores_url": url})
        )
        async with httpx2.AsyncClient(base_url=gateway.url, timeout=60) as http:
            store = (await http.post(STORES, json={"name": "crash"})).json()
            docs = f"{STORES}/{store['id']}/documents"
            first = {"name": "doc0.txt", "text": _text(0, 40), "chunking": CHUNKING}
            assert (await http.post(docs, json=first)).status_code == 201
            big = {"name": "doc1.txt", "text": _text(1, 2000), "chunking": CHUNKING}
            ingest = asyncio.create_task(http.post(docs, json=big))
            await asyncio.sleep(0.5)  # the gateway is parsing, embedding or writing it
            gateway.kill()
            with pytest.raises(httpx2.TransportError):
                await ingest

        assert await _broken_rows(kind, url, tmp_path) == [0, 0]
        await gateway.restart()
        async with httpx2.AsyncClient(base_url=gateway.url, timeout=60) as http:
            listed = (await http.get(docs)).json()["documents"]
            assert "doc0.txt" in [d["name"] for d in listed]
            hits = await http.post(
                f"{STORES}/{store['id']}/search", json={"query": "lighthouse number 7"}
            )
            assert hits.status_code == 200 and hits.json()
            after = {"name": "after.txt", "text": "Written after the crash, whole."}
            assert (await http.post(docs, json=after)).status_code == 201
        assert await _broken_rows(kind, url, tmp_path) == [0, 0]
