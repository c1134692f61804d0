"""One OpenAI payload, two faces: ``AsyncGemini.chat`` and the gateway's ``/v1``.

Each payload goes once through the library and once through the official ``openai`` SDK
at the gateway; a recorder in front of the emulator keeps the Gemini request each face
sent. Both faces must send the same Gemini request and give the same answer — and refuse
the same bad payloads, naming the same field, before anything is sent.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import openai
import pytest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gemgate import AsyncGemini
from gemgate.config import RetrySettings
from gemgate.emulator import EmulatorConfig, create_app
from gemgate.errors import UsageError
from gemgate.gateway import create_app as create_gateway
from tests.conftest import serve_in_loop, stop_serving

from .conftest import FLASH, TIME_TOOL, WEATHER_TOOL

pytestmark = pytest.mark.anyio

# A 1x1 red PNG.
PNG = (
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4"
    "z8AAAAMBAQDJ/pLvAAAAAElFTkSuQmCC"
)
TOOLS = [WEATHER_TOOL, TIME_TOOL]
QUESTION = {"role": "user", "content": "What's the weather like in Paris today?"}
KEEPER = {"role": "user", "content": "Describe a lighthouse keeper's morning."}
SCHEMA = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
    "required": ["name", "age"],
}
SAFETY = [
    {"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_ONLY_HIGH"},
    {"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "threshold": "BLOCK_NONE"},
]
CALLED = {
    "role": "assistant",
    "content": None,
    "tool_calls": [
        {
            "id": "call_1",
            "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
        }
    ],
}
ANSWERED = {"role": "tool", "tool_call_id": "call_1", "content": '{"forecast": "22C, sunny"}'}

PAYLOADS: dict[str, dict[str, Any]] = {
    "plain": {"messages": [KEEPER]},
    "system": {"messages": [{"role": "system", "content": "Answer briefly."}, KEEPER]},
    "params": {
        "messages": [KEEPER],
        "temperature": 0.4,
        "top_p": 0.9,
        "max_tokens": 12,
        "stop": ["lamp"],
        "seed": 7,
    },
    "tools": {"messages": [QUESTION], "tools": TOOLS},
    "tool_choice-auto": {
        "messages": [KEEPER],
        "tools": TOOLS,
        "tool_choice": "auto",
    },
    "tool_choice-none": {
        "messages": [QUESTION],
        "tools": TOOLS,
        "tool_choice": "none",
    },
    "tool_choice-required": {
        "messages": [KEEPER],
        "tools": TOOLS,
        "tool_choice": "required",
    },
    "tool_choice-named": {
        "messages": [QUESTION],
        "tools": TOOLS,
        "tool_choice": {"type": "function", "function": {"name": "get_time"}},
    },
    "response_format-json_schema": {
        "messages": [KEEPER],
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "keeper", "schema": SCHEMA, "strict": True},
        },
    },
    "extra_body-google-safety": {
        "messages": [KEEPER],
        "extra_body": {"google": {"safety_settings": SAFETY}},
    },
    "extra_body-google-thinking": {
        "messages": [KEEPER],
        "extra_body": {"google": {"thinking_config": {"thinking_budget": 0}}},
    },
    "reasoning_effort": {"messages": [KEEPER], "reasoning_effort": "low"},
    "thought-summaries-tagged": {
        "messages": [KEEPER],
        "extra_body": {
            "google": {
                "thinking_config": {"include_thoughts": True},
                "thought_tag_marker": "think",
                "media_resolution": "MEDIA_RESOLUTION_LOW",
            }
        },
    },
    "multi-turn-tool-results": {
        "messages": [QUESTION, CALLED, ANSWERED],
        "tools": TOOLS,
    },
    "image-data-url": {
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What colour is this pixel?"},
                    {"type": "image_url", "image_url": {"url": PNG}},
                ],
            }
        ]
    },
}
CALLS = {
    "tools": ["get_weather"],
    "tool_choice-required": ["get_weather"],
    "tool_choice-named": ["get_time"],
}
"""The tools each payload's answer calls (none where not listed)."""

_GENERATE = (":generateContent", ":streamGenerateContent")


