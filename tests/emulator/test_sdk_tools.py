"""Function calling through the official SDK: automatic, forced, parallel, signatures."""

from __future__ import annotations

import pytest
from google.genai import errors, types

from .conftest import KEY, Target, city_function, user_turn

pytestmark = pytest.mark.anyio
WEATHER = types.Tool(
    function_declarations=[
        city_function("get_weather", "Weather for a city."),
        city_function("get_time", "Local time in a city."),
    ]
)
NO_AFC = types.AutomaticFunctionCallingConfig(disable=True)


async def test_automatic_function_calling_with_python_function(target: Target) -> None:
    seen: list[str] = []

    def get_weather(city: str) -> str:
        """Returns the weather for a city."""
        seen.append(city)
        return f"22C and sunny in {city}"

    response = await target.sdk().aio.models.generate_content(
        model="gemini-2.5-flash",
        contents="What's the weather like in Paris?",
        config=types.GenerateContentConfig(tools=[get_weather]),
    )
    assert seen == ["Paris"]
    assert "22C and sunny in Paris" in (response.text or "")
    history = response.automatic_function_calling_history or []
    assert [c.role for c in history] == ["user", "model", "user"]


async def test_mentioned_function_is_called_with_prompt_words(target: Target) -> None:
    response = await target.sdk().aio.models.generate_content(
        model="gemini-2.5-flash",
        contents="What time is it in Tokyo?",
        config=types.GenerateContentConfig(tools=[WEATHER], automatic_function_calling=NO_AFC),
    )
    calls = response.function_calls or []
    assert [(c.name, c.args) for c in calls] == [("get_time", {"city": "Tokyo"})]


async def test_parallel_calls_and_answer(target: Target) -> None:
    client = target.sdk()
    question = types.Content(
        role="user", parts=[types.Part(text="What are the weather and the time in Oslo?")]
    )
    config = types.GenerateContentConfig(tools=[WEATHER], automatic_function_calling=NO_AFC)
    first = await client.aio.models.generate_content(
        model="gemini-2.5-flash", contents=[question], config=config
    )
    calls = first.function_calls or []
    assert sorted(c.name or "" for c in calls) == ["get_time", "get_weather"]
    assert first.candidates and first.candidates[0].content
    answers = types.Content(
        role="user",
        parts=[
            types.Part.from_function_response(name=c.name or "", response={"result": c.name})
            for c in calls
        ],
    )
    second = await client.aio.models.generate_content(
        model="gemini-2.5-flash",
        contents=[question, first.candidates[0].content, answers],
        config=config,
    )
    assert "get_weather returned" in (second.text or "")
    assert "get_time returned" in (second.text or "")


async def test_tool_modes(target: Target) -> None:
    client = target.sdk()

    async def ask(mode: str, allowed: list[str] | None = None) -> list[str]:
        response = await client.aio.models.generate_content(
            model="gemini-2.5-flash",
            contents="Hello there, nothing to look up.",
            config=types.GenerateContentConfig(
                tools=[WEATHER],
                automatic_function_calling=NO_AFC,
                tool_config=types.ToolConfig(
                    function_calling_config=types.FunctionCallingConfig(
                        mode=mode, allowed_function_names=allowed
                    )
                ),
            ),
        )
        return [c.name or "" for c in response.function_calls or []]

    assert await ask("AUTO") == []
    assert await ask("ANY") == ["get_weather"]
    assert await ask("ANY", ["get_time"]) == ["get_time"]
    none = await client.aio.models.generate_content(
        model="gemini-2.5-flash",
        contents="What's the weather in Rome?",
        config=types.GenerateContentConfig(
            tools=[WEATHER],
            automatic_function_calling=NO_AFC,
            tool_config=types.ToolConfig(
                function_calling_config=types.FunctionCallingConfig(mode="NONE")
            ),
        ),
    )
    assert none.function_calls is None
    assert "weather in Rome" in (none.text or "")


async def _call_turn(target: Target, model: str) -> tuple[types.Content, types.Content]:
    question = user_turn("weather in Paris?")
    response = await target.sdk().aio.models.generate_content(
        model=model,
        contents=[question],
        config=types.GenerateContentConfig(tools=[WEATHER], automatic_function_calling=NO_AFC),
    )
    assert response.candidates and response.candidates[0].content
    return question, response.candidates[0].content


def _answer() -> types.Content:
    return types.Content(
        role="user",
        parts=[types.Part.from_function_response(name="get_weather", response={"t": "22C"})],
    )


