"""``GET /static/…``: the web page's own files, served from the package and nothing else."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx2
import pytest

from gemgate import AsyncGemini
from gemgate.config import Settings
from gemgate.gateway import create_app
from gemgate.gateway._assets import STATIC
from gemgate.projects import GatewayKey, hash_secret

pytestmark = pytest.mark.anyio


@pytest.fixture
async def http(tmp_path: Path) -> AsyncIterator[httpx2.AsyncClient]:
    """A gateway with keys: the page and its assets must still load without one."""
    keys = [GatewayKey(name="alice", secret_sha256=hash_secret("s3cret"))]
    settings = Settings(gateway_keys=keys, sessions_url=f"sqlite:///{tmp_path}/s.db")
    client = AsyncGemini(settings=settings)
    transport = httpx2.ASGITransport(app=create_app(client))
    async with httpx2.AsyncClient(transport=transport, base_url="http://gw") as http:
        yield http
    await client.aclose()


async def test_the_page_and_every_asset_it_names_load_without_a_key(
    http: httpx2.AsyncClient,
) -> None:
    page = await http.get("/")
    assert page.status_code == 200
    named = re.findall(r'(?:src|href)="(/static/[^"]+)"', page.text)
    assert "/static/app.js" in named and "/static/vendor/marked.min.js" in named
    assert not re.search(r'(?:src|href)="(?:https?:)?//', page.text)  # nothing from elsewhere
    for path in named:
        response = await http.get(path)
        assert response.status_code == 200, path
        assert response.headers["cache-control"] == "no-cache"
        kind = "text/css" if path.endswith(".css") else "text/javascript"
        assert response.headers["content-type"] == f"{kind}; charset=utf-8"
        assert response.content == (STATIC / path.removeprefix("/static/")).read_bytes()


async def test_a_module_imported_by_the_page_loads(http: httpx2.AsyncClient) -> None:
    app = await http.get("/static/app.js")
    for module in re.findall(r'from "\./([\w.-]+\.js)"', app.text):
        assert (await http.get(f"/static/{module}")).status_code == 200, module


async def test_an_unchanged_asset_is_answered_304_by_its_etag(http: httpx2.AsyncClient) -> None:
    first = await http.get("/static/app.css")
    etag = first.headers["etag"]
    assert re.fullmatch(r'"[0-9a-f]{32}"', etag)
    again = await http.get("/static/app.css", headers={"if-none-match": f'W/{etag}, "x"'})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == etag
    changed = await http.get("/static/app.css", headers={"if-none-match": '"other"'})
    assert changed.status_code == 200 and changed.content == first.content


@pytest.mark.parametrize(
    "path",
    [
        "/static/missing.js",
        "/static/index.html",  # served at / only
        "/static/vendor/README.md",  # not a web asset type
        "/static/.hidden.js",
        "/static/vendor/LICENSE-marked.md",
    ],
)
async def test_anything_else_is_not_found(http: httpx2.AsyncClient, path: str) -> None:
    response = await http.get(path)
    assert response.status_code == 404
    assert "detail" in response.json()


@pytest.mark.parametrize(
    "path",
    [
        "/static/..%2F_app.py",
        "/static/%2e%2e/_app.py",
        "/static/vendor/../../_app.py",
        "/static/a/b/c.js",
    ],
)
async def test_other_paths_are_not_assets(http: httpx2.AsyncClient, path: str) -> None:
    """Outside the two asset routes, a path is the gateway's: without a key, refused."""
    response = await http.get(path)
    assert response.status_code == 401
    assert "import" not in response.text
