"""OpenAI's Responses API under /v1/responses, driven by the official openai SDK.

Most tests run against `gemgate serve` (subprocess, emulator upstream); the tests of two
gateway keys and of vector stores use the in-process gateway with keys, and the
mid-stream failure the in-process stack with fault injection.
"""

from __future__ import annotations

import base64
import json
import struct
import zlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx2
import openai
import pydantic
import pytest
from openai.types.responses import Response, ResponseItem, ResponseStreamEvent
from starlette.applications import Starlette
from starlette.responses import Response as StarletteResponse
from starlette.routing import Route as StarletteRoute

from gemgate import AsyncGemini
from gemgate.config import RetrySettings
from gemgate.emulator import EmulatorConfig
from gemgate.emulator import create_app as create_emulator
from gemgate.gateway import Gateway
from gemgate.gateway import create_app as create_gateway
from gemgate.wire.responses import SKIP_SIGNATURE
from gemgate.wire.sse import SSEDecoder
from tests.conftest import serve_in_loop, stop_serving
from tests.gateway._rag_app import KEY_A, KEY_B, http_of, openai_of, rag_gateway

from .conftest import FLASH, Stack, serve

PROMPT = "Describe a lighthouse keeper's morning."
WEATHER = "What's the weather like in Paris today?"
THINKER = "gemini-3-flash-preview"
"""A model that refuses function calls sent back without their thought signatures."""
WEATHER_TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "The current weather in a city.",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}
FORECAST = {"forecast": "22C and sunny with a light breeze"}


@pytest.fixture
def oai(gateway_server: str) -> Iterator[openai.OpenAI]:
    """The official OpenAI SDK, unchanged, with its base URL at the gateway's /v1."""
    client = openai.OpenAI(api_key="any-key", base_url=f"{gateway_server}/v1", max_retries=0)
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def raw(gateway_server: str) -> Iterator[httpx2.Client]:
    with httpx2.Client(base_url=f"{gateway_server}/v1", timeout=30) as client:
        yield client


@pytest.fixture
async def keyed(tmp_path: Path) -> AsyncIterator[Gateway]:
    """The in-process gateway with keys ``a`` and ``b``."""
    async with rag_gateway(tmp_path) as app:
        try:
            yield app
        finally:
            await app.responses.stored.aclose()


def _openai_error(response: httpx2.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"} and error["message"]
    return dict(error)


def test_create_answers_a_response_object(oai: openai.OpenAI) -> None:
    answer = oai.responses.create(model=FLASH, input=PROMPT, metadata={"team": "docs"})
    assert answer.id.startswith("resp_") and answer.object == "response"
    assert answer.status == "completed" and answer.model == FLASH and answer.created_at > 0
    [message] = answer.output
    assert message.type == "message" and message.role == "assistant" and message.id
    assert message.content[0].type == "output_text"
    assert PROMPT in answer.output_text
    assert answer.metadata == {"team": "docs"} and answer.tool_choice == "auto"
    usage = answer.usage
    assert usage and usage.input_tokens > 0 and usage.output_tokens > 0
    assert usage.total_tokens == usage.input_tokens + usage.output_tokens

    briefed = oai.responses.create(model=FLASH, input=PROMPT, instructions="Answer briefly.")
    assert briefed.instructions == "Answer briefly."
    assert briefed.output_text != answer.output_text

    items = [{"role": "user", "content": [{"type": "input_text", "text": PROMPT}]}]
    same = oai.responses.create(model=FLASH, input=items)  # type: ignore[arg-type]
    assert same.output_text == answer.output_text


def _types(events: list[Any]) -> list[str]:
    return [e.type for e in events]


def test_stream_events_come_in_the_responses_order(oai: openai.OpenAI) -> None:
    whole = oai.responses.create(model=FLASH, input=PROMPT)
    events: list[Any] = list(oai.responses.create(model=FLASH, input=PROMPT, stream=True))
    assert [e.sequence_number for e in events] == list(range(len(events)))
    kinds = _types(events)
    deltas = kinds.count("response.output_text.delta")
    assert deltas > 1
    assert kinds == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        *["response.output_text.delta"] * deltas,
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    created, done = events[0].response, events[-1].response
    assert created.status == "in_progress" and created.output == []
    assert created.id == done.id and done.status == "completed"
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert text == whole.output_text == done.output_text
    assert events[-4].text == text  # output_text.done
    item_ids = {e.item_id for e in events if hasattr(e, "item_id")}
    assert item_ids == {done.output[0].id}
    assert done.usage and done.usage.output_tokens > 0
    assert oai.responses.retrieve(done.id).output_text == text


def test_stream_helper_with_reasoning_summaries(oai: openai.OpenAI) -> None:
    reasoning: Any = {"effort": "low", "summary": "auto"}
    with oai.responses.stream(model=FLASH, input=PROMPT, reasoning=reasoning) as stream:
        events: list[Any] = list(stream)
        final = stream.get_final_response()
    kinds = _types(events)
    assert kinds[:4] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.reasoning_summary_part.added",
    ]
    summary_done = kinds.index("response.reasoning_summary_text.done")
    assert kinds[summary_done + 1 : summary_done + 5] == [
        "response.reasoning_summary_part.done",
        "response.output_item.done",
        "response.output_item.added",
        "response.content_part.added",
    ]
    assert kinds[-1] == "response.completed"
    thought, message = final.output
    assert thought.type == "reasoning" and thought.summary[0].text
    assert message.type == "message" and final.output_text
    summary = "".join(e.delta for e in events if e.type == "response.reasoning_summary_text.delta")
    assert summary == thought.summary[0].text
    assert final.reasoning and final.reasoning.summary == "auto"
    assert final.usage and final.usage.output_tokens_details.reasoning_tokens > 0

    whole = oai.responses.create(model=FLASH, input=PROMPT, reasoning=reasoning)
    assert [o.type for o in whole.output] == ["reasoning", "message"]
    plain = oai.responses.create(model=FLASH, input=PROMPT, reasoning={"effort": "low"})
    assert [o.type for o in plain.output] == ["message"]


