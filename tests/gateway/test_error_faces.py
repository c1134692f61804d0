"""One failure, one status, on every face; each body in its face's documented shape.

Each case injects one failure (an emulator fault, an unreachable upstream, a body cap)
into a fresh client and gateway, then sends the same kind of request to ``/gemini``,
``/v1`` and ``/api/v1``. The bodies are checked against the error schemas that
``/openapi.json`` publishes for each face.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx2
import jsonschema
import openai
import pytest

from gemgate import AsyncGemini
from gemgate.config import BackendConfig, RetrySettings, Settings, Timeouts
from gemgate.gateway import Gateway, create_app
from tests.conftest import serve_in_loop, stop_serving

from .conftest import FLASH, Stack

pytestmark = pytest.mark.anyio

USER = [{"role": "user", "content": "hello"}]
NATIVE = f"/gemini/v1beta/models/{FLASH}:generateContent"
CONTENTS = {"contents": [{"role": "user", "parts": [{"text": "hello"}]}]}
HUGE = "x" * (1024 * 1024 + 10)  # over every body cap the gateway has
SHORT = Timeouts(
    connect=1, generate=0.3, stream_first_byte=0.3, stream_idle=0.3, embed=0.3, other=0.3, total=5
)


@dataclass
class Request:
    method: str
    path: str
    json: Any = None
    content: bytes | None = None


@dataclass
class Case:
    status: int
    native: Request
    openai: Request
    api: Request
    faults: tuple[dict[str, Any], ...] = ()
    settings: dict[str, Any] = field(default_factory=dict)
    """Client settings; ``upstream_url=None`` keeps the stack's emulator."""


def _chat(**extra: Any) -> Request:
    return Request("POST", "/v1/chat/completions", {"model": FLASH, "messages": USER, **extra})


def _message(**extra: Any) -> Request:
    return Request("POST", "/api/v1/sessions/{sid}/messages", {"content": "hello", **extra})


def _upstream(status: int, *faults: dict[str, Any], **settings: Any) -> Case:
    """A failure of the upstream, met by a generation request on each face."""
    generate = Request("POST", NATIVE, CONTENTS)
    return Case(status, generate, _chat(), _message(), faults, settings)


CASES = {
    "upstream timeout": _upstream(504, {"kind": "delay", "delay_ms": 1500}, timeouts=SHORT),
    "unreachable upstream": _upstream(503, upstream_url="http://127.0.0.1:1"),
    "upstream hangs up": _upstream(502, {"kind": "drop"}),
    "quota exhausted": _upstream(
        429, {"kind": "status", "status": 429, "retry_delay": "30s"}, timeouts=SHORT
    ),
    "upstream 4xx": _upstream(
        400, {"kind": "status", "status": 400, "message": "the upstream refuses this"}
    ),
    "unknown model": Case(
        404,
        Request("POST", "/gemini/v1beta/models/gpt-4o:generateContent", CONTENTS),
        Request("POST", "/v1/chat/completions", {"model": "gpt-4o", "messages": USER}),
        _message(model="gpt-4o"),
    ),
    "oversized body": Case(
        413,
        Request("POST", NATIVE, {"contents": [{"parts": [{"text": HUGE}]}]}),
        Request("POST", "/v1/chat/completions", {"model": FLASH, "messages": HUGE}),
        _message(content=HUGE),
    ),
    "malformed JSON": Case(
        400,
        Request("POST", NATIVE, content=b'{"contents": ['),
        Request("POST", "/v1/chat/completions", content=b'{"model": "x", "messages": ['),
        Request("POST", "/api/v1/sessions", content=b'{"title": '),
    ),
    "unknown route": Case(
        404,
        Request("GET", "/gemini"),
        Request("GET", "/v1/no-such-endpoint"),
        Request("GET", "/api/v1/no-such-endpoint"),
    ),
}


@dataclass
class Front:
    """A gateway (in-process) over a client configured for one case."""

    gateway: Gateway
    http: httpx2.AsyncClient
    schemas: dict[str, Any]


