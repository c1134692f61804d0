"""The request side of the OpenAI adapter: validation, tools, formats, Google's extras."""

from __future__ import annotations

import pickle
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gemgate.errors import UsageError
from gemgate.wire.openai import (
    CHAT_FIELDS,
    REQUEST_FIELDS,
    ChatRequest,
    InvalidRequest,
    chat_request,
    gemini_request,
    messages_to_contents,
    tools_to_gemini,
)

USER = [{"role": "user", "content": "Hi"}]
CONTENTS = [{"role": "user", "parts": [{"text": "Hi"}]}]
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        "strict": True,
    },
}
WEATHER_DECLARATION = {
    "name": "get_weather",
    "description": "The weather in a city.",
    "parametersJsonSchema": {"type": "object", "properties": {"city": {"type": "string"}}},
}
SAFETY = [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"}]


def body(**fields: Any) -> dict[str, Any]:
    return {"model": "gemini-2.5-flash", "messages": USER, **fields}


def refused(payload: Any) -> InvalidRequest:
    with pytest.raises(InvalidRequest) as caught:
        chat_request(payload)
    return caught.value


# --- the whole body ---------------------------------------------------------------------


def test_a_plain_body() -> None:
    assert chat_request(body()) == ChatRequest("gemini-2.5-flash", {"contents": CONTENTS})


def test_stream_and_include_usage() -> None:
    chat = chat_request(body(stream=True, stream_options={"include_usage": True}))
    assert (chat.stream, chat.include_usage) == (True, True)
    assert chat.request == {"contents": CONTENTS}
    assert chat_request(body(stream=None, stream_options=None)).stream is False


def test_optional_fields_given_as_null_are_unset() -> None:
    nulls = {name: None for name in REQUEST_FIELDS}
    assert chat_request(body(**nulls)).request == {"contents": CONTENTS}


def test_user_and_parallel_tool_calls_are_accepted_and_ignored() -> None:
    chat = chat_request(body(user="u-1", parallel_tool_calls=False))
    assert chat.request == {"contents": CONTENTS}


@pytest.mark.parametrize(
    ("payload", "param", "message"),
    [
        ([1, 2], "body", "must be an object"),
        (body(bogus=1, another=2), "another", "another, bogus"),
        (body(logit_bias={}), "logit_bias", "Unrecognized request argument"),
        ({"messages": USER}, "model", "'model' is required"),
        (body(model=7), "model", "'model' is required"),
        (body(model=""), "model", "'model' is required"),
        (body(messages="hi"), "messages", "non-empty array"),
        (body(messages=[]), "messages", "non-empty array"),
        (body(stream="yes"), "stream", "boolean"),
        (body(stream_options="yes"), "stream_options", "object"),
        (body(stream_options={"include_usage": 1}), "stream_options.include_usage", "boolean"),
        (body(temperature="hot"), "temperature", "must be a number"),
        (body(temperature=True), "temperature", "must be a number"),
        (body(top_p=[1]), "top_p", "must be a number"),
        (body(max_tokens=1.5), "max_tokens", "must be an integer"),
        (body(max_completion_tokens="5"), "max_completion_tokens", "integer"),
        (body(n=0), "n", ">= 1"),
        (body(top_k=0), "top_k", ">= 1"),
        (body(seed=False), "seed", "integer"),
        (body(stop=[1]), "stop", "array of strings"),
        (body(user=5), "user", "string"),
        (body(parallel_tool_calls="no"), "parallel_tool_calls", "boolean"),
        (body(reasoning_effort="extreme"), "reasoning_effort", "must be one of"),
        (body(reasoning_effort=["low"]), "reasoning_effort", "must be one of"),
        (body(response_format={"type": "xml"}), "response_format.type", "json_schema"),
        (body(response_format=[]), "response_format", "object"),
        (
            body(response_format={"type": "json_schema", "json_schema": "x"}),
            "response_format.json_schema",
            "object",
        ),
        (body(extra_body=[]), "extra_body", "object"),
        (body(extra_body={"vertex": {}}), "extra_body.vertex", "Unrecognized"),
        (body(extra_body={"google": 1}), "extra_body.google", "object"),
        (body(google="x"), "google", "object"),
        (body(google={}, extra_body={"google": {}}), "google", "not both"),
        (body(safety_settings="none"), "safety_settings", "array"),
        (body(cached_content=5), "cached_content", "string"),
        (body(system_instruction=5), "system_instruction", "object"),
        (body(thinking="lots"), "thinking", "thinking_config"),
        (body(thinking=True, reasoning_effort="low"), "reasoning_effort", "not both"),
    ],
)
def test_bad_bodies_name_the_field(payload: Any, param: str, message: str) -> None:
    error = refused(payload)
    assert error.param == param
    assert message in error.message


def test_the_error_is_a_usage_error_a_value_error_and_pickles() -> None:
    error = refused(body(temperature="hot"))
    assert isinstance(error, UsageError) and isinstance(error, ValueError)
    again = pickle.loads(pickle.dumps(error))
    assert (type(again), again.message, again.param) == (
        InvalidRequest,
        error.message,
        "temperature",
    )


def test_chat_fields_are_the_request_fields_plus_the_body_ones() -> None:
    assert {"model", "messages", "stream", "stream_options"} == CHAT_FIELDS - REQUEST_FIELDS


# --- messages ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("messages", "param"),
    [
        (["hi"], "messages[0]"),
        ([{"content": "hi"}], "messages[0].role"),
        ([{"role": "user", "content": 5}], "messages[0].content"),
        (
            [{"role": "user", "content": [{"type": "text", "text": 5}]}],
            "messages[0].content[0].text",
        ),
        ([{"role": "user", "content": ["text"]}], "messages[0].content[0]"),
        (
            [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": 5}}]}],
            "messages[0].content[0].image_url.url",
        ),
        (
            [{"role": "user", "content": [{"type": "input_audio", "input_audio": {}}]}],
            "messages[0].content[0].input_audio.data",
        ),
        ([{"role": "system", "content": [{"text": None}, 3]}], "messages[0].content[1]"),
        ([{"role": "assistant", "tool_calls": "x"}], "messages[0].tool_calls"),
        (
            [{"role": "assistant", "tool_calls": [{"id": "a"}]}],
            "messages[0].tool_calls[0].function",
        ),
        (
            [{"role": "assistant", "tool_calls": [{"function": {"name": 1}}]}],
            "messages[0].tool_calls[0].function.name",
        ),
        (
            [{"role": "assistant", "tool_calls": [{"function": {"name": "f", "arguments": "{"}}]}],
            "messages[0].tool_calls[0].function.arguments",
        ),
        (
            [
                {
                    "role": "assistant",
                    "tool_calls": [{"function": {"name": "f", "arguments": "[1]"}}],
                }
            ],
            "messages[0].tool_calls[0].function.arguments",
        ),
        ([{"role": "tool", "tool_call_id": "x", "name": 5, "content": "r"}], "messages[0].name"),
    ],
)
def test_bad_messages_name_the_field(messages: Any, param: str) -> None:
    assert refused(body(messages=messages)).param == param


def test_tool_arguments_may_be_an_object_already() -> None:
    contents, _ = messages_to_contents(
        [{"role": "assistant", "tool_calls": [{"function": {"name": "f", "arguments": {"a": 1}}}]}]
    )
    assert contents == [
        {"role": "model", "parts": [{"functionCall": {"name": "f", "args": {"a": 1}}}]}
    ]


def test_a_tool_result_after_an_empty_user_turn_starts_its_own_turn() -> None:
    contents, _ = messages_to_contents(
        [{"role": "user", "content": []}, {"role": "tool", "name": "f", "content": "1"}]
    )
    assert contents == [
        {"role": "user", "parts": []},
        {"role": "user", "parts": [{"functionResponse": {"name": "f", "response": {"result": 1}}}]},
    ]


# --- tools and tool_choice ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("choice", "config"),
    [
        ("auto", {"mode": "AUTO"}),
        ("none", {"mode": "NONE"}),
        ("required", {"mode": "ANY"}),
        (
            {"type": "function", "function": {"name": "get_weather"}},
            {"mode": "ANY", "allowedFunctionNames": ["get_weather"]},
        ),
        ({"function": {"name": "f"}}, {"mode": "ANY", "allowedFunctionNames": ["f"]}),
    ],
)
def test_tool_choice(choice: Any, config: dict[str, Any]) -> None:
    request = chat_request(body(tools=[WEATHER], tool_choice=choice)).request
    assert request["tools"] == [{"functionDeclarations": [WEATHER_DECLARATION]}]
    assert request["toolConfig"] == {"functionCallingConfig": config}


