"""A dead upstream: the gateway and the library answer fast, typed, with a time to retry.

Each probe points gemgate at an upstream that refuses every connection or accepts and
never answers. Once the circuit breaker is open, calls fail at once with 503 and
``Retry-After`` (`CircuitOpen` in the library) instead of waiting out the breaker; a
per-request deadline (``x-gemgate-timeout``, the SDK's timeout, ``AsyncGemini(timeout=)``
or a call's ``timeout``) ends the call's attempts and retries with a 504 that says how
long it took. The HTTP clients wait at most 20 s, under the breaker's 30 s reset: a
gateway that held the caller instead fails the probe.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import httpx2
import openai
import pytest
from google.genai import types

from gemgate import AsyncGemini
from gemgate.errors import (
    CircuitOpen,
    ConnectError,
    StreamInterrupted,
    TransportError,
    UpstreamTimeout,
)
from tests.servers import REDIS_URL, need_server

from ._crash_support import served
from ._outage_support import (
    CLIENT_WAIT,
    FLASH,
    QUICK,
    api_key,
    hanging,
    outage_gateway,
    refusing,
    trickling,
)

pytestmark = pytest.mark.anyio

CHAT = {"model": FLASH, "messages": [{"role": "user", "content": "Are you there?"}]}
NATIVE = {"contents": [{"role": "user", "parts": [{"text": "Are you there?"}]}]}
GENERATE = f"/gemini/v1beta/models/{FLASH}:generateContent"


def _openai(url: str) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(
        api_key="any", base_url=f"{url}/v1", max_retries=0, timeout=CLIENT_WAIT
    )


async def _until_open(http: httpx2.AsyncClient) -> httpx2.Response:
    """Chat until the breaker opens; every answer before is already a 503 with a wait."""
    for _ in range(5):
        response = await http.post("/v1/chat/completions", json=CHAT)
        assert response.status_code == 503, response.text
        assert 0 < int(response.headers["retry-after"]) <= 30
        if response.json()["error"]["code"] != "upstream_unreachable":
            return response
    raise AssertionError("the breaker never opened")


async def test_outage_open_breaker_answers_503_with_retry_after_on_every_face() -> None:
    async with refusing() as upstream, outage_gateway(upstream) as gw:
        opened = await _until_open(gw.http)
        assert opened.status_code == 503, opened.text
        assert 0 < int(opened.headers["retry-after"]) <= 30
        error = opened.json()["error"]
        assert error["type"] == "api_error" and error["code"] == "upstream_unavailable"

        async with _openai(gw.url) as client:
            with pytest.raises(openai.InternalServerError) as caught:
                await client.chat.completions.create(**CHAT)
        assert caught.value.status_code == 503
        assert caught.value.response.headers["retry-after"]

        native = await gw.http.post(GENERATE, json=NATIVE)
        assert native.status_code == 503 and native.headers["retry-after"]
        body = native.json()["error"]
        assert body["code"] == 503 and body["status"] == "UNAVAILABLE"
        assert any(d["@type"].endswith("RetryInfo") for d in body["details"])

        anthropic = await gw.http.post(
            "/v1/messages",
            json={"model": FLASH, "max_tokens": 16, "messages": CHAT["messages"]},
        )
        assert anthropic.status_code == 529 and anthropic.headers["retry-after"]
        assert anthropic.json()["error"]["type"] == "overloaded_error"


@pytest.mark.parametrize("path", ["/v1/chat/completions", GENERATE])
async def test_outage_hanging_upstream_ends_at_the_request_deadline(path: str) -> None:
    async with hanging() as upstream, outage_gateway(upstream) as gw:
        body: dict[str, Any] = CHAT if path.startswith("/v1") else NATIVE
        response = await gw.http.post(path, json=body, headers={"x-gemgate-timeout": "1"})
        assert response.status_code == 504, response.text
        error = response.json()["error"]
        assert "deadline reached after" in error["message"]
        if path.startswith("/v1"):
            assert error["code"] == "upstream_timeout"
        else:
            assert error["status"] == "DEADLINE_EXCEEDED"


async def test_outage_hanging_stream_ends_at_the_request_deadline() -> None:
    async with hanging() as upstream, outage_gateway(upstream) as gw:
        async with _openai(gw.url) as client:
            with pytest.raises(openai.APIStatusError) as caught:
                stream = await client.chat.completions.create(
                    **CHAT, stream=True, extra_headers={"x-gemgate-timeout": "1.5"}
                )
                async for _ in stream:
                    pass
        assert caught.value.status_code == 504
        assert "deadline reached after" in caught.value.message


async def test_outage_endless_stream_ends_at_the_request_deadline() -> None:
    """A stream that never pauses long enough for the idle timeout still ends on time."""
    async with trickling() as upstream, outage_gateway(upstream) as gw:
        async with _openai(gw.url) as client:
            started = time.monotonic()
            stream = await client.chat.completions.create(
                **CHAT, stream=True, extra_headers={"x-gemgate-timeout": "1.5"}
            )
            texts: list[str] = []
            with pytest.raises(openai.APIError, match="deadline reached after"):
                async for chunk in stream:
                    texts.append(chunk.choices[0].delta.content or "" if chunk.choices else "")
        assert "".join(texts).startswith("more more")  # the stream ran, then was cut
        assert time.monotonic() - started < CLIENT_WAIT
        native = await gw.http.post(
            f"/gemini/v1beta/models/{FLASH}:streamGenerateContent?alt=sse",
            json=NATIVE,
            headers={"x-gemgate-timeout": "1"},
        )
        assert native.status_code == 200  # the head went out before the deadline
        assert "DEADLINE_EXCEEDED" in native.text.rsplit("data:", 1)[-1]


async def test_outage_library_stream_timeout_bounds_the_body() -> None:
    """A streaming call's ``timeout`` cuts the body too: `StreamInterrupted` keeps what came."""
    async with trickling() as upstream, AsyncGemini(api_key=api_key(), base_url=upstream) as g:
        with pytest.raises(StreamInterrupted) as caught:
            async for _ in g.stream_generate_content("hi", model=FLASH, timeout=1):
                pass
        assert isinstance(caught.value.cause, UpstreamTimeout)
        assert len(caught.value.received) >= 2
        with pytest.raises(StreamInterrupted, match="in the middle of the stream"):
            messages = [{"role": "user", "content": "hi"}]
            async for _ in g.stream_chat(messages, model=FLASH, timeout=0.5):
                pass