def _call(answer: Any) -> Any:
    [call] = [o for o in answer.output if o.type == "function_call"]
    assert call.name == "get_weather" and json.loads(call.arguments) == {"city": "Paris"}
    assert call.call_id and call.id and call.status == "completed"
    return call


@pytest.mark.parametrize("model", [FLASH, THINKER])
def test_function_call_round_trip_with_previous_response_id(oai: openai.OpenAI, model: str) -> None:
    tools: Any = [WEATHER_TOOL]
    first = oai.responses.create(model=model, input=WEATHER, tools=tools)
    call = _call(first)
    assert first.output_text == ""
    assert first.tools[0].type == "function" and first.tools[0].name == "get_weather"
    output: Any = [
        {"type": "function_call_output", "call_id": call.call_id, "output": json.dumps(FORECAST)}
    ]
    second = oai.responses.create(
        model=model, previous_response_id=first.id, input=output, tools=tools
    )
    assert second.previous_response_id == first.id
    assert FORECAST["forecast"] in second.output_text
    assert not [o for o in second.output if o.type == "function_call"]


@pytest.mark.parametrize("model", [FLASH, THINKER])
def test_function_call_round_trip_with_explicit_items(oai: openai.OpenAI, model: str) -> None:
    tools: Any = [WEATHER_TOOL]
    question: Any = [{"role": "user", "content": WEATHER}]
    first = oai.responses.create(model=model, input=question, tools=tools)
    call = _call(first)
    items: Any = [
        *question,
        *(o.model_dump(exclude_none=True) for o in first.output),
        {"type": "function_call_output", "call_id": call.call_id, "output": json.dumps(FORECAST)},
    ]
    second = oai.responses.create(model=model, input=items, tools=tools)
    assert FORECAST["forecast"] in second.output_text


@pytest.mark.parametrize("model", [FLASH, THINKER])
def test_explicit_items_of_an_unstored_response(oai: openai.OpenAI, model: str) -> None:
    """Without the stored signature, Gemini 3 gets Google's documented stand-in for it."""
    tools: Any = [WEATHER_TOOL]
    first = oai.responses.create(model=model, input=WEATHER, tools=tools, store=False)
    call = _call(first)
    with pytest.raises(openai.NotFoundError):
        oai.responses.retrieve(first.id)
    items: Any = [
        {"role": "user", "content": WEATHER},
        {
            "type": "function_call",
            "call_id": call.call_id,
            "name": call.name,
            "arguments": call.arguments,
        },
        {"type": "function_call_output", "call_id": call.call_id, "output": json.dumps(FORECAST)},
    ]
    second = oai.responses.create(model=model, input=items, tools=tools)
    assert FORECAST["forecast"] in second.output_text