@pytest.fixture
async def front(stack: Stack, request: pytest.FixtureRequest) -> AsyncIterator[Front]:
    case: Case = CASES[request.param]
    await stack.faults(*case.faults)
    settings = {"upstream_url": stack.emulator_url, **case.settings}
    client = AsyncGemini(
        api_key="k", retry=RetrySettings(max_retries=0), sessions_url="memory://", **settings
    )
    gateway = create_app(client, max_body=1000)
    transport = httpx2.ASGITransport(app=gateway)
    async with httpx2.AsyncClient(transport=transport, base_url="http://gw", timeout=30) as http:
        schemas = (await http.get("/openapi.json")).json()["components"]["schemas"]
        yield Front(gateway, http, schemas)
    await gateway.aclose()


async def _send(front: Front, request: Request) -> httpx2.Response:
    path = request.path
    if "{sid}" in path:
        session = await front.http.post("/api/v1/sessions", json={})
        path = path.replace("{sid}", session.json()["id"])
    if request.content is not None:
        headers = {"content-type": "application/json"}
        return await front.http.request(
            request.method, path, content=request.content, headers=headers
        )
    return await front.http.request(request.method, path, json=request.json)


@pytest.mark.parametrize("front", list(CASES), indirect=True)
async def test_same_failure_same_status_on_every_face(
    front: Front, request: pytest.FixtureRequest
) -> None:
    case = CASES[request.node.callspec.params["front"]]
    shapes = (
        ("GoogleError", case.native),
        ("OpenAIError", case.openai),
        ("GatewayError", case.api),
    )
    for schema, sent in shapes:
        response = await _send(front, sent)
        assert response.status_code == case.status, (sent.path, response.text)
        body = response.json()
        jsonschema.validate(body, front.schemas[schema])
        assert response.headers["x-request-id"]
        if schema == "GoogleError":
            assert body["error"]["code"] == case.status
        if case.status == 429:
            assert 25 <= int(response.headers["retry-after"]) <= 30, response.headers


@pytest.mark.parametrize("front", ["upstream timeout"], indirect=True)
async def test_a_timeout_is_a_deadline_on_the_native_face(front: Front) -> None:
    response = await front.http.post(NATIVE, json=CONTENTS)
    assert response.json()["error"]["status"] == "DEADLINE_EXCEEDED"


@pytest.mark.parametrize("front", ["unreachable upstream"], indirect=True)
async def test_an_unreachable_upstream_is_unavailable_with_a_wait_on_every_face(
    front: Front,
) -> None:
    """503 UNAVAILABLE, as Google answers; the wait is the longest first backoff (0.5 s)."""
    for sent in (_chat(), _message(), Request("POST", NATIVE, CONTENTS)):
        response = await _send(front, sent)
        assert response.headers["retry-after"] == "1", (sent.path, response.headers)
    error = response.json()["error"]
    assert error["status"] == "UNAVAILABLE" and "unreachable" in error["message"]
    [retry] = [d for d in error["details"] if d["@type"].endswith("google.rpc.RetryInfo")]
    assert float(retry["retryDelay"].rstrip("s")) == 0.5


@pytest.mark.parametrize("front", ["quota exhausted"], indirect=True)
async def test_exhausted_quota_carries_retry_info_natively(front: Front) -> None:
    error = (await front.http.post(NATIVE, json=CONTENTS)).json()["error"]
    assert error["status"] == "RESOURCE_EXHAUSTED"
    [retry] = [d for d in error["details"] if d["@type"].endswith("google.rpc.RetryInfo")]
    assert 25 <= float(retry["retryDelay"].rstrip("s")) <= 30


@pytest.mark.parametrize("front", ["upstream 4xx"], indirect=True)
async def test_the_upstreams_own_error_passes_on_every_face(front: Front) -> None:
    native = (await front.http.post(NATIVE, json=CONTENTS)).json()["error"]
    assert native["status"] == "INVALID_ARGUMENT"
    assert native["message"] == "the upstream refuses this"
    chat = (await _send(front, _chat())).json()["error"]
    assert chat["message"] == "the upstream refuses this" and chat["code"] == "INVALID_ARGUMENT"
    detail = (await _send(front, _message())).json()["detail"]
    assert detail == "the upstream refuses this"


