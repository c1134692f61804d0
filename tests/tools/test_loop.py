"""The function-calling loop (``AsyncGemini.chat_with_tools``) against the emulator."""

from __future__ import annotations

import asyncio
import copy
import datetime
import json
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from gemgate import AsyncGemini
from gemgate.errors import BadRequestError, GeminiToolExecutionError, UsageError
from gemgate.sessions import ChatManager
from gemgate.tools import (
    ChatEvent,
    FinalAnswer,
    FunctionCall,
    FunctionCallEvent,
    MaxIterationsReached,
    SequentialToolExecutor,
    TextDelta,
    Tool,
    ToolEvent,
    ToolExecutor,
    ToolResult,
    ToolsExecutionResult,
    UsageEvent,
    run_tool,
    tool,
)
from tests.client import conftest as client_conftest
from tests.client.conftest import MODEL, Live, Start, projects

pytestmark = pytest.mark.anyio

live = client_conftest.live
GEMINI_3 = "gemini-3-flash-preview"
TRIP_RULES = [
    {
        "match": "plan my trip",
        "function_call": {"name": "find_city", "args": {"country": "France"}},
    },
    {
        "after_function": "find_city",
        "function_call": {"name": "get_weather", "args": {"city": "Paris"}},
    },
]


class FindCity(Tool):
    """A seed-style tool."""

    name: str = "find_city"
    function_definition: dict[str, Any] = {
        "name": "find_city",
        "description": "Find the best city to visit in a country",
        "parameters": {
            "type": "object",
            "properties": {"country": {"type": "string"}},
            "required": ["country"],
        },
    }
    calls: list[dict[str, Any]] = []

    async def execute(self, tool_args: dict[str, Any]) -> dict[str, Any]:
        self.calls.append(tool_args)
        return {"city": "Paris", "country": tool_args["country"]}


class Calls:
    """Records what each tool was called with."""

    def __init__(self) -> None:
        self.log: list[tuple[str, dict[str, Any]]] = []

    def names(self) -> list[str]:
        return [name for name, _ in self.log]


def weather_tools(calls: Calls) -> list[Tool]:
    @tool
    def get_weather(city: str) -> dict[str, Any]:
        """Current weather for a city."""
        calls.log.append(("get_weather", {"city": city}))
        return {"city": city, "temperature": 21, "sky": "clear"}

    @tool
    async def get_time(city: str) -> dict[str, Any]:
        """Local time in a city."""
        calls.log.append(("get_time", {"city": city}))
        return {"city": city, "time": "14:05"}

    return [get_weather, get_time]


async def collect(events: AsyncIterator[ChatEvent]) -> list[ChatEvent]:
    return [event async for event in events]


def of_type(events: Sequence[ChatEvent], kind: type[Any]) -> list[Any]:
    return [e for e in events if isinstance(e, kind)]