def test_streamed_function_call(oai: openai.OpenAI) -> None:
    tools: Any = [WEATHER_TOOL]
    events: list[Any] = list(
        oai.responses.create(model=THINKER, input=WEATHER, tools=tools, stream=True)
    )
    kinds = _types(events)
    assert kinds == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.completed",
    ]
    added, done = events[2].item, events[5].item
    assert added.type == "function_call" and added.arguments == "" and added.status == "in_progress"
    assert done.call_id == added.call_id and done.arguments == events[4].arguments
    final = events[-1].response
    call = _call(final)
    output: Any = [
        {"type": "function_call_output", "call_id": call.call_id, "output": json.dumps(FORECAST)}
    ]
    second = oai.responses.create(
        model=THINKER, previous_response_id=final.id, input=output, tools=tools
    )
    assert FORECAST["forecast"] in second.output_text


def test_tool_choice_forces_or_forbids_calls(oai: openai.OpenAI) -> None:
    tools: Any = [WEATHER_TOOL]
    forced = oai.responses.create(model=FLASH, input=PROMPT, tools=tools, tool_choice="required")
    assert [o.type for o in forced.output] == ["function_call"]
    named = oai.responses.create(
        model=FLASH,
        input=PROMPT,
        tools=tools,
        tool_choice={"type": "function", "name": "get_weather"},
    )
    assert [o.type for o in named.output] == ["function_call"]
    none = oai.responses.create(model=FLASH, input=WEATHER, tools=tools, tool_choice="none")
    assert [o.type for o in none.output] == ["message"]


def test_cut_short_and_blocked_answers_are_incomplete(oai: openai.OpenAI) -> None:
    whole = oai.responses.create(model=FLASH, input=PROMPT)
    short = oai.responses.create(model=FLASH, input=PROMPT, max_output_tokens=16)
    assert short.status == "incomplete" and short.incomplete_details
    assert short.incomplete_details.reason == "max_output_tokens"
    assert short.output_text and whole.output_text.startswith(short.output_text)
    blocked = "please [[emulator:block]] this"
    refused = oai.responses.create(model=FLASH, input=blocked)
    assert refused.status == "incomplete" and refused.output == []
    assert refused.incomplete_details and refused.incomplete_details.reason == "content_filter"
    events: list[Any] = list(oai.responses.create(model=FLASH, input=blocked, stream=True))
    assert _types(events) == ["response.created", "response.in_progress", "response.incomplete"]
    assert events[-1].response.incomplete_details.reason == "content_filter"


def test_conversation_continues_with_previous_response_id(oai: openai.OpenAI) -> None:
    first = oai.responses.create(model=FLASH, input="My name is Ada.")
    second = oai.responses.create(model=FLASH, input=PROMPT, previous_response_id=first.id)
    fresh = oai.responses.create(model=FLASH, input=PROMPT)
    assert second.output_text != fresh.output_text  # the upstream saw the earlier turn
    listed = oai.responses.input_items.list(second.id, order="asc")
    [item] = listed.data
    assert item.type == "message" and item.role == "user"
    assert item.content[0].text == PROMPT  # type: ignore[union-attr]


def test_web_search_sources_are_url_citations(oai: openai.OpenAI) -> None:
    question = "Who won the Tour de France in 2023?"
    answer = oai.responses.create(model=FLASH, input=question, tools=[{"type": "web_search"}])
    text = answer.output_text
    [message] = [o for o in answer.output if o.type == "message"]
    notes: list[Any] = message.content[0].annotations  # type: ignore[union-attr]
    assert notes and {n.type for n in notes} == {"url_citation"}
    for note in notes:
        assert note.url.startswith("https://")
        assert 0 <= note.start_index < note.end_index <= len(text)
    events: list[Any] = list(
        oai.responses.create(
            model=FLASH, input=question, tools=[{"type": "web_search_preview"}], stream=True
        )
    )
    added = [e.annotation for e in events if e.type == "response.output_text.annotation.added"]
    assert [a.url for a in added] == [n.url for n in notes]
    final = events[-1].response
    assert final.output[0].content[0].annotations == notes


class Keeper(pydantic.BaseModel):
    name: str
    age: int
    tags: list[str]


