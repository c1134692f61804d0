"""The Live API through the official SDK (``client.aio.live.connect``) over wss."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import aclosing
from pathlib import Path
from typing import Any

import pytest
from google.genai import live, types

from gemgate.emulator._tokens import count_text
from tests.conftest import FakeClock

from .conftest import city_function, user_turn
from .live_support import MODEL, TEXT, LiveTarget, live_emulator, receiving, resume_config

pytestmark = pytest.mark.anyio

WEATHER = types.Tool(function_declarations=[city_function("get_weather", "Weather for a city.")])
PCM_100_MS = b"\x01\x00" * 1600  # 100 ms of 16-bit PCM at 16 kHz


@pytest.fixture
async def live_target(tmp_path: Path, clock: FakeClock) -> AsyncIterator[LiveTarget]:
    async with live_emulator(tmp_path, clock) as target:
        yield target


async def turn(session: live.AsyncSession) -> list[types.LiveServerMessage]:
    """Every message up to and including ``turnComplete``."""
    return [message async for message in session.receive()]


def text_of(messages: list[types.LiveServerMessage]) -> str:
    return "".join(m.text or "" for m in messages)


def model_turns(messages: list[types.LiveServerMessage]) -> list[types.Content]:
    return [
        m.server_content.model_turn
        for m in messages
        if m.server_content and m.server_content.model_turn
    ]


async def chat(target: LiveTarget, *texts: str, **config: Any) -> list[str]:
    """The replies to ``texts``, sent as turns of one session."""
    replies = []
    connect = types.LiveConnectConfig(response_modalities=[types.Modality.TEXT], **config)
    async with target.sdk().aio.live.connect(model=MODEL, config=connect) as session:
        for text in texts:
            await session.send_client_content(turns=user_turn(text))
            replies.append(text_of(await turn(session)))
    return replies


async def test_text_turn_streams_parts_then_completes_with_usage(live_target: LiveTarget) -> None:
    async with live_target.sdk().aio.live.connect(model=MODEL, config=TEXT) as session:
        await session.send_client_content(turns=user_turn("Tell me about the Eiffel Tower"))
        messages = await turn(session)
    assert len(model_turns(messages)) > 1
    text = text_of(messages)
    assert text.startswith('You asked: "Tell me about the Eiffel Tower".')
    before_last = messages[-2].server_content
    assert before_last and before_last.generation_complete
    last = messages[-1]
    assert last.server_content and last.server_content.turn_complete
    usage = last.usage_metadata
    assert usage and usage.prompt_token_count and usage.response_token_count
    assert usage.response_token_count == count_text(text)
    assert usage.total_token_count == usage.prompt_token_count + usage.response_token_count
    details = usage.response_tokens_details or []
    assert [(d.modality, d.token_count) for d in details] == [
        (types.MediaModality.TEXT, usage.response_token_count)
    ]


async def test_reply_is_derived_from_the_whole_conversation(live_target: LiveTarget) -> None:
    cats = await chat(live_target, "I like cats.", "What do I like?")
    dogs = await chat(live_target, "I like dogs.", "What do I like?")
    again = await chat(live_target, "I like cats.", "What do I like?")
    assert cats == again
    assert cats[1] != dogs[1]
    assert cats[1].startswith('You asked: "What do I like?".')


async def test_seeded_history_and_inline_images_count(live_target: LiveTarget) -> None:
    image = types.Part.from_bytes(data=b"\x89PNG fake image", mime_type="image/png")
    async with live_target.sdk().aio.live.connect(model=MODEL, config=TEXT) as session:
        await session.send_client_content(
            turns=user_turn("Remember: the code is 42."), turn_complete=False
        )
        await session.send_client_content(
            turns=types.Content(role="user", parts=[types.Part(text="What is this?"), image])
        )
        messages = await turn(session)
    seeded = (await chat(live_target, "What is this?"))[0]
    assert text_of(messages).startswith('You asked: "What is this?".')
    assert text_of(messages) != seeded
    usage = messages[-1].usage_metadata
    assert usage and usage.prompt_tokens_details
    modalities = {d.modality for d in usage.prompt_tokens_details}
    assert modalities == {types.MediaModality.TEXT, types.MediaModality.IMAGE}


async def test_tool_call_round_trip(live_target: LiveTarget) -> None:
    config = types.LiveConnectConfig(response_modalities=[types.Modality.TEXT], tools=[WEATHER])
    calls: list[types.FunctionCall] = []
    async with live_target.sdk().aio.live.connect(model=MODEL, config=config) as session:
        await session.send_client_content(turns=user_turn("What's the weather in Paris?"))
        messages = []
        async for message in session.receive():
            messages.append(message)
            if message.tool_call:
                calls += message.tool_call.function_calls or []
                answers = [
                    types.FunctionResponse(id=c.id, name=c.name, response={"temp": "22C"})
                    for c in message.tool_call.function_calls or []
                ]
                await session.send_tool_response(function_responses=answers)
    assert [(c.name, c.args) for c in calls] == [("get_weather", {"city": "Paris"})]
    assert calls[0].id and calls[0].id.startswith("function-call-")
    assert text_of(messages) == 'Here is what I found: get_weather returned {"temp": "22C"}.'
    assert messages[-1].server_content and messages[-1].server_content.turn_complete


async def test_after_function_rules_chain_tool_calls(tmp_path: Path, clock: FakeClock) -> None:
    rules = [
        {
            "match": "plan a trip",
            "function_call": {"name": "get_weather", "args": {"city": "Rome"}},
        },
        {"after_function": "get_weather", "function_call": {"name": "book", "args": {"n": 2}}},
    ]
    book = types.FunctionDeclaration(name="book", description="Book a hotel.")
    config = types.LiveConnectConfig(
        response_modalities=[types.Modality.TEXT],
        tools=[WEATHER, types.Tool(function_declarations=[book])],
    )
    names: list[str | None] = []
    async with (
        live_emulator(tmp_path, clock, rules=rules) as target,
        target.sdk().aio.live.connect(model=MODEL, config=config) as session,
    ):
        await session.send_client_content(turns=user_turn("Please plan a trip"))
        async for message in session.receive():
            for call in message.tool_call.function_calls or [] if message.tool_call else []:
                names.append(call.name)
                answer = types.FunctionResponse(id=call.id, name=call.name, response={})
                await session.send_tool_response(function_responses=[answer])
    assert names == ["get_weather", "book"]


async def test_new_input_cancels_pending_tool_calls(live_target: LiveTarget) -> None:
    config = types.LiveConnectConfig(response_modalities=[types.Modality.TEXT], tools=[WEATHER])
    async with live_target.sdk().aio.live.connect(model=MODEL, config=config) as session:
        await session.send_client_content(turns=user_turn("What's the weather in Oslo?"))
        async with aclosing(receiving(session)) as stream:
            async for message in stream:
                if message.tool_call:
                    ids = [c.id for c in message.tool_call.function_calls or []]
                    break
        await session.send_client_content(turns=user_turn("Never mind. Say hello."))
        messages = await turn(session)
    cancelled = [m.tool_call_cancellation for m in messages if m.tool_call_cancellation]
    assert [c.ids for c in cancelled] == [ids]
    assert 'You asked: "Never mind. Say hello."' in text_of(messages)


async def test_realtime_text_is_answered(live_target: LiveTarget) -> None:
    async with live_target.sdk().aio.live.connect(model=MODEL, config=TEXT) as session:
        await session.send_realtime_input(text="Typed while streaming")
        messages = await turn(session)
    assert text_of(messages).startswith('You asked: "Typed while streaming".')


async def test_realtime_audio_is_transcribed_and_answered_at_stream_end(
    live_target: LiveTarget,
) -> None:
    config = types.LiveConnectConfig(
        response_modalities=[types.Modality.TEXT],
        input_audio_transcription=types.AudioTranscriptionConfig(),
    )
    blob = types.Blob(data=PCM_100_MS, mime_type="audio/pcm;rate=16000")
    async with live_target.sdk().aio.live.connect(model=MODEL, config=config) as session:
        await session.send_realtime_input(audio=blob)
        await session.send_realtime_input(audio=blob)
        await session.send_realtime_input(audio_stream_end=True)
        messages = await turn(session)
    heard = [
        m.server_content.input_transcription.text
        for m in messages
        if m.server_content and m.server_content.input_transcription
    ]
    assert heard == ["<audio 100 ms>", "<audio 100 ms>"]
    assert text_of(messages).startswith("You sent no text.")
    usage = messages[-1].usage_metadata
    assert usage and usage.prompt_tokens_details
    assert types.MediaModality.AUDIO in {d.modality for d in usage.prompt_tokens_details}


async def test_activity_signals_delimit_a_turn(live_target: LiveTarget) -> None:
    config = types.LiveConnectConfig(
        response_modalities=[types.Modality.TEXT],
        realtime_input_config=types.RealtimeInputConfig(
            automatic_activity_detection=types.AutomaticActivityDetection(disabled=True)
        ),
    )
    blob = types.Blob(data=PCM_100_MS, mime_type="audio/pcm;rate=16000")
    async with live_target.sdk().aio.live.connect(model=MODEL, config=config) as session:
        await session.send_realtime_input(activity_start=types.ActivityStart())
        await session.send_realtime_input(audio=blob)
        await session.send_realtime_input(video=types.Blob(data=b"jpeg", mime_type="image/jpeg"))
        await session.send_realtime_input(activity_end=types.ActivityEnd())
        messages = await turn(session)
    assert text_of(messages).startswith("You sent no text.")
    usage = messages[-1].usage_metadata
    assert usage and usage.prompt_tokens_details
    assert {d.modality for d in usage.prompt_tokens_details} == {
        types.MediaModality.AUDIO,
        types.MediaModality.IMAGE,
    }


async def test_audio_replies_with_pcm_and_transcription(live_target: LiveTarget) -> None:
    config = types.LiveConnectConfig(
        response_modalities=[types.Modality.AUDIO],
        output_audio_transcription=types.AudioTranscriptionConfig(),
    )
    model = "gemini-2.5-flash-native-audio-latest"
    async with live_target.sdk().aio.live.connect(model=model, config=config) as session:
        await session.send_client_content(turns=user_turn("Say something"))
        messages = await turn(session)
    audio = [m.data for m in messages if m.data]
    assert audio and all(len(chunk) % 2 == 0 for chunk in audio)
    parts = [p for content in model_turns(messages) for p in content.parts or []]
    assert {p.inline_data.mime_type for p in parts if p.inline_data} == {"audio/pcm;rate=24000"}
    spoken = "".join(
        m.server_content.output_transcription.text or ""
        for m in messages
        if m.server_content and m.server_content.output_transcription
    )
    assert spoken.startswith('You asked: "Say something".')
    usage = messages[-1].usage_metadata
    assert usage and usage.response_tokens_details
    assert usage.response_tokens_details[0].modality == types.MediaModality.AUDIO


async def test_interrupted_turn_keeps_only_what_was_sent(
    tmp_path: Path, clock: FakeClock, live_target: LiveTarget
) -> None:
    first: list[types.LiveServerMessage] = []
    async with (
        live_emulator(tmp_path, clock, live_chunk_seconds=0.1) as paced,
        paced.sdk().aio.live.connect(model=MODEL, config=TEXT) as session,
    ):
        await session.send_client_content(turns=user_turn("Tell me a long story"))
        async for message in session.receive():
            first.append(message)
            content = message.server_content
            if content and content.model_turn and len(model_turns(first)) == 1:
                await session.send_client_content(turns=user_turn("Stop. What time is it?"))
        second = await turn(session)
    flags = [m.server_content for m in first if m.server_content]
    assert flags[-2].interrupted and flags[-1].turn_complete
    assert not any(f.generation_complete for f in flags)
    partial = text_of(first)
    full = (await chat(live_target, "Tell me a long story"))[0]
    assert partial and full.startswith(partial) and partial != full
    # The same history, seeded by hand, gets the same answer: only the sent part was kept.
    history: list[types.Content | types.ContentDict] = [
        user_turn("Tell me a long story"),
        types.Content(role="model", parts=[types.Part(text=partial)]),
        user_turn("Stop. What time is it?"),
    ]
    async with live_target.sdk().aio.live.connect(model=MODEL, config=TEXT) as session:
        await session.send_client_content(turns=history)
        seeded = await turn(session)
    assert text_of(second) == text_of(seeded)


async def test_no_interruption_answers_after_the_turn(tmp_path: Path, clock: FakeClock) -> None:
    config = types.LiveConnectConfig(
        response_modalities=[types.Modality.TEXT],
        realtime_input_config=types.RealtimeInputConfig(
            activity_handling=types.ActivityHandling.NO_INTERRUPTION
        ),
    )
    first: list[types.LiveServerMessage] = []
    async with (
        live_emulator(tmp_path, clock, live_chunk_seconds=0.05) as paced,
        paced.sdk().aio.live.connect(model=MODEL, config=config) as session,
    ):
        await session.send_client_content(turns=user_turn("Tell me a long story"))
        async for message in session.receive():
            first.append(message)
            content = message.server_content
            if content and content.model_turn and len(model_turns(first)) == 1:
                await session.send_realtime_input(text="And then?")
        second = await turn(session)
    flags = [m.server_content for m in first if m.server_content]
    assert flags[-2].generation_complete and not any(f.interrupted for f in flags)
    assert text_of(second).startswith('You asked: "And then?".')


async def resumable_handle(session: live.AsyncSession) -> str:
    """The next resumable handle (it arrives after ``turnComplete``)."""
    async with aclosing(receiving(session)) as stream:
        async for message in stream:
            update = message.session_resumption_update
            if update and update.resumable and update.new_handle:
                return update.new_handle
    raise AssertionError("no handle")


async def test_resumption_restores_the_conversation(live_target: LiveTarget) -> None:
    resumable = types.LiveConnectConfig(
        response_modalities=[types.Modality.TEXT],
        session_resumption=types.SessionResumptionConfig(),
    )
    client = live_target.sdk()
    async with client.aio.live.connect(model=MODEL, config=resumable) as session:
        await session.send_client_content(turns=user_turn("My name is Ada."))
        first = text_of(await turn(session))
        handle = await resumable_handle(session)
    resumed_config = resume_config(handle)
    async with client.aio.live.connect(model=MODEL, config=resumed_config) as session:
        await session.send_client_content(turns=user_turn("What is my name?"))
        resumed = text_of(await turn(session))
    kept = await chat(live_target, "My name is Ada.", "What is my name?")
    lost = await chat(live_target, "What is my name?")
    assert kept == [first, resumed]
    assert resumed != lost[0]


async def test_resumption_updates_carry_state(live_target: LiveTarget) -> None:
    config = types.LiveConnectConfig(
        response_modalities=[types.Modality.TEXT],
        session_resumption=types.SessionResumptionConfig(),
    )
    async with live_target.sdk().aio.live.connect(model=MODEL, config=config) as session:
        await session.send_client_content(turns=user_turn("One"))
        messages = await turn(session)
        await session.send_client_content(turns=user_turn("Two"))
        messages += await turn(session)
    updates = [m.session_resumption_update for m in messages if m.session_resumption_update]
    assert [(u.resumable, bool(u.new_handle)) for u in updates] == [
        (False, False),
        (True, True),
        (False, False),
    ]
    assert updates[1].last_consumed_client_message_index == 1


async def test_context_update_changes_the_system_instruction(live_target: LiveTarget) -> None:
    async with live_target.sdk().aio.live.connect(model=MODEL, config=TEXT) as session:
        await session.send_context_update(system_instruction="You are a pirate.")
        await session.send_client_content(turns=user_turn("Hello"))
        updated = text_of(await turn(session))
    pirate = await chat(live_target, "Hello", system_instruction="You are a pirate.")
    plain = await chat(live_target, "Hello")
    assert updated == pirate[0] != plain[0]


async def test_sliding_window_compression_forgets_old_turns(live_target: LiveTarget) -> None:
    compress = {
        "context_window_compression": types.ContextWindowCompressionConfig(
            trigger_tokens=100, sliding_window=types.SlidingWindow(target_tokens=60)
        )
    }
    long = await chat(live_target, "First topic.", "Second topic.", "Third?", **compress)
    full = await chat(live_target, "First topic.", "Second topic.", "Third?")
    assert long[:2] == full[:2]
    assert long[2] != full[2]
