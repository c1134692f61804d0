"""Hypothesis on the wire translators: OpenAI chat, Anthropic Messages and Responses → Gemini,
and Gemini → OpenAI chat (`chat_request_of`).

Two properties per translator:

- arbitrary JSON-ish bodies, and valid bodies with one value swapped for arbitrary JSON,
  raise nothing but ``InvalidRequest`` (a ``GemgateError``) — never ``KeyError``,
  ``TypeError``, ``AttributeError`` or ``RecursionError``;
- valid bodies translate to a Gemini request the emulator's parser and validator accept.

The defects the fuzzer found are kept as explicit tests at the end.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gemgate.emulator._catalog import DEFAULT_MODELS
from gemgate.emulator._normalize import normalize
from gemgate.emulator._signatures import Signer
from gemgate.emulator._validate import check_generate_request
from gemgate.errors import GemgateError
from gemgate.wire.anthropic import count_request, messages_request
from gemgate.wire.openai import chat_request, chat_request_of, openai_results, read_batch_file
from gemgate.wire.responses import responses_request
from tests.adversarial._fuzz_support import (
    ANTHROPIC_SEED,
    CHAT_SEED,
    COUNT_SEED,
    JSON,
    RESPONSES_SEED,
    mutated,
)

FLASH = next(m for m in DEFAULT_MODELS if m.name == "gemini-2.5-flash")
SIGNER = Signer("fuzz")
_QUIET = list(HealthCheck)
FAST = settings(max_examples=60, deadline=None, suppress_health_check=_QUIET, database=None)
FULL = settings(max_examples=2000, deadline=None, suppress_health_check=_QUIET, database=None)

TRANSLATORS: dict[str, tuple[Callable[[Any], Any], dict[str, Any]]] = {
    "chat": (chat_request, CHAT_SEED),
    "messages": (messages_request, ANTHROPIC_SEED),
    "count_tokens": (count_request, COUNT_SEED),
    "responses": (responses_request, RESPONSES_SEED),
}


def _translate(translate: Callable[[Any], Any], body: Any) -> Any:
    try:
        return translate(body)
    except GemgateError:
        return None


def _accepted(request: dict[str, Any]) -> None:
    """The emulator parses and validates ``request`` as Google would."""
    check_generate_request(normalize(request, "GenerateContentRequest"), FLASH, SIGNER)


@pytest.mark.parametrize("name", sorted(TRANSLATORS))
def test_seeds_translate_to_accepted_requests(name: str) -> None:
    translate, seed = TRANSLATORS[name]
    _accepted(translate(copy.deepcopy(seed)).request)


def _arbitrary(name: str, body: Any) -> None:
    _translate(TRANSLATORS[name][0], body)


@pytest.mark.parametrize("name", sorted(TRANSLATORS))
@FAST
@given(body=JSON)
def test_arbitrary_bodies_raise_only_typed_errors(name: str, body: Any) -> None:
    _arbitrary(name, body)


@pytest.mark.parametrize("name", sorted(TRANSLATORS))
@FAST
@given(data=st.data())
def test_mutated_bodies_raise_only_typed_errors(name: str, data: st.DataObject) -> None:
    _arbitrary(name, data.draw(mutated(TRANSLATORS[name][1])))


@pytest.mark.full
@pytest.mark.parametrize("name", sorted(TRANSLATORS))
@FULL
@given(data=st.data())
def test_mutated_bodies_raise_only_typed_errors_full(name: str, data: st.DataObject) -> None:
    _arbitrary(name, data.draw(mutated(TRANSLATORS[name][1])))


@pytest.mark.parametrize(
    "body",
    [
        {"model": "m", "input": [{"role": ["user"], "content": "Hi"}]},
        {"model": "m", "input": [{"role": "user", "content": [{"type": ["input_text"]}]}]},
        {"model": "m", "input": "Hi", "tools": [{"type": ["web_search"]}]},
        {"model": "m", "input": "Hi", "reasoning": {"summary": ["auto"]}},
    ],
)
def test_unhashable_values_are_invalid_requests(body: dict[str, Any]) -> None:
    """Found by the fuzzer: a list where a name belongs raised ``TypeError: unhashable``."""
    with pytest.raises(GemgateError):
        responses_request(body)


TEXT = st.text(min_size=1, max_size=20).filter(str.strip)
NAMES = st.lists(
    st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,20}", fullmatch=True), max_size=3, unique=True
)
UNIT = st.floats(0, 1)


def _turns(user: str, model: str) -> st.SearchStrategy[list[dict[str, Any]]]:
    """Alternating text turns that end with the user's."""
    return st.integers(0, 3).flatmap(
        lambda n: st.tuples(*[TEXT] * (2 * n + 1)).map(
            lambda texts: [
                {"role": (user, model)[i % 2], "content": t} for i, t in enumerate(texts)
            ]
        )
    )


