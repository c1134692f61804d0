"""The OpenAI-compatible API under /v1, driven by the official openai SDK and by hand.

Most tests run against `gemgate serve` (subprocess, emulator upstream); fault, body-cap
and fuzz tests use the in-process stack.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import struct
import zlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx2
import jsonschema
import openai
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gemgate import AsyncGemini
from gemgate.config import Settings
from gemgate.gateway import create_app
from gemgate.wire.sse import SSEDecoder

from .conftest import EMBEDDING, FLASH, TIME_TOOL, WEATHER_TOOL, Stack

PROMPT = "Describe a lighthouse keeper's morning."
USER = [{"role": "user", "content": PROMPT}]
WEATHER_QUESTION = [{"role": "user", "content": "What's the weather like in Paris today?"}]
NO_THINKING = {"thinking_config": {"include_thoughts": False, "thinking_budget": 0}}


@pytest.fixture
def oai(gateway_server: str) -> Iterator[openai.OpenAI]:
    """The official OpenAI SDK, unchanged, with its base URL at the gateway's /v1."""
    client = openai.OpenAI(api_key="any-key", base_url=f"{gateway_server}/v1", max_retries=0)
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
async def aoai(gateway_server: str) -> AsyncIterator[openai.AsyncOpenAI]:
    client = openai.AsyncOpenAI(api_key="any-key", base_url=f"{gateway_server}/v1", max_retries=0)
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture
def raw(gateway_server: str) -> Iterator[httpx2.Client]:
    with httpx2.Client(base_url=f"{gateway_server}/v1", timeout=30) as client:
        yield client


