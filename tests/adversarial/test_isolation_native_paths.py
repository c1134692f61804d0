"""Path tricks on the native relay (``/gemini/...``) never reach another upstream path.

A recording upstream on 127.0.0.1 (behind a base path, ``/base``) keeps every request the
gateway sends it; whatever a client puts in the path, the upstream sees only paths under
``/base/v1beta/`` with no dot segments, empty segments or backslashes, with the gateway's
own key and never the client's.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from gemgate import AsyncGemini
from gemgate.config import RetrySettings, Settings
from gemgate.gateway import Gateway, create_app
from gemgate.projects import GatewayKey, hash_secret
from tests.adversarial._isolation_support import Recorder, raw_request

pytestmark = pytest.mark.anyio

CLIENT_SECRET = "client-secret-" + "x7q9"
OWN_KEY = "gateway-own-upstream-" + "key"
BODY = b'{"contents":[{"parts":[{"text":"hi"}]}]}'

PROBES: list[tuple[str, str, str]] = [
    ("dot-dot", "GET", "/gemini/v1beta/models/../../admin"),
    ("dot-dot-encoded", "GET", "/gemini/v1beta/models/%2e%2e/%2e%2e/admin"),
    ("dot-dot-mixed-case", "GET", "/gemini/v1beta/models/%2E%2E/%2e./admin"),
    ("single-dot", "GET", "/gemini/v1beta/./models"),
    ("encoded-slash", "GET", "/gemini/v1beta/models%2f..%2f..%2fadmin"),
    ("double-slash", "GET", "/gemini//evil.example/v1beta/models"),
    ("double-slash-inner", "GET", "/gemini/v1beta//models"),
    ("absolute-url", "GET", "/gemini/http://evil.example/v1beta/models"),
    ("absolute-url-encoded", "GET", "/gemini/http:%2f%2fevil.example/v1beta/models"),
    ("key-in-query", "GET", f"/gemini/v1beta/models?key={CLIENT_SECRET}"),
    ("key-in-query-twice", "GET", f"/gemini/v1beta/models?pageSize=1&key={CLIENT_SECRET}"),
    ("encoded-question-mark", "GET", "/gemini/v1beta/models/x%3fkey=stolen"),
    ("encoded-hash", "GET", "/gemini/v1beta/models/x%23frag"),
    (
        "crlf-in-model",
        "POST",
        "/gemini/v1beta/models/gemini-2.5-flash%0d%0aX-Injected:%201:generateContent",
    ),
    ("lf-in-model", "POST", "/gemini/v1beta/models/gemini%0aflash:generateContent"),
    ("nul-in-model", "POST", "/gemini/v1beta/models/gemini%00flash:generateContent"),
    ("backslash", "GET", "/gemini/v1beta/models/..\\..\\admin"),
    ("backslash-encoded", "GET", "/gemini/v1beta/models/..%5c..%5cadmin"),
    ("dot-dot-in-model-action", "POST", "/gemini/v1beta/models/..%2f..%2fadmin:generateContent"),
]


@pytest.fixture
async def relay() -> AsyncIterator[tuple[Gateway, Recorder]]:
    recorder = Recorder()
    await recorder.start()
    settings = Settings(
        gateway_keys=[GatewayKey(name="a", secret_sha256=hash_secret(CLIENT_SECRET))],
        sessions_url="sqlite:///:memory:",
        upstream_url=recorder.url + "/base",
        retry=RetrySettings(max_retries=0),
    )
    client = AsyncGemini(api_key=OWN_KEY, settings=settings)
    try:
        yield create_app(client), recorder
    finally:
        await client.aclose()
        await recorder.stop()


@pytest.mark.parametrize(("method", "target"), [p[1:] for p in PROBES], ids=[p[0] for p in PROBES])
async def test_native_path_tricks_stay_on_the_relay(
    relay: tuple[Gateway, Recorder], method: str, target: str
) -> None:
    app, recorder = relay
    headers = {} if "key=" in target else {"x-goog-api-key": CLIENT_SECRET}
    answer = await raw_request(app, method, target, headers, BODY if method == "POST" else b"")
    assert answer.status < 500, answer.body
    assert CLIENT_SECRET.encode() not in answer.body
    for seen in recorder.seen:
        path = seen.target.partition("?")[0]
        assert path.startswith("/base/v1beta/"), seen.target
        segments = path.split("/")[1:]
        assert all(s not in ("", ".", "..") for s in segments), seen.target
        assert "\\" not in seen.target and "%5c" not in seen.target.lower(), seen.target
        assert "key=" not in seen.target.partition("?")[2], seen.target
        assert CLIENT_SECRET not in seen.target
        assert all(CLIENT_SECRET not in v for v in seen.headers.values()), seen.headers
        assert seen.headers.get("x-goog-api-key") == OWN_KEY
        assert "x-injected" not in seen.headers


async def test_a_plain_relay_reaches_the_upstream(relay: tuple[Gateway, Recorder]) -> None:
    """The probes' control: an ordinary request is relayed, with the gateway's key."""
    app, recorder = relay
    answer = await raw_request(
        app, "GET", "/gemini/v1beta/models", {"x-goog-api-key": CLIENT_SECRET}
    )
    assert answer.status == 200
    assert [s.target for s in recorder.seen] == ["/base/v1beta/models"]
    assert recorder.seen[0].headers["x-goog-api-key"] == OWN_KEY