def test_json_schema_output_is_parsed(oai: openai.OpenAI) -> None:
    parsed = oai.responses.parse(model=FLASH, input=PROMPT, text_format=Keeper)
    assert isinstance(parsed.output_parsed, Keeper)
    with oai.responses.stream(model=FLASH, input=PROMPT, text_format=Keeper) as stream:
        streamed = stream.get_final_response()
    assert streamed.output_parsed == parsed.output_parsed
    assert parsed.text and parsed.text.format and parsed.text.format.type == "json_schema"
    loose = oai.responses.create(
        model=FLASH, input=PROMPT, text={"format": {"type": "json_object"}}
    )
    assert isinstance(json.loads(loose.output_text), dict)


def test_retrieve_list_and_delete(oai: openai.OpenAI) -> None:
    answer = oai.responses.create(model=FLASH, input=PROMPT, instructions="Be kind.")
    again = oai.responses.retrieve(answer.id)
    assert again.model_dump() == answer.model_dump()
    items = oai.responses.input_items.list(answer.id)
    assert [i.type for i in items.data] == ["message"] and items.data[0].id
    oai.responses.delete(answer.id)
    with pytest.raises(openai.NotFoundError):
        oai.responses.retrieve(answer.id)
    with pytest.raises(openai.NotFoundError):
        oai.responses.delete(answer.id)
    with pytest.raises(openai.NotFoundError):
        oai.responses.create(model=FLASH, input=PROMPT, previous_response_id=answer.id)


@pytest.mark.anyio
async def test_each_gateway_key_sees_only_its_responses(keyed: Gateway) -> None:
    mine, theirs = openai_of(keyed, KEY_A), openai_of(keyed, KEY_B)
    answer = await mine.responses.create(model=FLASH, input=PROMPT)
    assert (await mine.responses.retrieve(answer.id)).id == answer.id
    with pytest.raises(openai.NotFoundError):
        await theirs.responses.retrieve(answer.id)
    with pytest.raises(openai.NotFoundError):
        await theirs.responses.input_items.list(answer.id)
    with pytest.raises(openai.NotFoundError):
        await theirs.responses.create(model=FLASH, input=PROMPT, previous_response_id=answer.id)
    with pytest.raises(openai.NotFoundError):
        await theirs.responses.delete(answer.id)
    await mine.responses.delete(answer.id)


@pytest.mark.anyio
async def test_file_search_grounds_on_the_callers_vector_stores(keyed: Gateway) -> None:
    client = openai_of(keyed, KEY_A)
    file = await client.files.create(
        file=("foxes.txt", b"The arctic fox turns white in winter."), purpose="assistants"
    )
    store = await client.vector_stores.create(name="foxes", file_ids=[file.id])
    tools: Any = [{"type": "file_search", "vector_store_ids": [store.id]}]
    question = "Does the arctic fox change its coat in winter?"
    answer = await client.responses.create(model=FLASH, input=question, tools=tools)
    message: Any = answer.output[0]
    notes = message.content[0].annotations
    assert notes and notes[0].type == "file_citation"
    assert notes[0].filename == "foxes.txt"
    assert answer.tools[0].type == "file_search"
    with pytest.raises(openai.NotFoundError):
        await openai_of(keyed, KEY_B).responses.create(model=FLASH, input=question, tools=tools)


def _png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
    return png + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00")) + chunk(b"IEND", b"")


@pytest.mark.anyio
async def test_input_images_by_data_or_fetched_url(tmp_path: Path) -> None:
    async def image(request: Any) -> StarletteResponse:
        return StarletteResponse(_png(), media_type="image/png")

    server, task, base = await serve_in_loop(Starlette(routes=[StarletteRoute("/i.png", image)]))
    data_url = "data:image/png;base64," + base64.b64encode(_png()).decode()
    try:
        async with rag_gateway(tmp_path, fetch_private=True) as app:
            client = openai_of(app, KEY_A)
            for url in (data_url, f"{base}/i.png"):
                content: Any = [
                    {"type": "input_text", "text": "What is in this image?"},
                    {"type": "input_image", "image_url": url, "detail": "auto"},
                ]
                answer = await client.responses.create(
                    model=FLASH, input=[{"role": "user", "content": content}]
                )
                assert answer.output_text and answer.usage and answer.usage.input_tokens > 0
            await app.responses.stored.aclose()
        (tmp_path / "guarded").mkdir()
        async with rag_gateway(tmp_path / "guarded") as app:  # loopback URLs are refused
            with pytest.raises(openai.BadRequestError):
                await openai_of(app, KEY_A).responses.create(
                    model=FLASH, input=[{"role": "user", "content": content}]
                )
            await app.responses.stored.aclose()
    finally:
        await stop_serving(server, task)