def test_tools_without_a_choice_and_a_choice_without_tools() -> None:
    assert "toolConfig" not in chat_request(body(tools=[WEATHER])).request
    assert chat_request(body(tool_choice="required")).request == {"contents": CONTENTS}
    assert chat_request(body(tools=[])).request == {"contents": CONTENTS}


def test_gemini_tools_pass_through_beside_openai_ones() -> None:
    native = {"functionDeclarations": [{"name": "now"}]}
    search: dict[str, Any] = {"googleSearch": {}}
    time_tool = {"type": "function", "function": {"name": "get_time"}}
    tools = tools_to_gemini([native, WEATHER, search, time_tool], "required")
    assert tools == {
        "tools": [
            native,
            {"functionDeclarations": [WEATHER_DECLARATION, {"name": "get_time"}]},
            search,
        ],
        "toolConfig": {"functionCallingConfig": {"mode": "ANY"}},
    }


def test_a_gemini_tool_config_passes_through() -> None:
    config = {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["now"]}}
    assert tools_to_gemini(None, None, config) == {"toolConfig": config}


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"tools": {"type": "function"}}, "tools"),
        ({"tools": ["f"]}, "tools[0]"),
        ({"tools": [{"type": "retrieval"}]}, "tools[0].type"),
        ({"tools": [{"type": "function"}]}, "tools[0].function"),
        ({"tools": [{"type": "function", "function": {}}]}, "tools[0].function.name"),
        (
            {"tools": [{"type": "function", "function": {"name": "f", "returns": {}}}]},
            "tools[0].function.returns",
        ),
        (
            {"tools": [{"type": "function", "function": {"name": "f", "parameters": "x"}}]},
            "tools[0].function.parameters",
        ),
        (
            {"tools": [{"type": "function", "function": {"name": "f", "description": 1}}]},
            "tools[0].function.description",
        ),
        ({"tools": [WEATHER], "tool_choice": "sometimes"}, "tool_choice"),
        ({"tools": [WEATHER], "tool_choice": 3}, "tool_choice"),
        ({"tools": [WEATHER], "tool_choice": {"type": "allowed_tools"}}, "tool_choice.type"),
        ({"tools": [WEATHER], "tool_choice": {"type": "function"}}, "tool_choice.function"),
        ({"tool_choice": {"function": {"name": None}}}, "tool_choice.function.name"),
        ({"tool_choice": "auto", "tool_config": {}}, "tool_choice"),
        ({"tool_config": "ANY"}, "tool_config"),
    ],
)
def test_bad_tools_name_the_field(fields: dict[str, Any], param: str) -> None:
    assert refused(body(**fields)).param == param


