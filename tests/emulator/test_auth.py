"""API keys: header or query, 403 without one, 400 API_KEY_INVALID for unknown ones."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx2
import pytest
from google.genai import errors

from gemgate.emulator import EmulatorConfig, create_app
from gemgate.wire import parse_error

from .conftest import KEY, Target

pytestmark = [
    pytest.mark.anyio,
    # google-genai subclasses aiohttp.ClientSession when aiohttp is installed.
]
MODEL = "gemini-2.5-flash"
BODY = {"contents": [{"role": "user", "parts": [{"text": "who am I?"}]}]}
SECRET = "not-configured-secret-0123456789"
NO_KEY = (
    "Method doesn't allow unregistered callers (callers without established identity). "
    "Please use API Key or other form of API consumer identity to call this API."
)
# Every kind of call that needs a key: (method, path, JSON body or None).
CALLS = [
    ("POST", f"/v1beta/models/{MODEL}:generateContent", BODY),
    ("POST", f"/v1beta/models/{MODEL}:streamGenerateContent?alt=sse", BODY),
    ("POST", f"/v1beta/models/{MODEL}:countTokens", BODY),
    ("POST", "/v1beta/models/text-embedding-004:embedContent", {"content": BODY["contents"][0]}),
    ("GET", "/v1beta/models", None),
    ("GET", f"/v1beta/models/{MODEL}", None),
    ("GET", "/v1beta/cachedContents", None),
    ("GET", "/v1beta/files", None),
    ("GET", "/v1/models", None),
    ("POST", "/v1alpha/models/gemini-nope:generateContent", BODY),
]


async def _call(
    http: httpx2.AsyncClient,
    method: str,
    path: str,
    body: object,
    headers: dict[str, str] | None = None,
    params: dict[str, str] | None = None,
) -> httpx2.Response:
    return await http.request(method, path, json=body, headers=headers, params=params)


async def test_header_and_query_key_both_work(target: Target) -> None:
    url = f"/v1beta/models/{MODEL}:generateContent"
    by_header = await target.http.post(url, json=BODY, headers={"x-goog-api-key": KEY})
    by_query = await target.http.post(url, json=BODY, params={"key": KEY})
    assert by_header.status_code == by_query.status_code == 200
    assert by_header.json()["candidates"] == by_query.json()["candidates"]
    # A project's second key works as well as its first, by either route.
    other = await target.http.post(url, json=BODY, params={"key": "key-a2"})
    assert other.status_code == 200


async def test_sdk_sends_the_header(target: Target) -> None:
    client = target.sdk(key="key-a1")
    response = await client.aio.models.generate_content(model=MODEL, contents="hi")
    assert response.text
    stats = await target.stats()
    assert stats["projects"]["proj-a"]["admitted"] == 1


@pytest.mark.parametrize(("method", "path", "body"), CALLS)
async def test_missing_key_is_403(target: Target, method: str, path: str, body: object) -> None:
    for headers in (None, {"x-goog-api-key": ""}):
        response = await _call(target.http, method, path, body, headers=headers)
        assert response.status_code == 403, response.text
        parsed = parse_error(response.content, status_code=403)
        assert (parsed.code, parsed.status, parsed.message) == (403, "PERMISSION_DENIED", NO_KEY)
    empty_query = await _call(target.http, method, path, body, params={"key": ""})
    assert empty_query.status_code == 403


@pytest.mark.parametrize(("method", "path", "body"), CALLS)
async def test_unconfigured_key_is_400_api_key_invalid(
    target: Target, method: str, path: str, body: object
) -> None:
    for headers, params in (({"x-goog-api-key": SECRET}, None), (None, {"key": SECRET})):
        response = await _call(target.http, method, path, body, headers=headers, params=params)
        assert response.status_code == 400, response.text
        parsed = parse_error(response.content, status_code=400)
        assert parsed.status == "INVALID_ARGUMENT"
        assert parsed.message == "API key not valid. Please pass a valid API key."
        assert parsed.api_key_invalid and parsed.domain == "googleapis.com"
        assert parsed.metadata == {"service": "generativelanguage.googleapis.com"}
        assert SECRET not in response.text
        assert all(SECRET not in value for value in response.headers.values())


async def test_sdk_unconfigured_key(target: Target) -> None:
    client = target.sdk(key=SECRET)
    with pytest.raises(errors.ClientError) as info:
        await client.aio.models.generate_content(model=MODEL, contents="hi")
    assert info.value.code == 400
    assert parse_error(info.value.details, status_code=400).reason == "API_KEY_INVALID"
    assert SECRET not in str(info.value)
    with pytest.raises(errors.ClientError) as listing:
        await client.aio.models.list()
    assert listing.value.code == 400


async def test_auth_is_checked_before_the_model_and_the_body(target: Target) -> None:
    url = "/v1beta/models/gemini-nope:generateContent"
    assert (await target.http.post(url, content=b"{broken")).status_code == 403
    bad_key = await target.http.post(url, content=b"{broken", headers={"x-goog-api-key": SECRET})
    assert bad_key.status_code == 400 and parse_error(bad_key.content, status_code=400).reason
    good = await target.http.post(url, json=BODY, headers={"x-goog-api-key": KEY})
    assert good.status_code == 404


async def test_keys_never_echoed_in_errors(target: Target) -> None:
    """Whatever goes wrong, neither a good nor a bad key comes back in a response."""
    cases = [
        (f"/v1beta/models/{MODEL}:generateContent", {"contents": [], "key": KEY}),
        (f"/v1beta/models/{MODEL}:generateContent", {"contents": "x"}),
        ("/v1beta/models/gemini-nope:generateContent", BODY),
        (f"/v1beta/models/{MODEL}:noSuchMethod", BODY),
        ("/v1beta/cachedContents/does-not-exist", None),
        ("/v1beta/files/does-not-exist", None),
        ("/v1beta/nowhere", None),
    ]
    for key in (KEY, "key-a1", SECRET):
        for path, body in cases:
            method = "GET" if body is None else "POST"
            for route in ("header", "query"):
                headers = {"x-goog-api-key": key} if route == "header" else None
                params = {"key": key} if route == "query" else None
                response = await _call(target.http, method, path, body, headers, params)
                assert response.status_code >= 400, (path, response.text)
                assert key not in response.text, (path, route)
                assert all(key not in value for value in response.headers.values())


@pytest.fixture
async def open_emulator() -> AsyncIterator[httpx2.AsyncClient]:
    emulator = create_app(EmulatorConfig(), control=True)
    transport = httpx2.ASGITransport(app=emulator)
    async with httpx2.AsyncClient(transport=transport, base_url="http://open.local") as http:
        yield http


async def test_no_projects_configured_accepts_any_key(
    open_emulator: httpx2.AsyncClient,
) -> None:
    url = f"/v1beta/models/{MODEL}:generateContent"
    for key in ("anything", SECRET, "x"):
        response = await open_emulator.post(url, json=BODY, headers={"x-goog-api-key": key})
        assert response.status_code == 200, response.text
    assert (
        await open_emulator.post(url, json=BODY, params={"key": "via-query"})
    ).status_code == 200
    missing = await open_emulator.post(url, json=BODY)
    assert missing.status_code == 403
    empty = await open_emulator.post(url, json=BODY, headers={"x-goog-api-key": ""})
    assert empty.status_code == 403
    stats = (await open_emulator.get("/_emulator/stats")).json()
    assert list(stats["projects"]) == ["default"]
    assert stats["projects"]["default"]["admitted"] == 4
    assert stats["projects"]["default"]["rate_limited"] == 0