@pytest.mark.parametrize("front", ["unknown route"], indirect=True)
async def test_unknown_routes_and_methods(front: Front) -> None:
    outside = await front.http.get("/no/such/route")
    assert outside.status_code == 404
    jsonschema.validate(outside.json(), front.schemas["GatewayError"])
    wrong = await front.http.get("/v1/chat/completions")
    assert wrong.status_code == 405 and wrong.headers["allow"] == "POST"
    jsonschema.validate(wrong.json(), front.schemas["OpenAIError"])
    sessions = await front.http.put("/api/v1/sessions")
    assert sessions.status_code == 405 and set(sessions.headers["allow"].split(", ")) == {
        "GET",
        "POST",
    }


# -- the official openai client --------------------------------------------------------

SDK_ERRORS: dict[str, tuple[int, type[openai.APIStatusError]]] = {
    "upstream timeout": (504, openai.InternalServerError),
    "unreachable upstream": (503, openai.InternalServerError),
    "quota exhausted": (429, openai.RateLimitError),
    "upstream 4xx": (400, openai.BadRequestError),
    "unknown model": (404, openai.NotFoundError),
    "oversized body": (413, openai.APIStatusError),
}


def _sdk(gateway: Gateway) -> openai.AsyncOpenAI:
    http = httpx2.AsyncClient(transport=httpx2.ASGITransport(app=gateway))
    return openai.AsyncOpenAI(
        api_key="any", base_url="http://gw/v1", http_client=http, max_retries=0
    )


@pytest.mark.parametrize("front", list(SDK_ERRORS), indirect=True)
async def test_the_openai_client_raises_its_own_errors(
    front: Front, request: pytest.FixtureRequest
) -> None:
    name = request.node.callspec.params["front"]
    status, error = SDK_ERRORS[name]
    model = "gpt-4o" if name == "unknown model" else FLASH
    content = HUGE if name == "oversized body" else "hello"
    async with _sdk(front.gateway) as sdk:
        with pytest.raises(error) as raised:
            await sdk.chat.completions.create(
                model=model, messages=[{"role": "user", "content": content}]
            )
    assert raised.value.status_code == status
    assert raised.value.type and raised.value.message
    if status == 429:
        assert raised.value.response.headers["retry-after"]


async def test_unknown_models_in_openais_words_whichever_backend(stack: Stack) -> None:
    local_client = AsyncGemini(settings=Settings(sessions_url="memory://"))
    local, local_task, local_url = await serve_in_loop(create_app(local_client), lifespan="on")
    backends = {"local": BackendConfig(base_url=f"{local_url}/v1")}
    client = AsyncGemini(
        api_key="k", base_url=stack.emulator_url, sessions_url="memory://", backends=backends
    )
    gateway = create_app(client)
    try:
        async with _sdk(gateway) as sdk:
            for model in ("gpt-4o", "local/no-such-model", "ollama/llama3.2", "models/"):
                with pytest.raises(openai.NotFoundError) as missing:
                    await sdk.chat.completions.create(model=model, messages=USER)  # type: ignore[arg-type]
                assert missing.value.code == "model_not_found", model
                assert isinstance(missing.value.body, dict)
                assert missing.value.body["message"] == (
                    f"The model `{model}` does not exist or you do not have access to it."
                )
            with pytest.raises(openai.NotFoundError) as embedding:
                await sdk.embeddings.create(model="gpt-4o", input="x")
            assert embedding.value.code == "model_not_found"
            with pytest.raises(openai.NotFoundError) as retrieved:
                await sdk.models.retrieve("gpt-4o")
            assert retrieved.value.code == "model_not_found"
            reply = await sdk.chat.completions.create(model="local/" + FLASH, messages=USER)  # type: ignore[arg-type]
            assert reply.choices[0].message.content
    finally:
        await gateway.aclose()
        await stop_serving(local, local_task)
