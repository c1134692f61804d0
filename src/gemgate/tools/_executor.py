"""Tool executors: how the calls of one model step are run, with a typed event stream.

Subclass :class:`ToolExecutor` and call ``_emit_event`` to publish progress; the loop
(and anyone reading ``get_result_stream()``) receives the events as they happen.
"""

from __future__ import annotations

import abc
import asyncio
from collections.abc import AsyncIterator
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field
from pydantic_core import PydanticSerializationError, to_jsonable_python

from gemgate.tools._tool import Tool

__all__ = [
    "AsyncToolExecutor",
    "FunctionCall",
    "FunctionCallData",
    "RateLimitingAsyncExecutor",
    "SequentialToolExecutor",
    "ToolExecutor",
    "ToolsExecutionResult",
    "json_response",
    "run_tool",
]

EventT = TypeVar("EventT")
_CLOSED = object()


class FunctionCallData(BaseModel):
    """The model's ``functionCall``: name, args and (when given) id."""

    name: str
    args: dict[str, Any] = Field(default_factory=dict)
    id: str | None = None


class FunctionCall(BaseModel):
    """A call to run: the tool and what the model asked of it."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    tool: Tool
    function_call: FunctionCallData


class ToolsExecutionResult(BaseModel):
    """The results of one step, in call order, and whether the loop goes on."""

    should_proceed: bool = True
    function_call_results: list[Any] = Field(default_factory=list)


async def run_tool(call: FunctionCall) -> dict[str, Any]:
    """Run one call safely: validate, time-limit, and turn failures into ``{"error"}``.

    The result is always a JSON object, as ``functionResponse.response`` must be.
    """
    tool = call.tool
    problems = tool.validate_args(call.function_call.args)
    if problems:
        return {"error": f"invalid arguments for {tool.name}: " + "; ".join(problems)}
    scope = asyncio.timeout(tool.timeout)  # None: no limit
    try:
        async with scope:
            result = await tool.execute(call.function_call.args)
    except TimeoutError as exc:
        if scope.expired():  # our limit, not a TimeoutError the tool itself raised
            return {"error": f"{tool.name} timed out after {tool.timeout:g}s"}
        return {"error": f"{tool.name} failed: {type(exc).__name__}: {exc}"}
    except Exception as exc:
        return {"error": f"{tool.name} failed: {type(exc).__name__}: {exc}"}
    return json_response(tool.name, result)


def json_response(name: str, result: Any) -> dict[str, Any]:
    """A tool's result as the JSON object ``functionResponse.response`` must be.

    Dates, models and the like become JSON values; anything else becomes an error.
    """
    try:
        value = to_jsonable_python(result)
    except PydanticSerializationError as exc:
        return {"error": f"{name} returned a value that is not JSON: {exc}"}
    return value if isinstance(value, dict) else {"result": value}


class ToolExecutor(abc.ABC, Generic[EventT]):
    """Runs the calls of one step; publishes typed events while doing so."""

    def __init__(self) -> None:
        self._events: asyncio.Queue[Any] = asyncio.Queue()
        self._closed = False

    async def _emit_event(self, event: EventT) -> None:
        """Publish an event to ``get_result_stream()`` readers."""
        await self._events.put(event)

    async def get_result_stream(self) -> AsyncIterator[EventT]:
        """Events as they are emitted, until :meth:`shutdown`."""
        while True:
            event = await self._events.get()
            if event is _CLOSED:
                return
            yield event

    def pending_events(self) -> list[EventT]:
        """Events emitted and not yet read (without waiting)."""
        out: list[EventT] = []
        while not self._events.empty():
            event = self._events.get_nowait()
            if event is _CLOSED:
                self._events.put_nowait(_CLOSED)
                break
            out.append(event)
        return out

    async def next_event(self) -> EventT:
        """Wait for the next event."""
        event = await self._events.get()
        if event is _CLOSED:
            self._events.put_nowait(_CLOSED)
            raise StopAsyncIteration
        return event  # type: ignore[no-any-return]

    @abc.abstractmethod
    async def execute_tools(self, function_calls: list[FunctionCall]) -> ToolsExecutionResult:
        """Run the calls; results in the same order as ``function_calls``."""

    async def shutdown(self) -> None:
        """End the event stream."""
        if not self._closed:
            self._closed = True
            await self._events.put(_CLOSED)


class AsyncToolExecutor(ToolExecutor[EventT]):
    """Runs every call of a step concurrently."""

    async def execute_tools(self, function_calls: list[FunctionCall]) -> ToolsExecutionResult:
        """See :meth:`ToolExecutor.execute_tools`."""
        results = await asyncio.gather(*(run_tool(c) for c in function_calls))
        return ToolsExecutionResult(function_call_results=list(results))


class RateLimitingAsyncExecutor(ToolExecutor[EventT]):
    """Runs at most ``max_batch_size`` calls at a time."""

    def __init__(self, max_batch_size: int = 5) -> None:
        super().__init__()
        if max_batch_size < 1:
            raise ValueError("max_batch_size must be at least 1")
        self.max_batch_size = max_batch_size

    async def execute_tools(self, function_calls: list[FunctionCall]) -> ToolsExecutionResult:
        """See :meth:`ToolExecutor.execute_tools`."""
        results: list[Any] = []
        for start in range(0, len(function_calls), self.max_batch_size):
            batch = function_calls[start : start + self.max_batch_size]
            results += await asyncio.gather(*(run_tool(c) for c in batch))
        return ToolsExecutionResult(function_call_results=results)


class SequentialToolExecutor(ToolExecutor[EventT]):
    """Runs calls one after another."""

    async def execute_tools(self, function_calls: list[FunctionCall]) -> ToolsExecutionResult:
        """See :meth:`ToolExecutor.execute_tools`."""
        return ToolsExecutionResult(
            function_call_results=[await run_tool(c) for c in function_calls]
        )