@pytest.mark.anyio
async def test_bad_requests_are_openai_errors(keyed: Gateway) -> None:
    async with http_of(keyed, KEY_A) as http:
        answer = (await http.post("/v1/responses", json={"model": FLASH, "input": "Hi"})).json()

        async def post(body: dict[str, Any]) -> httpx2.Response:
            return await http.post("/v1/responses", json=body)

        error = _openai_error(await post({"model": FLASH}), 400)
        assert error["param"] == "input" and error["type"] == "invalid_request_error"
        assert _openai_error(await post({"input": "Hi"}), 400)["param"] == "model"
        missing = _openai_error(await post({"model": "gemini-9-nope", "input": "Hi"}), 404)
        assert missing["code"] == "model_not_found"
        bad_item = [{"type": "hologram", "content": "x"}]
        assert _openai_error(await post({"model": FLASH, "input": bad_item}), 400)["param"] == (
            "input[0].type"
        )
        unknown = await post({"model": FLASH, "input": "Hi", "previous_response_id": "resp_x"})
        assert _openai_error(unknown, 404)["param"] == "previous_response_id"
        assert (
            _openai_error(await post({"model": FLASH, "input": "Hi", "colour": 1}), 400)["param"]
            == "colour"
        )
        orphan = [{"type": "function_call_output", "call_id": "call_nope", "output": "1"}]
        assert _openai_error(await post({"model": FLASH, "input": orphan}), 400)["param"] == (
            "input[0].call_id"
        )
        tool = {"model": FLASH, "input": "Hi", "tools": [{"type": "computer_use"}]}
        assert _openai_error(await post(tool), 400)["param"] == "tools[0].type"
        search = {"model": FLASH, "input": "Hi", "tools": [{"type": "file_search"}]}
        assert _openai_error(await post(search), 400)["param"] == "tools"
        effort = {"model": FLASH, "input": "Hi", "reasoning": {"effort": "huge"}}
        assert _openai_error(await post(effort), 400)["param"] == "reasoning.effort"
        _openai_error(await post({"model": FLASH, "input": "Hi", "background": True}), 400)
        _openai_error(await post({"model": FLASH, "input": []}), 400)
        _openai_error(await post({"model": FLASH, "input": "Hi", "temperature": "hot"}), 400)
        _openai_error(await http.get("/v1/responses/resp_nope"), 404)
        _openai_error(await http.get(f"/v1/responses/{answer['id']}/input_items?order=up"), 400)
        _openai_error(await http.delete("/v1/responses/resp_nope"), 404)


@pytest.mark.anyio
async def test_midstream_failure_ends_with_response_failed(stack: Stack) -> None:
    await stack.faults({"kind": "midstream", "after_chunks": 2, "status": 500})
    body = {"model": FLASH, "input": PROMPT, "stream": True}
    response = await stack.http.post("/v1/responses", json=body)
    assert response.status_code == 200
    decoder = SSEDecoder()
    frames = decoder.feed(response.content) + decoder.flush()
    events = [json.loads(f.data) for f in frames]
    assert [f.event for f in frames] == [e["type"] for e in events]
    kinds = [e["type"] for e in events]
    assert kinds[-1] == "response.failed" and "response.completed" not in kinds
    assert kinds.count("response.output_text.delta") == 2
    failed = events[-1]["response"]
    assert failed["status"] == "failed" and failed["error"]["message"]
    for event in events:
        _EVENT.validate_python(event)
    await stack.faults()
    body = {"model": FLASH, "input": PROMPT}
    assert (await stack.http.post("/v1/responses", json=body)).status_code == 200
    await stack.idle()


_EVENT = pydantic.TypeAdapter(ResponseStreamEvent)
_ITEM = pydantic.TypeAdapter(ResponseItem)