# --- formats, reasoning and Google's extras ---------------------------------------------------


def test_response_format_json_schema() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}}
    fmt = {"type": "json_schema", "json_schema": {"name": "a", "schema": schema, "strict": True}}
    assert chat_request(body(response_format=fmt)).request["generationConfig"] == {
        "responseMimeType": "application/json",
        "responseJsonSchema": schema,
    }
    assert chat_request(body(response_format="json_object")).request["generationConfig"] == {
        "responseMimeType": "application/json"
    }


@pytest.mark.parametrize("where", ["google", "extra_body"])
def test_google_extras(where: str) -> None:
    google = {
        "cached_content": "cachedContents/abc",
        "safety_settings": SAFETY,
        "thinking_config": {"thinking_budget": 800, "include_thoughts": True},
        "media_resolution": "MEDIA_RESOLUTION_LOW",
    }
    extras = {"google": google} if where == "google" else {"extra_body": {"google": google}}
    assert chat_request(body(max_tokens=10, **extras)).request == {
        "contents": CONTENTS,
        "cachedContent": "cachedContents/abc",
        "safetySettings": SAFETY,
        "generationConfig": {
            "maxOutputTokens": 10,
            "thinkingConfig": {"thinkingBudget": 800, "includeThoughts": True},
            "mediaResolution": "MEDIA_RESOLUTION_LOW",
        },
    }


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        (
            {"reasoning_effort": "low", "google": {"thinking_config": {"thinking_budget": 0}}},
            "google.thinking_config",
        ),
        ({"temperature": 1.0, "google": {"temperature": 0.5}}, "google.temperature"),
        (
            {
                "cached_content": "cachedContents/a",
                "extra_body": {"google": {"cached_content": "b"}},
            },
            "extra_body.google.cached_content",
        ),
    ],
)
def test_google_extras_never_silently_override(fields: dict[str, Any], param: str) -> None:
    assert refused(body(**fields)).param == param


