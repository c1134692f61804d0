"""Anthropic Messages bodies → Gemini requests: fields, content blocks, signatures, errors."""

from __future__ import annotations

import doctest
import importlib
import pickle
from typing import Any

import pytest

from gemgate.errors import UsageError
from gemgate.wire import anthropic
from gemgate.wire.openai import InvalidRequest

USER = [{"role": "user", "content": "Hi"}]
BASE = {"model": "gemini-2.5-flash", "max_tokens": 100, "messages": USER}
WEATHER = {
    "name": "get_weather",
    "description": "The weather.",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
}


def _request(**fields: Any) -> dict[str, Any]:
    return anthropic.messages_request({**BASE, **fields}).request


def _refused(body: Any) -> InvalidRequest:
    with pytest.raises(InvalidRequest) as refused:
        anthropic.messages_request(body)
    return refused.value


@pytest.mark.parametrize(
    "module",
    ["__init__", "_checks", "_citations", "_content", "_request", "_response", "_stream"],
)
def test_docstring_examples(module: str) -> None:
    name = "gemgate.wire.anthropic" + ("" if module == "__init__" else f".{module}")
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0


def test_all_is_sorted_and_complete() -> None:
    assert anthropic.__all__ == sorted(anthropic.__all__)
    for name in anthropic.__all__:
        assert getattr(anthropic, name) is not None


def test_generation_fields() -> None:
    request = _request(
        temperature=0.2,
        top_p=0.9,
        top_k=40,
        stop_sequences=["END", "STOP"],
        metadata={"user_id": "u-1"},
        stream=True,
    )
    assert request["generationConfig"] == {
        "maxOutputTokens": 100,
        "temperature": 0.2,
        "topP": 0.9,
        "topK": 40,
        "stopSequences": ["END", "STOP"],
    }
    assert anthropic.messages_request({**BASE, "stream": True}).stream is True
    assert anthropic.messages_request(BASE).stream is False


def test_output_config_json_schema() -> None:
    schema = {"type": "object", "properties": {"city": {"type": "string"}}}
    config = _request(
        output_config={"format": {"type": "json_schema", "schema": schema}, "effort": "low"},
        cache_control={"type": "ephemeral"},
    )["generationConfig"]
    assert config["responseMimeType"] == "application/json"
    assert config["responseJsonSchema"] == schema
    assert "responseMimeType" not in _request(output_config={"effort": "high"})["generationConfig"]


def test_system_as_string_or_text_blocks() -> None:
    assert _request(system="Be brief.")["systemInstruction"] == {"parts": [{"text": "Be brief."}]}
    blocks = [{"type": "text", "text": "One."}, {"type": "text", "text": "Two."}]
    assert _request(system=blocks)["systemInstruction"] == {"parts": [{"text": "One.\n\nTwo."}]}
    assert "systemInstruction" not in _request(system="")


@pytest.mark.parametrize(
    ("thinking", "config"),
    [
        (
            {"type": "enabled", "budget_tokens": 2048},
            {"thinkingBudget": 2048, "includeThoughts": True},
        ),
        ({"type": "adaptive"}, {"includeThoughts": True}),
        ({"type": "disabled"}, None),
    ],
)
def test_thinking(thinking: dict[str, Any], config: dict[str, Any] | None) -> None:
    generation = _request(max_tokens=4096, thinking=thinking)["generationConfig"]
    assert generation.get("thinkingConfig") == config


def test_tools_and_tool_choice() -> None:
    request = _request(tools=[WEATHER], tool_choice={"type": "auto"})
    assert request["tools"] == [
        {
            "functionDeclarations": [
                {
                    "name": "get_weather",
                    "description": "The weather.",
                    "parametersJsonSchema": WEATHER["input_schema"],
                }
            ]
        }
    ]
    assert request["toolConfig"] == {"functionCallingConfig": {"mode": "AUTO"}}
    forced = _request(tools=[WEATHER], tool_choice={"type": "tool", "name": "get_weather"})
    assert forced["toolConfig"] == {
        "functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["get_weather"]}
    }
    assert _request(tools=[WEATHER], tool_choice={"type": "any"})["toolConfig"] == {
        "functionCallingConfig": {"mode": "ANY"}
    }
    assert _request(tools=[WEATHER], tool_choice={"type": "none"})["toolConfig"] == {
        "functionCallingConfig": {"mode": "NONE"}
    }
    search = _request(tools=[{"type": "web_search_20250305", "name": "web_search"}])
    assert search["tools"] == [{"googleSearch": {}}] and "toolConfig" not in search


