from __future__ import annotations

import json
from typing import Any

import pytest

from gemgate.wire.openai import (
    GENERATION_PARAMS,
    completion,
    completion_chunk,
    finish_reason,
    gemini_request,
    generation_config,
    messages_to_contents,
    usage,
)

SIGNATURE = "c2lnbmF0dXJlLWJ5dGVz"
PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8"


# --- messages → contents -------------------------------------------------------------------


def test_system_and_developer_messages_join_into_the_system_instruction() -> None:
    contents, system = messages_to_contents(
        [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hi"},
            {"role": "developer", "content": [{"type": "text", "text": "Answer in French."}]},
        ]
    )
    assert system == {"parts": [{"text": "Be brief.\n\nAnswer in French."}]}
    assert contents == [{"role": "user", "parts": [{"text": "Hi"}]}]


def test_no_system_message_means_no_instruction() -> None:
    assert messages_to_contents([{"role": "user", "content": "Hi"}])[1] is None


def test_user_multimodal_content() -> None:
    contents, _ = messages_to_contents(
        [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is this?"},
                    {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
                    {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "mp3"}},
                ],
            }
        ]
    )
    assert contents == [
        {
            "role": "user",
            "parts": [
                {"text": "What is this?"},
                {"inlineData": {"mimeType": "image/png", "data": PNG}},
                {"inlineData": {"mimeType": "audio/mp3", "data": "UklGRg=="}},
            ],
        }
    ]


def test_image_url_as_a_bare_string() -> None:
    contents, _ = messages_to_contents(
        [
            {
                "role": "user",
                "content": [{"type": "image_url", "image_url": "data:image/jpeg;base64,XXX"}],
            }
        ]
    )
    assert contents[0]["parts"] == [{"inlineData": {"mimeType": "image/jpeg", "data": "XXX"}}]


@pytest.mark.parametrize("url", ["https://example.com/cat.png", "http://example.com/cat.png"])
def test_http_image_urls_are_refused(url: str) -> None:
    with pytest.raises(ValueError, match="data: URL"):
        messages_to_contents(
            [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}}]}]
        )


@pytest.mark.parametrize(
    "message",
    [
        {"role": "user", "content": [{"type": "file", "file": {"file_id": "f"}}]},
        {"role": "function", "content": "legacy"},
    ],
)
def test_unsupported_shapes_are_refused(message: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="unsupported"):
        messages_to_contents([message])


def weather_call(call_id: str, city: str, signature: str | None = None) -> dict[str, Any]:
    call: dict[str, Any] = {
        "id": call_id,
        "type": "function",
        "function": {"name": "get_weather", "arguments": json.dumps({"city": city})},
    }
    if signature is not None:
        call["extra_content"] = {"google": {"thought_signature": signature}}
    return call


def test_tool_calls_and_tool_results() -> None:
    contents, _ = messages_to_contents(
        [
            {"role": "user", "content": "Weather in Paris and Rome? Then the time."},
            {
                "role": "assistant",
                "content": "Checking.",
                "tool_calls": [
                    weather_call("call_1", "Paris", SIGNATURE),
                    weather_call("call_2", "Rome"),
                    {
                        "id": "call_3",
                        "type": "function",
                        "function": {"name": "get_time", "arguments": ""},
                    },
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": '{"temp_c": 21}'},
            {"role": "tool", "tool_call_id": "call_2", "content": "sunny"},
            {"role": "tool", "tool_call_id": "call_3", "content": [{"type": "text", "text": "12"}]},
            {"role": "assistant", "content": "Paris 21°C, Rome sunny, noon."},
        ]
    )
    assert contents[1] == {
        "role": "model",
        "parts": [
            {"text": "Checking."},
            {
                "functionCall": {"name": "get_weather", "args": {"city": "Paris"}},
                "thoughtSignature": SIGNATURE,
            },
            {"functionCall": {"name": "get_weather", "args": {"city": "Rome"}}},
            {"functionCall": {"name": "get_time", "args": {}}},
        ],
    }
    assert contents[2] == {  # consecutive tool messages: one user turn
        "role": "user",
        "parts": [
            {"functionResponse": {"name": "get_weather", "response": {"temp_c": 21}}},
            {"functionResponse": {"name": "get_weather", "response": {"result": "sunny"}}},
            {"functionResponse": {"name": "get_time", "response": {"result": 12}}},
        ],
    }
    assert contents[3] == {"role": "model", "parts": [{"text": "Paris 21°C, Rome sunny, noon."}]}
    assert len(contents) == 4


def test_tool_names_are_looked_up_per_call_id() -> None:
    contents, _ = messages_to_contents(
        [
            {"role": "user", "content": "go"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "a",
                        "type": "function",
                        "function": {"name": "first", "arguments": "{}"},
                    },
                    {
                        "id": "b",
                        "type": "function",
                        "function": {"name": "second", "arguments": "{}"},
                    },
                ],
            },
            {"role": "tool", "tool_call_id": "b", "content": "[1, 2]"},
            {"role": "tool", "tool_call_id": "a", "content": "null"},
            {"role": "tool", "tool_call_id": "unknown", "name": "named", "content": "x"},
        ]
    )
    assert contents[1] == {
        "role": "model",
        "parts": [
            {"functionCall": {"name": "first", "args": {}}},
            {"functionCall": {"name": "second", "args": {}}},
        ],
    }
    assert contents[2]["parts"] == [
        {"functionResponse": {"name": "second", "response": {"result": [1, 2]}}},
        {"functionResponse": {"name": "first", "response": {"result": None}}},
        {"functionResponse": {"name": "named", "response": {"result": "x"}}},
    ]


