"""Gemini's features through /v1 with the official ``openai`` client, nothing dropped.

`gemgate serve` runs with the emulator upstream, which signs thought signatures and
checks them as Gemini does: thought signatures survive tool-call round trips (whole and
streamed, on calls and on text), ``reasoning_effort`` reaches thinking, thought
summaries come back as ``reasoning_content``, ``extra_body.google`` sets any Gemini
field, and built-in tools' output (code execution, URL context) is kept.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import openai
import pytest
from openai.lib.streaming.chat import ChatCompletionStreamState

from .conftest import FLASH, TIME_TOOL, WEATHER_TOOL

GEMINI_3 = "gemini-3-flash-preview"
PRO = "gemini-2.5-pro"
WEATHER = {"role": "user", "content": "What's the weather like in Paris today?"}
KEEPER = {"role": "user", "content": "Describe a lighthouse keeper's morning."}
FORECAST = json.dumps({"forecast": "22C and sunny"})
THOUGHTS = {"google": {"thinking_config": {"include_thoughts": True}}}


@pytest.fixture
def oai(gateway_server: str) -> Iterator[openai.OpenAI]:
    client = openai.OpenAI(api_key="any-key", base_url=f"{gateway_server}/v1", max_retries=0)
    try:
        yield client
    finally:
        client.close()


def _extra(value: Any) -> dict[str, Any]:
    """What the SDK kept of the fields OpenAI's types do not declare."""
    extra: dict[str, Any] = dict(value.model_extra or {})
    return extra


def _google(value: Any) -> dict[str, Any]:
    google: dict[str, Any] = (_extra(value).get("extra_content") or {}).get("google") or {}
    return google


def _history(message: Any) -> dict[str, Any]:
    """An assistant message as a client sends it back: everything it came with."""
    sent: dict[str, Any] = message.model_dump(exclude_none=True)
    return sent


# -- 1. thought signatures ---------------------------------------------------------------


@pytest.mark.parametrize("model", [GEMINI_3, FLASH])
def test_signatures_survive_a_multi_turn_tool_conversation(oai: openai.OpenAI, model: str) -> None:
    first = oai.chat.completions.create(model=model, messages=[WEATHER], tools=[WEATHER_TOOL])
    called = first.choices[0].message
    [call] = called.tool_calls or []
    signature = _google(call)["thought_signature"]
    assert isinstance(signature, str) and signature

    history = [
        WEATHER,
        _history(called),
        {"role": "tool", "tool_call_id": call.id, "content": FORECAST},
    ]
    second = oai.chat.completions.create(model=model, messages=history, tools=[WEATHER_TOOL])
    answer = second.choices[0].message
    assert answer.content and "22C and sunny" in answer.content
    if model == GEMINI_3:  # Gemini 3 signs its text too: it must come back with it
        assert _google(answer)["thought_signature"]
    third = oai.chat.completions.create(
        model=model,
        messages=[*history, _history(answer), {"role": "user", "content": "And tomorrow?"}],
        tools=[WEATHER_TOOL],
    )
    assert third.choices[0].message.content or third.choices[0].message.tool_calls


def test_a_dropped_call_signature_is_gemini_3s_400_in_openai_shape(oai: openai.OpenAI) -> None:
    first = oai.chat.completions.create(model=GEMINI_3, messages=[WEATHER], tools=[WEATHER_TOOL])
    called = _history(first.choices[0].message)
    for call in called["tool_calls"]:
        del call["extra_content"]
    with pytest.raises(openai.BadRequestError) as caught:
        oai.chat.completions.create(
            model=GEMINI_3,
            messages=[
                WEATHER,
                called,
                {"role": "tool", "tool_call_id": called["tool_calls"][0]["id"], "content": "{}"},
            ],
            tools=[WEATHER_TOOL],
        )
    error = caught.value.body
    assert isinstance(error, dict)
    assert "missing a thought_signature" in error["message"]
    assert error["type"] and "param" in error and "code" in error


def test_a_signature_from_another_model_is_refused_as_gemini_refuses_it(
    oai: openai.OpenAI,
) -> None:
    first = oai.chat.completions.create(model=FLASH, messages=[WEATHER], tools=[WEATHER_TOOL])
    called = _history(first.choices[0].message)
    assert called["tool_calls"][0]["extra_content"]["google"]["thought_signature"]
    history = [
        WEATHER,
        called,
        {"role": "tool", "tool_call_id": called["tool_calls"][0]["id"], "content": FORECAST},
    ]
    with pytest.raises(openai.BadRequestError) as caught:
        oai.chat.completions.create(model=GEMINI_3, messages=history, tools=[WEATHER_TOOL])
    error = caught.value.body
    assert isinstance(error, dict) and "Corrupted thought signature" in error["message"]
    assert error["type"] == "invalid_request_error"


