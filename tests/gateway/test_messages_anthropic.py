"""Anthropic's Messages API under /v1/messages, driven by the official ``anthropic`` client.

The gateway (with a gateway key and a ``claude-…`` alias) and an emulator with its control
API run on loopback in the test's event loop; the client is the SDK, unchanged, with its
``base_url`` at the gateway.
"""

from __future__ import annotations

import base64
import json
import struct
import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anthropic
import httpx2
import pytest

from gemgate import AsyncGemini
from gemgate.config import RetrySettings
from gemgate.emulator import EmulatorConfig, create_app
from gemgate.gateway import create_app as create_gateway
from gemgate.projects import GatewayKey, hash_secret
from gemgate.wire.sse import SSEDecoder
from tests.conftest import serve_in_loop, stop_serving

pytestmark = pytest.mark.anyio

SECRET = "anthropic-gw-" + "secret"
LITE_SECRET = "anthropic-gw-" + "lite"
FLASH = "gemini-2.5-flash"
THINKER = "gemini-3-flash-preview"
"""Requires thought signatures on function calls, as Gemini 3 does."""
ALIAS = "claude-sonnet-4-5"
FALLBACK = "claude-fast"
QUESTION: Any = [{"role": "user", "content": "Describe a lighthouse keeper's morning."}]
WEATHER: Any = {
    "name": "get_weather",
    "description": "The current weather in a city.",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}
ASK_WEATHER: Any = [{"role": "user", "content": "What's the weather like in Paris today?"}]


@dataclass
class Served:
    url: str
    client: anthropic.AsyncAnthropic
    http: httpx2.AsyncClient
    control: httpx2.AsyncClient

    async def faults(self, *rules: dict[str, Any]) -> None:
        response = await self.control.post("/_emulator/faults", json={"faults": list(rules)})
        response.raise_for_status()