def test_tool_results_separated_by_a_user_turn_are_not_merged() -> None:
    contents, _ = messages_to_contents(
        [
            {"role": "assistant", "tool_calls": [weather_call("c1", "Oslo")]},
            {"role": "tool", "tool_call_id": "c1", "content": "{}"},
            {"role": "user", "content": "and now?"},
            {"role": "assistant", "tool_calls": [weather_call("c2", "Oslo")]},
            {"role": "tool", "tool_call_id": "c2", "content": "{}"},
        ]
    )
    assert [c["role"] for c in contents] == ["model", "user", "user", "model", "user"]
    assert len(contents[4]["parts"]) == 1


def test_thought_signatures_round_trip() -> None:
    response = {
        "candidates": [
            {
                "content": {
                    "role": "model",
                    "parts": [
                        {
                            "functionCall": {"name": "get_weather", "args": {"city": "Paris"}},
                            "thoughtSignature": SIGNATURE,
                        }
                    ],
                },
                "finishReason": "STOP",
            }
        ]
    }
    message = completion(response, "m", created=0)["choices"][0]["message"]
    assert message["tool_calls"][0]["extra_content"] == {"google": {"thought_signature": SIGNATURE}}
    contents, _ = messages_to_contents([message])
    assert contents == [
        {
            "role": "model",
            "parts": [
                {
                    "functionCall": {"name": "get_weather", "args": {"city": "Paris"}},
                    "thoughtSignature": SIGNATURE,
                }
            ],
        }
    ]