def _options(**fields: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({}, optional=fields)


@st.composite
def valid_chat(draw: st.DrawFn) -> dict[str, Any]:
    system = draw(st.lists(TEXT.map(lambda t: {"role": "system", "content": t}), max_size=1))
    body = {"model": "gemini-2.5-flash", "messages": system + draw(_turns("user", "assistant"))}
    body |= draw(_options(
        temperature=st.floats(0, 2), top_p=UNIT, max_tokens=st.integers(1, 8192),
        max_completion_tokens=st.integers(1, 8192), stop=st.lists(TEXT, max_size=4),
        seed=st.integers(0, 2**31 - 1), presence_penalty=st.floats(-2, 1.99),
        frequency_penalty=st.floats(-2, 1.99), n=st.just(1), stream=st.booleans(),
        reasoning_effort=st.sampled_from(["low", "medium", "high"]),
        response_format=st.sampled_from([{"type": "text"}, {"type": "json_object"}]),
    ))  # fmt: skip
    names = draw(NAMES)
    if names:
        body["tools"] = [{"type": "function", "function": {"name": n}} for n in names]
        body["tool_choice"] = draw(st.sampled_from(["auto", "none", "required"]))
    return body


@st.composite
def valid_messages(draw: st.DrawFn) -> dict[str, Any]:
    max_tokens = draw(st.integers(1, 8192))
    body = {"model": "gemini-2.5-flash", "max_tokens": max_tokens}
    body["messages"] = draw(_turns("user", "assistant"))
    body |= draw(_options(
        system=TEXT, temperature=UNIT, top_p=UNIT, top_k=st.integers(1, 40),
        stop_sequences=st.lists(TEXT, max_size=4), stream=st.booleans(),
    ))  # fmt: skip
    if max_tokens > 1024 and draw(st.booleans()):
        budget = draw(st.integers(1024, max_tokens - 1))
        body["thinking"] = {"type": "enabled", "budget_tokens": budget}
    names = draw(NAMES)
    if names:
        body["tools"] = [{"name": n, "input_schema": {"type": "object"}} for n in names]
        body["tool_choice"] = {"type": draw(st.sampled_from(["auto", "any", "none"]))}
    return body


@st.composite
def valid_responses(draw: st.DrawFn) -> dict[str, Any]:
    body: dict[str, Any] = {"model": "gemini-2.5-flash"}
    body["input"] = draw(TEXT | _turns("user", "assistant"))
    body |= draw(_options(
        instructions=TEXT, temperature=st.floats(0, 2), top_p=UNIT,
        max_output_tokens=st.integers(1, 8192), store=st.booleans(), stream=st.booleans(),
        reasoning=st.sampled_from(["low", "medium", "high"]).map(lambda e: {"effort": e}),
        text=st.sampled_from(["text", "json_object"]).map(lambda t: {"format": {"type": t}}),
    ))  # fmt: skip
    names = draw(NAMES)
    if names:
        body["tools"] = [{"type": "function", "name": n} for n in names]
        body["tool_choice"] = draw(st.sampled_from(["auto", "none", "required"]))
    return body


VALID: dict[str, tuple[Callable[[Any], Any], st.SearchStrategy[dict[str, Any]]]] = {
    "chat": (chat_request, valid_chat()),
    "messages": (messages_request, valid_messages()),
    "responses": (responses_request, valid_responses()),
}


@pytest.mark.parametrize("name", sorted(VALID))
@FAST
@given(data=st.data())
def test_valid_bodies_translate_to_accepted_requests(name: str, data: st.DataObject) -> None:
    translate, bodies = VALID[name]
    _accepted(translate(data.draw(bodies)).request)


@pytest.mark.full
@pytest.mark.parametrize("name", sorted(VALID))
@FULL
@given(data=st.data())
def test_valid_bodies_translate_to_accepted_requests_full(name: str, data: st.DataObject) -> None:
    translate, bodies = VALID[name]
    _accepted(translate(data.draw(bodies)).request)


NATIVE_SEED: dict[str, Any] = {
    "contents": [
        {
            "role": "user",
            "parts": [{"text": "Hi"}, {"inlineData": {"mimeType": "image/png", "data": "iVBO"}}],
        },
        {
            "role": "model",
            "parts": [{"functionCall": {"name": "get_weather", "args": {"city": "Oslo"}}}],
        },
        {
            "role": "user",
            "parts": [{"functionResponse": {"name": "get_weather", "response": {"t": 1}}}],
        },
    ],
    "systemInstruction": {"parts": [{"text": "Be brief."}]},
    "tools": [
        {"functionDeclarations": [{"name": "get_weather", "parameters": {"type": "OBJECT"}}]}
    ],
    "toolConfig": {
        "functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["get_weather"]}
    },
    "generationConfig": {"temperature": 0.5, "maxOutputTokens": 64, "stopSequences": ["END"]},
    "safetySettings": [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"}],
}


def _reverse(request: Any) -> Any:
    return chat_request_of(request, "gemini-2.5-flash")


GEMINI_REQUESTS = mutated(NATIVE_SEED).filter(lambda body: isinstance(body, dict))
"""A GenerateContentRequest is a mapping by its signature; what is inside it is arbitrary."""


def test_native_seed_goes_back_to_chat() -> None:
    assert chat_request(_reverse(copy.deepcopy(NATIVE_SEED))).request == NATIVE_SEED


@FAST
@given(data=st.data())
def test_mutated_gemini_requests_back_to_chat_raise_only_typed_errors(data: st.DataObject) -> None:
    _translate(_reverse, data.draw(GEMINI_REQUESTS))


@pytest.mark.full
@FULL
@given(data=st.data())
def test_mutated_gemini_requests_back_to_chat_full(data: st.DataObject) -> None:
    _translate(_reverse, data.draw(GEMINI_REQUESTS))


@pytest.mark.parametrize(
    "request_",
    [{"contents": True}, {"contents": {"role": "user"}}, {"generationConfig": True}],
)
def test_gemini_request_with_wrong_shapes_back_to_chat(request_: dict[str, Any]) -> None:
    """Found by the fuzzer: TypeError/AttributeError instead of ``InvalidRequest``."""
    with pytest.raises(GemgateError):
        _reverse(request_)


DEEP = "[" * 100_000 + "]" * 100_000


def test_deeply_nested_json_strings() -> None:
    """Found by probing: JSON strings nested past the parser's depth raised RecursionError."""
    call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": DEEP}}
    chat = [{"role": "user", "content": "Hi"}, {"role": "assistant", "tool_calls": [call]}]
    with pytest.raises(GemgateError):
        chat_request({"model": "gemini-2.5-flash", "messages": chat})
    result = [{"role": "assistant", "tool_calls": [{**call, "function": {"name": "f"}}]}]
    result.append({"role": "tool", "tool_call_id": "c1", "content": DEEP})
    chat_request({"model": "gemini-2.5-flash", "messages": chat[:1] + result})  # kept as text
    use = {"type": "tool_use", "id": "t1", "name": "f", "input": {}}
    turns = [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": [use]},
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": "t1", "content": DEEP}],
        },
    ]
    messages_request({"model": "gemini-2.5-flash", "max_tokens": 8, "messages": turns})
    assert read_batch_file(DEEP.encode(), "/v1/chat/completions").errors
    results = openai_results(DEEP.encode(), "/v1/chat/completions", "m", batch_id="b", created=0)
    assert not any(r.ok for r in results)
