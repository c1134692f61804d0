"""A gateway with two keys (``a``, ``b``) in-process, for the retrieval tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx2
import openai

from gemgate import AsyncGemini
from gemgate.config import Settings
from gemgate.gateway import Gateway, create_app
from gemgate.projects import GatewayKey, hash_secret

KEY_A = "key-a"
KEY_B = "key-b"


@asynccontextmanager
async def rag_gateway(
    tmp_path: Path,
    max_body: int = 64 * 1024,
    *,
    fetch_private: bool = False,
    stores_url: str | None = None,
) -> AsyncIterator[Gateway]:
    """The gateway over the emulator, its sessions, files and stores in ``tmp_path``.

    ``fetch_private`` lets it fetch document URLs on loopback (a test server);
    ``stores_url`` picks another store backend (``gemini://file-search``).
    """
    keys = [
        GatewayKey(name="a", secret_sha256=hash_secret(KEY_A)),
        GatewayKey(name="b", secret_sha256=hash_secret(KEY_B)),
    ]
    settings = Settings(
        gateway_keys=keys,
        sessions_url=f"sqlite:///{tmp_path}/gw.db",
        max_body_bytes=max_body,
        image_fetch_private=fetch_private,
        stores_url=stores_url,
    )
    client = AsyncGemini(settings=settings)
    app = create_app(client)
    try:
        yield app
    finally:
        await app.aclose()


def http_of(app: Gateway, key: str) -> httpx2.AsyncClient:
    """A raw client on ``app`` with ``key``."""
    return httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=app),
        base_url="http://gateway",
        headers={"authorization": f"Bearer {key}"},
    )


def openai_of(app: Gateway, key: str) -> openai.AsyncOpenAI:
    """The official OpenAI client on ``app``'s ``/v1`` with ``key``."""
    http = httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app))
    return openai.AsyncOpenAI(
        api_key=key, base_url="http://gateway/v1", http_client=http, max_retries=0
    )