# --- generation config ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"temperature": 0.2}, {"temperature": 0.2}),
        ({"temperature": 0}, {"temperature": 0}),
        ({"top_p": 0.9}, {"topP": 0.9}),
        ({"top_k": 40}, {"topK": 40}),
        ({"n": 2}, {"candidateCount": 2}),
        ({"seed": 7}, {"seed": 7}),
        ({"presence_penalty": 0.5}, {"presencePenalty": 0.5}),
        ({"frequency_penalty": -0.5}, {"frequencyPenalty": -0.5}),
        ({"max_tokens": 100}, {"maxOutputTokens": 100}),
        ({"max_completion_tokens": 200}, {"maxOutputTokens": 200}),
        ({"max_output_tokens": 300}, {"maxOutputTokens": 300}),
        ({"max_tokens": 100, "max_completion_tokens": 200}, {"maxOutputTokens": 200}),
        ({"stop": "END"}, {"stopSequences": ["END"]}),
        ({"stop": ["a", "b"]}, {"stopSequences": ["a", "b"]}),
        ({"stop_sequences": ("x",)}, {"stopSequences": ["x"]}),
        ({"response_mime_type": "text/x.enum"}, {"responseMimeType": "text/x.enum"}),
        ({"response_format": {"type": "text"}}, {}),
        ({"response_format": {"type": "json_object"}}, {"responseMimeType": "application/json"}),
        (
            {
                "response_format": {
                    "type": "json_schema",
                    "json_schema": {"name": "r", "schema": {"type": "object"}, "strict": True},
                }
            },
            {"responseMimeType": "application/json", "responseJsonSchema": {"type": "object"}},
        ),
        (
            {"response_format": {"type": "json_schema", "json_schema": {"name": "r"}}},
            {"responseMimeType": "application/json"},
        ),
        (
            {"response_schema": {"type": "array"}},
            {"responseMimeType": "application/json", "responseJsonSchema": {"type": "array"}},
        ),
        (
            {"response_schema": {"type": "string"}, "response_mime_type": "text/x.enum"},
            {"responseMimeType": "text/x.enum", "responseJsonSchema": {"type": "string"}},
        ),
        ({"thinking": True}, {"thinkingConfig": {"thinkingBudget": -1, "includeThoughts": True}}),
        ({"thinking": False}, {"thinkingConfig": {"thinkingBudget": 0, "includeThoughts": False}}),
        ({"thinking": 2048}, {"thinkingConfig": {"thinkingBudget": 2048}}),
        (
            {"thinking": {"thinking_budget": 800, "include_thoughts": True}},
            {"thinkingConfig": {"thinkingBudget": 800, "includeThoughts": True}},
        ),
        ({"thinking": {"thinkingLevel": "low"}}, {"thinkingConfig": {"thinkingLevel": "low"}}),
        ({"reasoning_effort": "none"}, {"thinkingConfig": {"thinkingBudget": 0}}),
        ({"reasoning_effort": "minimal"}, {"thinkingConfig": {"thinkingBudget": 1024}}),
        ({"reasoning_effort": "low"}, {"thinkingConfig": {"thinkingBudget": 1024}}),
        ({"reasoning_effort": "medium"}, {"thinkingConfig": {"thinkingBudget": 8192}}),
        ({"reasoning_effort": "high"}, {"thinkingConfig": {"thinkingBudget": 24576}}),
        ({"temperature": None, "stop": None, "thinking": None}, {}),
    ],
)
def test_generation_config(params: dict[str, Any], expected: dict[str, Any]) -> None:
    assert generation_config(params) == expected


def test_every_generation_param_maps_to_something() -> None:
    samples: dict[str, Any] = {
        "temperature": 1.0,
        "top_p": 0.5,
        "top_k": 3,
        "max_tokens": 1,
        "max_completion_tokens": 1,
        "max_output_tokens": 1,
        "stop": "s",
        "stop_sequences": ["s"],
        "n": 1,
        "seed": 1,
        "presence_penalty": 0.1,
        "frequency_penalty": 0.1,
        "response_format": {"type": "json_object"},
        "response_schema": {"type": "object"},
        "response_mime_type": "application/json",
        "thinking": 1,
        "reasoning_effort": "low",
    }
    assert set(samples) == GENERATION_PARAMS
    for name, value in samples.items():
        assert generation_config({name: value}), name


