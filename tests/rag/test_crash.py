"""kill -9 in the middle of an ingest leaves whole documents only, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import asyncpg
import pytest

from gemgate import AsyncGemini
from gemgate.rag import Source

INGEST = """
import asyncio, sys
from gemgate import AsyncGemini
from gemgate.rag import Source
from gemgate.rag import Chunking, Source

async def main() -> None:
    async with AsyncGemini.emulated(stores_url=sys.argv[1]) as g:
        store = await g.stores.open("crash")
        for i in range(10_000):
            text = " ".join(f"Paragraph {i}.{j} about lighthouse number {j}." for j in range(400))
            await store.add(Source(f"doc{i}.txt", text.encode()), chunking=Chunking(24, 4))
            print(i, flush=True)

asyncio.run(main())
"""


def _ingest_then_kill(url: str, after_documents: int, delay: float) -> None:
    """Start an ingest, let ``after_documents`` finish, kill it ``delay`` s into the next."""
    with subprocess.Popen(
        [sys.executable, "-c", INGEST, url],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "GEMGATE_UPSTREAM": "emulator"},
    ) as process:
        assert process.stdout is not None
        for _ in range(after_documents):
            assert process.stdout.readline(), "the ingest ended before it could be killed"
        time.sleep(delay)  # noqa: TID251 - timing a subprocess, outside any event loop
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)


SQLITE_CHECKS = (
    "SELECT count(*) FROM rag_documents d"
    " WHERE d.chunk_count != (SELECT count(*) FROM rag_chunks c WHERE c.document_id = d.id)",
    "SELECT count(*) FROM rag_chunks c"
    " WHERE NOT EXISTS (SELECT 1 FROM rag_documents d WHERE d.id = c.document_id)",
)


async def _still_usable(url: str, committed: int) -> None:
    async with AsyncGemini.emulated(stores_url=url) as g:
        store = await g.stores.open("crash")
        info = await store.refresh()
        assert info.document_count >= committed
        hits = await store.search("lighthouse number 7", k=3)
        assert hits and all(h.document.name.startswith("doc") for h in hits)
        report = await store.add(Source("after.txt", b"Written after the crash, whole."))
        assert [d.name for d in report.added] == ["after.txt"]


@pytest.mark.parametrize("delay", [0.05, 0.3])
def test_sqlite_keeps_only_whole_documents(tmp_path: Path, delay: float) -> None:
    url = f"sqlite:///{tmp_path}/stores.db"
    _ingest_then_kill(url, 2, delay)
    with sqlite3.connect(tmp_path / "stores.db") as db:
        for check in SQLITE_CHECKS:
            assert db.execute(check).fetchone() == (0,), check
        db.execute("INSERT INTO rag_chunks_fts (rag_chunks_fts) VALUES ('integrity-check')")
        assert db.execute("SELECT count(*) FROM rag_documents").fetchone()[0] >= 2
    asyncio.run(_still_usable(url, 2))


def test_postgres_keeps_only_whole_documents(pgvector_url: str) -> None:
    from tests.rag._pgvector import drop_rag_tables

    asyncio.run(drop_rag_tables(pgvector_url))
    _ingest_then_kill(pgvector_url, 2, 0.2)

    async def check() -> None:
        conn = await asyncpg.connect(pgvector_url)
        try:
            for query in SQLITE_CHECKS:
                assert await conn.fetchval(query) == 0, query
            assert await conn.fetchval("SELECT count(*) FROM rag_documents") >= 2
        finally:
            await conn.close()

    asyncio.run(check())
    asyncio.run(_still_usable(pgvector_url, 2))
