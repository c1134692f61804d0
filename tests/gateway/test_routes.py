"""The route table: dispatch, and ``/openapi.json`` made from it (no route undocumented)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx2
import pytest
from starlette.types import Receive, Scope, Send

from gemgate import AsyncGemini
from gemgate.config import Settings
from gemgate.gateway import Gateway, create_app
from gemgate.gateway._faces import face_of
from gemgate.gateway._routing import Doc, Mount, Route, Router

pytestmark = pytest.mark.anyio


@pytest.fixture
async def gateway() -> AsyncIterator[Gateway]:
    client = AsyncGemini(settings=Settings(sessions_url="memory://"))
    yield create_app(client)
    await client.aclose()


async def _document(gateway: Gateway) -> dict[str, object]:
    transport = httpx2.ASGITransport(app=gateway)
    async with httpx2.AsyncClient(transport=transport, base_url="http://gw") as http:
        response = await http.get("/openapi.json")
    assert response.status_code == 200
    document: dict[str, object] = response.json()
    return document


async def test_the_document_lists_exactly_the_table(gateway: Gateway) -> None:
    document = await _document(gateway)
    paths = document["paths"]
    assert isinstance(paths, dict)
    listed = {(path, method.upper()) for path, ops in paths.items() for method in ops}
    table = {(route.path, route.method) for route in gateway.router.routes}
    assert listed == table
    for route in gateway.router.routes:
        operation = paths[route.path][route.method.lower()]
        assert operation["summary"] == route.doc.summary and route.doc.summary
        assert str(route.doc.ok) in operation["responses"]
        error = operation["responses"]["4XX"]["content"]["application/json"]["schema"]
        assert error == {"$ref": f"#/components/schemas/{face_of(route.path).name}"}
        params = [p["name"] for p in operation.get("parameters", [])]
        assert params == re.findall(r"\{(\w+)\}", route.path)
        assert ("requestBody" in operation) == (route.doc.body is not None)
    for name in ("GoogleError", "OpenAIError", "GatewayError"):
        assert name in document["components"]["schemas"]  # type: ignore[index]


async def test_every_documented_route_is_served(gateway: Gateway) -> None:
    for route in gateway.router.routes:
        path = re.sub(r"\{\w+\}", "x", route.path)
        match = gateway.router.match(route.method, path)
        assert match.handler is not None, route
        if not any(path.startswith(m.prefix) for m in gateway.router.mounts):
            assert match.handler == route.handler
            assert match.params == {name: "x" for name in route.params}


async def test_the_main_routes_are_documented(gateway: Gateway) -> None:
    table = {(route.method, route.path) for route in gateway.router.routes}
    for expected in (
        ("POST", "/v1/chat/completions"),
        ("POST", "/v1/embeddings"),
        ("GET", "/v1/models/{model}"),
        ("POST", "/gemini/{version}/models/{model}:generateContent"),
        ("POST", "/api/v1/sessions/{session_id}/messages"),
        ("POST", "/api/v1/models/load"),
        ("GET", "/healthz"),
    ):
        assert expected in table


async def _handler(scope: Scope, receive: Receive, send: Send) -> None:
    raise AssertionError("not called")


async def _other(scope: Scope, receive: Receive, send: Send) -> None:
    raise AssertionError("not called")


def test_router_lookup() -> None:
    router = Router(
        [
            Mount("/gemini/", _other, (Route("GET", "/gemini/{v}/models", _other, Doc("m")),)),
            Route("GET", "/items", _handler, Doc("list")),
            Route("POST", "/items", _other, Doc("make")),
            Route("GET", "/items/{item}", _handler, Doc("one")),
            Route("POST", "/items/{item}/parts", _other, Doc("part"), public=True),
        ]
    )
    assert [r.path for r in router.routes][0] == "/gemini/{v}/models"
    assert router.match("GET", "/items") == (_handler, {}, False, ())
    assert router.match("POST", "/items").handler is _other
    assert router.match("DELETE", "/items") == (None, {}, False, ("GET", "POST"))
    assert router.match("GET", "/items/abc") == (_handler, {"item": "abc"}, False, ())
    assert router.match("POST", "/items/abc/parts") == (_other, {"item": "abc"}, True, ())
    assert router.match("GET", "/items/").handler is None  # a parameter is never empty
    assert router.match("GET", "/items/a/b").handler is None
    assert router.match("PATCH", "/gemini/anything/at/all").handler is _other
    assert router.match("GET", "/gemini").handler is None
    assert router.match("GET", "/nowhere") == (None, {}, False, ())


def test_router_refuses_ambiguous_tables() -> None:
    with pytest.raises(ValueError, match="two routes"):
        Router([Route("GET", "/a", _handler, Doc("a")), Route("GET", "/a", _other, Doc("b"))])
    with pytest.raises(ValueError, match="whole segment"):
        Router([Route("GET", "/a/{b}:c", _handler, Doc("a"))])
