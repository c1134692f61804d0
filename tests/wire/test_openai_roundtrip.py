"""The OpenAI translation loses nothing Gemini says.

* Requests: any GenerateContentRequest built from the fields the emulator knows
  (``gemgate.emulator._fields``) → :func:`chat_request_of` → :func:`chat_request` is
  the same request.
* Answers: a candidate's parts → the OpenAI message (or the deltas of a stream, merged
  as the ``openai`` SDK merges them) → sent back as history → the same model turn; and
  what a candidate or response says beside its parts rides under
  ``extra_content.google``.
"""

from __future__ import annotations

import base64
import functools
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openai.lib.streaming._deltas import accumulate_delta

from gemgate.emulator._fields import ENUMS, MESSAGES, FieldType
from gemgate.wire._names import snake
from gemgate.wire.openai import (
    ChunkStream,
    InvalidRequest,
    chat_request,
    chat_request_of,
    completion,
    messages_to_contents,
)

MODEL = "gemini-2.5-flash"
# The strategies below span every request message: Hypothesis may warn that their repr
# (which it builds for its own reports) is large.
pytestmark = pytest.mark.filterwarnings("ignore:Generating overly large repr")

# -- strategies: every field of a GenerateContentRequest -------------------------------

_KEYS = st.text("abcdefgXYZ", min_size=1, max_size=6)  # no '_': camel-casing keeps them
_TEXT = st.text(max_size=12)
_B64 = st.binary(max_size=12).map(lambda b: base64.b64encode(b).decode())
_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-1000, 1000)
    | st.floats(allow_nan=False, allow_infinity=False)
    | _TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_KEYS, inner, max_size=3),
    max_leaves=6,
)
_OBJECT = st.dictionaries(_KEYS, _JSON, max_size=3)
_SCALARS: dict[str, st.SearchStrategy[Any]] = {
    "string": _TEXT,
    "int": st.integers(-5, 100),
    "int64": st.integers(0, 100),
    "float": st.floats(-2, 2, allow_nan=False),
    "bool": st.booleans(),
    "bytes": _B64,
    "duration": st.sampled_from(["1s", "2.5s"]),
    "timestamp": st.sampled_from(["2025-01-01T00:00:00Z"]),
    "object": _OBJECT,
    "any": _JSON,
}
_SKIPPED = {"GenerateContentRequest": {"model"}}


def _field(kind: FieldType, depth: int) -> st.SearchStrategy[Any]:
    if isinstance(kind, str):
        return _SCALARS[kind]
    tag, inner = kind
    if tag == "enum":
        return st.sampled_from(sorted(ENUMS[str(inner)]))
    if tag == "msg":
        return _message(str(inner), depth + 1)
    if tag == "list":
        return st.lists(_field(inner, depth), max_size=2)
    return st.dictionaries(_KEYS, _field(inner, depth), max_size=2)


@functools.cache
def _message(name: str, depth: int = 0) -> st.SearchStrategy[dict[str, Any]]:
    return st.deferred(lambda: _build(name, depth))  # a short repr, built once


def _build(name: str, depth: int) -> st.SearchStrategy[dict[str, Any]]:
    fields = MESSAGES[name]
    if depth > 2:  # deep enough: scalars only (Schema nests itself)
        fields = {k: v for k, v in fields.items() if isinstance(v, str)}
    skipped = _SKIPPED.get(name, set())
    optional = {k: _field(v, depth) for k, v in fields.items()}
    return st.fixed_dictionaries(
        {}, optional={k: v for k, v in optional.items() if k not in skipped}
    )


