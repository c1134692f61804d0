"""``run_tool`` and the executors: concurrency, ordering, batching and typed events."""

from __future__ import annotations

import asyncio
import datetime
import time
from typing import Any

import pytest
from pydantic import BaseModel

from gemgate.tools import (
    AsyncToolExecutor,
    FunctionCall,
    FunctionCallData,
    RateLimitingAsyncExecutor,
    SequentialToolExecutor,
    Tool,
    ToolExecutor,
    ToolsExecutionResult,
    run_tool,
    tool,
)

pytestmark = pytest.mark.anyio


def call(t: Tool, **args: Any) -> FunctionCall:
    return FunctionCall(tool=t, function_call=FunctionCallData(name=t.name, args=args))


class Tracker:
    """Counts how many tools run at once, and in which order they start and finish."""

    def __init__(self) -> None:
        self.running = 0
        self.peak = 0
        self.started: list[str] = []
        self.finished: list[str] = []
        self.events: list[str] = []
        """``+name`` when a tool starts, ``-name`` when it ends, in the order they happen."""

    def sleeper(self, name: str, seconds: float) -> Tool:
        tracker = self

        class Sleeper(Tool):
            async def execute(self, tool_args: dict[str, Any]) -> dict[str, Any]:
                tracker.running += 1
                tracker.peak = max(tracker.peak, tracker.running)
                tracker.started.append(self.name)
                tracker.events.append(f"+{self.name}")
                try:
                    await asyncio.sleep(seconds)
                finally:
                    tracker.running -= 1
                tracker.finished.append(self.name)
                tracker.events.append(f"-{self.name}")
                return {"tool": self.name, "args": tool_args}

        return Sleeper(name=name, function_definition={"name": name})


# --- run_tool ----------------------------------------------------------------------------


async def test_invalid_args_are_refused_and_the_tool_does_not_run() -> None:
    ran: list[dict[str, Any]] = []

    @tool
    def book(city: str, nights: int) -> str:
        """Book."""
        ran.append({"city": city})
        return "booked"

    result = await run_tool(call(book, city="Paris", nights="many"))
    assert set(result) == {"error"}
    assert result["error"].startswith("invalid arguments for book: nights:")
    result = await run_tool(call(book, nights=1))
    assert "city: Field required" in result["error"]
    assert ran == []
    assert await run_tool(call(book, city="Paris", nights=1)) == {"result": "booked"}
    assert ran == [{"city": "Paris"}]


async def test_invalid_args_against_a_json_schema_tool_do_not_run_it() -> None:
    ran = []

    class Strict(Tool):
        name: str = "strict"
        function_definition: dict[str, Any] = {
            "name": "strict",
            "parameters": {
                "type": "object",
                "properties": {"n": {"type": "integer"}},
                "required": ["n"],
            },
        }

        async def execute(self, tool_args: dict[str, Any]) -> dict[str, Any]:
            ran.append(tool_args)
            return {}

    result = await run_tool(call(Strict(), n="1"))
    assert "n: '1' is not of type 'integer'" in result["error"]
    assert ran == []


async def test_a_raising_tool_becomes_an_error_result() -> None:
    @tool
    async def explode(reason: str) -> None:
        """Explode."""
        raise ValueError(f"boom: {reason}")

    assert await run_tool(call(explode, reason="test")) == {
        "error": "explode failed: ValueError: boom: test"
    }


async def test_a_tool_timeout_becomes_an_error_result() -> None:
    @tool(timeout=0.05)
    async def hang() -> str:
        """Hang."""
        await asyncio.sleep(5)
        return "never"

    @tool(timeout=0.05)
    def hang_sync() -> str:
        """Hang in a thread."""
        time.sleep(0.3)  # noqa: TID251 - a blocking tool, run in a worker thread
        return "late"

    assert await run_tool(call(hang)) == {"error": "hang timed out after 0.05s"}  # not "never"
    result = await run_tool(call(hang_sync))
    assert result == {"error": "hang_sync timed out after 0.05s"}


async def test_a_tool_raising_timeout_error_itself_is_a_failure_not_a_crash() -> None:
    @tool
    async def flaky() -> None:
        """Socket timeout inside the tool, and no timeout set on it."""
        raise TimeoutError("read timed out")

    @tool(timeout=10)
    async def flaky_limited() -> None:
        """The tool's own TimeoutError, well within its limit."""
        raise TimeoutError("read timed out")

    assert await run_tool(call(flaky)) == {"error": "flaky failed: TimeoutError: read timed out"}
    assert await run_tool(call(flaky_limited)) == {
        "error": "flaky_limited failed: TimeoutError: read timed out"
    }