@pytest.mark.parametrize(
    "params", [{"thinking": "lots"}, {"thinking": 1.5}, {"reasoning_effort": "extreme"}]
)
def test_bad_thinking_params_raise_value_error(params: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        generation_config(params)


def test_gemini_request_builds_a_whole_request() -> None:
    safety = [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"}]
    request = gemini_request(
        *messages_to_contents(
            [{"role": "system", "content": "sys"}, {"role": "user", "content": "hi"}]
        ),
        {"max_tokens": 5, "safety_settings": safety},
    )
    assert request == {
        "contents": [{"role": "user", "parts": [{"text": "hi"}]}],
        "systemInstruction": {"parts": [{"text": "sys"}]},
        "generationConfig": {"maxOutputTokens": 5},
        "safetySettings": safety,
    }
    assert gemini_request(*messages_to_contents([{"role": "user", "content": "hi"}]), {}) == {
        "contents": [{"role": "user", "parts": [{"text": "hi"}]}]
    }


# --- responses → completion -----------------------------------------------------------------

USAGE = {
    "promptTokenCount": 40,
    "candidatesTokenCount": 10,
    "thoughtsTokenCount": 25,
    "cachedContentTokenCount": 32,
    "totalTokenCount": 75,
}


def candidate(
    *parts: dict[str, Any], reason: str | None = "STOP", index: int = 0
) -> dict[str, Any]:
    out: dict[str, Any] = {"content": {"role": "model", "parts": list(parts)}, "index": index}
    if reason is not None:
        out["finishReason"] = reason
    return out


def test_completion_thoughts_are_reasoning_content_never_content() -> None:
    response = {
        "candidates": [
            candidate({"text": "thinking hard", "thought": True}, {"text": "Hello"}, {"text": "!"})
        ],
        "usageMetadata": USAGE,
        "responseId": "resp-1",
    }
    assert completion(response, "gemini-2.5-flash", created=1_735_000_000) == {
        "id": "resp-1",
        "object": "chat.completion",
        "created": 1_735_000_000,
        "model": "gemini-2.5-flash",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": "Hello!",
                    "reasoning_content": "thinking hard",
                    # two text parts: OpenAI's one content cannot tell them apart
                    "extra_content": {
                        "google": {"parts": response["candidates"][0]["content"]["parts"]}
                    },
                },
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": 40,
            "completion_tokens": 35,
            "total_tokens": 75,
            "completion_tokens_details": {"reasoning_tokens": 25},
            "prompt_tokens_details": {"cached_tokens": 32},
        },
        "extra_content": {"google": {"usage_metadata": USAGE}},
    }


def test_completion_tool_calls() -> None:
    response = {
        "candidates": [
            candidate(
                {"functionCall": {"id": "fc-9", "name": "a", "args": {"x": 1}}},
                {"functionCall": {"name": "b"}},
            )
        ]
    }
    choice = completion(response, "m", created=0)["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"] == {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "fc-9",
                "type": "function",
                "function": {"name": "a", "arguments": '{"x": 1}'},
            },
            {
                "id": "function-call-1",
                "type": "function",
                "function": {"name": "b", "arguments": "{}"},
            },
        ],
        "extra_content": {"google": {"parts": response["candidates"][0]["content"]["parts"]}},
    }
    ids = [c["id"] for c in choice["message"]["tool_calls"]]
    assert len(set(ids)) == len(ids)
    assert json.loads(choice["message"]["tool_calls"][0]["function"]["arguments"]) == {"x": 1}


@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        ("STOP", "stop"),
        ("MAX_TOKENS", "length"),
        ("SAFETY", "content_filter"),
        ("RECITATION", "content_filter"),
        ("BLOCKLIST", "content_filter"),
        ("PROHIBITED_CONTENT", "content_filter"),
        ("SPII", "content_filter"),
        ("IMAGE_SAFETY", "content_filter"),
        ("MALFORMED_FUNCTION_CALL", "stop"),
        ("OTHER", "stop"),
    ],
)
def test_finish_reasons(reason: str, expected: str) -> None:
    response = {"candidates": [candidate({"text": "x"}, reason=reason)]}
    assert completion(response, "m", created=0)["choices"][0]["finish_reason"] == expected
    assert finish_reason(reason, has_calls=False) == expected


def test_finish_reason_with_calls_and_absent() -> None:
    assert finish_reason("STOP", has_calls=True) == "tool_calls"
    assert finish_reason(None, has_calls=True) is None
    no_reason = {"candidates": [candidate({"text": "x"}, reason=None)]}
    assert completion(no_reason, "m", created=0)["choices"][0]["finish_reason"] == "stop"


def test_safety_stop_without_parts_gives_empty_content() -> None:
    response = {"candidates": [{"finishReason": "SAFETY", "index": 0}]}
    choice = completion(response, "m", created=0)["choices"][0]
    assert choice == {
        "index": 0,
        "message": {
            "role": "assistant",
            "content": "",
            "extra_content": {"google": {"finish_reason": "SAFETY"}},
        },
        "finish_reason": "content_filter",
    }


def test_blocked_prompt_is_a_content_filter_choice() -> None:
    response = {
        "promptFeedback": {"blockReason": "SAFETY"},
        "usageMetadata": {"promptTokenCount": 8, "totalTokenCount": 8},
    }
    out = completion(response, "m", created=0)
    assert out["choices"] == [
        {
            "index": 0,
            "message": {"role": "assistant", "content": ""},
            "finish_reason": "content_filter",
        }
    ]
    assert out["usage"] == {"prompt_tokens": 8, "completion_tokens": 0, "total_tokens": 8}