@pytest.mark.parametrize(
    ("model", "levels"),
    [
        ("gemini-3-flash-preview", ["MINIMAL", "MINIMAL", "LOW", "MEDIUM", "HIGH"]),
        ("gemini-3.1-flash-lite-preview", ["MINIMAL", "MINIMAL", "LOW", "MEDIUM", "HIGH"]),
        ("gemini-3-pro-preview", ["LOW", "LOW", "LOW", "MEDIUM", "HIGH"]),
        ("models/gemini-3.1-pro-preview", ["LOW", "LOW", "LOW", "MEDIUM", "HIGH"]),
    ],
)
def test_reasoning_effort_is_a_thinking_level_on_gemini_3(model: str, levels: list[str]) -> None:
    efforts = ["none", "minimal", "low", "medium", "high"]
    made = [
        chat_request({**body(reasoning_effort=e), "model": model}).request["generationConfig"]
        for e in efforts
    ]
    assert made == [{"thinkingConfig": {"thinkingLevel": level}} for level in levels]


@pytest.mark.parametrize("model", ["gemini-2.5-flash", "gemini-2.5-pro", "gemini-flash-latest"])
def test_reasoning_effort_is_a_thinking_budget_on_gemini_2_5(model: str) -> None:
    efforts = {"none": 0, "minimal": 1024, "low": 1024, "medium": 8192, "high": 24576}
    for effort, budget in efforts.items():
        request = chat_request({**body(reasoning_effort=effort), "model": model}).request
        assert request["generationConfig"] == {"thinkingConfig": {"thinkingBudget": budget}}


