"""generate_content, streams, chats and counting through the official SDK."""

from __future__ import annotations

import json

import pytest
from google.genai import types
from pydantic import BaseModel

from gemgate.wire import JSONArrayDecoder, SSEDecoder

from .conftest import KEY, Target

pytestmark = pytest.mark.anyio
MODEL = "gemini-2.5-flash"


def _usage_adds_up(usage: types.GenerateContentResponseUsageMetadata | None) -> None:
    assert usage is not None
    total = (usage.prompt_token_count or 0) + (usage.candidates_token_count or 0)
    total += usage.thoughts_token_count or 0
    assert usage.total_token_count == total


async def test_generate_is_deterministic_and_about_the_prompt(target: Target) -> None:
    client = target.sdk()
    first = await client.aio.models.generate_content(model=MODEL, contents="Capital of France?")
    again = await client.aio.models.generate_content(model=MODEL, contents="Capital of France?")
    other = await client.aio.models.generate_content(model=MODEL, contents="Capital of Spain?")
    assert first.text == again.text
    assert "Capital of France?" in (first.text or "")
    assert first.text != other.text
    assert first.candidates and first.candidates[0].finish_reason == types.FinishReason.STOP
    assert first.model_version == MODEL
    _usage_adds_up(first.usage_metadata)


async def test_generate_with_models_prefix_and_v1(target: Target) -> None:
    client = target.sdk(version="v1")
    response = await client.aio.models.generate_content(
        model="models/gemini-2.5-flash-lite", contents="hello there"
    )
    assert response.text
    assert response.usage_metadata and response.usage_metadata.thoughts_token_count is None


async def test_stream_chunks_share_id_and_finish_last(target: Target) -> None:
    client = target.sdk()
    chunks = [
        chunk
        async for chunk in await client.aio.models.generate_content_stream(
            model=MODEL, contents="Tell me a long story about a lighthouse keeper"
        )
    ]
    assert len(chunks) >= 3
    assert len({c.response_id for c in chunks}) == 1
    finishes = [c.candidates[0].finish_reason if c.candidates else None for c in chunks]
    assert finishes[-1] == types.FinishReason.STOP
    assert all(f is None for f in finishes[:-1])
    running = [c.usage_metadata.candidates_token_count or 0 for c in chunks if c.usage_metadata]
    assert running == sorted(running) and running[-1] > running[0]
    for chunk in chunks:
        _usage_adds_up(chunk.usage_metadata)
    whole = await client.aio.models.generate_content(
        model=MODEL, contents="Tell me a long story about a lighthouse keeper"
    )
    assert "".join(c.text or "" for c in chunks) == whole.text


async def test_stream_sync_client_against_server(emulator_server: str) -> None:
    from google import genai

    client = genai.Client(api_key=KEY, http_options={"base_url": emulator_server})
    try:
        text = "".join(
            c.text or ""
            for c in client.models.generate_content_stream(model=MODEL, contents="sync stream")
        )
        assert "sync stream" in text
        assert client.models.generate_content(model=MODEL, contents="sync stream").text == text
    finally:
        client.close()


async def test_raw_sse_and_json_array_forms(target: Target) -> None:
    body = {"contents": [{"role": "user", "parts": [{"text": "raw stream please"}]}]}
    headers = {"x-goog-api-key": KEY}
    url = f"/v1beta/models/{MODEL}:streamGenerateContent"
    sse = await target.http.post(url, params={"alt": "sse"}, json=body, headers=headers)
    assert sse.headers["content-type"].startswith("text/event-stream")
    assert b"\r\n\r\n" in sse.content
    events = SSEDecoder().feed(sse.content)
    array = await target.http.post(url, json=body, headers=headers)
    assert array.headers["content-type"].startswith("application/json")
    decoder = JSONArrayDecoder()
    items = decoder.feed(array.content)
    decoder.close()
    assert [json.loads(e.data)["candidates"][0]["content"] for e in events[:-1]] == [
        i["candidates"][0]["content"] for i in items[:-1]
    ]
    assert json.loads(array.content) == items


