"""Bad Live input ends the connection with the service's close codes and a clear reason."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from google.genai import errors, types
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.conftest import FakeClock

from .live_support import MODEL, TEXT, LiveTarget, live_emulator, recv_json, send_json

pytestmark = pytest.mark.anyio

SETUP = {
    "setup": {"model": f"models/{MODEL}", "generationConfig": {"responseModalities": ["TEXT"]}}
}


@pytest.fixture
async def live_target(tmp_path: Path, clock: FakeClock) -> AsyncIterator[LiveTarget]:
    async with live_emulator(tmp_path, clock) as target:
        yield target


async def closed(ws: ClientConnection) -> tuple[int, str]:
    """Read until the server closes; return its close code and reason."""
    with pytest.raises(ConnectionClosed) as info:
        while True:
            await ws.recv()
    received = info.value.rcvd
    assert received is not None, "expected a close frame"
    return received.code, received.reason


async def next_handle(ws: ClientConnection) -> str:
    """Read until a resumable ``sessionResumptionUpdate``; return its handle."""
    while True:
        update = (await recv_json(ws)).get("sessionResumptionUpdate", {})
        if update.get("resumable"):
            handle: str = update["newHandle"]
            return handle


async def set_up(ws: ClientConnection, setup: dict[str, Any] = SETUP) -> None:
    await send_json(ws, setup)
    assert await recv_json(ws) == {"setupComplete": {}}


async def test_server_messages_are_binary_frames_and_snake_case_is_accepted(
    live_target: LiveTarget,
) -> None:
    async with live_target.raw() as ws:
        await send_json(
            ws, {"setup": {"model": MODEL, "generation_config": {"response_modalities": ["text"]}}}
        )
        assert await recv_json(ws) == {"setupComplete": {}}
        await send_json(
            ws,
            {"client_content": {"turns": [{"parts": [{"text": "Hi"}]}], "turn_complete": True}},
        )
        kinds = []
        while True:
            message = await recv_json(ws)
            kinds.append(next(iter(message["serverContent"])))
            if message["serverContent"].get("turnComplete"):
                assert message["usageMetadata"]["responseTokenCount"] > 0
                break
    assert kinds[-2:] == ["generationComplete", "turnComplete"]
    assert set(kinds[:-2]) == {"modelTurn"}


@pytest.mark.parametrize(
    ("frame", "code", "reason"),
    [
        ("not json {", 1007, "Invalid JSON payload received. Unexpected token."),
        ('["setup"]', 1007, 'Invalid JSON payload received. Unknown name "": Root element'),
        ('{"fooBar": {}}', 1007, 'Invalid JSON payload received. Unknown name "fooBar"'),
        ("{}", 1007, "A client message must set exactly one of setup, client_content"),
        (
            '{"realtimeInput": {"text": "a"}, "toolResponse": {}}',
            1007,
            "A client message must set exactly one of",
        ),
        ('{"clientContent": {"turns": [{"parts": []}]}}', 1007, "contents.parts must not be empty"),
        ('{"clientContent": {"turns": [{"parts": [{"text": 3}]}]}}', 1007, "Invalid value at"),
        ('{"setup": {"model": "x"}}', 1007, "setup must be the first message"),
        (
            '{"toolResponse": {"functionResponses": [{"id": "nope", "response": {}}]}}',
            1007,
            "Function response id 'nope' does not match a pending function call.",
        ),
        ('{"realtimeInput": {"activityStart": {}}}', 1007, "activity_start"),
    ],
)
async def test_bad_messages_after_setup_close_with_1007(
    live_target: LiveTarget, frame: str, code: int, reason: str
) -> None:
    async with live_target.raw() as ws:
        await set_up(ws)
        await ws.send(frame)
        got_code, got_reason = await closed(ws)
    assert got_code == code
    assert reason in got_reason


@pytest.mark.parametrize(
    ("setup", "code", "reason"),
    [
        (
            {"setup": {"model": "models/gemini-nope"}},
            1008,
            "models/gemini-nope is not found for API version v1beta, or is not supported for "
            "bidiGenerateContent. Call ListModels",
        ),
        (
            {"setup": {"model": "models/gemini-2.5-flash"}},
            1008,
            "models/gemini-2.5-flash is not found for API version v1beta",
        ),
        ({"setup": {}}, 1007, "model is required"),
        ({"setup": {"model": MODEL, "bogus": 1}}, 1007, "Unknown name \"bogus\" at 'setup'"),
        (
            {"setup": {"model": MODEL, "generationConfig": {"responseMimeType": "text/plain"}}},
            1007,
            "generation_config.response_mime_type is not supported in the Live API.",
        ),
        (
            {
                "setup": {
                    "model": MODEL,
                    "generationConfig": {"responseModalities": ["TEXT", "AUDIO"]},
                }
            },
            1007,
            "Only one response modality",
        ),
        (
            {
                "setup": {
                    "model": "models/gemini-2.5-flash-native-audio-latest",
                    "generationConfig": {"responseModalities": ["TEXT"]},
                }
            },
            1007,
            "Cannot extract voices from a non-audio request.",
        ),
        (
            {"setup": {"model": MODEL, "generationConfig": {"temperature": 5}}},
            1007,
            "temperature value of 5.0",
        ),
        (
            {"setup": {"model": MODEL, "tools": [{"functionDeclarations": [{"name": "1bad"}]}]}},
            1007,
            "Invalid function name",
        ),
        (
            {"setup": {"model": MODEL, "sessionResumption": {"handle": "unknown"}}},
            1008,
            "BidiGenerateContent session not found",
        ),
        ({"clientContent": {"turnComplete": True}}, 1007, "first message of a Live session"),
    ],
)
async def test_bad_setups_close_with_a_clear_reason(
    live_target: LiveTarget, setup: dict[str, Any], code: int, reason: str
) -> None:
    async with live_target.raw() as ws:
        await send_json(ws, setup)
        got_code, got_reason = await closed(ws)
    assert (got_code, reason in got_reason) == (code, True), got_reason
    assert len(got_reason.encode()) <= 123


@pytest.mark.parametrize(
    ("key", "query", "code", "reason"),
    [
        (None, "", 1008, "Method doesn't allow unregistered callers"),
        ("wrong-key", "", 1007, "API key not valid. Please pass a valid API key."),
        (None, "key=wrong-key", 1007, "API key not valid."),
        ("auth_tokens/abc", "", 1007, "API key not valid."),
    ],
)
async def test_bad_keys_close_the_connection(
    live_target: LiveTarget, key: str | None, query: str, code: int, reason: str
) -> None:
    async with live_target.raw(key=key, query=query) as ws:
        await send_json(ws, SETUP)
        got_code, got_reason = await closed(ws)
    assert got_code == code
    assert reason in got_reason


async def test_key_in_the_query_works(live_target: LiveTarget) -> None:
    async with live_target.raw(key=None, query="key=test-key") as ws:
        await set_up(ws)


async def test_sdk_sees_close_codes_as_api_errors(live_target: LiveTarget) -> None:
    with pytest.raises(errors.APIError) as bad_key:
        async with live_target.sdk(key="wrong-key").aio.live.connect(model=MODEL, config=TEXT):
            pass
    assert bad_key.value.code == 1007
    assert "API key not valid" in str(bad_key.value)
    with pytest.raises(errors.APIError) as bad_model:
        async with live_target.sdk().aio.live.connect(model="gemini-nope", config=TEXT):
            pass
    assert bad_model.value.code == 1008
    assert "not found for API version" in str(bad_model.value)


async def test_unknown_paths_are_refused_at_the_upgrade(live_target: LiveTarget) -> None:
    for version, method in [("v9", "BidiGenerateContent"), ("v1beta", "BidiGenerateContentX")]:
        with pytest.raises(InvalidStatus) as info:
            async with live_target.raw(version=version, method=method):
                pass
        response = info.value.response
        assert response.status_code == 404
        assert b'"status":"NOT_FOUND"' in response.body
    with pytest.raises(InvalidStatus) as constrained:
        async with live_target.raw(method="BidiGenerateContentConstrained"):
            pass
    assert constrained.value.response.status_code == 404


async def test_activity_end_needs_activity_detection_disabled(live_target: LiveTarget) -> None:
    async with live_target.raw() as ws:
        await set_up(ws)
        await send_json(ws, {"realtimeInput": {"activityEnd": {}}})
        code, reason = await closed(ws)
    assert (code, "automatic activity detection to be disabled" in reason) == (1007, True)
    manual = {
        "setup": {
            **SETUP["setup"],
            "realtimeInputConfig": {"automaticActivityDetection": {"disabled": True}},
        }
    }
    async with live_target.raw() as ws:
        await set_up(ws, manual)
        await send_json(ws, {"realtimeInput": {"audioStreamEnd": True}})
        code, reason = await closed(ws)
    assert (code, "automatic activity detection to be enabled" in reason) == (1007, True)


async def test_resumption_handles_belong_to_their_project(live_target: LiveTarget) -> None:
    setup = {"setup": {**SETUP["setup"], "sessionResumption": {}}}
    async with live_target.raw() as ws:
        await set_up(ws, setup)
        await send_json(ws, {"realtimeInput": {"text": "Hello"}})
        handle = await next_handle(ws)
    resume = {"setup": {**SETUP["setup"], "sessionResumption": {"handle": handle}}}
    async with live_target.raw(key="key-a1") as ws:
        await send_json(ws, resume)
        assert await closed(ws) == (1008, "BidiGenerateContent session not found")
    other_model = {
        "setup": {"model": "gemini-2.0-flash-live-001", "sessionResumption": {"handle": handle}}
    }
    async with live_target.raw() as ws:
        await send_json(ws, other_model)
        code, reason = await closed(ws)
    assert (code, "keeps its model" in reason) == (1007, True)
    async with live_target.raw() as ws:
        await set_up(ws, resume)


async def test_quota_refusal_closes_with_1011(tmp_path: Path, clock: FakeClock) -> None:
    projects = [{"name": "tight", "keys": ["k1"], "limits": {MODEL: {"rpm": 1}}}]
    async with live_emulator(tmp_path, clock, projects=projects) as target:
        async with target.raw(key="k1") as ws:
            await set_up(ws)
        async with target.raw(key="k1") as ws:
            await send_json(ws, SETUP)
            code, reason = await closed(ws)
        assert code == 1011
        assert reason.startswith(
            "RESOURCE_EXHAUSTED: BidiGenerateContentRequestsPerMinutePerProjectPerModel, retry in"
        )
        stats = await target.stats()
        assert stats["projects"]["tight"]["rate_limited"] == 1
        clock.advance(60)
        async with target.raw(key="k1") as ws:
            await set_up(ws)
        with pytest.raises(errors.APIError) as info:
            async with target.sdk(key="k1").aio.live.connect(model=MODEL, config=TEXT):
                pass
        assert info.value.code == 1011


async def test_models_list_shows_live_models(live_target: LiveTarget) -> None:
    model = await live_target.sdk().aio.models.get(model=MODEL)
    assert model.supported_actions == ["bidiGenerateContent", "countTokens"]
    response = await live_target.http.post(
        f"/v1beta/models/{MODEL}:generateContent",
        json={"contents": [{"parts": [{"text": "hi"}]}]},
        headers={"x-goog-api-key": "test-key"},
    )
    assert response.status_code == 404
    config = types.LiveConnectConfig(response_modalities=[types.Modality.AUDIO])
    native = "gemini-2.5-flash-native-audio-preview-09-2025"
    async with live_target.sdk().aio.live.connect(model=native, config=config) as session:
        assert session is not None