async def test_non_dict_results_are_wrapped() -> None:
    values: list[Any] = [42, "text", [1, 2], None, 1.5, True]
    for value in values:

        @tool
        def give() -> Any:
            """Give."""
            return value  # noqa: B023 - called inside the iteration

        assert await run_tool(call(give)) == {"result": value}


async def test_results_are_made_json() -> None:
    class Forecast(BaseModel):
        day: datetime.date
        high: float

    @tool
    def forecast() -> Forecast:
        """A pydantic result."""
        return Forecast(day=datetime.date(2025, 7, 14), high=31.5)

    @tool
    def stamped() -> dict[str, Any]:
        """A dict with a datetime."""
        return {"at": datetime.datetime(2025, 1, 2, 3, 4, 5), "tags": {"a"}}

    @tool
    def opaque() -> object:
        """Nothing JSON can say."""
        return object()

    assert await run_tool(call(forecast)) == {"day": "2025-07-14", "high": 31.5}
    assert await run_tool(call(stamped)) == {"at": "2025-01-02T03:04:05", "tags": ["a"]}
    assert "not JSON" in (await run_tool(call(opaque)))["error"]


# --- executors ---------------------------------------------------------------------------


async def test_async_executor_runs_calls_concurrently_in_call_order() -> None:
    tracker = Tracker()
    calls = [
        call(tracker.sleeper("slow", 0.2), n=1),
        call(tracker.sleeper("medium", 0.15), n=2),
        call(tracker.sleeper("fast", 0.1), n=3),
    ]
    executor: AsyncToolExecutor[Any] = AsyncToolExecutor()
    result = await executor.execute_tools(calls)
    assert tracker.events[:3] == ["+slow", "+medium", "+fast"]  # all started before any ended
    assert tracker.peak == 3
    assert tracker.finished == ["fast", "medium", "slow"]  # out of order ...
    assert result.should_proceed is True
    assert result.function_call_results == [  # ... but results in call order
        {"tool": "slow", "args": {"n": 1}},
        {"tool": "medium", "args": {"n": 2}},
        {"tool": "fast", "args": {"n": 3}},
    ]


async def test_three_equal_tools_run_side_by_side() -> None:
    tracker = Tracker()
    calls = [call(tracker.sleeper(f"t{i}", 0.2)) for i in range(3)]
    result = await AsyncToolExecutor[Any]().execute_tools(calls)
    assert tracker.peak == 3
    assert [r["tool"] for r in result.function_call_results] == ["t0", "t1", "t2"]


async def test_async_executor_isolates_failures() -> None:
    @tool
    async def bad() -> None:
        """Bad."""
        raise RuntimeError("nope")

    tracker = Tracker()
    result = await AsyncToolExecutor[Any]().execute_tools(
        [call(tracker.sleeper("ok", 0.01)), call(bad), call(tracker.sleeper("ok2", 0.01))]
    )
    assert result.function_call_results == [
        {"tool": "ok", "args": {}},
        {"error": "bad failed: RuntimeError: nope"},
        {"tool": "ok2", "args": {}},
    ]


async def test_rate_limiting_executor_never_exceeds_its_batch_size() -> None:
    tracker = Tracker()
    names = [f"t{i}" for i in range(5)]
    calls = [call(tracker.sleeper(n, 0.05 + 0.01 * (4 - i))) for i, n in enumerate(names)]
    executor: RateLimitingAsyncExecutor[Any] = RateLimitingAsyncExecutor(max_batch_size=2)
    result = await executor.execute_tools(calls)
    assert tracker.peak == 2
    assert tracker.running == 0
    assert [r["tool"] for r in result.function_call_results] == names
    # three batches, each run side by side, each starting once the one before has ended
    assert tracker.events == ["+t0", "+t1", "-t1", "-t0", "+t2", "+t3", "-t3", "-t2", "+t4", "-t4"]


async def test_rate_limiting_executor_rejects_bad_batch_sizes() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        RateLimitingAsyncExecutor(max_batch_size=0)
    with pytest.raises(ValueError, match="at least 1"):
        RateLimitingAsyncExecutor(max_batch_size=-3)
    assert RateLimitingAsyncExecutor[Any]().max_batch_size == 5