async def test_gemini3_requires_thought_signatures(target: Target) -> None:
    model = "gemini-3-flash-preview"
    question, call = await _call_turn(target, model)
    assert call.parts and call.parts[0].thought_signature
    config = types.GenerateContentConfig(tools=[WEATHER], automatic_function_calling=NO_AFC)
    client = target.sdk()
    ok = await client.aio.models.generate_content(
        model=model, contents=[question, call, _answer()], config=config
    )
    assert "get_weather returned" in (ok.text or "")
    stripped = call.model_copy(deep=True)
    assert stripped.parts
    stripped.parts[0].thought_signature = None
    with pytest.raises(errors.APIError) as missing:
        await client.aio.models.generate_content(
            model=model, contents=[question, stripped, _answer()], config=config
        )
    assert missing.value.code == 400
    assert "thought_signature" in (missing.value.message or "")
    forged = call.model_copy(deep=True)
    assert forged.parts and forged.parts[0].function_call
    forged.parts[0].function_call.args = {"city": "Berlin"}
    with pytest.raises(errors.APIError) as corrupted:
        await client.aio.models.generate_content(
            model=model, contents=[question, forged, _answer()], config=config
        )
    assert corrupted.value.code == 400
    skipped = stripped.model_copy(deep=True)
    assert skipped.parts
    skipped.parts[0].thought_signature = b"skip_thought_signature_validator"
    raw = await target.http.post(
        f"/v1beta/models/{model}:generateContent",
        headers={"x-goog-api-key": KEY},
        json={
            "contents": [
                {"role": "user", "parts": [{"text": "weather in Paris?"}]},
                {
                    "role": "model",
                    "parts": [
                        {
                            "functionCall": {"name": "get_weather", "args": {"city": "Paris"}},
                            "thoughtSignature": "skip_thought_signature_validator",
                        }
                    ],
                },
                {
                    "role": "user",
                    "parts": [{"functionResponse": {"name": "get_weather", "response": {}}}],
                },
            ]
        },
    )
    assert raw.status_code == 200, raw.text


async def test_gemini25_accepts_history_without_signatures(target: Target) -> None:
    question, call = await _call_turn(target, "gemini-2.5-flash")
    stripped = call.model_copy(deep=True)
    assert stripped.parts
    stripped.parts[0].thought_signature = None
    response = await target.sdk().aio.models.generate_content(
        model="gemini-2.5-flash",
        contents=[question, stripped, _answer()],
        config=types.GenerateContentConfig(tools=[WEATHER], automatic_function_calling=NO_AFC),
    )
    assert response.text


async def test_stream_puts_calls_in_last_chunk(target: Target) -> None:
    chunks = [
        c
        async for c in await target.sdk().aio.models.generate_content_stream(
            model="gemini-2.5-flash",
            contents="weather in Paris?",
            config=types.GenerateContentConfig(tools=[WEATHER], automatic_function_calling=NO_AFC),
        )
    ]
    assert chunks[-1].function_calls and chunks[-1].function_calls[0].name == "get_weather"
    assert chunks[-1].candidates and chunks[-1].candidates[0].finish_reason == "STOP"


def _call_part(name: str) -> types.Part:
    return types.Part(function_call=types.FunctionCall(name=name, args={"city": "Paris"}))


def _answer_part(name: str) -> types.Part:
    return types.Part.from_function_response(name=name, response={"result": "fine"})


@pytest.mark.parametrize(
    ("contents", "message"),
    [
        (  # two calls, one answer
            [
                user_turn("Weather and time in Paris?"),
                types.Content(
                    role="model", parts=[_call_part("get_weather"), _call_part("get_time")]
                ),
                types.Content(role="user", parts=[_answer_part("get_weather")]),
            ],
            "number of function response parts is equal to the number of function call parts",
        ),
        (  # a call left unanswered: the user just typed on (a cancelled tool)
            [
                user_turn("Weather in Paris?"),
                types.Content(role="model", parts=[_call_part("get_weather")]),
                user_turn("never mind"),
            ],
            "number of function response parts is equal to the number of function call parts",
        ),
        (  # a history that starts with the model's call
            [
                types.Content(role="model", parts=[_call_part("get_weather")]),
                types.Content(role="user", parts=[_answer_part("get_weather")]),
            ],
            "function call turn comes immediately after a user turn",
        ),
    ],
)
async def test_function_turns_out_of_order_are_refused(
    target: Target, contents: list[types.Content], message: str
) -> None:
    with pytest.raises(errors.ClientError) as caught:
        await target.sdk().aio.models.generate_content(
            model="gemini-2.5-flash",
            contents=contents,
            config=types.GenerateContentConfig(tools=[WEATHER], automatic_function_calling=NO_AFC),
        )
    assert caught.value.code == 400 and caught.value.status == "INVALID_ARGUMENT"
    assert message in (caught.value.message or "")


async def test_parallel_calls_each_answered_are_accepted(target: Target) -> None:
    response = await target.sdk().aio.models.generate_content(
        model="gemini-2.5-flash",
        contents=[
            user_turn("Weather and time in Paris?"),
            types.Content(role="model", parts=[_call_part("get_weather"), _call_part("get_time")]),
            types.Content(
                role="user", parts=[_answer_part("get_weather"), _answer_part("get_time")]
            ),
        ],
        config=types.GenerateContentConfig(tools=[WEATHER], automatic_function_calling=NO_AFC),
    )
    assert response.text
