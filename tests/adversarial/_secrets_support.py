"""Helpers for the secrets probes: a recognisable fake Gemini key and dumps of every store.

The key is built from pieces at run time (the repository holds no key-shaped literal) and
carries a random part, so an earlier run's leftovers in a shared Redis or PostgreSQL never
match, and a match is this run's leak.
"""

from __future__ import annotations

import os
from pathlib import Path

import asyncpg
import redis.asyncio as aioredis

PREFIX = "".join(["AI", "za", "Sy"])


def fake_key() -> str:
    """A fresh key with Google's shape: the prefix then 35 characters."""
    return PREFIX + ("LeakProbe" + os.urandom(13).hex())[:35]


def files_under(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` (SQLite files, their journals, anything written), by path."""
    return {str(p): p.read_bytes() for p in root.rglob("*") if p.is_file()}


async def redis_dump(url: str) -> bytes:
    """Every key of the Redis database with its value, as bytes."""
    client = aioredis.Redis.from_url(url)
    out = bytearray()
    try:
        async for key in client.scan_iter(count=1000):
            out += key + b"\n"
            kind = (await client.type(key)).decode()
            if kind == "string":
                out += await client.get(key) or b""
            elif kind == "hash":
                for field, value in (await client.hgetall(key)).items():
                    out += field + b"=" + value + b"\n"
            elif kind == "list":
                out += b"\n".join(await client.lrange(key, 0, -1))
            elif kind == "set":
                out += b"\n".join(await client.smembers(key))
            elif kind == "zset":
                out += b"\n".join(await client.zrange(key, 0, -1))
            elif kind == "stream":
                for _, fields in await client.xrange(key):
                    out += b"".join(k + b"=" + v for k, v in fields.items())
            out += b"\n"
    finally:
        await client.aclose()
    return bytes(out)


async def postgres_dump(url: str) -> str:
    """Every row of every table of the database's public schema, as text."""
    conn = await asyncpg.connect(url)
    try:
        tables = await conn.fetch("select tablename from pg_tables where schemaname = 'public'")
        rows = []
        for table in tables:
            name = table["tablename"].replace('"', '""')
            rows += [str(dict(r)) for r in await conn.fetch(f'select * from "{name}"')]
        return "\n".join(rows)
    finally:
        await conn.close()