class Recorder:
    """ASGI middleware for the emulator: keeps each generate call's method and JSON body."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.seen: list[tuple[str, Any]] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        generate = scope["type"] == "http" and scope["path"].endswith(_GENERATE)
        if not generate:
            await self.app(scope, receive, send)
            return
        body = bytearray()

        async def recording() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                body.extend(message.get("body", b""))
                if not message.get("more_body", False):
                    self.seen.append((scope["path"], json.loads(bytes(body))))
            return message

        await self.app(scope, recording, send)

    def take(self) -> list[tuple[str, Any]]:
        """What was recorded since the last call."""
        seen, self.seen = self.seen, []
        return seen


@dataclass
class Faces:
    """The library and the gateway (through the openai SDK), over one recorded emulator."""

    library: AsyncGemini
    sdk: openai.AsyncOpenAI
    recorder: Recorder


@pytest.fixture
async def faces(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> AsyncIterator[Faces]:
    monkeypatch.chdir(tmp_path)  # the gateway's session store lands here
    recorder = Recorder(create_app(EmulatorConfig()))
    emu_server, emu_task, emulator_url = await serve_in_loop(recorder)
    client = AsyncGemini(api_key="k", base_url=emulator_url, retry=RetrySettings(max_retries=0))
    gw_server, gw_task, url = await serve_in_loop(create_gateway(client), lifespan="on")
    sdk = openai.AsyncOpenAI(api_key="any-key", base_url=f"{url}/v1", max_retries=0)
    try:
        yield Faces(client, sdk, recorder)
    finally:
        await sdk.close()
        await stop_serving(gw_server, gw_task)  # its shutdown closes the client
        await stop_serving(emu_server, emu_task)


def _comparable(completion: dict[str, Any]) -> dict[str, Any]:
    """A completion without what differs between any two calls (id, time)."""
    return {k: v for k, v in completion.items() if k not in ("id", "created")}


@pytest.mark.parametrize("name", list(PAYLOADS))
async def test_same_payload_same_gemini_request_same_answer(faces: Faces, name: str) -> None:
    payload = PAYLOADS[name]
    params = {k: v for k, v in payload.items() if k != "messages"}

    by_library = await faces.library.chat(payload["messages"], model=FLASH, **params)
    [(library_path, library_request)] = faces.recorder.take()

    by_gateway = await faces.sdk.chat.completions.create(model=FLASH, **payload)
    [(gateway_path, gateway_request)] = faces.recorder.take()

    assert library_path == gateway_path == f"/v1beta/models/{FLASH}:generateContent"
    assert library_request == gateway_request
    assert _comparable(by_library) == _comparable(by_gateway.model_dump(exclude_unset=True))
    _assert_answers(name, by_library["choices"][0]["message"])


def _assert_answers(name: str, message: dict[str, Any]) -> None:
    """The answer is the one the payload asks for, not only the same on both faces."""
    assert [c["function"]["name"] for c in message.get("tool_calls", [])] == CALLS.get(name, [])
    if name == "response_format-json_schema":
        assert set(json.loads(message["content"])) == {"name", "age"}
    if name == "multi-turn-tool-results":
        assert "22C, sunny" in message["content"]


@pytest.mark.parametrize("name", ["plain", "tool_choice-required", "multi-turn-tool-results"])
async def test_streams_send_the_same_request_and_the_same_chunks(faces: Faces, name: str) -> None:
    payload = PAYLOADS[name]
    params = {k: v for k, v in payload.items() if k != "messages"}

    by_library = [
        c async for c in faces.library.stream_chat(payload["messages"], model=FLASH, **params)
    ]
    [(library_path, library_request)] = faces.recorder.take()

    stream = await faces.sdk.chat.completions.create(
        model=FLASH, stream=True, stream_options={"include_usage": True}, **payload
    )
    by_gateway = [c.model_dump(exclude_unset=True) async for c in stream]
    [(gateway_path, gateway_request)] = faces.recorder.take()

    assert library_path == gateway_path == f"/v1beta/models/{FLASH}:streamGenerateContent"
    assert library_request == gateway_request
    # The library keeps usage on the chunks; the gateway sends it last (include_usage).
    usage = by_gateway.pop()
    assert usage["choices"] == [] and usage["usage"] == by_library[-1]["usage"]
    for chunk in by_library:
        chunk.pop("usage", None)
    assert [_comparable(c) for c in by_library] == [_comparable(c) for c in by_gateway]


BAD: dict[str, tuple[dict[str, Any], str]] = {
    "unknown field": ({"messages": [KEEPER], "logit_bias": {"50256": -100}}, "logit_bias"),
    "wrong type": ({"messages": [KEEPER], "temperature": "hot"}, "temperature"),
    "bad tool_choice": (
        {"messages": [KEEPER], "tools": [WEATHER_TOOL], "tool_choice": "sometimes"},
        "tool_choice",
    ),
    "bad tool": (
        {"messages": [KEEPER], "tools": [{"type": "retrieval"}]},
        "tools[0].type",
    ),
    "bad role": ({"messages": [{"role": "wizard", "content": "hi"}]}, "messages[0].role"),
    "bad part": (
        {"messages": [{"role": "user", "content": [{"type": "video", "video": "x"}]}]},
        "messages[0].content[0].type",
    ),
    "non-data image URL": (
        {
            "messages": [
                {"role": "user", "content": [{"type": "image_url", "image_url": "ftp://x/y"}]}
            ]
        },
        "messages[0].content[0].image_url",
    ),
    "reasoning and thinking": (
        {
            "messages": [KEEPER],
            "reasoning_effort": "low",
            "extra_body": {"google": {"thinking_config": {"thinking_budget": 0}}},
        },
        "google.thinking_config",
    ),
}


def _field(param: str | None) -> str | None:
    """The field named, wherever ``extra_body`` put it.

    The library takes ``extra_body`` as it is given; the openai SDK sends its keys at
    the top of the body, so the gateway sees ``google`` where the library sees
    ``extra_body.google``.
    """
    return param.removeprefix("extra_body.") if param else param


@pytest.mark.parametrize("name", list(BAD))
async def test_bad_payloads_are_refused_alike_before_anything_is_sent(
    faces: Faces, name: str
) -> None:
    payload, param = BAD[name]
    params = {k: v for k, v in payload.items() if k != "messages"}

    with pytest.raises(UsageError) as refused:
        await faces.library.chat(payload["messages"], model=FLASH, **params)
    assert _field(getattr(refused.value, "param", None)) == param

    with pytest.raises(openai.BadRequestError) as answered:
        await faces.sdk.chat.completions.create(model=FLASH, **payload)
    assert answered.value.status_code == 400
    assert answered.value.param == param
    assert faces.recorder.take() == []
