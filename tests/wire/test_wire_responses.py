"""The Responses API adapter: input items, request fields, Response objects, stream events."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gemgate.wire.openai import InvalidRequest
from gemgate.wire.responses import (
    SKIP_SIGNATURE,
    EventStream,
    KnownCall,
    call_ids,
    event_frame,
    input_contents,
    known_calls,
    needs_signatures,
    output_annotations,
    response_object,
    response_usage,
    responses_request,
    sign_unsigned_calls,
)

MODEL = "gemini-2.5-flash"
PNG = "data:image/png;base64,iVBORw0KGgo="
WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "The weather in a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    "strict": True,
}
CALL = {
    "type": "function_call",
    "call_id": "call_1",
    "name": "get_weather",
    "arguments": '{"city": "Paris"}',
}
OUTPUT = {"type": "function_call_output", "call_id": "call_1", "output": '{"temp": 22}'}
GROUNDING = {
    "groundingChunks": [
        {"web": {"uri": "https://example.com/a", "title": "A"}},
        {"retrievedContext": {"documentName": "stores/s/documents/d", "title": "foxes.txt"}},
    ],
    "groundingSupports": [
        {"segment": {"startIndex": 0, "endIndex": 5}, "groundingChunkIndices": [0, 1]}
    ],
}


def _request(**fields: Any) -> dict[str, Any]:
    return responses_request({"model": MODEL, "input": "Hi", **fields}).request


# input items


def test_a_string_input_is_one_user_turn_and_instructions_the_system() -> None:
    contents, system = input_contents("Hi", instructions="Be brief.")
    assert contents == [{"role": "user", "parts": [{"text": "Hi"}]}]
    assert system == {"parts": [{"text": "Be brief."}]}
    assert input_contents("Hi") == (contents, None)


def test_message_items_with_text_and_images() -> None:
    items = [
        {"role": "developer", "content": "Be brief."},
        {
            "type": "message",
            "role": "user",
            "content": [
                {"type": "input_text", "text": "What is this?"},
                {"type": "input_image", "image_url": PNG, "detail": "auto"},
            ],
        },
        {"role": "assistant", "content": [{"type": "output_text", "text": "A pixel."}]},
        {"role": "user", "content": "Thanks"},
    ]
    contents, system = input_contents(items)
    assert system == {"parts": [{"text": "Be brief."}]}
    assert contents == [
        {
            "role": "user",
            "parts": [
                {"text": "What is this?"},
                {"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}},
            ],
        },
        {"role": "model", "parts": [{"text": "A pixel."}]},
        {"role": "user", "parts": [{"text": "Thanks"}]},
    ]


def test_function_calls_carry_known_signatures_and_outputs_are_named() -> None:
    second = {**CALL, "call_id": "call_2", "arguments": '{"city": "Rome"}'}
    items: list[dict[str, Any]] = [
        {"role": "user", "content": "Weather in Paris and Rome?"},
        {"type": "reasoning", "id": "rs_1", "summary": []},
        CALL,
        second,
        OUTPUT,
        {**OUTPUT, "call_id": "call_2", "output": "sunny"},
    ]
    contents, _ = input_contents(items, calls={"call_1": KnownCall("get_weather", "sig")})
    model, answers = contents[1], contents[2]
    assert model == {
        "role": "model",
        "parts": [
            {
                "functionCall": {"name": "get_weather", "args": {"city": "Paris"}},
                "thoughtSignature": "sig",
            },
            {"functionCall": {"name": "get_weather", "args": {"city": "Rome"}}},
        ],
    }
    assert answers == {
        "role": "user",
        "parts": [
            {"functionResponse": {"name": "get_weather", "response": {"temp": 22}}},
            {"functionResponse": {"name": "get_weather", "response": {"result": "sunny"}}},
        ],
    }
    assert call_ids(items) == ["call_1", "call_2", "call_1", "call_2"]


def test_an_output_for_a_stored_call_takes_its_name_from_the_store() -> None:
    contents, _ = input_contents([OUTPUT], calls={"call_1": KnownCall("get_weather")})
    assert contents == [
        {
            "role": "user",
            "parts": [{"functionResponse": {"name": "get_weather", "response": {"temp": 22}}}],
        }
    ]


@pytest.mark.parametrize(
    ("value", "param"),
    [
        (None, "input"),
        ([], "input"),
        ("x" and 7, "input"),
        ([{"type": "hologram"}], "input[0].type"),
        ([{"role": "robot", "content": "x"}], "input[0].role"),
        ([OUTPUT], "input[0].call_id"),
        (
            [{"role": "user", "content": [{"type": "input_image", "file_id": "f"}]}],
            "input[0].content[0]",
        ),
        ([{"role": "user", "content": [{"type": "input_audio"}]}], "input[0].content[0]"),
        ([{"type": "reasoning", "summary": []}], "input"),
        ([{**CALL, "arguments": "{"}], "input[0].tool_calls[0].function.arguments"),
        (
            [
                {
                    "role": "user",
                    "content": [{"type": "input_image", "image_url": "https://x/y.png"}],
                }
            ],
            "input[0].content[0].image_url",
        ),
    ],
)
def test_bad_input_names_the_item(value: Any, param: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        input_contents(value)
    assert caught.value.param == param


# request fields


def test_tools_and_tool_choice_share_the_chat_translation() -> None:
    request = _request(
        tools=[WEATHER, {"type": "web_search"}],
        tool_choice={"type": "function", "name": "get_weather"},
    )
    assert request["tools"] == [
        {
            "functionDeclarations": [
                {
                    "name": "get_weather",
                    "description": "The weather in a city.",
                    "parametersJsonSchema": WEATHER["parameters"],
                }
            ]
        },
        {"googleSearch": {}},
    ]
    assert request["toolConfig"] == {
        "functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["get_weather"]}
    }
    hosted = _request(
        tools=[{"type": "web_search_preview"}], tool_choice={"type": "web_search_preview"}
    )
    assert hosted["tools"] == [{"googleSearch": {}}] and "toolConfig" not in hosted
    assert _request(tools=[{"type": "code_interpreter", "container": {"type": "auto"}}])[
        "tools"
    ] == [{"codeExecution": {}}]
    assert _request(tools=[WEATHER], tool_choice="required")["toolConfig"] == {
        "functionCallingConfig": {"mode": "ANY"}
    }


@pytest.mark.parametrize(
    ("reasoning", "thinking"),
    [
        ({"effort": "low"}, {"thinkingBudget": 1024}),
        (
            {"effort": "high", "summary": "detailed"},
            {"thinkingBudget": 24576, "includeThoughts": True},
        ),
        ({"summary": "auto"}, {"includeThoughts": True}),
        ({"effort": "none", "summary": "auto"}, {"thinkingBudget": 0}),
    ],
)
def test_reasoning_is_a_thinking_config(
    reasoning: dict[str, Any], thinking: dict[str, Any]
) -> None:
    assert _request(reasoning=reasoning)["generationConfig"] == {"thinkingConfig": thinking}


def test_generation_settings_and_text_formats() -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}}
    request = _request(
        temperature=0.5,
        top_p=0.9,
        max_output_tokens=64,
        text={"format": {"type": "json_schema", "name": "n", "schema": schema, "strict": True}},
    )
    assert request["generationConfig"] == {
        "temperature": 0.5,
        "topP": 0.9,
        "maxOutputTokens": 64,
        "responseMimeType": "application/json",
        "responseJsonSchema": schema,
    }
    assert _request(text={"format": {"type": "json_object"}})["generationConfig"] == {
        "responseMimeType": "application/json"
    }
    assert "generationConfig" not in _request(text={"format": {"type": "text"}, "verbosity": "low"})


def test_history_comes_before_the_turn_and_the_echo_has_openai_defaults() -> None:
    history = [
        {"role": "user", "parts": [{"text": "Earlier"}]},
        {"role": "model", "parts": [{"text": "Yes"}]},
    ]
    parsed = responses_request(
        {
            "model": MODEL,
            "input": "Hi",
            "previous_response_id": "resp_1",
            "store": False,
            "stream": True,
        },
        history=history,
    )
    assert parsed.request["contents"] == [*history, {"role": "user", "parts": [{"text": "Hi"}]}]
    assert parsed.stream and not parsed.store
    assert parsed.items == [{"type": "message", "role": "user", "content": "Hi"}]
    echo = parsed.echo
    assert echo["previous_response_id"] == "resp_1" and echo["store"] is False
    assert echo["tool_choice"] == "auto" and echo["tools"] == [] and echo["metadata"] == {}
    assert echo["parallel_tool_calls"] is True and echo["text"] == {"format": {"type": "text"}}
    assert echo["reasoning"] == {"effort": None, "summary": None}


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"model": None}, "model"),
        ({"colour": "red"}, "colour"),
        ({"background": True}, "background"),
        ({"conversation": "conv_1"}, "conversation"),
        ({"store": "yes"}, "store"),
        ({"temperature": "hot"}, "temperature"),
        ({"max_output_tokens": 1.5}, "max_output_tokens"),
        ({"instructions": 3}, "instructions"),
        ({"metadata": {"k": 1}}, "metadata"),
        ({"tools": [{"type": "file_search"}]}, "tools[0].vector_store_ids"),
        ({"tools": [{"type": "computer_use_preview"}]}, "tools[0].type"),
        ({"tools": [{**WEATHER, "colour": 1}]}, "tools[0].colour"),
        ({"tool_choice": {"type": "allowed_tools"}}, "tool_choice.type"),
        ({"tool_choice": "maybe", "tools": [WEATHER]}, "tool_choice"),
        ({"reasoning": {"effort": "huge"}}, "reasoning.effort"),
        ({"reasoning": {"summary": "long"}}, "reasoning.summary"),
        ({"text": {"format": {"type": "xml"}}}, "text.format.type"),
        ({"text": {"format": {"type": "json_schema"}}}, "text.format.schema"),
        ({"previous_response_id": 5}, "previous_response_id"),
    ],
)
def test_bad_fields_name_the_param(fields: dict[str, Any], param: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        responses_request({"model": MODEL, "input": "Hi", **fields})
    assert caught.value.param == param


# Response objects


def test_response_object_items_in_order_with_usage() -> None:
    gemini: dict[str, Any] = {
        "candidates": [
            {
                "content": {
                    "role": "model",
                    "parts": [
                        {"text": "Thinking it over.", "thought": True},
                        {"text": "Let me check."},
                        {
                            "functionCall": {"name": "get_weather", "args": {"city": "Paris"}},
                            "thoughtSignature": "sig",
                        },
                    ],
                },
                "finishReason": "STOP",
            }
        ],
        "usageMetadata": {
            "promptTokenCount": 10,
            "candidatesTokenCount": 5,
            "thoughtsTokenCount": 7,
            "cachedContentTokenCount": 4,
            "totalTokenCount": 22,
        },
    }
    answer = response_object(gemini, "resp_1", MODEL, created_at=42, echo={"store": True})
    assert answer["id"] == "resp_1" and answer["created_at"] == 42 and answer["store"] is True
    assert answer["status"] == "completed" and answer["incomplete_details"] is None
    thought, message, call = answer["output"]
    assert thought["type"] == "reasoning"
    assert thought["summary"] == [{"type": "summary_text", "text": "Thinking it over."}]
    assert message["type"] == "message" and message["content"][0]["text"] == "Let me check."
    assert call["type"] == "function_call" and json.loads(call["arguments"]) == {"city": "Paris"}
    assert call["call_id"].startswith("call_") and call["id"].startswith("fc_")
    assert answer["usage"] == {
        "input_tokens": 10,
        "input_tokens_details": {"cached_tokens": 4, "cache_write_tokens": 0},
        "output_tokens": 12,
        "output_tokens_details": {"reasoning_tokens": 7},
        "total_tokens": 22,
    }
    calls = known_calls(answer["output"], gemini["candidates"][0]["content"]["parts"])
    assert calls == {call["call_id"]: KnownCall("get_weather", "sig")}


def test_cut_short_and_blocked_answers_are_incomplete() -> None:
    cut = {"candidates": [{"content": {"parts": [{"text": "Hal"}]}, "finishReason": "MAX_TOKENS"}]}
    answer = response_object(cut, "resp_1", MODEL, created_at=0)
    assert answer["status"] == "incomplete"
    assert answer["incomplete_details"] == {"reason": "max_output_tokens"}
    blocked = {"promptFeedback": {"blockReason": "SAFETY"}}
    answer = response_object(blocked, "resp_2", MODEL, created_at=0)
    assert answer["status"] == "incomplete" and answer["output"] == []
    assert answer["incomplete_details"] == {"reason": "content_filter"}
    assert response_usage(None)["total_tokens"] == 0


def test_annotations_are_flat_citations() -> None:
    assert output_annotations(GROUNDING, "Hello world") == [
        {
            "type": "url_citation",
            "start_index": 0,
            "end_index": 5,
            "url": "https://example.com/a",
            "title": "A",
        },
        {
            "type": "file_citation",
            "file_id": "stores/s/documents/d",
            "filename": "foxes.txt",
            "index": 5,
        },
    ]
    assert output_annotations(None, "x") == []


# streamed events


def _chunk(*parts: dict[str, Any], finish: str | None = None, **extra: Any) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": list(parts)}, **extra}
    if finish:
        candidate["finishReason"] = finish
    return {"candidates": [candidate]}


def test_stream_events_for_thoughts_text_and_a_call() -> None:
    events = EventStream("resp_1", MODEL, created_at=0, echo={"tools": []})
    out = events.start()
    out += events.feed(_chunk({"text": "Hmm, ", "thought": True}))
    out += events.feed(_chunk({"text": "weather.", "thought": True}, {"text": "Hello"}))
    out += events.feed(_chunk({"text": " world"}, grounding_metadata_ignored=1))
    out += events.feed(
        _chunk(
            {
                "functionCall": {"name": "get_weather", "args": {"city": "Paris"}},
                "thoughtSignature": "sig",
            },
            finish="STOP",
            groundingMetadata=GROUNDING,
        )
    )
    out += events.feed({"usageMetadata": {"promptTokenCount": 3, "totalTokenCount": 9}})
    out += events.finish()
    assert [e["sequence_number"] for e in out] == list(range(len(out)))
    assert [e["type"] for e in out] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.reasoning_summary_part.added",
        "response.reasoning_summary_text.delta",
        "response.reasoning_summary_text.delta",
        "response.reasoning_summary_text.done",
        "response.reasoning_summary_part.done",
        "response.output_item.done",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.annotation.added",
        "response.output_text.annotation.added",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.output_item.added",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.completed",
    ]
    final = out[-1]["response"]
    assert final["status"] == "completed" and final["tools"] == []
    assert [i["type"] for i in final["output"]] == ["reasoning", "message", "function_call"]
    assert final["output"][1]["content"][0]["text"] == "Hello world"
    assert final["output"][1]["content"][0]["annotations"][0]["url"] == "https://example.com/a"
    assert [e["output_index"] for e in out if e["type"] == "response.output_item.done"] == [0, 1, 2]
    assert final["usage"]["total_tokens"] == 9 and events.response == final
    assert events.parts[-1]["thoughtSignature"] == "sig" and len(events.parts) == 5


def test_a_cut_stream_is_incomplete_and_a_broken_one_failed() -> None:
    events = EventStream("resp_1", MODEL, created_at=0)
    events.start()
    events.feed(_chunk({"text": "Hal"}, finish="MAX_TOKENS"))
    assert events.finish()[-1]["type"] == "response.incomplete"

    broken = EventStream("resp_2", MODEL, created_at=0)
    broken.start()
    broken.feed(_chunk({"text": "Hal"}))
    [failed] = broken.fail("stream_interrupted", "the upstream hung up")
    assert failed["type"] == "response.failed"
    assert failed["response"]["status"] == "failed"
    assert failed["response"]["error"] == {
        "code": "stream_interrupted",
        "message": "the upstream hung up",
    }


def test_event_frames_name_the_event() -> None:
    frame = event_frame({"type": "response.created", "sequence_number": 0})
    assert (
        frame
        == b'event: response.created\ndata: {"type":"response.created","sequence_number":0}\n\n'
    )


@given(st.lists(st.text(min_size=1), min_size=1, max_size=6))
def test_streamed_deltas_join_to_the_final_text(pieces: list[str]) -> None:
    events = EventStream("resp_1", MODEL, created_at=0)
    out = [e for piece in pieces for e in events.feed(_chunk({"text": piece}))]
    out += events.finish()
    deltas = "".join(e["delta"] for e in out if e["type"] == "response.output_text.delta")
    assert deltas == "".join(pieces) == out[-1]["response"]["output"][0]["content"][0]["text"]


def test_unsigned_calls_get_the_stand_in_on_models_that_need_signatures() -> None:
    call: dict[str, Any] = {"functionCall": {"name": "f", "args": {}}}
    contents: list[dict[str, Any]] = [
        {"role": "user", "parts": [{"text": "Hi"}]},
        {"role": "model", "parts": [{"text": "Let me see."}, call, call]},
        {"role": "model", "parts": [{**call, "thoughtSignature": "real"}]},
    ]
    signed = sign_unsigned_calls(contents)
    assert signed[0] == contents[0] and signed[2] == contents[2]
    assert signed[1]["parts"] == [
        {"text": "Let me see."},
        {**call, "thoughtSignature": SKIP_SIGNATURE},
        call,
    ]
    assert "thoughtSignature" not in contents[1]["parts"][1]  # the input is left alone
    assert [
        needs_signatures(m)
        for m in ("gemini-3-flash-preview", "gemini-2.5-pro", "gemini-10-x", "gemma-3")
    ] == [
        True,
        False,
        True,
        False,
    ]
