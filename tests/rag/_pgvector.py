"""A PostgreSQL server with pgvector for the tests: the machine's, or a private one.

The machine's server (``tests.servers.POSTGRES_URL``) is used when it has pgvector;
otherwise the binaries bundled by the ``pgserver`` package (PostgreSQL 16 with pgvector)
run a throwaway cluster for the session. Without either the tests skip, or fail in CI.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import importlib.util
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from tests.servers import POSTGRES_URL, reachable

__all__ = ["drop_rag_tables", "pgvector_url", "server_has_pgvector"]

UNAVAILABLE = (
    "pgvector is not installable here: neither the server at 127.0.0.1:5432 has it "
    "nor is pgserver installed"
)


def server_has_pgvector(url: str) -> bool:
    """Whether the server at ``url`` answers and can create the ``vector`` extension."""

    async def probe() -> bool:
        try:
            conn = await asyncpg.connect(url, timeout=3)
        except (TimeoutError, OSError, asyncpg.PostgresError):
            return False
        try:
            await conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        except asyncpg.PostgresError:
            return False
        finally:
            await conn.close()
        return True

    with concurrent.futures.ThreadPoolExecutor(1) as pool:  # callable inside a running loop
        return pool.submit(asyncio.run, probe()).result()


async def drop_rag_tables(url: str) -> None:
    """Drop the ``rag_*`` tables (and so every store's index) for a test that starts clean."""
    conn = await asyncpg.connect(url, timeout=10)
    try:
        await conn.execute("DROP TABLE IF EXISTS rag_chunks, rag_documents, rag_stores CASCADE")
    finally:
        await conn.close()


def _pginstall() -> Path | None:
    spec = importlib.util.find_spec("pgserver")
    if spec is None or not spec.submodule_search_locations:
        return None
    root = Path(next(iter(spec.submodule_search_locations))) / "pginstall"
    return root if (root / "bin" / "pg_ctl").exists() else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _run(args: list[str]) -> None:
    if os.geteuid() == 0:
        args = ["runuser", "-u", "postgres", "--", *args]
    done = subprocess.run(args, capture_output=True, text=True, timeout=60, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{Path(args[-1]).name}: {done.stderr or done.stdout}")


@pytest.fixture(scope="session")
def pgvector_url() -> Iterator[str]:
    """A ``postgresql://`` URL of a server where ``CREATE EXTENSION vector`` works."""
    if reachable(5432) and server_has_pgvector(POSTGRES_URL):
        yield POSTGRES_URL
        return
    pginstall = _pginstall()
    if pginstall is None:
        if os.environ.get("CI") == "true":
            pytest.fail(UNAVAILABLE + " (CI must run these tests)")
        pytest.skip(UNAVAILABLE)
    base = Path(tempfile.mkdtemp(prefix="gemgate-pg-"))
    data, log, port = base / "data", base / "log", _free_port()
    pg_ctl = str(pginstall / "bin" / "pg_ctl")
    options = f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off"
    try:
        base.chmod(0o755)
        if os.geteuid() == 0:
            shutil.chown(base, user="postgres", group="postgres")
        _run([str(pginstall / "bin" / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"])
        _run([pg_ctl, "-D", str(data), "-o", options, "-l", str(log), "-w", "start"])
    except (OSError, LookupError, RuntimeError, subprocess.TimeoutExpired) as exc:
        tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
        shutil.rmtree(base, ignore_errors=True)
        pytest.fail(f"the private pgvector server did not start: {exc}\n{tail}")
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        _run([pg_ctl, "-D", str(data), "-m", "fast", "-w", "stop"])
        shutil.rmtree(base, ignore_errors=True)