def test_streamed_signatures_survive_the_sdks_own_accumulation(oai: openai.OpenAI) -> None:
    with oai.chat.completions.stream(
        model=GEMINI_3, messages=[WEATHER], tools=[WEATHER_TOOL]
    ) as stream:
        called = stream.get_final_completion().choices[0].message
    [call] = called.tool_calls or []
    assert _google(call)["thought_signature"]
    history = [
        WEATHER,
        _history(called),
        {"role": "tool", "tool_call_id": call.id, "content": FORECAST},
    ]
    with oai.chat.completions.stream(
        model=GEMINI_3, messages=history, tools=[WEATHER_TOOL]
    ) as stream:
        answer = stream.get_final_completion().choices[0].message
    assert answer.content and "22C and sunny" in answer.content
    assert _google(answer)["thought_signature"]
    whole = oai.chat.completions.create(model=GEMINI_3, messages=history, tools=[WEATHER_TOOL])
    assert (
        _google(whole.choices[0].message)["thought_signature"]
        == (_google(answer)["thought_signature"])
    )
    again = oai.chat.completions.create(
        model=GEMINI_3,
        messages=[*history, _history(answer), {"role": "user", "content": "Thanks!"}],
    )
    assert again.choices[0].message.content


def test_parallel_calls_streamed_keep_their_signature_and_order(oai: openai.OpenAI) -> None:
    question = {"role": "user", "content": "What's the weather and the local time in Paris?"}
    tools: Any = [WEATHER_TOOL, TIME_TOOL]
    with oai.chat.completions.stream(model=GEMINI_3, messages=[question], tools=tools) as stream:
        called = stream.get_final_completion().choices[0].message
    calls = called.tool_calls or []
    assert [c.function.name for c in calls] == ["get_weather", "get_time"]
    assert len({c.id for c in calls}) == 2
    assert _google(calls[0])["thought_signature"]  # Gemini signs the first call of a step
    answers = [{"role": "tool", "tool_call_id": c.id, "content": FORECAST} for c in calls]
    reply = oai.chat.completions.create(
        model=GEMINI_3, messages=[question, _history(called), *answers], tools=tools
    )
    assert reply.choices[0].message.content


# -- 2. reasoning_effort -----------------------------------------------------------------


@pytest.mark.parametrize("model", [FLASH, GEMINI_3])
@pytest.mark.parametrize("effort", ["none", "minimal", "low", "medium", "high"])
def test_every_reasoning_effort_reaches_thinking(
    oai: openai.OpenAI, model: str, effort: Any
) -> None:
    reply = oai.chat.completions.create(model=model, messages=[KEEPER], reasoning_effort=effort)
    assert reply.choices[0].message.content
    assert reply.usage is not None
    details = reply.usage.completion_tokens_details
    reasoning = details.reasoning_tokens if details is not None else 0
    if model == FLASH and effort == "none":  # a zero budget: no thinking
        assert not reasoning
    else:  # Gemini 3 cannot stop thinking: "none" is its lowest level
        assert reasoning and reasoning > 0