async def test_chat_keeps_context(target: Target) -> None:
    client = target.sdk()
    chat = client.aio.chats.create(model=MODEL)
    first = await chat.send_message("My name is Ada.")
    second = await chat.send_message("What is my name?")
    assert "My name is Ada." in (first.text or "")
    assert "What is my name?" in (second.text or "")
    history = chat.get_history()
    assert [c.role for c in history] == ["user", "model", "user", "model"]
    fresh = await client.aio.models.generate_content(model=MODEL, contents="What is my name?")
    assert fresh.text != second.text  # the reply depends on the whole conversation


async def test_system_instruction_changes_reply(target: Target) -> None:
    client = target.sdk()
    plain = await client.aio.models.generate_content(model=MODEL, contents="Hello")
    styled = await client.aio.models.generate_content(
        model=MODEL,
        contents="Hello",
        config=types.GenerateContentConfig(system_instruction="Answer like a pirate."),
    )
    assert plain.text != styled.text
    assert styled.usage_metadata and plain.usage_metadata
    assert (styled.usage_metadata.prompt_token_count or 0) > (
        plain.usage_metadata.prompt_token_count or 0
    )


async def test_scripted_reply_rule(target: Target) -> None:
    response = await target.sdk().aio.models.generate_content(
        model=MODEL, contents="Please say the magic word"
    )
    assert response.text == "Abracadabra."


async def test_stop_sequences_and_max_tokens(target: Target) -> None:
    client = target.sdk()
    full = await client.aio.models.generate_content(model=MODEL, contents="Stop test")
    assert full.text
    marker = full.text.split(". ")[1].split()[0]  # first word of the second sentence
    stopped = await client.aio.models.generate_content(
        model=MODEL,
        contents="Stop test",
        config=types.GenerateContentConfig(stop_sequences=[marker]),
    )
    assert stopped.text == full.text[: full.text.index(marker)]
    assert stopped.candidates and stopped.candidates[0].finish_reason == types.FinishReason.STOP
    short = await client.aio.models.generate_content(
        model=MODEL, contents="Stop test", config=types.GenerateContentConfig(max_output_tokens=5)
    )
    assert short.candidates and short.candidates[0].finish_reason == types.FinishReason.MAX_TOKENS
    assert short.usage_metadata and short.usage_metadata.candidates_token_count == 5
    assert full.text.startswith(short.text or "-")


class Capital(BaseModel):
    country: str
    city: str
    population_millions: float
    landmarks: list[str]


async def test_structured_output_parses_into_pydantic(target: Target) -> None:
    response = await target.sdk().aio.models.generate_content(
        model=MODEL,
        contents="Describe the capital of France",
        config=types.GenerateContentConfig(
            response_mime_type="application/json", response_schema=Capital
        ),
    )
    assert isinstance(response.parsed, Capital)
    assert response.parsed.landmarks


async def test_structured_output_json_schema_and_enum(target: Target) -> None:
    import jsonschema

    schema = {
        "type": "object",
        "properties": {
            "mood": {"type": "string", "enum": ["happy", "sad"]},
            "score": {"type": "integer", "minimum": 1, "maximum": 5},
            "tags": {"type": "array", "items": {"type": "string"}, "minItems": 2},
        },
        "required": ["mood", "score", "tags"],
    }
    client = target.sdk()
    response = await client.aio.models.generate_content(
        model=MODEL,
        contents="I am so sad today",
        config=types.GenerateContentConfig(
            response_mime_type="application/json", response_json_schema=schema
        ),
    )
    value = json.loads(response.text or "")
    jsonschema.validate(value, schema)
    assert value["mood"] == "sad"
    enum = await client.aio.models.generate_content(
        model=MODEL,
        contents="Is this good or bad? It is bad",
        config=types.GenerateContentConfig(
            response_mime_type="text/x.enum",
            response_schema={"type": "STRING", "enum": ["good", "bad"]},
        ),
    )
    assert enum.text == "bad"