async def test_sequential_executor_runs_one_at_a_time() -> None:
    tracker = Tracker()
    calls = [call(tracker.sleeper(f"t{i}", 0.03)) for i in range(3)]
    result = await SequentialToolExecutor[Any]().execute_tools(calls)
    assert tracker.peak == 1
    assert tracker.started == tracker.finished == ["t0", "t1", "t2"]
    assert [r["tool"] for r in result.function_call_results] == ["t0", "t1", "t2"]


async def test_executors_with_no_calls() -> None:
    for executor in (
        AsyncToolExecutor[Any](),
        RateLimitingAsyncExecutor[Any](max_batch_size=2),
        SequentialToolExecutor[Any](),
    ):
        assert (await executor.execute_tools([])).function_call_results == []


# --- typed events ------------------------------------------------------------------------


class MyEvent(BaseModel):
    type: str
    message: str
    data: dict[str, Any]


class CustomToolExecutor(ToolExecutor[MyEvent]):
    """The seed's custom executor."""

    async def execute_tools(self, function_calls: list[FunctionCall]) -> ToolsExecutionResult:
        await self._emit_event(
            MyEvent(
                type="progress",
                message="Starting tool execution",
                data={"total_tools": len(function_calls)},
            )
        )
        results = []
        for i, fc in enumerate(function_calls):
            await self._emit_event(
                MyEvent(
                    type="progress",
                    message=f"Executing tool {i + 1}/{len(function_calls)}",
                    data={"tool_name": fc.tool.name},
                )
            )
            result = await fc.tool.execute(fc.function_call.args)
            results.append(result)
            await self._emit_event(
                MyEvent(type="result", message=f"Tool {fc.tool.name} completed", data=result)
            )
        return ToolsExecutionResult(should_proceed=True, function_call_results=results)


async def test_custom_executor_events_read_through_the_result_stream() -> None:
    tracker = Tracker()
    executor = CustomToolExecutor()
    result = await executor.execute_tools(
        [call(tracker.sleeper("a", 0), x=1), call(tracker.sleeper("b", 0))]
    )
    assert result.function_call_results == [
        {"tool": "a", "args": {"x": 1}},
        {"tool": "b", "args": {}},
    ]
    await executor.shutdown()
    events = [e async for e in executor.get_result_stream()]
    assert all(isinstance(e, MyEvent) for e in events)
    assert [(e.type, e.message) for e in events] == [
        ("progress", "Starting tool execution"),
        ("progress", "Executing tool 1/2"),
        ("result", "Tool a completed"),
        ("progress", "Executing tool 2/2"),
        ("result", "Tool b completed"),
    ]
    assert events[0].data == {"total_tools": 2}
    assert events[2].data == {"tool": "a", "args": {"x": 1}}


async def test_result_stream_delivers_events_while_tools_run() -> None:
    executor = CustomToolExecutor()
    tracker = Tracker()
    received: list[tuple[str, int]] = []

    async def read() -> None:
        async for event in executor.get_result_stream():
            received.append((event.message, len(tracker.finished)))

    reader = asyncio.create_task(read())
    await executor.execute_tools(
        [call(tracker.sleeper("a", 0.02)), call(tracker.sleeper("b", 0.02))]
    )
    await asyncio.sleep(0.01)
    assert not reader.done()  # the stream stays open until shutdown
    await executor.shutdown()
    await asyncio.wait_for(reader, 1)
    # "Executing tool 1/2" was read before the first tool finished: live, not batched.
    assert received[1] == ("Executing tool 1/2", 0)
    assert received[-1] == ("Tool b completed", 2)
    await executor.shutdown()  # idempotent


async def test_built_in_executors_have_an_empty_event_stream() -> None:
    executor: AsyncToolExecutor[MyEvent] = AsyncToolExecutor()
    await executor.execute_tools([call(Tracker().sleeper("a", 0))])
    assert executor.pending_events() == []
    await executor.shutdown()
    assert [e async for e in executor.get_result_stream()] == []


async def test_pending_and_next_event_after_shutdown() -> None:
    executor = CustomToolExecutor()
    await executor.execute_tools([])
    await executor.shutdown()
    assert [e.message for e in executor.pending_events()] == ["Starting tool execution"]
    with pytest.raises(StopAsyncIteration):
        await executor.next_event()
    with pytest.raises(StopAsyncIteration):  # stays closed
        await executor.next_event()