def test_effort_none_on_a_model_that_must_think_is_geminis_400(oai: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        oai.chat.completions.create(model=PRO, messages=[KEEPER], reasoning_effort="none")
    assert "only works in thinking mode" in str(caught.value)


# -- 3. thought summaries ----------------------------------------------------------------


def test_thought_summaries_are_reasoning_content_never_content(oai: openai.OpenAI) -> None:
    plain = oai.chat.completions.create(model=FLASH, messages=[KEEPER])
    assert "reasoning_content" not in _extra(plain.choices[0].message)

    reply = oai.chat.completions.create(model=FLASH, messages=[KEEPER], extra_body=THOUGHTS)
    message = reply.choices[0].message
    thoughts = _extra(message)["reasoning_content"]
    assert thoughts and thoughts not in (message.content or "")
    assert message.content == plain.choices[0].message.content

    chunks = list(
        oai.chat.completions.create(
            model=FLASH, messages=[KEEPER], extra_body=THOUGHTS, stream=True
        )
    )
    streamed = "".join(_extra(c.choices[0].delta).get("reasoning_content") or "" for c in chunks)
    content = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert streamed == thoughts and content == message.content


def test_reasoning_effort_and_thought_summaries_together(oai: openai.OpenAI) -> None:
    reply = oai.chat.completions.create(
        model=GEMINI_3, messages=[KEEPER], reasoning_effort="low", extra_body=THOUGHTS
    )
    message = reply.choices[0].message
    assert _extra(message)["reasoning_content"] and message.content


def test_googles_thought_tag_marker_puts_them_in_content_when_asked(oai: openai.OpenAI) -> None:
    google = {"google": {**THOUGHTS["google"], "thought_tag_marker": "think"}}
    reply = oai.chat.completions.create(model=FLASH, messages=[KEEPER], extra_body=google)
    message = reply.choices[0].message
    thoughts = _extra(message)["reasoning_content"]
    assert (message.content or "").startswith(f"<think>{thoughts}</think>")
    chunks = oai.chat.completions.create(
        model=FLASH, messages=[KEEPER], extra_body=google, stream=True
    )
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == message.content


# -- 4. extra_body.google ----------------------------------------------------------------


@pytest.mark.parametrize(
    "google",
    [
        {"safety_settings": [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"}]},
        {"safetySettings": [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "OFF"}]},
        {"media_resolution": "MEDIA_RESOLUTION_LOW"},
        {"mediaResolution": "MEDIA_RESOLUTION_HIGH"},
        {"service_tier": "flex"},
        {"response_modalities": ["TEXT"]},
        {"thinkingConfig": {"thinkingBudget": 0}},
        {"tool_config": {"function_calling_config": {"mode": "NONE"}}},
        {"top_k": 5, "candidate_count": 2},
        {"response_logprobs": True, "logprobs": 2},
    ],
)
def test_extra_body_google_sets_any_gemini_field(
    oai: openai.OpenAI, google: dict[str, Any]
) -> None:
    reply = oai.chat.completions.create(
        model=FLASH, messages=[WEATHER], tools=[WEATHER_TOOL], extra_body={"google": google}
    )
    assert reply.choices
    if "tool_config" in google:  # calling is off: the weather question gets words
        assert not reply.choices[0].message.tool_calls
    if "candidate_count" in google:
        assert len(reply.choices) == 2


def test_an_unknown_google_field_is_a_400_naming_it(oai: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        oai.chat.completions.create(
            model=FLASH, messages=[KEEPER], extra_body={"google": {"thinking_confg": {}}}
        )
    error = caught.value.body
    assert isinstance(error, dict) and error["param"] == "google.thinking_confg"
    assert "thinking_confg" in error["message"]


# -- 5. built-in tools -------------------------------------------------------------------

CODE = [{"codeExecution": {}}]


def test_code_execution_is_kept_whole_and_streamed(oai: openai.OpenAI) -> None:
    question = [{"role": "user", "content": "What is 6 * 7?"}]
    reply = oai.chat.completions.create(model=FLASH, messages=question, tools=CODE)  # type: ignore[arg-type]
    message = reply.choices[0].message
    assert "```python\nresult = 6 * 7\nprint(result)\n```" in (message.content or "")
    assert "```output\n42\n```" in (message.content or "")
    parts = _google(message)["parts"]
    kinds = [next(k for k in p if k != "thoughtSignature") for p in parts]
    assert "executableCode" in kinds and "codeExecutionResult" in kinds

    # The SDK's stream helper refuses Gemini tools; its accumulator takes the raw stream.
    state: ChatCompletionStreamState[Any] = ChatCompletionStreamState()
    for chunk in oai.chat.completions.create(
        model=FLASH,
        messages=question,  # type: ignore[arg-type]
        tools=CODE,  # type: ignore[arg-type]
        stream=True,
    ):
        state.handle_chunk(chunk)
    streamed = state.get_final_completion().choices[0].message
    assert streamed.content == message.content
    assert [{k: v for k, v in p.items() if k != "index"} for p in _google(streamed)["parts"]] == (
        parts
    )
    # Sent back, the turn is Gemini's own parts: the conversation goes on.
    follow = oai.chat.completions.create(
        model=FLASH,
        messages=[*question, _history(streamed), {"role": "user", "content": "Thanks!"}],
        tools=CODE,  # type: ignore[arg-type]
    )
    assert follow.choices[0].message.content


def test_url_context_is_kept_as_citations_and_metadata(oai: openai.OpenAI) -> None:
    url = "https://www.example.com/tides"
    question = [{"role": "user", "content": f"Summarise {url} please."}]
    tools = [{"urlContext": {}}]
    reply = oai.chat.completions.create(model=FLASH, messages=question, tools=tools)  # type: ignore[arg-type]
    message = reply.choices[0].message
    cited = [a.model_dump() for a in message.annotations or []]
    assert [a["url_citation"]["url"] for a in cited] == [url]
    metadata = _google(message)["url_context_metadata"]
    assert metadata["urlMetadata"][0]["retrievedUrl"] == url

    chunks = list(
        oai.chat.completions.create(model=FLASH, messages=question, tools=tools, stream=True)  # type: ignore[arg-type]
    )
    noted = [_extra(c.choices[0].delta).get("annotations") for c in chunks if c.choices]
    assert [n for n in noted if n] == [cited]
    last = [_google(c.choices[0].delta) for c in chunks if c.choices][-1]
    assert last["url_context_metadata"] == metadata