def _png() -> str:
    """A 1x1 red PNG as a data URL."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x00\x00")
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels)
    png += chunk(b"IEND", b"")
    return "data:image/png;base64," + base64.b64encode(png).decode()


def _events(data: bytes) -> list[str]:
    decoder = SSEDecoder()
    return [e.data for e in decoder.feed(data) + decoder.flush()]


def _assert_openai_error(response: httpx2.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["type"], str) and error["type"]
    assert {"param", "code"} <= set(error)
    return error


# -- chat -------------------------------------------------------------------------------


def test_chat_text(oai: openai.OpenAI) -> None:
    reply = oai.chat.completions.create(model=FLASH, messages=USER)
    assert reply.object == "chat.completion" and reply.model == FLASH and reply.id
    [choice] = reply.choices
    assert choice.index == 0 and choice.finish_reason == "stop"
    assert choice.message.role == "assistant"
    assert choice.message.content and PROMPT in choice.message.content
    assert reply.usage and reply.usage.prompt_tokens > 0 and reply.usage.completion_tokens > 0
    assert reply.usage.total_tokens >= reply.usage.prompt_tokens + reply.usage.completion_tokens

    system = [{"role": "system", "content": "Answer briefly."}, *USER]
    other = oai.chat.completions.create(model=FLASH, messages=system)
    assert other.choices[0].message.content != choice.message.content


def test_stream_matches_the_non_streamed_answer(oai: openai.OpenAI) -> None:
    whole = oai.chat.completions.create(model=FLASH, messages=USER)
    chunks = list(oai.chat.completions.create(model=FLASH, messages=USER, stream=True))
    assert len(chunks) > 1
    assert all(c.object == "chat.completion.chunk" and c.choices for c in chunks)
    assert chunks[0].choices[0].delta.role == "assistant"
    assert all(c.choices[0].delta.role is None for c in chunks[1:])
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == (
        whole.choices[0].message.content
    )
    assert [c.choices[0].finish_reason for c in chunks][-1] == "stop"
    assert all(c.choices[0].finish_reason is None for c in chunks[:-1])
    assert all(c.usage is None for c in chunks)


def test_raw_stream_ends_with_usage_then_done(raw: httpx2.Client) -> None:
    body = {
        "model": FLASH,
        "messages": USER,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    with raw.stream("POST", "/chat/completions", json=body) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = _events(response.read())
    assert events[-1] == "[DONE]" and "[DONE]" not in events[:-1]
    chunks = [json.loads(e) for e in events[:-1]]
    usage = chunks[-1]
    assert usage["object"] == "chat.completion.chunk" and usage["choices"] == []
    assert usage["usage"]["prompt_tokens"] > 0 and usage["usage"]["completion_tokens"] > 0
    assert all(c["choices"] and "usage" not in c for c in chunks[:-1])
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"


def test_tool_call_round_trip(oai: openai.OpenAI) -> None:
    first = oai.chat.completions.create(
        model=FLASH,
        messages=WEATHER_QUESTION,
        tools=[WEATHER_TOOL, TIME_TOOL],
    )
    [choice] = first.choices
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    [call] = choice.message.tool_calls or []
    assert call.type == "function" and call.id
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Paris"}

    result = {"forecast": "22C and sunny with a light breeze"}
    followed = oai.chat.completions.create(
        model=FLASH,
        messages=[
            *WEATHER_QUESTION,
            choice.message.model_dump(exclude_none=True),
            {"role": "tool", "tool_call_id": call.id, "content": json.dumps(result)},
        ],
        tools=[WEATHER_TOOL, TIME_TOOL],
    )
    [answer] = followed.choices
    assert answer.finish_reason == "stop" and not answer.message.tool_calls
    assert answer.message.content and "22C and sunny with a light breeze" in answer.message.content


@pytest.mark.parametrize(
    ("choice", "question", "called"),
    [
        ("required", USER, ["get_weather"]),
        ("none", WEATHER_QUESTION, []),
        ("auto", USER, []),
        ({"type": "function", "function": {"name": "get_time"}}, WEATHER_QUESTION, ["get_time"]),
    ],
)
def test_tool_choice(oai: openai.OpenAI, choice: Any, question: Any, called: list[str]) -> None:
    reply = oai.chat.completions.create(
        model=FLASH,
        messages=question,
        tools=[WEATHER_TOOL, TIME_TOOL],
        tool_choice=choice,
    )
    [first] = reply.choices
    assert [c.function.name for c in first.message.tool_calls or []] == called
    assert first.finish_reason == ("tool_calls" if called else "stop")
    if not called:
        assert first.message.content


def test_streamed_tool_calls(oai: openai.OpenAI) -> None:
    chunks = list(
        oai.chat.completions.create(
            model=FLASH,
            messages=WEATHER_QUESTION,
            tools=[WEATHER_TOOL],
            stream=True,
        )
    )
    calls = [t for c in chunks for t in c.choices[0].delta.tool_calls or []]
    assert [(t.function.name, t.index) for t in calls if t.function] == [("get_weather", 0)]
    assert calls[0].function and json.loads(calls[0].function.arguments or "") == {"city": "Paris"}


def test_response_format_json_object_and_schema(oai: openai.OpenAI) -> None:
    loose = oai.chat.completions.create(
        model=FLASH,
        messages=USER,
        response_format={"type": "json_object"},
    )
    assert isinstance(json.loads(loose.choices[0].message.content or ""), dict)

    schema = {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "age": {"type": "integer", "minimum": 0},
            "tags": {"type": "array", "items": {"type": "string"}},
        },
        "required": ["name", "age", "tags"],
        "additionalProperties": False,
    }
    strict = oai.chat.completions.create(
        model=FLASH,
        messages=USER,
        response_format={
            "type": "json_schema",
            "json_schema": {"name": "keeper", "schema": schema, "strict": True},
        },
    )
    value = json.loads(strict.choices[0].message.content or "")
    jsonschema.validate(value, schema)


def test_max_tokens_stop_and_n(oai: openai.OpenAI) -> None:
    full = oai.chat.completions.create(model=FLASH, messages=USER)
    text = full.choices[0].message.content or ""

    short = oai.chat.completions.create(model=FLASH, messages=USER, max_tokens=5)
    assert short.choices[0].finish_reason == "length"
    cut = short.choices[0].message.content or ""
    assert cut and len(cut) < len(text) and text.startswith(cut)
    newer = oai.chat.completions.create(
        model=FLASH,
        messages=USER,
        max_completion_tokens=5,
    )
    assert newer.choices[0].finish_reason == "length"

    word = text.split()[len(text.split()) // 2]
    stopped = oai.chat.completions.create(model=FLASH, messages=USER, stop=[word])
    before = stopped.choices[0].message.content or ""
    assert stopped.choices[0].finish_reason == "stop"
    assert word not in before and text.startswith(before.rstrip())

    two = oai.chat.completions.create(model=FLASH, messages=USER, n=2)
    assert [c.index for c in two.choices] == [0, 1]
    assert all(c.message.content for c in two.choices)
    assert two.choices[0].message.content != two.choices[1].message.content


@pytest.mark.parametrize(
    "extra",
    [{"google": NO_THINKING}, {"extra_body": {"google": NO_THINKING}}],
    ids=["sdk-extra-body", "literal-extra-body"],
)
def test_google_passthrough(oai: openai.OpenAI, extra: dict[str, Any]) -> None:
    thinking = oai.chat.completions.create(model=FLASH, messages=USER)
    assert thinking.usage and thinking.usage.completion_tokens_details
    assert thinking.usage.completion_tokens_details.reasoning_tokens
    plain = oai.chat.completions.create(model=FLASH, messages=USER, extra_body=extra)
    assert plain.choices[0].message.content
    assert plain.usage and not plain.usage.completion_tokens_details  # no thinking tokens


def test_image_as_data_url(oai: openai.OpenAI) -> None:
    reply = oai.chat.completions.create(
        model=FLASH,
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What colour is this pixel?"},
                    {"type": "image_url", "image_url": {"url": _png()}},
                ],
            }
        ],
    )
    assert reply.choices[0].message.content
    assert reply.usage and reply.usage.prompt_tokens > 0


def test_embeddings(oai: openai.OpenAI) -> None:
    made = oai.embeddings.create(model=EMBEDDING, input=["lighthouse", "keeper"], dimensions=256)
    assert made.object == "list" and made.model == EMBEDDING
    assert [d.index for d in made.data] == [0, 1]
    assert all(d.object == "embedding" and len(d.embedding) == 256 for d in made.data)
    assert all(isinstance(x, float) for x in made.data[0].embedding)
    assert made.data[0].embedding != made.data[1].embedding
    one = oai.embeddings.create(model=EMBEDDING, input="lighthouse")
    assert len(one.data) == 1 and len(one.data[0].embedding) > 256


def test_models(oai: openai.OpenAI) -> None:
    ids = [m.id for m in oai.models.list()]
    assert FLASH in ids and EMBEDDING in ids
    assert all(not i.startswith("models/") for i in ids)
    model = oai.models.retrieve(FLASH)
    assert model.id == FLASH and model.object == "model" and model.owned_by == "google"


@pytest.mark.anyio
async def test_async_client_and_streaming(aoai: openai.AsyncOpenAI) -> None:
    whole = await aoai.chat.completions.create(model=FLASH, messages=USER)
    stream = await aoai.chat.completions.create(
        model=FLASH,
        messages=USER,
        stream=True,
        stream_options={"include_usage": True},
    )
    pieces: list[str] = []
    usage = None
    async for chunk in stream:
        if chunk.choices:
            pieces.append(chunk.choices[0].delta.content or "")
        else:
            usage = chunk.usage
    assert "".join(pieces) == whole.choices[0].message.content
    assert usage and whole.usage and usage.total_tokens == whole.usage.total_tokens
    embedded = await aoai.embeddings.create(model=EMBEDDING, input=["a", "b", "c"])
    assert len(embedded.data) == 3
    assert FLASH in [m.id async for m in aoai.models.list()]


# -- errors -----------------------------------------------------------------------------


def test_unknown_model_is_not_found(oai: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as chat:
        oai.chat.completions.create(model="gemini-no-such-model", messages=USER)
    assert chat.value.status_code == 404
    with pytest.raises(openai.NotFoundError):
        oai.chat.completions.create(
            model="gemini-no-such-model",
            messages=USER,
            stream=True,
        )
    with pytest.raises(openai.NotFoundError):
        oai.models.retrieve("gemini-no-such-model")
    with pytest.raises(openai.NotFoundError):
        oai.embeddings.create(model="gemini-no-such-model", input="x")


def test_bad_requests_are_400_in_openai_shape(oai: openai.OpenAI, raw: httpx2.Client) -> None:
    headers = {"content-type": "application/json"}
    malformed = raw.post(
        "/chat/completions", content=b'{"model": "x", "messages": [', headers=headers
    )
    _assert_openai_error(malformed, 400)
    _assert_openai_error(raw.post("/chat/completions", json=[1, 2]), 400)
    _assert_openai_error(
        raw.post("/chat/completions", json={"model": FLASH, "messages": "hi"}), 400
    )
    _assert_openai_error(raw.post("/chat/completions", json={"model": 7, "messages": USER}), 400)
    unknown = raw.post("/chat/completions", json={"model": FLASH, "messages": USER, "bogus": 1})
    assert _assert_openai_error(unknown, 400)["param"] == "bogus"
    bad_role = {"model": FLASH, "messages": [{"role": "wizard", "content": "hi"}]}
    _assert_openai_error(raw.post("/chat/completions", json=bad_role), 400)
    upstream = raw.post(
        "/chat/completions", json={"model": FLASH, "messages": USER, "temperature": 7}
    )
    assert "temperature" in _assert_openai_error(upstream, 400)["message"]
    streaming = {"model": FLASH, "messages": USER, "stream": True, "stream_options": "yes"}
    assert _assert_openai_error(raw.post("/chat/completions", json=streaming), 400)["param"] == (
        "stream_options"
    )
    _assert_openai_error(raw.post("/embeddings", json={"model": EMBEDDING, "input": [1, 2]}), 400)
    _assert_openai_error(raw.post("/embeddings", json={"model": "", "input": "x"}), 400)
    _assert_openai_error(raw.post("/embeddings", content=b"nope", headers=headers), 400)
    _assert_openai_error(raw.get("/no-such-endpoint"), 404)
    assert _assert_openai_error(raw.get("/models/%2e%2e"), 404)["type"] == "not_found_error"

    with pytest.raises(openai.BadRequestError):
        oai.chat.completions.create(model=FLASH, messages=USER, extra_body={"bogus": True})
    with pytest.raises(openai.BadRequestError):
        oai.chat.completions.create(model=FLASH, messages=USER, temperature=9)


@pytest.mark.parametrize(
    "model", ["../files/abc", "gemini-2.5-flash:generateContent?alt=sse#", "a/b", "models/", " x"]
)
def test_model_names_cannot_reshape_the_upstream_url(
    oai: openai.OpenAI, raw: httpx2.Client, model: str
) -> None:
    with pytest.raises(openai.NotFoundError):
        oai.chat.completions.create(model=model, messages=USER)
    with pytest.raises(openai.NotFoundError):
        oai.embeddings.create(model=model, input="x")
    with pytest.raises(openai.NotFoundError):
        oai.models.retrieve(model)


def test_private_image_urls_are_refused_with_400(raw: httpx2.Client) -> None:
    # The gateway fetches http(s) images only from public addresses: a clear 400, no 500.
    for url in (
        "http://127.0.0.1/secret.png",
        "http://localhost:9/x.png",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/x.png",
        "https:///no-host.png",
    ):
        body = {
            "model": FLASH,
            "messages": [
                {"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}}]}
            ],
        }
        _assert_openai_error(raw.post("/chat/completions", json=body), 400)


@pytest.mark.anyio
async def test_oversize_body_is_413(stack: Stack) -> None:
    app = create_app(stack.client, max_body=1000)
    transport = httpx2.ASGITransport(app=app)
    async with httpx2.AsyncClient(transport=transport, base_url="http://gateway") as http:
        small = await http.post("/v1/chat/completions", json={"model": FLASH, "messages": USER})
        assert small.status_code == 200, small.text
        big = [{"role": "user", "content": "x" * 2000}]
        response = await http.post("/v1/chat/completions", json={"model": FLASH, "messages": big})
        assert _assert_openai_error(response, 413)["type"] == "invalid_request_error"
        embed = await http.post("/v1/embeddings", json={"model": EMBEDDING, "input": "x" * 2000})
        _assert_openai_error(embed, 413)
        native = await http.post(
            f"/gemini/v1beta/models/{FLASH}:generateContent",
            json={"contents": [{"role": "user", "parts": [{"text": "x" * 2000}]}]},
        )
        assert native.status_code == 413
        assert native.json()["error"]["code"] == 413  # the native route answers in Google's shape
        assert native.headers["x-request-id"]


@pytest.mark.anyio
async def test_body_cap_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GEMGATE_MAX_BODY_BYTES", "1000")
    client = AsyncGemini(settings=Settings())
    transport = httpx2.ASGITransport(app=create_app(client))
    async with httpx2.AsyncClient(transport=transport, base_url="http://gateway") as http:
        big = [{"role": "user", "content": "x" * 2000}]
        response = await http.post("/v1/chat/completions", json={"model": FLASH, "messages": big})
        _assert_openai_error(response, 413)
        small = await http.post("/v1/chat/completions", json={"model": FLASH, "messages": USER})
        assert small.status_code == 200, small.text
    await client.aclose()


@pytest.mark.anyio
async def test_a_blocked_prompt_is_a_content_filter_finish_streamed_or_not(
    gateway_server: str,
) -> None:
    client = openai.AsyncOpenAI(api_key="any-key", base_url=f"{gateway_server}/v1", max_retries=0)
    blocked = [{"role": "user", "content": "please [[emulator:block]] this"}]
    whole = await client.chat.completions.create(model=FLASH, messages=blocked)  # type: ignore[arg-type]
    assert whole.choices[0].finish_reason == "content_filter"
    stream = await client.chat.completions.create(
        model=FLASH,
        messages=blocked,  # type: ignore[arg-type]
        stream=True,
    )
    finishes = [c.choices[0].finish_reason async for c in stream if c.choices]
    assert finishes == ["content_filter"]
    await client.close()


@pytest.mark.anyio
async def test_midstream_error_ends_the_stream_with_an_error_chunk(stack: Stack) -> None:
    await stack.faults({"kind": "midstream", "after_chunks": 2, "status": 500})
    body = {"model": FLASH, "messages": USER, "stream": True}
    response = await stack.http.post("/v1/chat/completions", json=body)
    assert response.status_code == 200
    events = _events(response.content)
    assert "[DONE]" not in events  # not a clean end
    chunks = [json.loads(e) for e in events]
    assert all(c["choices"][0]["delta"].get("content") for c in chunks[:2])
    assert "error" in chunks[-1] and len(chunks) == 3
    assert chunks[-1]["error"]["message"] and chunks[-1]["error"]["type"]

    await stack.faults({"kind": "midstream", "after_chunks": 2, "status": 500})
    client = openai.AsyncOpenAI(api_key="any-key", base_url=f"{stack.url}/v1", max_retries=0)
    try:
        stream = await client.chat.completions.create(
            model=FLASH,
            messages=USER,
            stream=True,
        )
        seen: list[str] = []
        with pytest.raises(openai.APIError):
            async for chunk in stream:
                seen.append(chunk.choices[0].delta.content or "")
        assert len(seen) == 2
    finally:
        await client.close()
    await stack.idle()


@pytest.mark.anyio
async def test_upstream_failure_is_502_in_openai_shape(stack: Stack) -> None:
    await stack.faults({"kind": "drop"})  # the emulator hangs up; the stack does not retry
    response = await stack.http.post(
        "/v1/chat/completions", json={"model": FLASH, "messages": USER}
    )
    assert _assert_openai_error(response, 502)["type"] == "api_error"
    await stack.faults()
    assert (
        await stack.http.post("/v1/chat/completions", json={"model": FLASH, "messages": USER})
    ).status_code == 200


@pytest.mark.anyio
async def test_client_disconnect_stops_the_openai_stream(stack: Stack) -> None:
    stack.slow.delay = 0.3
    body = {"model": FLASH, "messages": USER, "stream": True}
    async with stack.http.stream("POST", "/v1/chat/completions", json=body) as response:
        assert response.status_code == 200
        decoder = SSEDecoder()
        async for piece in response.aiter_bytes():
            if decoder.feed(piece):
                break
    [upstream] = stack.slow.streams
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(upstream.done.wait(), 1.5)
    assert upstream.done.is_set() and not upstream.finished
    await stack.idle(2.0)
    stack.slow.delay = 0.0
    again = await stack.http.post("/v1/chat/completions", json=body)
    assert _events(again.content)[-1] == "[DONE]"


# -- fuzz: no request body makes a 5xx ----------------------------------------------------

_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**40), max_value=2**40)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
)
_JSON = st.recursive(
    _SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=12,
)
_PART = st.fixed_dictionaries(
    {"type": st.sampled_from(["text", "image_url", "input_audio", "video"]) | _JSON},
    optional={
        "text": _JSON,
        "image_url": _JSON
        | st.fixed_dictionaries({"url": st.sampled_from([_png(), "data:x", "ftp://a"]) | _JSON}),
        "input_audio": _JSON,
    },
)
_MESSAGE = st.fixed_dictionaries(
    {"role": st.sampled_from(["user", "assistant", "system", "developer", "tool"]) | _JSON},
    optional={
        "content": st.text(max_size=20) | st.lists(_PART, max_size=2) | _JSON,
        "tool_calls": _JSON
        | st.lists(
            st.fixed_dictionaries(
                {"id": _JSON, "type": _JSON},
                optional={
                    "function": _JSON
                    | st.fixed_dictionaries({"name": _JSON, "arguments": _JSON | st.just("{")})
                },
            ),
            max_size=2,
        ),
        "tool_call_id": _JSON,
        "name": _JSON,
    },
)
_CHAT_OPTIONAL = {
    name: _JSON
    for name in (
        "stream",
        "stream_options",
        "temperature",
        "top_p",
        "max_tokens",
        "n",
        "stop",
        "seed",
        "presence_penalty",
        "response_format",
        "reasoning_effort",
        "tool_choice",
        "extra_body",
        "google",
    )
}
_CHAT_OPTIONAL["tools"] = _JSON | st.lists(
    st.fixed_dictionaries({"type": st.just("function") | _JSON, "function": _JSON}), max_size=2
)
_CHAT = st.fixed_dictionaries(
    {
        "model": st.sampled_from([FLASH, "gemini-no-such-model"]) | _JSON,
        "messages": st.lists(_MESSAGE, min_size=1, max_size=3) | _JSON,
    },
    optional=_CHAT_OPTIONAL,
)
_EMBED = st.fixed_dictionaries(
    {"model": st.sampled_from([EMBEDDING, FLASH]) | _JSON},
    optional={"input": st.text(max_size=10) | _JSON, "dimensions": _JSON},
)
_NATIVE = st.fixed_dictionaries(
    {},
    optional={
        "contents": _JSON
        | st.lists(
            st.fixed_dictionaries(
                {"role": st.sampled_from(["user", "model"]) | _JSON, "parts": _JSON}
            ),
            max_size=2,
        ),
        "generationConfig": _JSON,
        "systemInstruction": _JSON,
        "tools": _JSON,
        "toolConfig": _JSON,
        "safetySettings": _JSON,
        "cachedContent": _JSON,
    },
)
_REQUESTS = st.one_of(
    st.tuples(st.just("/v1/chat/completions"), _CHAT | _JSON),
    st.tuples(st.just("/v1/embeddings"), _EMBED | _JSON),
    st.tuples(st.just(f"/gemini/v1beta/models/{FLASH}:generateContent"), _NATIVE | _JSON),
    st.tuples(
        st.sampled_from(["/v1/chat/completions", "/v1/embeddings"]),
        st.binary(max_size=30).map(lambda b: {"__raw__": b.hex()}),
    ),
)


@pytest.mark.anyio
@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(case=_REQUESTS)
async def test_no_request_body_makes_a_5xx(stack: Stack, case: tuple[str, Any]) -> None:
    path, body = case
    transport = httpx2.ASGITransport(app=stack.gateway)
    async with httpx2.AsyncClient(transport=transport, base_url="http://gateway") as http:
        if isinstance(body, dict) and "__raw__" in body:
            content = bytes.fromhex(body["__raw__"])
        else:
            content = json.dumps(body).encode()
        response = await http.post(
            path, content=content, headers={"content-type": "application/json"}
        )
    assert response.status_code < 500, (path, body, response.text)
    if response.status_code >= 400 and path.startswith("/v1/"):
        _assert_openai_error(response, response.status_code)