# Parts OpenAI's own fields hold, mixed with any Part at all.
_NATURAL_PARTS = st.one_of(
    st.builds(lambda t: {"text": t}, _TEXT),
    st.builds(lambda t: {"text": t, "thought": True}, _TEXT),
    st.builds(lambda t, s: {"text": t, "thoughtSignature": s}, _TEXT, _B64),
    st.builds(
        lambda n, a, s: {"functionCall": {"name": n, "args": a}, **s},
        _KEYS,
        _OBJECT,
        st.sampled_from([{}, {"thoughtSignature": "c2ln"}]),
    ),
    st.builds(lambda n, r: {"functionResponse": {"name": n, "response": r}}, _KEYS, _OBJECT),
    st.builds(
        lambda m, d: {"inlineData": {"mimeType": m, "data": d}},
        st.sampled_from(["image/png", "image/jpeg", "audio/wav", "audio/mp3", "application/pdf"]),
        _B64,
    ),
)
PARTS = st.deferred(lambda: st.lists(_NATURAL_PARTS | _message("Part"), max_size=4))
CONTENTS = st.lists(
    st.fixed_dictionaries({"role": st.sampled_from(["user", "model"]), "parts": PARTS}),
    min_size=1,
    max_size=5,
)
_FUNCTION_TOOLS = st.lists(
    st.fixed_dictionaries(
        {"name": _KEYS},
        optional={"description": _TEXT, "parametersJsonSchema": _OBJECT},
    ),
    min_size=1,
    max_size=3,
    unique_by=lambda d: d["name"],
).map(lambda declarations: [{"functionDeclarations": declarations}])
_TOOL_CONFIG = st.one_of(
    st.sampled_from(["AUTO", "NONE", "ANY"]).map(lambda m: {"functionCallingConfig": {"mode": m}}),
    _message("ToolConfig"),
)
REQUEST_FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "systemInstruction": st.one_of(
        st.builds(lambda t: {"parts": [{"text": t}]}, _TEXT),
        _message("Content").filter(lambda c: "parts" in c),
    ),
    "tools": st.one_of(_FUNCTION_TOOLS, st.lists(_message("Tool"), min_size=1, max_size=2)),
    "toolConfig": _TOOL_CONFIG,
    "safetySettings": st.lists(_message("SafetySetting"), max_size=2),
    "generationConfig": _message("GenerationConfig").filter(bool),
    "cachedContent": _TEXT,
    "serviceTier": st.sampled_from(["standard", "flex", "priority"]),
    "store": st.booleans(),
}
REQUESTS = st.deferred(
    lambda: st.fixed_dictionaries({"contents": CONTENTS}, optional=REQUEST_FIELDS)
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(REQUESTS)
def test_a_gemini_request_goes_through_openai_unchanged(request: dict[str, Any]) -> None:
    body = chat_request_of(request, MODEL)
    again = chat_request(json.loads(json.dumps(body)))  # as it would travel
    assert again.request == request
    assert again.model == MODEL


def test_every_field_the_emulator_knows_is_covered() -> None:
    covered = set(REQUEST_FIELDS) | {"contents"}
    assert covered | _SKIPPED["GenerateContentRequest"] == set(MESSAGES["GenerateContentRequest"])


def test_openai_fields_are_used_where_they_say_exactly_the_same() -> None:
    signature = "c2lnbmF0dXJl"
    request = {
        "systemInstruction": {"parts": [{"text": "Be brief."}]},
        "contents": [
            {"role": "user", "parts": [{"text": "Weather in Paris?"}]},
            {
                "role": "model",
                "parts": [
                    {"text": "The user wants the weather.", "thought": True},
                    {
                        "functionCall": {"name": "get_weather", "args": {"city": "Paris"}},
                        "thoughtSignature": signature,
                    },
                ],
            },
            {
                "role": "user",
                "parts": [{"functionResponse": {"name": "get_weather", "response": {"c": 22}}}],
            },
            {"role": "model", "parts": [{"text": "22C.", "thoughtSignature": signature}]},
            {"role": "user", "parts": [{"text": "Run it."}]},
            {
                "role": "model",
                "parts": [
                    {"executableCode": {"language": "PYTHON", "code": "print(1)"}},
                ],
            },
        ],
        "generationConfig": {
            "temperature": 0.2,
            "maxOutputTokens": 64,
            "thinkingConfig": {"thinkingBudget": 0},
            "mediaResolution": "MEDIA_RESOLUTION_LOW",
        },
        "tools": [{"functionDeclarations": [{"name": "get_weather"}]}],
        "toolConfig": {"functionCallingConfig": {"mode": "ANY"}},
        "serviceTier": "flex",
    }
    body = chat_request_of(request, MODEL)
    system, user, called, answered, text, ask, code = body["messages"]
    assert system == {"role": "system", "content": "Be brief."}
    assert called["reasoning_content"] == "The user wants the weather."
    assert called["tool_calls"][0]["extra_content"] == {"google": {"thought_signature": signature}}
    assert answered == {
        "role": "tool",
        "tool_call_id": called["tool_calls"][0]["id"],
        "name": "get_weather",
        "content": '{"c": 22}',
    }
    assert text["content"] == "22C."
    assert text["extra_content"] == {"google": {"thought_signature": signature}}
    assert code["extra_content"]["google"]["parts"] == request["contents"][-1]["parts"]
    assert body["temperature"] == 0.2 and body["max_completion_tokens"] == 64
    assert body["tools"] == [{"type": "function", "function": {"name": "get_weather"}}]
    assert body["tool_choice"] == "required"
    assert body["extra_body"] == {
        "google": {
            "thinking_config": {"thinkingBudget": 0},
            "media_resolution": "MEDIA_RESOLUTION_LOW",
            "service_tier": "flex",
        }
    }
    assert chat_request(body).request == request


@pytest.mark.parametrize(
    "request_",
    [{"contents": [{"parts": [{"text": "no role"}]}]}, {"contents": [], "bogus": 1}],
)
def test_what_no_chat_body_makes_is_refused(request_: dict[str, Any]) -> None:
    with pytest.raises(InvalidRequest):
        chat_request_of(request_, MODEL)


# -- answers ---------------------------------------------------------------------------

CANDIDATE_PARTS = st.deferred(
    lambda: st.lists(_NATURAL_PARTS | _message("Part"), min_size=1, max_size=5).filter(
        lambda parts: not any("functionResponse" in p for p in parts)
    )
)


def _echo(message: dict[str, Any]) -> list[dict[str, Any]]:
    """The model turn a message makes when sent back as history."""
    contents, _ = messages_to_contents([{"role": "user", "content": "q"}, message])
    assert [c["role"] for c in contents] == ["user", "model"][: len(contents)]
    return contents[1]["parts"] if len(contents) > 1 else []


@settings(max_examples=300, deadline=None)
@given(CANDIDATE_PARTS)
def test_an_answer_sent_back_is_the_same_model_turn(parts: list[dict[str, Any]]) -> None:
    response = {"candidates": [{"content": {"role": "model", "parts": parts}}]}
    message = completion(response, MODEL, created=0)["choices"][0]["message"]
    assert _echo(json.loads(json.dumps(message))) == parts


def _pieces(parts: list[dict[str, Any]], cuts: list[int]) -> list[list[dict[str, Any]]]:
    """A stream's chunks for ``parts``: each text cut in two at its cut (Gemini splits
    text across chunks, never other parts); the signature rides on the last piece."""
    chunks: list[list[dict[str, Any]]] = []
    for part, cut in zip(parts, cuts, strict=False):
        text = part.get("text")
        if isinstance(text, str) and len(text) > 1 and 0 < cut < len(text):
            head = {k: v for k, v in part.items() if k != "thoughtSignature"}
            chunks.append([{**head, "text": text[:cut]}])
            chunks.append([{**part, "text": text[cut:]}])
        else:
            chunks.append([part])
    return chunks


@settings(max_examples=300, deadline=None)
@given(CANDIDATE_PARTS, st.lists(st.integers(0, 12), min_size=5, max_size=5))
def test_a_streamed_answer_merged_like_the_openai_sdk_is_the_same_model_turn(
    parts: list[dict[str, Any]], cuts: list[int]
) -> None:
    pieces = _pieces(parts, cuts)
    # A stream joins each text piece to the text part before it (of the same kind),
    # so only turns whose text parts are apart survive as they were.
    joined = [
        p
        for a, b in zip(parts, parts[1:], strict=False)
        for p in (a, b)
        if "text" in a
        and "text" in b
        and bool(a.get("thought")) == bool(b.get("thought"))
        and "thoughtSignature" not in a
        and set(b) <= set(a) | {"thoughtSignature"}
    ]
    stream = ChunkStream(MODEL, created=0)
    message: dict[str, Any] = {}
    for i, chunk in enumerate(pieces):
        gemini = {"candidates": [{"content": {"role": "model", "parts": chunk}, "index": 0}]}
        if i == len(pieces) - 1:
            gemini["candidates"][0]["finishReason"] = "STOP"
        delta = stream.convert(json.loads(json.dumps(gemini)))["choices"][0]["delta"]
        accumulate_delta(message, json.loads(json.dumps(delta)))
    message.pop("role", None)
    for call in message.get("tool_calls", []):
        call.pop("index")
    echoed = _echo({"role": "assistant", **message})
    if not joined:
        assert echoed == parts


def test_a_rich_answer_keeps_every_field() -> None:
    parts = [
        {"text": "Planning the computation.", "thought": True},
        {"text": "I will compute this with Python."},
        {"executableCode": {"language": "PYTHON", "code": "print(6 * 7)\n"}},
        {"codeExecutionResult": {"outcome": "OUTCOME_OK", "output": "42\n"}},
        {"inlineData": {"mimeType": "image/png", "data": "iVBORw0K"}},
        {"text": "The answer is 42.", "thoughtSignature": "c2ln"},
    ]
    candidate = {
        "content": {"role": "model", "parts": parts},
        "finishReason": "MALFORMED_FUNCTION_CALL",
        "finishMessage": "almost",
        "safetyRatings": [{"category": "HARM_CATEGORY_HARASSMENT", "probability": "LOW"}],
        "citationMetadata": {"citationSources": [{"uri": "https://a.example/"}]},
        "urlContextMetadata": {
            "urlMetadata": [
                {
                    "retrievedUrl": "https://a.example/",
                    "urlRetrievalStatus": "URL_RETRIEVAL_STATUS_SUCCESS",
                },
                {
                    "retrievedUrl": "https://b.example/",
                    "urlRetrievalStatus": "URL_RETRIEVAL_STATUS_ERROR",
                },
            ]
        },
        "avgLogprobs": -0.25,
        "logprobsResult": {"topCandidates": [], "chosenCandidates": []},
        "tokenCount": 9,
        "index": 0,
    }
    usage = {
        "promptTokenCount": 3,
        "candidatesTokenCount": 9,
        "thoughtsTokenCount": 4,
        "toolUsePromptTokenCount": 2,
        "totalTokenCount": 18,
    }
    response = {
        "candidates": [candidate],
        "usageMetadata": usage,
        "modelVersion": "gemini-2.5-flash-001",
        "responseId": "r-1",
        "promptFeedback": {"safetyRatings": []},
    }
    answer = completion(response, MODEL, created=0)
    message = answer["choices"][0]["message"]
    google = message["extra_content"]["google"]
    assert google["parts"] == parts
    assert message["reasoning_content"] == "Planning the computation."
    assert "```python\nprint(6 * 7)\n```" in message["content"]
    assert "```output\n42\n```" in message["content"]
    assert message["content"].startswith("I will compute") and "Planning" not in message["content"]
    assert google["thought_signature"] == "c2ln"
    for key, value in candidate.items():
        if key not in ("content", "index"):
            assert google[snake(key)] == value
    assert [a["url_citation"]["url"] for a in message["annotations"]] == ["https://a.example/"]
    assert answer["extra_content"]["google"] == {
        "usage_metadata": usage,
        "model_version": "gemini-2.5-flash-001",
        "prompt_feedback": {"safetyRatings": []},
    }
    assert answer["usage"]["completion_tokens_details"] == {"reasoning_tokens": 4}
    assert _echo(message) == parts