def test_multiple_candidates_keep_their_index() -> None:
    response = {
        "candidates": [
            candidate({"text": "one"}, index=0),
            candidate({"text": "two"}, reason="MAX_TOKENS", index=1),
        ]
    }
    choices = completion(response, "m", created=0)["choices"]
    assert [(c["index"], c["message"]["content"], c["finish_reason"]) for c in choices] == [
        (0, "one", "stop"),
        (1, "two", "length"),
    ]


def test_usage_mapping() -> None:
    assert usage(None) == {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
    assert usage({"promptTokenCount": 5, "candidatesTokenCount": 3, "totalTokenCount": 8}) == {
        "prompt_tokens": 5,
        "completion_tokens": 3,
        "total_tokens": 8,
    }


def test_completion_validates_as_an_openai_chat_completion() -> None:
    chat = pytest.importorskip("openai.types.chat")
    response = {
        "candidates": [
            candidate(
                {"text": "Let me check."},
                {
                    "functionCall": {"name": "get_weather", "args": {"city": "Paris"}},
                    "thoughtSignature": SIGNATURE,
                },
            )
        ],
        "usageMetadata": USAGE,
        "responseId": "r",
    }
    parsed = chat.ChatCompletion.model_validate(completion(response, "m", created=1))
    assert parsed.choices[0].finish_reason == "tool_calls"
    assert parsed.choices[0].message.tool_calls is not None
    assert parsed.usage is not None
    assert parsed.usage.completion_tokens_details is not None
    assert parsed.usage.completion_tokens_details.reasoning_tokens == 25
    blocked = completion({"promptFeedback": {"blockReason": "OTHER"}}, "m", created=1)
    assert chat.ChatCompletion.model_validate(blocked).choices[0].finish_reason == "content_filter"
    streamed = completion_chunk(
        {"promptFeedback": {"blockReason": "OTHER"}}, "m", first=True, created=1
    )
    only = chat.ChatCompletionChunk.model_validate(streamed).choices
    assert [(c.finish_reason, c.delta.role) for c in only] == [("content_filter", "assistant")]


# --- stream chunks ---------------------------------------------------------------------------


def test_completion_chunks() -> None:
    first = completion_chunk(
        {"candidates": [candidate({"text": "Hel"}, reason=None)], "responseId": "s"},
        "m",
        first=True,
        created=5,
    )
    assert first == {
        "id": "s",
        "object": "chat.completion.chunk",
        "created": 5,
        "model": "m",
        "choices": [
            {"index": 0, "delta": {"role": "assistant", "content": "Hel"}, "finish_reason": None}
        ],
    }
    last = completion_chunk(
        {"candidates": [candidate({"text": "lo"})], "usageMetadata": USAGE},
        "m",
        first=False,
        created=5,
    )
    assert last["choices"] == [{"index": 0, "delta": {"content": "lo"}, "finish_reason": "stop"}]
    assert last["usage"]["completion_tokens"] == 35


def test_chunk_with_only_thoughts_has_only_reasoning_content() -> None:
    chunk = completion_chunk(
        {"candidates": [candidate({"text": "hmm", "thought": True}, reason=None)]},
        "m",
        first=False,
        created=0,
    )
    assert chunk["choices"][0]["delta"] == {"reasoning_content": "hmm"}
    assert "usage" not in chunk


def test_chunk_tool_calls_carry_an_index() -> None:
    chunk = completion_chunk(
        {
            "candidates": [
                candidate(
                    {"functionCall": {"id": "x", "name": "f", "args": {}}},
                    {"functionCall": {"id": "y", "name": "g", "args": {"a": "b"}}},
                )
            ]
        },
        "m",
        first=True,
        created=0,
    )
    choice = chunk["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["delta"]["role"] == "assistant"
    assert "content" not in choice["delta"]
    assert [
        (c["index"], c["id"], c["function"]["name"]) for c in choice["delta"]["tool_calls"]
    ] == [
        (0, "x", "f"),
        (1, "y", "g"),
    ]