async def test_thinking_model_returns_thoughts_and_signatures(target: Target) -> None:
    response = await target.sdk().aio.models.generate_content(
        model="gemini-3-flash-preview",
        contents="Why is the sky blue?",
        config=types.GenerateContentConfig(
            thinking_config=types.ThinkingConfig(include_thoughts=True)
        ),
    )
    assert response.candidates and response.candidates[0].content
    parts = response.candidates[0].content.parts or []
    assert parts[0].thought is True and parts[0].text
    assert any(p.thought_signature for p in parts)
    assert response.usage_metadata and (response.usage_metadata.thoughts_token_count or 0) > 0
    _usage_adds_up(response.usage_metadata)
    assert "Why is the sky blue?" in (response.text or "")


async def test_thinking_budget_zero(target: Target) -> None:
    client = target.sdk()
    off = await client.aio.models.generate_content(
        model=MODEL,
        contents="quick",
        config=types.GenerateContentConfig(thinking_config=types.ThinkingConfig(thinking_budget=0)),
    )
    assert off.usage_metadata and off.usage_metadata.thoughts_token_count is None
    with pytest.raises(Exception) as excinfo:
        await client.aio.models.generate_content(
            model="gemini-2.5-pro",
            contents="quick",
            config=types.GenerateContentConfig(
                thinking_config=types.ThinkingConfig(thinking_budget=0)
            ),
        )
    assert getattr(excinfo.value, "code", None) == 400


async def test_blocked_prompt_and_safety_finish(target: Target) -> None:
    client = target.sdk()
    blocked = await client.aio.models.generate_content(
        model=MODEL, contents="please [[emulator:block]] this"
    )
    assert not blocked.candidates
    assert blocked.prompt_feedback and blocked.prompt_feedback.block_reason == (
        types.BlockedReason.SAFETY
    )
    unsafe = await client.aio.models.generate_content(
        model=MODEL, contents="[[emulator:safety]] now"
    )
    assert unsafe.candidates and unsafe.candidates[0].finish_reason == types.FinishReason.SAFETY
    assert unsafe.text is None


async def test_candidate_count(target: Target) -> None:
    response = await target.sdk().aio.models.generate_content(
        model=MODEL, contents="two please", config=types.GenerateContentConfig(candidate_count=2)
    )
    assert response.candidates and len(response.candidates) == 2
    texts = [c.content.parts[0].text for c in response.candidates if c.content and c.content.parts]
    assert texts[0] != texts[1]


async def test_count_tokens_both_forms_match_usage(target: Target) -> None:
    client = target.sdk()
    counted = await client.aio.models.count_tokens(model=MODEL, contents="one two three, four.")
    assert counted.total_tokens == 6
    generated = await client.aio.models.generate_content(
        model=MODEL, contents="one two three, four."
    )
    assert generated.usage_metadata and generated.usage_metadata.prompt_token_count == 6
    wrapped = await target.http.post(
        f"/v1beta/models/{MODEL}:countTokens",
        headers={"x-goog-api-key": KEY},
        json={
            "generateContentRequest": {
                "model": f"models/{MODEL}",
                "contents": [{"parts": [{"text": "one two three, four."}]}],
                "systemInstruction": {"parts": [{"text": "be brief"}]},
            }
        },
    )
    assert wrapped.status_code == 200
    assert wrapped.json()["totalTokens"] == 8


async def test_models_list_and_get(target: Target) -> None:
    client = target.sdk()
    pager = await client.aio.models.list(config={"page_size": 2})
    names = [m.name async for m in pager]
    for expected in (
        "gemini-2.5-flash",
        "gemini-2.5-pro",
        "gemini-2.5-flash-lite",
        "gemini-3-flash-preview",
        "gemini-embedding-001",
        "text-embedding-004",
        "gemini-test-tiny",
    ):
        assert f"models/{expected}" in names
    assert len(names) == len(set(names))
    model = await client.aio.models.get(model="gemini-3-flash-preview")
    assert model.display_name == "Gemini 3 Flash Preview"
    assert model.input_token_limit == 1_048_576
    assert model.supported_actions and "generateContent" in model.supported_actions
    alias = await client.aio.models.get(model="gemini-flash-latest")
    assert alias.name == "models/gemini-2.5-flash"
    page = await target.http.get(
        "/v1beta/models", params={"pageSize": 3}, headers={"x-goog-api-key": KEY}
    )
    assert len(page.json()["models"]) == 3 and page.json()["nextPageToken"]
