"""http(s) image URLs in OpenAI messages: fetched with an SSRF guard and a size cap."""

from __future__ import annotations

import base64
import struct
import zlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route

from gemgate import AsyncGemini
from gemgate.config import Settings
from gemgate.gateway import create_app
from gemgate.gateway._fetch import FetchError, fetch_image
from tests.conftest import serve_in_loop, stop_serving

pytestmark = pytest.mark.anyio


def _png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0\0\0\0"))
        + chunk(b"IEND", b"")
    )


@pytest.fixture
async def image_server() -> AsyncIterator[str]:
    async def image(request: Any) -> Response:
        return Response(_png(), media_type="image/png")

    async def big(request: Any) -> Response:
        return Response(b"\0" * 5000, media_type="image/png")

    async def text(request: Any) -> Response:
        return Response(b"hello", media_type="text/plain")

    async def moved(request: Any) -> Response:
        return Response(status_code=302, headers={"location": "/image.png"})

    app = Starlette(
        routes=[
            Route("/image.png", image),
            Route("/big.png", big),
            Route("/page", text),
            Route("/moved", moved),
        ]
    )
    server, task, base = await serve_in_loop(app)
    yield base
    await stop_serving(server, task)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/x.png",
        "http://localhost/x.png",
        "http://10.0.0.8/x.png",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/x.png",
        "ftp://example.com/x.png",
    ],
)
async def test_private_and_odd_urls_are_refused(url: str) -> None:
    with pytest.raises(FetchError):
        await fetch_image(url, max_bytes=1000)


async def test_fetch_checks_type_size_and_redirects(image_server: str) -> None:
    fetched = await fetch_image(f"{image_server}/image.png", max_bytes=10_000, allow_private=True)
    assert fetched.startswith("data:image/png;base64,")
    assert base64.b64decode(fetched.split(",", 1)[1]) == _png()
    for path, message in (("/big.png", "exceeds"), ("/page", "not an image"), ("/moved", "302")):
        with pytest.raises(FetchError, match=message):
            await fetch_image(f"{image_server}{path}", max_bytes=1000, allow_private=True)


async def _chat(settings: Settings, url: str) -> httpx2.Response:
    client = AsyncGemini(settings=settings)
    transport = httpx2.ASGITransport(app=create_app(client))
    body = {
        "model": "gemini-2.5-flash",
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is in this image?"},
                    {"type": "image_url", "image_url": {"url": url}},
                ],
            }
        ],
    }
    async with httpx2.AsyncClient(transport=transport, base_url="http://gw") as http:
        response = await http.post("/v1/chat/completions", json=body)
    await client.aclose()
    return response


async def test_gateway_fetches_allowed_urls_and_refuses_private_ones(
    image_server: str, tmp_path: Path
) -> None:
    store = f"sqlite:///{tmp_path}/s.db"
    refused = await _chat(Settings(sessions_url=store), f"{image_server}/image.png")
    assert refused.status_code == 400
    assert "non-public" in refused.json()["error"]["message"]
    allowed = await _chat(
        Settings(sessions_url=store, image_fetch_private=True), f"{image_server}/image.png"
    )
    assert allowed.status_code == 200, allowed.text
    assert allowed.json()["usage"]["prompt_tokens"] >= 258  # the image reached the model
