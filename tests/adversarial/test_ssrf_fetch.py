"""SSRF: the image fetcher never reaches loopback, private, link-local or metadata hosts.

Probes every spelling of such addresses, names resolving to them, redirects to them,
non-http schemes, and oversized and slow images; at the fetcher and through the three
faces that fetch image URLs (chat completions, responses, messages).
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from gemgate import AsyncGemini
from gemgate.config import Settings
from gemgate.gateway import create_app
from gemgate.gateway._fetch import FetchError, fetch_image
from tests.conftest import serve_in_loop, stop_serving

pytestmark = pytest.mark.anyio

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64

INTERNAL = [
    "http://127.0.0.1/x.png",
    "http://2130706433/x.png",  # decimal
    "http://0177.0.0.1/x.png",  # octal
    "http://0x7f.1/x.png",  # hex, short
    "http://0x7f000001/x.png",
    "http://127.1/x.png",  # short
    "http://127.0.0.1:6379/x.png",
    "http://[::1]/x.png",
    "http://[::ffff:127.0.0.1]/x.png",  # IPv4-mapped
    "http://[::ffff:7f00:1]/x.png",
    "http://[0:0:0:0:0:ffff:169.254.169.254]/x.png",
    "http://[64:ff9b::7f00:1]/x.png",  # NAT64 of 127.0.0.1
    "http://[64:ff9b::a9fe:a9fe]/x.png",  # NAT64 of 169.254.169.254
    "http://[2002:7f00:1::1]/x.png",  # 6to4 of 127.0.0.1
    "http://[::127.0.0.1]/x.png",  # IPv4-compatible
    "http://169.254.169.254/latest/meta-data/",
    "http://[fd00::1]/x.png",
    "http://[fe80::1]/x.png",
    "http://0.0.0.0/x.png",
    "http://0/x.png",
    "http://10.0.0.1/x.png",
    "http://172.16.0.1/x.png",
    "http://192.168.0.1/x.png",
    "http://100.64.0.1/x.png",  # carrier-grade NAT
    "http://224.0.0.1/x.png",  # multicast
    "http://255.255.255.255/x.png",
    "http://localhost/x.png",
    "http://LOCALHOST./x.png",
    "http://images.localhost/x.png",
    "http://user:pass@127.0.0.1/x.png",
    "http://example.com@127.0.0.1/x.png",
]

SCHEMES = [
    "file:///etc/passwd",
    "gopher://127.0.0.1:6379/_INFO",
    "ftp://example.com/x.png",
    "dict://127.0.0.1:11211/stat",
    "HTTP://127.0.0.1/x.png",
    "//127.0.0.1/x.png",
    "data:text/html;base64,PHNjcmlwdD4=",
    "data:application/octet-stream;base64,AAAA",
    "jar:http://127.0.0.1/x.png!/",
    "http:///x.png",
]


@pytest.mark.parametrize("url", INTERNAL)
async def test_internal_addresses_are_refused_in_every_spelling(url: str) -> None:
    """Refused before any connection: as non-public, or a name that does not resolve."""
    with pytest.raises(FetchError, match="non-public|cannot resolve"):
        await fetch_image(url, max_bytes=10_000)


@pytest.mark.parametrize("url", SCHEMES)
async def test_other_schemes_are_refused(url: str) -> None:
    """The fetcher takes http(s) only (a face passes ``data:`` URLs on without fetching)."""
    with pytest.raises(FetchError):
        await fetch_image(url, max_bytes=10_000)


@pytest.mark.parametrize("address", ["10.1.2.3", "127.0.0.1", "169.254.169.254", "fd00::5"])
async def test_names_resolving_to_internal_addresses_are_refused(
    monkeypatch: pytest.MonkeyPatch, address: str
) -> None:
    """A public-looking name whose DNS answer (one of several) is internal."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET

    async def resolve(self: Any, host: str, port: Any, **kw: Any) -> list[Any]:
        public = (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", 80))
        return [public, (family, socket.SOCK_STREAM, 6, "", (address, 80))]

    monkeypatch.setattr(asyncio.BaseEventLoop, "getaddrinfo", resolve)
    with pytest.raises(FetchError, match="non-public"):
        await fetch_image("http://images.example.com/x.png", max_bytes=10_000)


@pytest.fixture
async def servers() -> AsyncIterator[tuple[str, str, list[str]]]:
    """A redirecting/slow/big image server and an internal one that records its hits."""
    hits: list[str] = []

    async def internal(request: Request) -> Response:
        hits.append(request.url.path)
        return Response(PNG, media_type="image/png")

    inner, inner_task, inner_url = await serve_in_loop(
        Starlette(routes=[Route("/{path:path}", internal)])
    )

    async def redirect(request: Request) -> Response:
        target = request.query_params["to"]
        return Response(
            status_code=int(request.query_params.get("code", 302)), headers={"location": target}
        )

    async def big(request: Request) -> Response:
        return Response(PNG + b"\0" * 50_000, media_type="image/png")

    async def endless(request: Request) -> StreamingResponse:
        async def chunks() -> AsyncIterator[bytes]:
            yield PNG
            while True:
                yield b"\0" * 65536
                await asyncio.sleep(0)

        return StreamingResponse(chunks(), media_type="image/png")

    async def slow(request: Request) -> StreamingResponse:
        async def chunks() -> AsyncIterator[bytes]:
            yield PNG
            for _ in range(60):
                await asyncio.sleep(0.05)
                yield b"\0"

        return StreamingResponse(chunks(), media_type="image/png")

    async def stalled(request: Request) -> Response:
        await asyncio.sleep(3)  # past the fetcher's cap; short, as shutdown waits for it
        return Response(PNG, media_type="image/png")

    outer, outer_task, outer_url = await serve_in_loop(
        Starlette(
            routes=[
                Route("/redirect", redirect),
                Route("/big.png", big),
                Route("/endless.png", endless),
                Route("/slow.png", slow),
                Route("/stalled.png", stalled),
            ]
        )
    )
    try:
        yield outer_url, inner_url, hits
    finally:
        await stop_serving(outer, outer_task)
        await stop_serving(inner, inner_task)


@pytest.mark.parametrize("code", [301, 302, 303, 307, 308])
async def test_redirects_to_internal_hosts_are_refused(
    servers: tuple[str, str, list[str]], code: int
) -> None:
    """The first hop is allowed on loopback (test-only); the hop it redirects to is not taken."""
    outer, inner, hits = servers
    for target in (f"{inner}/secret.png", "http://169.254.169.254/latest/meta-data/"):
        url = f"{outer}/redirect?code={code}&to={target}"
        with pytest.raises(FetchError):
            await fetch_image(url, max_bytes=10_000, allow_private=True)
    assert hits == []


async def test_oversized_images_are_capped(servers: tuple[str, str, list[str]]) -> None:
    outer, _, _ = servers
    for path in ("/big.png", "/endless.png"):
        with pytest.raises(FetchError) as caught:
            await fetch_image(f"{outer}{path}", max_bytes=10_000, allow_private=True)
        assert caught.value.status == 413


async def test_slow_images_are_cut_off(servers: tuple[str, str, list[str]]) -> None:
    outer, _, _ = servers
    for path in ("/slow.png", "/stalled.png"):
        with pytest.raises(FetchError, match="failed"):
            await fetch_image(f"{outer}{path}", max_bytes=10_000, seconds=0.5, allow_private=True)


def _bodies(url: str) -> dict[str, dict[str, Any]]:
    """A request carrying image ``url`` for each face that fetches image URLs."""
    model = "gemini-2.5-flash"
    return {
        "/v1/chat/completions": {
            "model": model,
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "what is this?"},
                        {"type": "image_url", "image_url": {"url": url}},
                    ],
                }
            ],
        },
        "/v1/responses": {
            "model": model,
            "input": [
                {
                    "role": "user",
                    "content": [
                        {"type": "input_text", "text": "what is this?"},
                        {"type": "input_image", "image_url": url},
                    ],
                }
            ],
        },
        "/v1/messages": {
            "model": model,
            "max_tokens": 64,
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "what is this?"},
                        {"type": "image", "source": {"type": "url", "url": url}},
                    ],
                }
            ],
        },
    }


GATEWAY_URLS = [
    "http://2130706433/x.png",
    "http://[::ffff:127.0.0.1]/x.png",
    "http://169.254.169.254/latest/meta-data/",
    "http://images.localhost/x.png",
    *[u for u in SCHEMES if not u.startswith("data:")],
]
"""``data:`` URLs are not fetched: the model is sent their bytes (a PDF, say), so no probe."""


@pytest.fixture
async def gateway(tmp_path: Path) -> AsyncIterator[httpx2.AsyncClient]:
    client = AsyncGemini(settings=Settings(sessions_url=f"sqlite:///{tmp_path}/s.db"))
    transport = httpx2.ASGITransport(app=create_app(client))
    async with httpx2.AsyncClient(transport=transport, base_url="http://gw") as http:
        yield http
    await client.aclose()


@pytest.mark.parametrize("url", GATEWAY_URLS)
async def test_every_face_refuses_internal_and_odd_image_urls(
    gateway: httpx2.AsyncClient, url: str
) -> None:
    for path, body in _bodies(url).items():
        got = await gateway.post(path, json=body)
        assert got.status_code == 400, (path, got.status_code, got.text[:300])
        error = got.json()["error"]
        assert isinstance(error, dict) and error.get("message"), (path, got.text[:300])