def record_requests(g: AsyncGemini, monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Every GenerateContentRequest the loop streams, as sent."""
    seen: list[dict[str, Any]] = []
    original = g.engine.stream_generate

    def spy(request: dict[str, Any], model: str, **kwargs: Any) -> AsyncIterator[dict[str, Any]]:
        seen.append(copy.deepcopy(request))
        return original(request, model, **kwargs)

    monkeypatch.setattr(g.engine, "stream_generate", spy)
    return seen


async def start(live: Start, **settings: Any) -> tuple[Live, AsyncGemini]:
    emu = await live(projects(1), **settings)
    return emu, emu.client(projects(1))


def usage_sum(events: Sequence[ChatEvent]) -> dict[str, int]:
    totals = {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0, "cached_tokens": 0}
    for event in of_type(events, UsageEvent):
        for key in totals:
            totals[key] += event.usage[key]
    return totals


# --- a multi-step conversation ------------------------------------------------------------


async def test_two_tools_three_iterations(live: Start) -> None:
    emu, g = await start(live, rules=TRIP_RULES)
    calls = Calls()
    find_city = FindCity(calls=[])
    get_weather = weather_tools(calls)[0]
    async with g:
        events = await collect(
            g.chat_with_tools("Please plan my trip", model=MODEL, tools=[find_city, get_weather])
        )
    final = events[-1]
    assert isinstance(final, FinalAnswer)
    assert final.iterations == 3
    assert final.chat_id is None
    weather = {"city": "Paris", "temperature": 21, "sky": "clear"}
    assert f"get_weather returned {json.dumps(weather, sort_keys=True)}" in final.text
    assert [(e.name, e.args, e.iteration) for e in of_type(events, FunctionCallEvent)] == [
        ("find_city", {"country": "France"}, 1),
        ("get_weather", {"city": "Paris"}, 2),
    ]
    assert [(e.name, e.response, e.is_error, e.iteration) for e in of_type(events, ToolResult)] == [
        ("find_city", {"city": "Paris", "country": "France"}, False, 1),
        ("get_weather", weather, False, 2),
    ]
    assert find_city.calls == [{"country": "France"}]
    assert calls.log == [("get_weather", {"city": "Paris"})]
    # The text deltas are the final answer, streamed; usage totals are the per-call sum.
    deltas = of_type(events, TextDelta)
    assert deltas and {d.iteration for d in deltas} == {3}
    assert "".join(d.text for d in deltas) == final.text
    assert [e.iteration for e in of_type(events, UsageEvent)] == [1, 2, 3]
    assert final.usage == usage_sum(events)
    assert final.usage["total_tokens"] > 0
    assert final.usage["total_tokens"] == (
        final.usage["prompt_tokens"] + final.usage["completion_tokens"]
    )
    assert (await emu.stats())["totals"]["requests"] == 3


async def test_events_arrive_in_order_with_custom_executor_events(live: Start) -> None:
    class Progress(BaseModel):
        stage: str
        tool: str

    class Reporting(ToolExecutor[Progress]):
        async def execute_tools(self, function_calls: list[FunctionCall]) -> ToolsExecutionResult:
            results = []
            for fc in function_calls:
                await self._emit_event(Progress(stage="start", tool=fc.tool.name))
                results.append(await run_tool(fc))
                await self._emit_event(Progress(stage="done", tool=fc.tool.name))
            return ToolsExecutionResult(function_call_results=results)

    finished: list[str] = []
    seen_while_running: list[bool] = []

    @tool
    async def get_weather(city: str) -> dict[str, str]:
        """Weather."""
        await asyncio.sleep(0.05)
        finished.append(city)
        return {"sky": "clear"}

    _, g = await start(live, rules=TRIP_RULES)
    executor = Reporting()
    events: list[ChatEvent] = []
    async with g:
        async for event in g.chat_with_tools(
            "plan my trip",
            model=MODEL,
            tools=[FindCity(calls=[]), get_weather],
            tool_executor=executor,
        ):
            if isinstance(event, ToolEvent) and event.event.stage == "start":
                seen_while_running.append(event.event.tool == "get_weather" and not finished)
            events.append(event)
    kinds = [(e.type, getattr(e, "iteration", None)) for e in events]
    tool_events = of_type(events, ToolEvent)
    assert [(e.event.stage, e.event.tool, e.iteration) for e in tool_events] == [
        ("start", "find_city", 1),
        ("done", "find_city", 1),
        ("start", "get_weather", 2),
        ("done", "get_weather", 2),
    ]
    assert all(isinstance(e.event, Progress) for e in tool_events)
    # Streamed live: the "start" event reached us before the tool had finished.
    assert seen_while_running == [False, True]
    for step in (1, 2):
        calls = [i for i, k in enumerate(kinds) if k == ("function_call", step)]
        tools = [i for i, k in enumerate(kinds) if k == ("tool_event", step)]
        results = [i for i, k in enumerate(kinds) if k == ("tool_result", step)]
        later = [i for i, k in enumerate(kinds) if k[1] is not None and k[1] > step]
        assert calls and tools and results and later
        assert max(calls) < min(tools) <= max(tools) < min(results) <= max(results) < min(later)
    deltas = [i for i, k in enumerate(kinds) if k[0] == "text_delta"]
    assert deltas and min(deltas) > max(i for i, k in enumerate(kinds) if k[0] == "tool_result")
    assert [k[0] for k in kinds].count("final_answer") == 1
    assert isinstance(events[-1], FinalAnswer) and events[-1].iterations == 3
    # A caller's executor is left open (and drained) by the loop.
    assert executor.pending_events() == []
    await executor.shutdown()
    assert [e async for e in executor.get_result_stream()] == []


async def test_parallel_calls_run_concurrently_and_are_answered_in_one_turn(
    live: Start, monkeypatch: pytest.MonkeyPatch
) -> None:
    done: list[str] = []

    @tool
    def get_weather(city: str) -> dict[str, Any]:
        """Weather (a blocking function: runs in a worker thread)."""
        time.sleep(0.3)  # noqa: TID251 - a blocking tool, run in a worker thread
        done.append("get_weather")
        return {"city": city, "sky": "rain"}

    @tool
    async def get_time(city: str) -> dict[str, Any]:
        """Time."""
        await asyncio.sleep(0.2)
        done.append("get_time")
        return {"city": city, "time": "09:30"}

    _, g = await start(live)
    manager = ChatManager()
    requests = record_requests(g, monkeypatch)
    events: list[tuple[float, ChatEvent]] = []
    async with g:
        async for event in g.chat_with_tools(
            "What is the weather and time in Oslo?",
            model=MODEL,
            tools=[get_weather, get_time],
            chat_manager=manager,
            chat_id="oslo",
        ):
            events.append((time.perf_counter(), event))
    only = [e for _, e in events]
    calls = of_type(only, FunctionCallEvent)
    assert [(c.name, c.iteration) for c in calls] == [("get_weather", 1), ("get_time", 1)]
    assert all(c.args == {"city": "Oslo"} for c in calls)
    assert done == ["get_time", "get_weather"]  # finished out of call order
    first_call = next(t for t, e in events if isinstance(e, FunctionCallEvent))
    last_result = max(t for t, e in events if isinstance(e, ToolResult))
    assert 0.29 < last_result - first_call < 0.45  # the slowest tool, not the sum
    results = of_type(only, ToolResult)
    assert [r.name for r in results] == ["get_weather", "get_time"]
    # One user turn answers both calls, in call order.
    assert len(requests) == 2
    answer_turn = requests[1]["contents"][-1]
    assert answer_turn == {
        "role": "user",
        "parts": [
            {
                "functionResponse": {
                    "name": "get_weather",
                    "response": {"city": "Oslo", "sky": "rain"},
                }
            },
            {
                "functionResponse": {
                    "name": "get_time",
                    "response": {"city": "Oslo", "time": "09:30"},
                }
            },
        ],
    }
    history = await manager.get_history("oslo")
    assert [m.role for m in history] == ["user", "model", "user", "model"]
    assert [c["name"] for c in history[1].function_calls] == ["get_weather", "get_time"]
    assert history[2].to_content() == answer_turn
    final = only[-1]
    assert isinstance(final, FinalAnswer) and final.iterations == 2
    assert final.text.index("get_weather returned") < final.text.index("get_time returned")


async def test_max_iterations_ends_cleanly_with_consistent_history(
    live: Start, monkeypatch: pytest.MonkeyPatch
) -> None:
    rules = [
        {"match": "keep pinging", "function_call": {"name": "ping", "args": {"n": 1}}},
        {"after_function": "ping", "function_call": {"name": "ping", "args": {"n": 2}}},
    ]
    pings: list[int] = []

    @tool
    def ping(n: int) -> dict[str, int]:
        """Ping."""
        pings.append(n)
        return {"pong": n}

    _, g = await start(live, rules=rules)
    manager = ChatManager()
    async with g:
        events = await collect(
            g.chat_with_tools(
                "keep pinging",
                model=MODEL,
                tools=[ping],
                max_iterations=2,
                chat_manager=manager,
                chat_id="loop",
            )
        )
        last = events[-1]
        assert isinstance(last, MaxIterationsReached)
        assert last.iterations == 2 and last.chat_id == "loop"
        assert last.last_calls == ["ping"]
        assert not of_type(events, FinalAnswer)
        assert pings == [1, 2]
        history = await manager.get_history("loop")
        assert [(m.role, m.message_type) for m in history] == [
            ("user", "text"),
            ("model", "function_call"),
            ("user", "function_response"),
            ("model", "function_call"),
            ("user", "function_response"),
        ]
        for model_turn, answer in zip(history[1::2], history[2::2], strict=True):
            assert [c["name"] for c in model_turn.function_calls] == [
                r["name"] for r in answer.function_responses
            ]
        # The stored history is one Gemini accepts: the chat can go on.
        requests = record_requests(g, monkeypatch)
        events = await collect(
            g.chat_with_tools(
                "Thanks, that is enough.",
                model=MODEL,
                tools=[ping],
                chat_manager=manager,
                chat_id="loop",
            )
        )
    assert isinstance(events[-1], FinalAnswer) and events[-1].iterations == 1
    assert requests[0]["contents"][:5] == [m.to_content() for m in history]
    assert pings == [1, 2]


async def test_max_iterations_one_without_tool_calls_is_a_final_answer(live: Start) -> None:
    _, g = await start(live)
    async with g:
        events = await collect(
            g.chat_with_tools("Say hello", model=MODEL, tools=[], max_iterations=1)
        )
    assert [type(e) for e in events][-2:] == [UsageEvent, FinalAnswer]
    assert isinstance(events[-1], FinalAnswer) and 'You asked: "Say hello"' in events[-1].text


# --- failures ------------------------------------------------------------------------------


async def test_a_failing_tool_is_reported_to_the_model_and_the_loop_goes_on(
    live: Start, monkeypatch: pytest.MonkeyPatch
) -> None:
    rules = [
        {
            "match": "check stock",
            "function_call": {"name": "check_inventory", "args": {"sku": "X1"}},
        },
    ]

    @tool
    async def check_inventory(sku: str) -> dict[str, int]:
        """Stock for a SKU."""
        raise ConnectionError("warehouse offline")

    _, g = await start(live, rules=rules)
    requests = record_requests(g, monkeypatch)
    async with g:
        events = await collect(
            g.chat_with_tools("Please check stock", model=MODEL, tools=[check_inventory])
        )
    (result,) = of_type(events, ToolResult)
    assert result.is_error is True
    assert result.response == {
        "error": "check_inventory failed: ConnectionError: warehouse offline"
    }
    assert requests[1]["contents"][-1]["parts"] == [
        {"functionResponse": {"name": "check_inventory", "response": result.response}}
    ]
    final = events[-1]
    assert isinstance(final, FinalAnswer) and final.iterations == 2
    assert "warehouse offline" in final.text


async def test_invalid_args_from_the_model_are_refused_without_running_the_tool(
    live: Start,
) -> None:
    rules = [
        {"match": "book it", "function_call": {"name": "book", "args": {"nights": "many"}}},
    ]
    ran: list[Any] = []

    @tool
    def book(city: str, nights: int) -> str:
        """Book a hotel."""
        ran.append(city)
        return "ok"

    _, g = await start(live, rules=rules)
    async with g:
        events = await collect(g.chat_with_tools("book it", model=MODEL, tools=[book]))
    (result,) = of_type(events, ToolResult)
    assert result.is_error and result.response["error"].startswith("invalid arguments for book")
    assert "city: Field required" in result.response["error"]
    assert ran == []
    assert isinstance(events[-1], FinalAnswer)


async def test_a_failing_executor_raises_a_typed_error(live: Start) -> None:
    class Broken(ToolExecutor[Any]):
        async def execute_tools(self, function_calls: list[FunctionCall]) -> ToolsExecutionResult:
            raise RuntimeError("pool exhausted")

    class Short(ToolExecutor[Any]):
        async def execute_tools(self, function_calls: list[FunctionCall]) -> ToolsExecutionResult:
            return ToolsExecutionResult(function_call_results=[])

    _, g = await start(live, rules=TRIP_RULES)
    async with g:
        with pytest.raises(GeminiToolExecutionError, match="pool exhausted"):
            await collect(
                g.chat_with_tools(
                    "plan my trip", model=MODEL, tools=[FindCity(calls=[])], tool_executor=Broken()
                )
            )
        with pytest.raises(GeminiToolExecutionError, match="0 results for 1 calls"):
            await collect(
                g.chat_with_tools(
                    "plan my trip", model=MODEL, tools=[FindCity(calls=[])], tool_executor=Short()
                )
            )


async def test_an_executor_can_stop_the_loop(live: Start) -> None:
    class StopAfterOne(ToolExecutor[Any]):
        async def execute_tools(self, function_calls: list[FunctionCall]) -> ToolsExecutionResult:
            results = [await run_tool(fc) for fc in function_calls]
            return ToolsExecutionResult(should_proceed=False, function_call_results=results)

    _, g = await start(live, rules=TRIP_RULES)
    manager = ChatManager()
    async with g:
        events = await collect(
            g.chat_with_tools(
                "plan my trip",
                model=MODEL,
                tools=[FindCity(calls=[])],
                tool_executor=StopAfterOne(),
                chat_manager=manager,
                chat_id="stop",
            )
        )
    final = events[-1]
    assert isinstance(final, FinalAnswer) and final.iterations == 1
    assert [type(e) for e in events] == [UsageEvent, FunctionCallEvent, ToolResult, FinalAnswer]
    assert [m.role for m in await manager.get_history("stop")] == ["user", "model", "user"]


# --- tool configuration ----------------------------------------------------------------------


async def test_tool_mode_none_answers_without_calls(
    live: Start, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = Calls()
    _, g = await start(live)
    requests = record_requests(g, monkeypatch)
    async with g:
        auto = await collect(
            g.chat_with_tools(
                "What is the weather in Paris?", model=MODEL, tools=weather_tools(calls)
            )
        )
        assert [e.name for e in of_type(auto, FunctionCallEvent)] == ["get_weather"]
        calls.log.clear()
        none = await collect(
            g.chat_with_tools(
                "What is the weather in Paris?",
                model=MODEL,
                tools=weather_tools(calls),
                tool_mode="none",
            )
        )
    assert requests[0]["toolConfig"] == {"functionCallingConfig": {"mode": "AUTO"}}
    assert requests[-1]["toolConfig"] == {"functionCallingConfig": {"mode": "NONE"}}
    assert [f["name"] for f in requests[-1]["tools"][0]["functionDeclarations"]] == [
        "get_weather",
        "get_time",
    ]
    assert not of_type(none, FunctionCallEvent) and not of_type(none, ToolResult)
    assert calls.log == []
    final = none[-1]
    assert isinstance(final, FinalAnswer) and final.iterations == 1
    assert "What is the weather in Paris?" in final.text


async def test_tool_mode_any_with_allowed_tools(
    live: Start, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = Calls()
    _, g = await start(live)
    requests = record_requests(g, monkeypatch)
    async with g:
        events = await collect(
            g.chat_with_tools(
                "What is the weather in Paris?",
                model=MODEL,
                tools=weather_tools(calls),
                tool_mode="any",
                allowed_tools=["get_time"],
            )
        )
    assert requests[0]["toolConfig"] == {
        "functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["get_time"]}
    }
    assert [e.name for e in of_type(events, FunctionCallEvent)] == ["get_time"]
    assert calls.names() == ["get_time"]
    assert isinstance(events[-1], FinalAnswer)
    assert "get_time returned" in events[-1].text


async def test_tool_mode_any_forces_a_call(live: Start) -> None:
    calls = Calls()
    _, g = await start(live)
    async with g:
        events = await collect(
            g.chat_with_tools(
                "Hello there", model=MODEL, tools=weather_tools(calls), tool_mode="any"
            )
        )
    assert len(of_type(events, FunctionCallEvent)) == 1
    assert len(calls.log) == 1


async def test_usage_errors_are_raised_before_anything_is_sent(live: Start) -> None:
    emu, g = await start(live)
    tools = weather_tools(Calls())
    async with g:
        with pytest.raises(UsageError, match="tool_mode"):
            g.chat_with_tools("q", model=MODEL, tools=tools, tool_mode="sometimes")
        with pytest.raises(UsageError, match="unknown tools"):
            g.chat_with_tools(
                "q", model=MODEL, tools=tools, tool_mode="any", allowed_tools=["get_stock"]
            )
        with pytest.raises(UsageError, match="allowed_tools needs tool_mode"):
            g.chat_with_tools("q", model=MODEL, tools=tools, allowed_tools=["get_time"])
        with pytest.raises(UsageError, match="chat_manager"):
            g.chat_with_tools("q", model=MODEL, tools=tools, chat_id="c1")
        with pytest.raises(UsageError, match="max_iterations"):
            g.chat_with_tools("q", model=MODEL, tools=tools, max_iterations=0)
        with pytest.raises(UsageError, match="share a name"):
            g.chat_with_tools("q", model=MODEL, tools=[*tools, weather_tools(Calls())[0]])
    assert (await emu.stats())["totals"]["requests"] == 0


# --- sessions -------------------------------------------------------------------------------


async def test_history_is_stored_and_a_second_call_continues_it(
    live: Start, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = Calls()
    _, g = await start(live, rules=TRIP_RULES)
    manager = ChatManager()
    requests = record_requests(g, monkeypatch)
    tools = [FindCity(calls=[]), *weather_tools(calls)]
    async with g:
        first = await collect(
            g.chat_with_tools(
                "Please plan my trip", model=MODEL, tools=tools, chat_manager=manager, chat_id="t1"
            )
        )
        assert isinstance(first[-1], FinalAnswer) and first[-1].chat_id == "t1"
        history = await manager.get_history("t1")
        assert [(m.role, m.message_type) for m in history] == [
            ("user", "text"),
            ("model", "function_call"),
            ("user", "function_response"),
            ("model", "function_call"),
            ("user", "function_response"),
            ("model", "text"),
        ]
        assert history[0].text == "Please plan my trip"
        assert history[1].function_calls == [{"name": "find_city", "args": {"country": "France"}}]
        assert history[2].function_responses == [
            {"name": "find_city", "response": {"city": "Paris", "country": "France"}}
        ]
        assert history[5].text == first[-1].text
        assert all(m.usage for m in history if m.role == "model")
        assert all(m.processing_time is not None for m in history[1:])
        # The last request sent is exactly the stored history up to the answer.
        assert requests[-1]["contents"] == [m.to_content() for m in history[:5]]

        before = len(requests)
        second = await collect(
            g.chat_with_tools(
                "And the time in Paris?",
                model=MODEL,
                tools=tools,
                chat_manager=manager,
                chat_id="t1",
            )
        )
    sent = requests[before]["contents"]
    assert sent[:6] == [m.to_content() for m in history]
    assert sent[6] == {"role": "user", "parts": [{"text": "And the time in Paris?"}]}
    assert [e.name for e in of_type(second, FunctionCallEvent)] == ["get_time"]
    assert isinstance(second[-1], FinalAnswer) and second[-1].iterations == 2
    # Earlier turns count towards the prompt: the history was really sent.
    assert (
        of_type(second, UsageEvent)[0].usage["prompt_tokens"]
        > (of_type(first, UsageEvent)[-1].usage["prompt_tokens"])
    )
    history = await manager.get_history("t1")
    assert [m.role for m in history] == ["user", "model"] * 2 + ["user", "model"] * 3
    assert history[6].text == "And the time in Paris?"
    assert history[-1].text == second[-1].text


async def test_gemini_3_keeps_thought_signatures_across_iterations(
    live: Start, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, g = await start(live, rules=TRIP_RULES)
    manager = ChatManager()
    requests = record_requests(g, monkeypatch)
    tools = [FindCity(calls=[]), *weather_tools(Calls())]
    async with g:
        events = await collect(
            g.chat_with_tools(
                "Please plan my trip",
                model=GEMINI_3,
                tools=tools,
                chat_manager=manager,
                chat_id="g3",
            )
        )
        final = events[-1]
        assert isinstance(final, FinalAnswer) and final.iterations == 3
        assert "get_weather returned" in final.text
        history = await manager.get_history("g3")
        model_calls = [m for m in history if m.message_type == "function_call"]
        assert len(model_calls) == 2
        for message in model_calls:
            call_part = next(p for p in message.parts if "functionCall" in p)
            assert call_part["thoughtSignature"]
        # Every follow-up request carried the signed calls back unchanged.
        assert requests[2]["contents"][1] == history[1].to_content()
        assert requests[2]["contents"][3] == history[3].to_content()

        # Without the signature, Gemini 3 refuses the same follow-up: preserving it matters.
        stripped = copy.deepcopy(requests[2]["contents"])
        stripped[3]["parts"][0].pop("thoughtSignature")
        with pytest.raises(BadRequestError, match="thought_signature"):
            await g.generate_content(stripped, model=GEMINI_3, tools=requests[2]["tools"])

        again = await collect(
            g.chat_with_tools(
                "What is the weather in Lyon?",
                model=GEMINI_3,
                tools=tools,
                chat_manager=manager,
                chat_id="g3",
            )
        )
    assert isinstance(again[-1], FinalAnswer)
    assert [e.name for e in of_type(again, FunctionCallEvent)] == ["get_weather"]
    assert len(await manager.get_history("g3")) == 10


# --- the in-process default --------------------------------------------------------------------


async def test_in_process_emulator_runs_the_loop(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import os

    for name in list(os.environ):
        if name in ("GEMINI_API_KEY", "GOOGLE_API_KEY") or name.startswith(
            ("GEMINI_API_KEY_", "GEMGATE_")
        ):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    calls = Calls()
    async with AsyncGemini.emulated() as g:
        events = await collect(
            g.chat_with_tools(
                "What is the weather in Rome?",
                tools=weather_tools(calls),
                tool_executor=SequentialToolExecutor(),
            )
        )
    assert calls.log == [("get_weather", {"city": "Rome"})]
    final = events[-1]
    assert isinstance(final, FinalAnswer) and final.iterations == 2
    assert '"city": "Rome"' in final.text


async def test_results_from_a_custom_executor_are_made_json(live: Start) -> None:
    class Raw(ToolExecutor[Any]):
        async def execute_tools(self, function_calls: list[FunctionCall]) -> ToolsExecutionResult:
            return ToolsExecutionResult(
                function_call_results=[datetime.date(2025, 7, 14) for _ in function_calls]
            )

    _, g = await start(live, rules=TRIP_RULES)
    async with g:
        events = await collect(
            g.chat_with_tools(
                "plan my trip", model=MODEL, tools=[FindCity(calls=[])], tool_executor=Raw()
            )
        )
    assert [r.response for r in of_type(events, ToolResult)] == [{"result": "2025-07-14"}]
    assert isinstance(events[-1], FinalAnswer)
    assert '"result": "2025-07-14"' in events[-1].text