def test_bodies_and_events_validate_against_the_sdk_types(raw: httpx2.Client) -> None:
    """Every field the SDK's types require is there (its parsing alone does not check)."""
    tools = [WEATHER_TOOL, {"type": "web_search"}]
    reasoning = {"effort": "low", "summary": "auto"}
    schema = {"type": "object", "properties": {"a": {"type": "string"}}}
    bodies: list[dict[str, Any]] = [
        {"model": FLASH, "input": WEATHER, "tools": tools, "metadata": {"k": "v"}},
        {
            "model": FLASH,
            "input": [{"role": "user", "content": "Who won the Tour de France in 2023?"}],
            "tools": [{"type": "web_search_preview"}],
            "reasoning": reasoning,
            "text": {"format": {"type": "json_schema", "name": "a", "schema": schema}},
        },
    ]
    for body in bodies:
        answer = raw.post("/responses", json=body).json()
        Response.model_validate(answer)
        Response.model_validate(raw.get(f"/responses/{answer['id']}").json())
        for item in raw.get(f"/responses/{answer['id']}/input_items").json()["data"]:
            _ITEM.validate_python(item)
        with raw.stream("POST", "/responses", json={**body, "stream": True}) as response:
            decoder = SSEDecoder()
            frames = decoder.feed(response.read()) + decoder.flush()
        kinds = {_EVENT.validate_python(json.loads(f.data)).type for f in frames}
        assert "response.completed" in kinds


def test_the_routes_are_documented(raw: httpx2.Client) -> None:
    paths = httpx2.get(str(raw.base_url).removesuffix("/v1/") + "/openapi.json").json()["paths"]
    assert paths["/v1/responses"]["post"]["requestBody"]
    assert set(paths["/v1/responses/{response_id}"]) == {"get", "delete"}
    assert "get" in paths["/v1/responses/{response_id}/input_items"]


@pytest.mark.anyio
async def test_model_routes_fall_back_on_retryable_failures(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    emu_server, emu_task, emulator = await serve(create_emulator(EmulatorConfig(), control=True))
    routes = {"fast": ["gemini-2.5-flash-lite", FLASH], "solo": ["gemini-2.5-flash-lite"]}
    client = AsyncGemini(
        api_key="k", base_url=emulator, retry=RetrySettings(max_retries=0), model_routes=routes
    )
    gw_server, gw_task, url = await serve(create_gateway(client), lifespan="on")
    oai = openai.AsyncOpenAI(api_key="any", base_url=f"{url}/v1", max_retries=0)
    try:
        assert (await oai.responses.create(model="fast", input=PROMPT)).model == "fast"
        faults = {"faults": [{"kind": "status", "status": 503, "model": "gemini-2.5-flash-lite"}]}
        async with httpx2.AsyncClient(timeout=30) as http:
            (await http.post(f"{emulator}/_emulator/faults", json=faults)).raise_for_status()
        assert (await oai.responses.create(model="fast", input=PROMPT)).output_text
        streamed = await oai.responses.create(model="fast", input=PROMPT, stream=True)
        assert [e.type async for e in streamed][-1] == "response.completed"
        with pytest.raises(openai.InternalServerError):
            await oai.responses.create(model="solo", input=PROMPT)
        models = [h["model"] for h in client.get_request_history().values()]
        assert models[:3] == ["gemini-2.5-flash-lite", "gemini-2.5-flash-lite", FLASH]
    finally:
        await oai.close()
        gw_server.should_exit = True
        await gw_task
        emu_server.should_exit = True
        await emu_task


@pytest.mark.anyio
async def test_function_calls_sent_back_get_their_stored_signatures(keyed: Gateway) -> None:
    client = openai_of(keyed, KEY_A)
    tools: Any = [WEATHER_TOOL]
    first = await client.responses.create(model=THINKER, input=WEATHER, tools=tools)
    call = _call(first)
    items: Any = [
        {"role": "user", "content": WEATHER},
        {
            "type": "function_call",
            "call_id": call.call_id,
            "name": call.name,
            "arguments": call.arguments,
        },
        {"type": "function_call_output", "call_id": call.call_id, "output": json.dumps(FORECAST)},
    ]
    second = await client.responses.create(model=THINKER, input=items, tools=tools)
    assert FORECAST["forecast"] in second.output_text
    stored = await keyed.responses.stored.get("a", second.id)
    assert stored is not None
    [signed] = [p for c in stored.contents for p in c["parts"] if "functionCall" in p]
    earlier = await keyed.responses.stored.get("a", first.id)
    assert earlier is not None
    assert signed["thoughtSignature"] == earlier.contents[-1]["parts"][0]["thoughtSignature"]
    assert signed["thoughtSignature"] != SKIP_SIGNATURE
    other = openai_of(keyed, KEY_B)  # another key's call ids restore nothing
    answer = await other.responses.create(model=THINKER, input=items, tools=tools)
    theirs = await keyed.responses.stored.get("b", answer.id)
    assert theirs is not None
    [unsigned] = [p for c in theirs.contents for p in c["parts"] if "functionCall" in p]
    assert unsigned["thoughtSignature"] == SKIP_SIGNATURE
