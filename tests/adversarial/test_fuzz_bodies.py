"""Mutated request bodies through the whole gateway: chat, Messages, Responses and native.

Each probe takes a valid body, swaps up to three of its values for arbitrary JSON (or
deletes them), and posts it; the gateway must answer below 500, and a 4xx in the face's
error shape — whether the translator, the gateway or the (emulated) upstream refuses it.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gemgate.gateway._sockets import BadFrame, parse_frame
from tests.adversarial._fuzz_support import (
    ANTHROPIC_SEED,
    CHAT_SEED,
    COUNT_SEED,
    JSON,
    RESPONSES_SEED,
    call,
    mutated,
)

NATIVE_SEED: dict[str, Any] = {
    "contents": [{"role": "user", "parts": [{"text": "Hi"}]}],
    "systemInstruction": {"parts": [{"text": "Be brief."}]},
    "tools": [
        {"functionDeclarations": [{"name": "get_weather", "parameters": {"type": "OBJECT"}}]}
    ],
    "toolConfig": {"functionCallingConfig": {"mode": "AUTO"}},
    "generationConfig": {"temperature": 0.5, "maxOutputTokens": 64, "stopSequences": ["END"]},
    "safetySettings": [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"}],
}
ROUTES = {
    "/v1/chat/completions": {**CHAT_SEED, "stream": False},
    "/v1/messages": ANTHROPIC_SEED,
    "/v1/messages/count_tokens": COUNT_SEED,
    "/v1/responses": RESPONSES_SEED,
    "/gemini/v1beta/models/gemini-2.5-flash:generateContent": NATIVE_SEED,
    "/gemini/v1beta/models/gemini-2.5-flash:countTokens": {"contents": NATIVE_SEED["contents"]},
}
_QUIET = list(HealthCheck)
_JSON = {"content-type": "application/json"}


def _post(path: str, body: Any) -> int:
    """Post ``body`` as Python writes JSON (``NaN`` and ``Infinity`` included)."""
    return call("POST", path, content=json.dumps(body), headers=_JSON).status_code


@pytest.mark.parametrize("path", sorted(ROUTES))
def test_seeds_succeed(path: str) -> None:
    assert _post(path, ROUTES[path]) == 200


@pytest.mark.parametrize("path", sorted(ROUTES))
@settings(max_examples=25, deadline=None, suppress_health_check=_QUIET, database=None)
@given(data=st.data())
def test_mutated_bodies(path: str, data: st.DataObject) -> None:
    _post(path, data.draw(mutated(ROUTES[path])))


@pytest.mark.parametrize("path", sorted(ROUTES))
@settings(max_examples=10, deadline=None, suppress_health_check=_QUIET, database=None)
@given(body=JSON)
def test_arbitrary_bodies(path: str, body: Any) -> None:
    _post(path, body)


@pytest.mark.full
@pytest.mark.parametrize("path", sorted(ROUTES))
@settings(max_examples=1000, deadline=None, suppress_health_check=_QUIET, database=None)
@given(data=st.data())
def test_mutated_bodies_full(path: str, data: st.DataObject) -> None:
    _post(path, data.draw(mutated(ROUTES[path])))


@pytest.mark.parametrize("source", [True, 1, "url", ["url"]])
def test_anthropic_image_source_not_an_object(source: Any) -> None:
    """Found by the fuzzer: a ``source`` that is not an object raised AttributeError (500)."""
    image = {"type": "image", "source": source}
    body = {"model": "gemini-2.5-flash", "max_tokens": 16}
    body["messages"] = [{"role": "user", "content": [{"type": "text", "text": "Hi"}, image]}]
    assert _post("/v1/messages", body) == 400


@pytest.mark.parametrize("content", [5, True, 2.5])
def test_anthropic_tool_result_content_not_iterable(content: Any) -> None:
    """A ``tool_result`` whose content is a number raised TypeError while looking for images."""
    turns = [
        {"role": "user", "content": "Weather?"},
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": "t1", "name": "f", "input": {}}],
        },
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": "t1", "content": content}],
        },
    ]
    assert (
        _post("/v1/messages", {"model": "gemini-2.5-flash", "max_tokens": 16, "messages": turns})
        == 400
    )


DEEP = "[" * 100_000 + "]" * 100_000
JSON_ROUTES = [
    "/v1/chat/completions",
    "/v1/messages",
    "/v1/responses",
    "/v1/embeddings",
    "/v1/batches",
    "/api/v1/sessions",
    "/api/v1/stores",
]


@pytest.mark.parametrize("path", JSON_ROUTES)
def test_deeply_nested_body(path: str) -> None:
    """Found by probing: JSON nested past the parser's depth raised RecursionError (500)."""
    assert call("POST", path, content=DEEP, headers=_JSON).status_code == 400


def test_deeply_nested_tool_arguments() -> None:
    """The same nesting inside a tool call's ``arguments`` string: a 400, not a 500."""
    call_ = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": DEEP}}
    messages = [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": None, "tool_calls": [call_]},
        {"role": "tool", "tool_call_id": "c1", "content": DEEP},
    ]
    body = {"model": "gemini-2.5-flash", "messages": messages}
    assert _post("/v1/chat/completions", body) == 400


def test_deeply_nested_socket_frame() -> None:
    """A /ws frame nested past the parser's depth is a bad frame, not a crash."""
    with pytest.raises(BadFrame):
        parse_frame(DEEP)


MULTIPART_ROUTES = ["/v1/files", "/v1/images/edits", "/api/v1/stores/{store}/documents"]


@pytest.mark.parametrize("path", MULTIPART_ROUTES)
@pytest.mark.parametrize("boundary", ["a" * 257, "", "x"])
@pytest.mark.parametrize("body", [b"", b"{}", b"--x\r\n\r\n", b"\xff\xfe"])
def test_malformed_multipart(path: str, boundary: str, body: bytes) -> None:
    """Found by probing: a boundary over 256 bytes raised the parser's error at once (500)."""
    store = call("POST", "/api/v1/stores", json={"name": "multipart"}).json()["id"]
    headers = {"content-type": f"multipart/form-data; boundary={boundary}"}
    status = call("POST", path.format(store=store), content=body, headers=headers).status_code
    assert status == 400
