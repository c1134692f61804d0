"""Shared pieces of the fuzzing probes: an in-process gateway and its error-shape check.

``APP`` is a gateway over the in-process emulator (no key, sessions in memory) with its
lifespan answered here, so schemathesis and the state machine can call it many times.
``check_answer`` is the property every probe holds each response to: no status ≥ 500,
and every 4xx body in the error shape of the face its path belongs to (`face_of`).
"""

from __future__ import annotations

import asyncio
import copy
import json
from typing import Any

import httpx2
import jsonschema
from hypothesis import strategies as st
from starlette.types import Receive, Scope, Send

from gemgate import AsyncGemini
from gemgate.config import Settings
from gemgate.gateway import create_app
from gemgate.gateway._faces import face_of

__all__ = [
    "ANTHROPIC_SEED",
    "APP",
    "CHAT_SEED",
    "COUNT_SEED",
    "JSON",
    "RESPONSES_SEED",
    "call",
    "check_answer",
    "mutated",
]

GATEWAY = create_app(AsyncGemini(settings=Settings(upstream="emulator", sessions_url="memory://")))


async def APP(scope: Scope, receive: Receive, send: Send) -> None:
    """The gateway, minus lifespan: each call would otherwise close it."""
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    await GATEWAY(scope, receive, send)


_LOOP = asyncio.new_event_loop()
_HTTP = httpx2.AsyncClient(transport=httpx2.ASGITransport(app=APP), base_url="http://gateway")


def call(method: str, path: str, **kwargs: Any) -> httpx2.Response:
    """One request to ``APP`` (on one event loop for the whole run), its answer checked."""
    response = _LOOP.run_until_complete(_HTTP.request(method, path, **kwargs))
    check_answer(method, path, response.status_code, response.content)
    return response


def check_answer(method: str, path: str, status: int, body: bytes) -> None:
    """No server error; a client error's body in its face's shape."""
    where = f"{method} {path} → {status}: {body[:300]!r}"
    assert status < 500, where
    if status < 400:
        return
    try:
        parsed: Any = json.loads(body)
    except ValueError:
        raise AssertionError(f"error body is not JSON: {where}") from None
    face = face_of(path)
    try:
        jsonschema.validate(parsed, face.schema)
    except jsonschema.ValidationError as exc:
        raise AssertionError(f"not a {face.name}: {exc.message}: {where}") from None


JSON: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)

WEATHER = {
    "name": "get_weather",
    "description": "The weather in a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
}
PNG = "data:image/png;base64,iVBORw0KGgo="
CHAT_SEED: dict[str, Any] = {
    "model": "gemini-2.5-flash",
    "messages": [
        {"role": "system", "content": "Be brief."},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Hi"},
                {"type": "image_url", "image_url": {"url": PNG}},
            ],
        },
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "c1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "sunny"},
    ],
    "tools": [{"type": "function", "function": WEATHER}],
    "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
    "temperature": 0.5,
    "top_p": 0.9,
    "max_tokens": 64,
    "stop": ["END"],
    "n": 1,
    "seed": 3,
    "reasoning_effort": "low",
    "response_format": {
        "type": "json_schema",
        "json_schema": {"name": "w", "schema": {"type": "object"}},
    },
    "stream": True,
    "stream_options": {"include_usage": True},
    "extra_body": {"google": {"thinking_config": {"include_thoughts": True}}},
}
ANTHROPIC_SEED: dict[str, Any] = {
    "model": "gemini-2.5-flash",
    "max_tokens": 2048,
    "system": [{"type": "text", "text": "Be brief."}],
    "messages": [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Hi"},
                {
                    "type": "image",
                    "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="},
                },
            ],
        },
        {
            "role": "assistant",
            "content": [
                {"type": "tool_use", "id": "t1", "name": "get_weather", "input": {"city": "Oslo"}}
            ],
        },
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "sunny"}],
        },
    ],
    "tools": [
        {"name": "get_weather", "description": "Weather.", "input_schema": WEATHER["parameters"]}
    ],
    "tool_choice": {"type": "auto"},
    "thinking": {"type": "enabled", "budget_tokens": 1024},
    "temperature": 0.5,
    "top_k": 5,
    "stop_sequences": ["END"],
    "metadata": {"user_id": "u"},
    "stream": False,
}
RESPONSES_SEED: dict[str, Any] = {
    "model": "gemini-2.5-flash",
    "instructions": "Be brief.",
    "input": [
        {
            "role": "user",
            "content": [
                {"type": "input_text", "text": "Hi"},
                {"type": "input_image", "image_url": PNG},
            ],
        },
        {
            "type": "function_call",
            "call_id": "c1",
            "name": "get_weather",
            "arguments": '{"city": "Oslo"}',
        },
        {"type": "function_call_output", "call_id": "c1", "output": "sunny"},
    ],
    "tools": [{"type": "function", **WEATHER}],
    "tool_choice": "auto",
    "reasoning": {"effort": "low"},
    "text": {"format": {"type": "json_schema", "name": "w", "schema": {"type": "object"}}},
    "max_output_tokens": 64,
    "temperature": 0.5,
    "metadata": {"k": "v"},
    "store": False,
    "stream": False,
}
COUNT_SEED = {
    k: v
    for k, v in ANTHROPIC_SEED.items()
    if k
    not in {
        "max_tokens",
        "stream",
        "temperature",
        "top_k",
        "stop_sequences",
        "metadata",
        "tool_choice",
    }
}


def _paths(value: Any, here: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in ``value`` (its root included) a mutation can swap."""
    found = [here]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*here, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found += _paths(item, (*here, i))
    return found


@st.composite
def mutated(draw: st.DrawFn, seed: dict[str, Any]) -> Any:
    """``seed`` with one to three values replaced by arbitrary JSON, or deleted."""
    body: Any = copy.deepcopy(seed)
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(body)
        path = draw(st.sampled_from(paths))
        if not path:
            return draw(JSON)
        parent = body
        for step in path[:-1]:
            parent = parent[step]
        if isinstance(parent, dict) and draw(st.booleans()):
            del parent[path[-1]]
        else:
            parent[path[-1]] = draw(JSON)
    return body