def test_content_blocks_become_parts() -> None:
    image = {
        "type": "image",
        "source": {"type": "base64", "media_type": "image/png", "data": "QQ=="},
    }
    pdf = {
        "type": "document",
        "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBE"},
    }
    messages = [
        {"role": "user", "content": [{"type": "text", "text": "Look"}, image, pdf]},
        {"role": "user", "content": "and this"},  # consecutive turns of one role join
        {"role": "assistant", "content": [{"type": "text", "text": "Seen."}]},
    ]
    contents = _request(messages=messages)["contents"]
    assert contents == [
        {
            "role": "user",
            "parts": [
                {"text": "Look"},
                {"inlineData": {"mimeType": "image/png", "data": "QQ=="}},
                {"inlineData": {"mimeType": "application/pdf", "data": "JVBE"}},
                {"text": "and this"},
            ],
        },
        {"role": "model", "parts": [{"text": "Seen."}]},
    ]


def _tool_turns(result: dict[str, Any]) -> list[dict[str, Any]]:
    call = {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Oslo"}}
    return [
        *USER,
        {"role": "assistant", "content": [call]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", **result}]},
    ]


@pytest.mark.parametrize(
    ("result", "response"),
    [
        ({"content": '{"temp": 3}'}, {"temp": 3}),
        ({"content": "cold"}, {"result": "cold"}),
        ({"content": [{"type": "text", "text": "cold"}]}, {"result": "cold"}),
        ({"content": "no such city", "is_error": True}, {"error": "no such city"}),
        ({}, {"result": ""}),
    ],
)
def test_tool_use_and_results(result: dict[str, Any], response: dict[str, Any]) -> None:
    contents = _request(messages=_tool_turns(result))["contents"]
    assert contents[1] == {
        "role": "model",
        "parts": [{"functionCall": {"name": "get_weather", "args": {"city": "Oslo"}}}],
    }
    assert contents[2]["parts"][0] == {
        "functionResponse": {"name": "get_weather", "response": response}
    }


def test_tool_result_images_follow_the_response() -> None:
    image = {
        "type": "image",
        "source": {"type": "base64", "media_type": "image/png", "data": "QQ=="},
    }
    contents = _request(messages=_tool_turns({"content": [image]}))["contents"]
    assert contents[2]["parts"][1] == {"inlineData": {"mimeType": "image/png", "data": "QQ=="}}


def _assistant(*blocks: dict[str, Any]) -> list[dict[str, Any]]:
    contents = _request(messages=[*USER, {"role": "assistant", "content": list(blocks)}])
    return list(contents["contents"][1]["parts"])


CALL = {"type": "tool_use", "id": "t", "name": "f", "input": {}}


def test_signature_carriers_go_onto_the_next_block() -> None:
    carrier = {"type": "thinking", "thinking": "", "signature": "c2ln"}
    assert _assistant(carrier, CALL) == [
        {"functionCall": {"name": "f", "args": {}}, "thoughtSignature": "c2ln"}
    ]


def test_signature_carriers_go_onto_the_previous_block_at_the_end() -> None:
    carrier = {"type": "thinking", "thinking": "", "signature": "c2ln"}
    text = {"type": "text", "text": "Done."}
    assert _assistant(text, carrier) == [{"text": "Done.", "thoughtSignature": "c2ln"}]
    redacted = {"type": "redacted_thinking", "data": "cmVk"}
    assert _assistant(text, redacted) == [{"text": "Done.", "thoughtSignature": "cmVk"}]


def test_thinking_with_text_is_a_thought_part_with_its_own_signature() -> None:
    thought = {"type": "thinking", "thinking": "Hmm.", "signature": "b3du"}
    carrier = {"type": "thinking", "thinking": "", "signature": "Y2FsbA=="}
    assert _assistant(thought, carrier, CALL) == [
        {"text": "Hmm.", "thought": True, "thoughtSignature": "b3du"},
        {"functionCall": {"name": "f", "args": {}}, "thoughtSignature": "Y2FsbA=="},
    ]
    unsigned = {"type": "thinking", "thinking": "Hmm.", "signature": ""}
    assert _assistant(unsigned) == [{"text": "Hmm.", "thought": True}]


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ([], "body"),
        ({"model": "m", "messages": USER}, "max_tokens"),
        ({**BASE, "max_tokens": 0}, "max_tokens"),
        ({**BASE, "max_tokens": "10"}, "max_tokens"),
        ({"max_tokens": 5, "messages": USER}, "model"),
        ({**BASE, "model": ""}, "model"),
        ({**BASE, "messages": []}, "messages"),
        ({**BASE, "messages": "hi"}, "messages"),
        ({**BASE, "messages": [{"role": "system", "content": "x"}]}, "messages.0.role"),
        ({**BASE, "messages": [{"role": "user", "content": 3}]}, "messages.0.content"),
        (
            {**BASE, "messages": [{"role": "user", "content": [{"type": "video"}]}]},
            "messages.0.content.0.type",
        ),
        (
            {**BASE, "messages": [{"role": "user", "content": [{"type": "text"}]}]},
            "messages.0.content.0.text",
        ),
        ({**BASE, "temperature": "hot"}, "temperature"),
        ({**BASE, "top_k": 1.5}, "top_k"),
        ({**BASE, "stop_sequences": ["a", 1]}, "stop_sequences.1"),
        ({**BASE, "stream": "yes"}, "stream"),
        ({**BASE, "n": 2}, "n"),
        ({**BASE, "system": [{"type": "image"}]}, "system.0.type"),
        ({**BASE, "thinking": {"type": "enabled"}}, "thinking.budget_tokens"),
        ({**BASE, "thinking": {"type": "enabled", "budget_tokens": 512}}, "thinking.budget_tokens"),
        (
            {**BASE, "thinking": {"type": "enabled", "budget_tokens": 2048}},
            "thinking.budget_tokens",
        ),
        ({**BASE, "thinking": {"type": "on"}}, "thinking.type"),
        ({**BASE, "tools": [{"name": "f"}]}, "tools.0.input_schema"),
        ({**BASE, "tools": [{"type": "bash_20250124", "name": "bash"}]}, "tools.0.type"),
        ({**BASE, "tools": [{**WEATHER, "strict": True}]}, "tools.0.strict"),
        ({**BASE, "tools": [WEATHER], "tool_choice": {"type": "required"}}, "tool_choice.type"),
        ({**BASE, "tools": [WEATHER], "tool_choice": {"type": "tool"}}, "tool_choice.name"),
        ({**BASE, "metadata": {"user_id": 3}}, "metadata.user_id"),
        ({**BASE, "output_config": {"effort": "extreme"}}, "output_config.effort"),
        ({**BASE, "output_config": {"format": {"type": "text"}}}, "output_config.format.type"),
        ({**BASE, "cache_control": "yes"}, "cache_control"),
        (
            {
                **BASE,
                "messages": [
                    {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "x"}]}
                ],
            },
            "messages.0.content.0.tool_use_id",
        ),
        (
            {
                **BASE,
                "messages": [
                    {
                        "role": "user",
                        "content": [{"type": "image", "source": {"type": "file", "file_id": "f"}}],
                    }
                ],
            },
            "messages.0.content.0.source.type",
        ),
    ],
)
def test_bad_bodies_name_their_field(body: Any, param: str) -> None:
    error = _refused(body)
    assert error.param == param
    assert str(error).startswith(f"{param}: ")
    assert isinstance(error, UsageError)
    assert pickle.loads(pickle.dumps(error)).param == param


def test_count_request_needs_no_max_tokens_and_drops_tool_config() -> None:
    counted = anthropic.count_request(
        {
            "model": "gemini-2.5-flash",
            "system": "Be brief.",
            "messages": USER,
            "tools": [WEATHER],
            "tool_choice": {"type": "any"},
        }
    )
    assert counted.model == "gemini-2.5-flash"
    assert set(counted.request) == {"contents", "systemInstruction", "tools"}
    with pytest.raises(InvalidRequest) as refused:
        anthropic.count_request({**BASE})
    assert refused.value.param == "max_tokens"  # not a count_tokens field
