"""Ephemeral tokens: ``auth_tokens.create`` and ``BidiGenerateContentConstrained``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from google import genai
from google.genai import errors, types
from websockets.exceptions import ConnectionClosed

from gemgate.wire.durations import format_timestamp
from tests.conftest import FakeClock

from .conftest import user_turn
from .live_support import (
    MODEL,
    TEXT,
    LiveTarget,
    live_emulator,
    recv_json,
    resume_config,
    send_json,
)

pytestmark = [
    pytest.mark.anyio,
    # The SDK marks ephemeral tokens as experimental and says so, once per process.
    pytest.mark.filterwarnings(
        "ignore:The SDK's (token creation|ephemeral token support):"
        "google.genai.errors.ExperimentalWarning"
    ),
]
SETUP = {"setup": {"model": MODEL, "generationConfig": {"responseModalities": ["TEXT"]}}}


@pytest.fixture
async def live_target(tmp_path: Path, clock: FakeClock) -> AsyncIterator[LiveTarget]:
    async with live_emulator(tmp_path, clock) as target:
        yield target


async def new_token(target: LiveTarget, **config: Any) -> str:
    token = await target.sdk(version="v1alpha").aio.auth_tokens.create(
        config=types.CreateAuthTokenConfig(**config)
    )
    name: str = token.name
    assert name.startswith("auth_tokens/")
    return name


def token_client(target: LiveTarget, name: str) -> genai.Client:
    return target.sdk(key=name, version="v1alpha")


async def answer(client: genai.Client, text: str, config: Any = TEXT) -> str:
    async with client.aio.live.connect(model=MODEL, config=config) as session:
        await session.send_client_content(turns=user_turn(text))
        return "".join([m.text or "" async for m in session.receive()])


async def test_sdk_creates_a_token_and_connects_with_it(live_target: LiveTarget) -> None:
    name = await new_token(live_target, uses=1)
    reply = await answer(token_client(live_target, name), "Hello with a token")
    assert reply.startswith('You asked: "Hello with a token".')
    with pytest.raises(errors.APIError) as used_up:
        await answer(token_client(live_target, name), "Again")
    assert used_up.value.code == 1008
    assert "no uses left" in str(used_up.value)


async def test_expired_token_is_refused(live_target: LiveTarget, clock: FakeClock) -> None:
    name = await new_token(live_target, uses=0)
    clock.advance(31 * 60)  # tokens default to 30 minutes
    with pytest.raises(errors.APIError) as info:
        await answer(token_client(live_target, name), "Hello")
    assert info.value.code == 1008
    assert "The ephemeral token has expired." in str(info.value)


async def test_token_expiry_ends_an_open_session(live_target: LiveTarget, clock: FakeClock) -> None:
    expire = format_timestamp(clock.now + 120)
    name = await new_token(live_target, uses=0, expire_time=expire)
    async with token_client(live_target, name).aio.live.connect(model=MODEL, config=TEXT) as s:
        clock.advance(121)
        with pytest.raises(errors.APIError) as info:
            await anext(aiter(s.receive()))
    assert info.value.code == 1008
    assert "expired" in str(info.value)


async def test_new_session_window_and_resumption(live_target: LiveTarget, clock: FakeClock) -> None:
    name = await new_token(live_target, uses=1)
    client = token_client(live_target, name)
    resumable = types.LiveConnectConfig(
        response_modalities=[types.Modality.TEXT],
        session_resumption=types.SessionResumptionConfig(),
    )
    handle = None
    async with client.aio.live.connect(model=MODEL, config=resumable) as session:
        await session.send_client_content(turns=user_turn("Hi"))
        async for _ in session.receive():
            pass
        await session.send_client_content(turns=user_turn("Hi"))
        async for message in session.receive():
            update = message.session_resumption_update
            if update and update.new_handle:
                handle = update.new_handle
    assert handle
    clock.advance(120)  # past the 60 s window for new sessions, within the token's life
    with pytest.raises(errors.APIError) as late:
        await answer(client, "A new session")
    assert "can no longer open new sessions" in str(late.value)
    resumed = resume_config(handle)
    # Resuming needs neither the window nor a use.
    assert (await answer(client, "Still there?", resumed)).startswith('You asked: "Still there?"')


async def test_locked_setup_wins_over_the_client(live_target: LiveTarget) -> None:
    constraints = types.LiveConnectConstraints(
        model=MODEL,
        config=types.LiveConnectConfig(
            response_modalities=[types.Modality.TEXT], system_instruction="You are Ada."
        ),
    )
    name = await new_token(live_target, live_connect_constraints=constraints)
    other = types.LiveConnectConfig(
        response_modalities=[types.Modality.TEXT], system_instruction="You are Bob."
    )
    locked = await answer(token_client(live_target, name), "Who are you?", other)
    ada = types.LiveConnectConfig(
        response_modalities=[types.Modality.TEXT], system_instruction="You are Ada."
    )
    assert locked == await answer(live_target.sdk(), "Who are you?", ada)
    assert locked != await answer(live_target.sdk(), "Who are you?", other)


async def test_field_mask_locks_only_listed_fields(live_target: LiveTarget) -> None:
    constraints = types.LiveConnectConstraints(
        model=MODEL,
        config=types.LiveConnectConfig(
            response_modalities=[types.Modality.TEXT],
            system_instruction="You are Ada.",
            temperature=0.5,
        ),
    )
    name = await new_token(
        live_target, uses=0, live_connect_constraints=constraints, lock_additional_fields=[]
    )
    # lock_additional_fields=[] locks the fields the constraints set (the SDK sends their mask).
    other = types.LiveConnectConfig(
        response_modalities=[types.Modality.TEXT], system_instruction="You are Bob."
    )
    ada = types.LiveConnectConfig(
        response_modalities=[types.Modality.TEXT], system_instruction="You are Ada."
    )
    locked = await answer(token_client(live_target, name), "Who are you?", other)
    assert locked == await answer(live_target.sdk(), "Who are you?", ada)


async def test_raw_access_token_query_and_refusals(live_target: LiveTarget) -> None:
    created = await live_target.http.post(
        "/v1alpha/auth_tokens", json={"uses": 0}, headers={"x-goog-api-key": "test-key"}
    )
    assert created.status_code == 200
    assert list(created.json()) == ["name"]
    name = created.json()["name"]
    constrained = "BidiGenerateContentConstrained"
    async with live_target.raw(
        key=None, version="v1alpha", method=constrained, query=f"access_token={name}"
    ) as ws:
        await send_json(ws, SETUP)
        assert await recv_json(ws) == {"setupComplete": {}}
    refusals: list[tuple[dict[str, Any], str]] = [
        ({}, "needs an ephemeral token"),
        ({"query": "access_token=auth_tokens/unknown"}, "The ephemeral token is not valid."),
        ({"headers": {"Authorization": "Token auth_tokens/unknown"}}, "not valid"),
    ]
    for options, reason in refusals:
        async with live_target.raw(
            key="test-key", version="v1alpha", method=constrained, **options
        ) as ws:
            await send_json(ws, SETUP)
            with pytest.raises(ConnectionClosed) as info:
                await ws.recv()
        assert info.value.rcvd is not None
        assert info.value.rcvd.code == 1008
        assert reason in info.value.rcvd.reason


async def test_rest_auth_tokens_validation(live_target: LiveTarget, clock: FakeClock) -> None:
    headers = {"x-goog-api-key": "test-key"}
    too_far = {"expireTime": format_timestamp(clock.now + 21 * 3600)}
    response = await live_target.http.post("/v1alpha/auth_tokens", json=too_far, headers=headers)
    assert response.status_code == 400
    assert "less than 20 hours" in response.json()["error"]["message"]
    unknown = await live_target.http.post("/v1alpha/auth_tokens", json={"x": 1}, headers=headers)
    assert unknown.status_code == 400
    no_key = await live_target.http.post("/v1alpha/auth_tokens", json={})
    assert no_key.status_code == 403
    beta = await live_target.http.post("/v1beta/auth_tokens", json={}, headers=headers)
    assert beta.status_code == 404
    name = (await live_target.http.post("/v1alpha/auth_tokens", json={}, headers=headers)).json()
    as_key = await live_target.http.get("/v1beta/models", headers={"x-goog-api-key": name["name"]})
    assert as_key.status_code == 400
    assert as_key.json()["error"]["details"][0]["reason"] == "API_KEY_INVALID"