@pytest.mark.parametrize("value", ["soon", "0", "-3", "nan", "inf"])
async def test_outage_bad_timeout_header_is_a_400_in_the_face_shape(value: str) -> None:
    async with refusing() as upstream, outage_gateway(upstream) as gw:
        headers = {"x-gemgate-timeout": value}
        openai_face = await gw.http.post("/v1/chat/completions", json=CHAT, headers=headers)
        assert openai_face.status_code == 400
        assert "x-gemgate-timeout" in openai_face.json()["error"]["message"]
        google_face = await gw.http.post(GENERATE, json=NATIVE, headers=headers)
        assert google_face.status_code == 400
        assert google_face.json()["error"]["status"] == "INVALID_ARGUMENT"


async def test_outage_library_raises_circuit_open_with_retry_after() -> None:
    async with (
        refusing() as upstream,
        AsyncGemini(api_key=api_key(), base_url=upstream, retry=QUICK) as g,
    ):
        with pytest.raises(ConnectError):
            await g.generate_content("first", model=FLASH)
        with pytest.raises(CircuitOpen) as caught:
            await asyncio.wait_for(g.generate_content("second", model=FLASH), CLIENT_WAIT)
        assert isinstance(caught.value, TransportError)
        assert caught.value.retry_after is not None and 0 < caught.value.retry_after <= 30


async def test_outage_library_timeouts_end_the_call() -> None:
    async with hanging() as upstream:
        async with AsyncGemini(api_key=api_key(), base_url=upstream, timeout=1) as g:
            with pytest.raises(UpstreamTimeout, match="deadline reached after"):
                await asyncio.wait_for(g.generate_content("hello", model=FLASH), CLIENT_WAIT)
        async with AsyncGemini(api_key=api_key(), base_url=upstream) as g:
            with pytest.raises(UpstreamTimeout, match="deadline reached after"):
                call = g.chat([{"role": "user", "content": "hi"}], model=FLASH, timeout=0.5)
                await asyncio.wait_for(call, CLIENT_WAIT)
            with pytest.raises(UpstreamTimeout, match="deadline reached after"):  # the SDK's own
                options = types.HttpOptions(timeout=1000)
                sdk_call = g.sdk.aio.models.generate_content(
                    model=FLASH,
                    contents="hi",
                    config=types.GenerateContentConfig(http_options=options),
                )
                await asyncio.wait_for(sdk_call, CLIENT_WAIT)


async def test_outage_on_a_two_worker_gateway_answers_fast_from_every_worker(
    tmp_path: Path,
) -> None:
    """Breakers are per process: each worker fails fast on its own, none holds a caller."""
    need_server("Redis", 6379)
    storage = {"sessions_url": f"sqlite:///{tmp_path}/gemgate.db", "state_url": REDIS_URL}
    async with refusing() as upstream, served(tmp_path, upstream, storage, workers=2) as gw:
        assert len(gw.worker_pids()) == 2
        answers: list[httpx2.Response] = []
        started = time.monotonic()
        for _ in range(8):  # new connections: the kernel spreads them over the workers
            async with httpx2.AsyncClient(base_url=gw.url, timeout=CLIENT_WAIT) as http:
                answers.append(await http.post("/v1/chat/completions", json=CHAT))
        elapsed = time.monotonic() - started
    assert {a.status_code for a in answers} == {503}, [a.text for a in answers]
    codes = [a.json()["error"]["code"] for a in answers]
    assert set(codes) <= {"upstream_unreachable", "upstream_unavailable"}, codes
    assert "upstream_unavailable" in codes  # some worker's breaker opened
    assert all(0 < int(a.headers["retry-after"]) <= 30 for a in answers)
    assert elapsed < CLIENT_WAIT  # eight answers, none waited out a breaker