def test_every_gemini_field_goes_where_it_belongs_snake_or_camel() -> None:
    google = {
        "safety_settings": SAFETY,
        "cachedContent": "cachedContents/abc",
        "service_tier": "flex",
        "store": False,
        "labels": {"team_name": "a", "costCentre": "b"},
        "tool_config": {"function_calling_config": {"mode": "NONE"}},
        "responseModalities": ["TEXT", "AUDIO"],
        "speech_config": {"voice_config": {"prebuilt_voice_config": {"voice_name": "Kore"}}},
        "media_resolution": "MEDIA_RESOLUTION_HIGH",
        "response_json_schema": {"properties": {"first_name": {"type": "string"}}},
        "image_config": {"aspect_ratio": "16:9"},
        "response_logprobs": True,
        "logprobs": 3,
        "thought_tag_marker": "think",
    }
    chat = chat_request(body(extra_body={"google": google}))
    assert chat.thought_tag == "think"
    assert chat.request == {
        "contents": CONTENTS,
        "safetySettings": SAFETY,
        "cachedContent": "cachedContents/abc",
        "serviceTier": "flex",
        "store": False,
        "labels": {"team_name": "a", "costCentre": "b"},  # names of their own: as given
        "toolConfig": {"functionCallingConfig": {"mode": "NONE"}},
        "generationConfig": {
            "responseModalities": ["TEXT", "AUDIO"],
            "speechConfig": {"voiceConfig": {"prebuiltVoiceConfig": {"voiceName": "Kore"}}},
            "mediaResolution": "MEDIA_RESOLUTION_HIGH",
            "responseJsonSchema": {"properties": {"first_name": {"type": "string"}}},
            "imageConfig": {"aspectRatio": "16:9"},
            "responseLogprobs": True,
            "logprobs": 3,
        },
    }


def test_reasoning_effort_with_thought_summaries_is_one_thinking_config() -> None:
    fields = {"reasoning_effort": "low", "google": {"thinking_config": {"include_thoughts": True}}}
    assert chat_request(body(**fields)).request["generationConfig"] == {
        "thinkingConfig": {"thinkingBudget": 1024, "includeThoughts": True}
    }


def test_google_tools_and_system_instruction_go_to_the_top_unless_already_set() -> None:
    tools = [{"googleSearch": {}}]
    system = {"parts": [{"text": "Be brief."}]}
    google = {"tools": tools, "system_instruction": system}
    assert chat_request(body(google=google)).request == {
        "contents": CONTENTS,
        "tools": tools,
        "systemInstruction": system,
    }
    assert refused(body(tools=[WEATHER], google={"tools": tools})).param == "google.tools"
    with_system = {**body(google=google), "messages": [{"role": "system", "content": "x"}, *USER]}
    assert refused(with_system).param == "google.system_instruction"


@pytest.mark.parametrize("where", ["google", "extra_body"])
def test_an_unknown_google_field_is_refused_by_name(where: str) -> None:
    google = {"thinking_config": {}, "temprature": 0.5}
    extras = {"google": google} if where == "google" else {"extra_body": {"google": google}}
    error = refused(body(**extras))
    prefix = "google" if where == "google" else "extra_body.google"
    assert error.param == f"{prefix}.temprature"
    assert "temprature" in error.message


def test_an_assistant_message_keeps_its_text_signature_and_reasoning() -> None:
    contents, _ = messages_to_contents(
        [
            *USER,
            {
                "role": "assistant",
                "content": "Hello.",
                "reasoning_content": "Greet back.",
                "extra_content": {"google": {"thought_signature": "c2ln"}},
            },
        ]
    )
    assert contents[1] == {
        "role": "model",
        "parts": [
            {"text": "Greet back.", "thought": True},
            {"text": "Hello.", "thoughtSignature": "c2ln"},
        ],
    }


def test_gemini_parts_on_a_message_stand_for_it() -> None:
    parts = [{"executableCode": {"language": "PYTHON", "code": "print(1)"}}, {"text": "1"}]
    indexed = [{"index": i, **p} for i, p in enumerate(parts)]  # as merged stream deltas have
    contents, _ = messages_to_contents(
        [
            *USER,
            {
                "role": "assistant",
                "content": "ignored: a view of the parts",
                "extra_content": {"google": {"parts": indexed}},
            },
        ]
    )
    assert contents[1] == {"role": "model", "parts": parts}


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ("x", "messages[1].extra_content"),
        ({"google": []}, "messages[1].extra_content.google"),
        ({"google": {"parts": {}}}, "messages[1].extra_content.google.parts"),
        ({"google": {"parts": ["x"]}}, "messages[1].extra_content.google.parts[0]"),
        (
            {"google": {"thought_signature": 1}},
            "messages[1].extra_content.google.thought_signature",
        ),
    ],
)
def test_bad_extra_content_names_the_field(extra: Any, param: str) -> None:
    message = {"role": "assistant", "content": "Hi", "extra_content": extra}
    with pytest.raises(InvalidRequest) as caught:
        messages_to_contents([*USER, message])
    assert caught.value.param == param