@pytest.fixture
async def served(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> AsyncIterator[Served]:
    monkeypatch.chdir(tmp_path)
    emu_server, emu_task, emulator_url = await serve_in_loop(
        create_app(EmulatorConfig(), control=True)
    )
    gemini = AsyncGemini(
        api_key="k",
        base_url=emulator_url,
        retry=RetrySettings(max_retries=0),
        sessions_url="memory://",
        gateway_keys=[
            GatewayKey(name="team", secret_sha256=hash_secret(SECRET)),
            GatewayKey(
                name="lite",
                secret_sha256=hash_secret(LITE_SECRET),
                models=["gemini-2.5-flash-lite"],
                rpm=2,
            ),
        ],
        model_routes={ALIAS: [FLASH], FALLBACK: ["gemini-2.5-flash-lite", FLASH]},
    )
    gw_server, gw_task, url = await serve_in_loop(create_gateway(gemini), lifespan="on")
    client = anthropic.AsyncAnthropic(api_key=SECRET, base_url=url, max_retries=0)
    http = httpx2.AsyncClient(base_url=url, timeout=30, headers={"x-api-key": SECRET})
    control = httpx2.AsyncClient(base_url=emulator_url, timeout=30)
    try:
        yield Served(url, client, http, control)
    finally:
        await client.close()
        await http.aclose()
        await control.aclose()
        await stop_serving(gw_server, gw_task)
        await stop_serving(emu_server, emu_task)


def _text(message: Any) -> str:
    return "".join(b.text for b in message.content if b.type == "text")


def _error(failure: anthropic.APIStatusError) -> Any:
    """The ``error`` object of Anthropic's error body."""
    body: Any = failure.body
    return body["error"]


def _events(raw: bytes) -> list[tuple[str, dict[str, Any]]]:
    decoder = SSEDecoder()
    return [(e.event or "", json.loads(e.data)) for e in decoder.feed(raw)]


async def test_create_answers_a_message(served: Served) -> None:
    message = await served.client.messages.create(
        model=FLASH,
        max_tokens=256,
        system="Be brief.",
        messages=QUESTION,
    )
    assert message.type == "message" and message.role == "assistant"
    assert message.id.startswith("msg_") and message.model == FLASH
    assert message.stop_reason == "end_turn" and message.stop_sequence is None
    assert [b.type for b in message.content] == ["text"] and _text(message)
    assert message.usage.input_tokens > 0 and message.usage.output_tokens > 0


async def test_claude_names_route_to_gemini_models(served: Served) -> None:
    routed = await served.client.messages.create(
        model=ALIAS,
        max_tokens=256,
        messages=QUESTION,
    )
    direct = await served.client.messages.create(
        model=FLASH,
        max_tokens=256,
        messages=QUESTION,
    )
    assert routed.model == ALIAS  # the caller's name, as Anthropic echoes it
    assert _text(routed) == _text(direct)  # the emulator's answer is deterministic


async def test_an_overloaded_model_falls_back_along_its_route(served: Served) -> None:
    await served.faults({"kind": "status", "status": 503, "model": "gemini-2.5-flash-lite"})
    message = await served.client.messages.create(
        model=FALLBACK,
        max_tokens=256,
        messages=QUESTION,
    )
    assert _text(message)
    await served.faults({"kind": "status", "status": 503})
    with pytest.raises(anthropic.InternalServerError) as failed:
        await served.client.messages.create(
            model=FLASH,
            max_tokens=256,
            messages=QUESTION,
        )
    assert failed.value.status_code == 529
    assert _error(failed.value)["type"] == "overloaded_error"


async def test_stream_matches_the_created_message(served: Served) -> None:
    whole = await served.client.messages.create(
        model=FLASH,
        max_tokens=256,
        messages=QUESTION,
    )
    async with served.client.messages.stream(
        model=FLASH,
        max_tokens=256,
        messages=QUESTION,
    ) as stream:
        pieces = [text async for text in stream.text_stream]
        final = await stream.get_final_message()
    assert len(pieces) > 1 and "".join(pieces) == _text(whole) == _text(final)
    assert final.stop_reason == "end_turn"
    assert final.usage.output_tokens == whole.usage.output_tokens
    assert final.usage.input_tokens == whole.usage.input_tokens


async def test_raw_stream_events_follow_anthropics_order(served: Served) -> None:
    body = {"model": FLASH, "max_tokens": 256, "messages": QUESTION, "stream": True}
    response = await served.http.post(
        "/v1/messages", json=body, headers={"anthropic-version": "2023-06-01"}
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = _events(response.content)
    names = [name for name, _ in events]
    assert all(name == data["type"] for name, data in events)
    assert names[:3] == ["message_start", "ping", "content_block_start"]
    assert names[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    assert set(names[3:-3]) == {"content_block_delta"}
    start = events[0][1]["message"]
    assert start["content"] == [] and start["stop_reason"] is None
    deltas = [data["delta"] for name, data in events if name == "content_block_delta"]
    assert {d["type"] for d in deltas} == {"text_delta"}
    assert events[-2][1]["delta"] == {"stop_reason": "end_turn", "stop_sequence": None}


async def test_tool_use_round_trip(served: Served) -> None:
    first = await served.client.messages.create(
        model=FLASH,
        max_tokens=512,
        tools=[WEATHER],
        messages=ASK_WEATHER,
    )
    assert first.stop_reason == "tool_use"
    call = next(b for b in first.content if b.type == "tool_use")
    assert call.name == "get_weather" and call.input == {"city": "Paris"}
    assert call.id.startswith("toolu_")
    result: Any = {"type": "tool_result", "tool_use_id": call.id, "content": '{"temp_c": 21}'}
    second = await served.client.messages.create(
        model=FLASH,
        max_tokens=512,
        tools=[WEATHER],
        messages=[
            *ASK_WEATHER,
            {"role": "assistant", "content": first.content},
            {"role": "user", "content": [result]},
        ],
    )
    assert second.stop_reason == "end_turn"
    assert "get_weather" in _text(second) and "21" in _text(second)
    failed: Any = {
        **result,
        "content": [{"type": "text", "text": "no such city"}],
        "is_error": True,
    }
    third = await served.client.messages.create(
        model=FLASH,
        max_tokens=512,
        tools=[WEATHER],
        messages=[
            *ASK_WEATHER,
            {"role": "assistant", "content": first.content},
            {"role": "user", "content": [failed]},
        ],
    )
    assert '"error": "no such city"' in _text(third)


async def test_tool_choice(served: Served) -> None:
    plain: Any = [{"role": "user", "content": "Say something nice."}]
    forced = await served.client.messages.create(
        model=FLASH,
        max_tokens=512,
        tools=[WEATHER],
        tool_choice={"type": "tool", "name": "get_weather"},
        messages=plain,
    )
    assert [b.type for b in forced.content if b.type != "thinking"] == ["tool_use"]
    refused = await served.client.messages.create(
        model=FLASH,
        max_tokens=512,
        tools=[WEATHER],
        tool_choice={"type": "none"},
        messages=ASK_WEATHER,
    )
    assert refused.stop_reason == "end_turn"
    assert [b.type for b in refused.content] == ["text"]


async def test_web_search_cites_its_sources_streamed_or_not(served: Served) -> None:
    args: Any = {
        "model": FLASH,
        "max_tokens": 512,
        "tools": [{"type": "web_search_20250305", "name": "web_search"}],
        "messages": [{"role": "user", "content": "Who won the 2024 Euro football championship?"}],
    }
    message = await served.client.messages.create(**args)
    text: Any = message.content[-1]
    assert text.type == "text" and text.citations
    for citation in text.citations:
        assert citation.type == "web_search_result_location"
        assert citation.url.startswith("https://") and citation.cited_text in text.text
    async with served.client.messages.stream(**args) as stream:
        final = await stream.get_final_message()
    assert [b.model_dump() for b in final.content] == [b.model_dump() for b in message.content]


async def test_structured_output(served: Served) -> None:
    schema = {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
        "additionalProperties": False,
    }
    message = await served.client.messages.create(
        model=FLASH,
        max_tokens=256,
        output_config={"format": {"type": "json_schema", "schema": schema}},
        messages=QUESTION,
    )
    assert set(json.loads(_text(message))) == {"city"}


async def test_streamed_tool_use(served: Served) -> None:
    async with served.client.messages.stream(
        model=FLASH,
        max_tokens=512,
        tools=[WEATHER],
        messages=ASK_WEATHER,
    ) as stream:
        final = await stream.get_final_message()
    call = next(b for b in final.content if b.type == "tool_use")
    assert call.input == {"city": "Paris"} and final.stop_reason == "tool_use"


async def _signed_turn(served: Served, streamed: bool) -> list[Any]:
    """The first turn of a tool call with a thinking model: its content blocks."""
    args: dict[str, Any] = {
        "model": THINKER,
        "max_tokens": 4096,
        "tools": [WEATHER],
        "messages": ASK_WEATHER,
        "thinking": {"type": "enabled", "budget_tokens": 1024},
    }
    if streamed:
        async with served.client.messages.stream(**args) as stream:
            message = await stream.get_final_message()
    else:
        message = await served.client.messages.create(**args)
    assert message.stop_reason == "tool_use"
    return list(message.content)


@pytest.mark.parametrize("streamed", [False, True], ids=["create", "stream"])
async def test_thought_signatures_round_trip_through_thinking_blocks(
    served: Served, streamed: bool
) -> None:
    content = await _signed_turn(served, streamed)
    assert [b.type for b in content] == ["thinking", "tool_use"]
    assert content[0].signature and not content[0].thinking  # the call's signature
    call = content[-1]
    answer: Any = {"type": "tool_result", "tool_use_id": call.id, "content": "sunny"}

    async def follow_up(assistant: list[Any]) -> anthropic.types.Message:
        return await served.client.messages.create(
            model=THINKER,
            max_tokens=4096,
            tools=[WEATHER],
            thinking={"type": "enabled", "budget_tokens": 1024},
            messages=[
                *ASK_WEATHER,
                {"role": "assistant", "content": assistant},
                {"role": "user", "content": [answer]},
            ],
        )

    second = await follow_up(content)
    assert "sunny" in _text(second)
    unsigned = [b for b in content if b.type != "thinking"]
    with pytest.raises(anthropic.BadRequestError) as missing:
        await follow_up(unsigned)
    assert "thought_signature" in missing.value.message
    forged = [content[0].model_copy(update={"signature": "AAAA"}), call]
    with pytest.raises(anthropic.BadRequestError):
        await follow_up(forged)


async def test_thinking_blocks_carry_the_thoughts(served: Served) -> None:
    message = await served.client.messages.create(
        model=FLASH,
        max_tokens=4096,
        thinking={"type": "enabled", "budget_tokens": 2048},
        messages=QUESTION,
    )
    assert [b.type for b in message.content] == ["thinking", "text"]
    thought: Any = message.content[0]
    assert thought.thinking
    quiet = await served.client.messages.create(
        model=FLASH,
        max_tokens=4096,
        messages=QUESTION,
    )
    assert [b.type for b in quiet.content] == ["text"]


async def test_count_tokens(served: Served) -> None:
    short = await served.client.messages.count_tokens(model=FLASH, messages=QUESTION)
    longer = await served.client.messages.count_tokens(
        model=ALIAS,
        system="You are a careful assistant who answers in full sentences.",
        tools=[WEATHER],
        messages=QUESTION,
    )
    assert 0 < short.input_tokens < longer.input_tokens
    message = await served.client.messages.create(
        model=FLASH,
        max_tokens=64,
        messages=QUESTION,
    )
    assert short.input_tokens == message.usage.input_tokens
    with pytest.raises(anthropic.NotFoundError):
        await served.client.messages.count_tokens(model="claude-nope", messages=QUESTION)


def _png(width: int = 2, height: int = 2) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    rows = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


async def test_images(served: Served) -> None:
    image: Any = {
        "type": "image",
        "source": {
            "type": "base64",
            "media_type": "image/png",
            "data": base64.b64encode(_png()).decode(),
        },
    }
    question: Any = {"type": "text", "text": "What is in this picture?"}
    message = await served.client.messages.create(
        model=FLASH,
        max_tokens=256,
        messages=[{"role": "user", "content": [image, question]}],
    )
    assert _text(message)
    text_only = await served.client.messages.count_tokens(
        model=FLASH,
        messages=[{"role": "user", "content": [question]}],
    )
    with_image = await served.client.messages.count_tokens(
        model=FLASH,
        messages=[{"role": "user", "content": [image, question]}],
    )
    assert with_image.input_tokens > text_only.input_tokens
    private: Any = {"type": "image", "source": {"type": "url", "url": "http://127.0.0.1:9/a.png"}}
    with pytest.raises(anthropic.BadRequestError):  # the SSRF guard: no private addresses
        await served.client.messages.create(
            model=FLASH,
            max_tokens=256,
            messages=[{"role": "user", "content": [private, question]}],
        )


async def test_bad_requests_are_400_invalid_request_errors(served: Served) -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({"model": FLASH, "messages": QUESTION}, "max_tokens"),
        ({"model": FLASH, "max_tokens": 0, "messages": QUESTION}, "max_tokens"),
        ({"model": FLASH, "max_tokens": 64, "messages": []}, "messages"),
        ({"max_tokens": 64, "messages": QUESTION}, "model"),
        ({"model": FLASH, "max_tokens": 64, "messages": QUESTION, "n": 2}, "n"),
        (
            {"model": FLASH, "max_tokens": 64, "messages": [{"role": "system", "content": "x"}]},
            "messages.0.role",
        ),
        (
            {
                "model": FLASH,
                "max_tokens": 64,
                "messages": QUESTION,
                "thinking": {"type": "enabled", "budget_tokens": 10},
            },
            "thinking.budget_tokens",
        ),
        (
            {
                "model": FLASH,
                "max_tokens": 64,
                "messages": [
                    {
                        "role": "user",
                        "content": [{"type": "tool_result", "tool_use_id": "toolu_x"}],
                    }
                ],
            },
            "messages.0.content.0.tool_use_id",
        ),
    ]
    for body, field in cases:
        with pytest.raises(anthropic.BadRequestError) as bad:
            await served.client.post("/v1/messages", body=body, cast_to=object)
        error: Any = bad.value.body
        assert error == {  # Anthropic's shape, naming the field
            "type": "error",
            "error": {"type": "invalid_request_error", "message": error["error"]["message"]},
        }
        assert error["error"]["message"].startswith(field), (field, error)
    raw = await served.http.post("/v1/messages", content=b"{not json")
    assert raw.status_code == 400 and raw.json()["error"]["type"] == "invalid_request_error"


async def test_unknown_models_are_404_not_found_errors(served: Served) -> None:
    for name in ("claude-nope", "gemini-9-ultra", "../files/x"):
        with pytest.raises(anthropic.NotFoundError) as missing:
            await served.client.messages.create(
                model=name,
                max_tokens=64,
                messages=QUESTION,
            )
        assert _error(missing.value)["type"] == "not_found_error"


async def test_keys_from_x_api_key_and_authorization(served: Served) -> None:
    wrong = anthropic.AsyncAnthropic(api_key="not-the-key", base_url=served.url, max_retries=0)
    try:
        with pytest.raises(anthropic.AuthenticationError) as refused:
            await wrong.messages.create(
                model=FLASH,
                max_tokens=64,
                messages=QUESTION,
            )
    finally:
        await wrong.close()
    assert _error(refused.value)["type"] == "authentication_error"
    assert "not-the-key" not in str(refused.value.body)
    body = {"model": FLASH, "max_tokens": 64, "messages": QUESTION}
    async with httpx2.AsyncClient(base_url=served.url, timeout=30) as http:
        bearer = await http.post(
            "/v1/messages", json=body, headers={"authorization": f"Bearer {SECRET}"}
        )
        anonymous = await http.post("/v1/messages", json=body)
    assert bearer.status_code == 200 and bearer.json()["type"] == "message"
    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["type"] == "authentication_error"


async def test_a_keys_models_and_budget(served: Served) -> None:
    lite = anthropic.AsyncAnthropic(api_key=LITE_SECRET, base_url=served.url, max_retries=0)
    try:
        with pytest.raises(anthropic.PermissionDeniedError) as refused:
            await lite.messages.create(model=FLASH, max_tokens=64, messages=QUESTION)
        assert _error(refused.value)["type"] == "permission_error"
        allowed = await lite.messages.create(
            model="gemini-2.5-flash-lite", max_tokens=64, messages=QUESTION
        )
        assert _text(allowed)
        with pytest.raises(anthropic.RateLimitError) as over:  # rpm=2: every request counts
            await lite.messages.create(
                model="gemini-2.5-flash-lite", max_tokens=64, messages=QUESTION
            )
        assert _error(over.value)["type"] == "rate_limit_error"
        assert over.value.response.headers["retry-after"]
    finally:
        await lite.close()


async def test_midstream_failure_is_an_error_event(served: Served) -> None:
    await served.faults({"kind": "midstream", "after_chunks": 2, "status": 500})
    body = {"model": FLASH, "max_tokens": 256, "messages": QUESTION, "stream": True}
    response = await served.http.post("/v1/messages", json=body)
    assert response.status_code == 200
    events = _events(response.content)
    assert [name for name, _ in events][-1] == "error"
    assert events[-1][1]["type"] == "error" and events[-1][1]["error"]["message"]
    assert "message_stop" not in [name for name, _ in events]
    await served.faults({"kind": "midstream", "after_chunks": 2, "status": 500})
    with pytest.raises(anthropic.APIStatusError):
        async with served.client.messages.stream(
            model=FLASH,
            max_tokens=256,
            messages=QUESTION,
        ) as stream:
            async for _ in stream.text_stream:
                pass