# --- the library's Gemini-flavoured fields ------------------------------------------------


def test_gemini_request_with_native_fields() -> None:
    contents, system = messages_to_contents(
        [{"role": "system", "content": "from messages"}, {"role": "user", "content": "Hi"}]
    )
    native_tool = {"functionDeclarations": [{"name": "now"}]}
    request = gemini_request(
        contents,
        system,
        {
            "system_instruction": "from the parameter",
            "safety_settings": tuple(SAFETY),
            "tools": [native_tool],
            "tool_config": {"functionCallingConfig": {"mode": "AUTO"}},
            "cached_content": "cachedContents/abc",
            "top_k": 3,
            "stop_sequences": ["x"],
            "thinking": 512,
        },
    )
    assert request == {
        "contents": CONTENTS,
        "systemInstruction": {"parts": [{"text": "from the parameter"}]},
        "generationConfig": {
            "topK": 3,
            "stopSequences": ["x"],
            "thinkingConfig": {"thinkingBudget": 512},
        },
        "tools": [native_tool],
        "toolConfig": {"functionCallingConfig": {"mode": "AUTO"}},
        "safetySettings": SAFETY,
        "cachedContent": "cachedContents/abc",
    }


def test_a_system_instruction_may_be_a_gemini_content() -> None:
    instruction = {"parts": [{"text": "Be brief."}]}
    request = gemini_request(CONTENTS, None, {"system_instruction": instruction})
    assert request["systemInstruction"] == instruction


@pytest.mark.parametrize("name", ["model", "messages", "stream", "stream_options", "request_id"])
def test_gemini_request_takes_only_request_fields(name: str) -> None:
    with pytest.raises(InvalidRequest, match=name) as caught:
        gemini_request(CONTENTS, None, {name: "x"})
    assert caught.value.param == name


# --- any JSON: a request or InvalidRequest, nothing else ------------------------------------

_SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8)
_JSON = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=10,
)
_PART = st.fixed_dictionaries(
    {"type": st.sampled_from(["text", "image_url", "input_audio"]) | _JSON},
    optional={"text": _JSON, "image_url": _JSON, "input_audio": _JSON},
)
_MESSAGE = st.fixed_dictionaries(
    {"role": st.sampled_from(["system", "developer", "user", "assistant", "tool"]) | _JSON},
    optional={
        "content": st.lists(_PART, max_size=2) | _JSON,
        "tool_calls": st.lists(
            st.fixed_dictionaries(
                {
                    "id": _JSON,
                    "function": st.fixed_dictionaries(
                        {"name": _JSON}, optional={"arguments": _JSON}
                    )
                    | _JSON,
                }
            ),
            max_size=2,
        )
        | _JSON,
        "tool_call_id": _JSON,
        "name": _JSON,
    },
)
_BODY = st.fixed_dictionaries(
    {"model": st.just("m") | _JSON, "messages": st.lists(_MESSAGE, min_size=1, max_size=3)},
    optional={name: _JSON for name in sorted(CHAT_FIELDS - {"model", "messages"})},
)


@settings(max_examples=200, deadline=None)
@given(payload=_BODY | _JSON)
def test_any_json_gives_a_request_or_invalid_request(payload: Any) -> None:
    try:
        chat = chat_request(payload)
    except InvalidRequest as error:
        assert error.message and (error.param is None or isinstance(error.param, str))
    else:
        assert isinstance(chat.request["contents"], list)
