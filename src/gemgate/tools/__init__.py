"""Tools, executors and the typed events of the function-calling loop."""

from __future__ import annotations

from gemgate.tools._events import (
    ChatEvent,
    FinalAnswer,
    FunctionCallEvent,
    MaxIterationsReached,
    TextDelta,
    ToolEvent,
    ToolResult,
    UsageEvent,
)
from gemgate.tools._executor import (
    AsyncToolExecutor,
    FunctionCall,
    FunctionCallData,
    RateLimitingAsyncExecutor,
    SequentialToolExecutor,
    ToolExecutor,
    ToolsExecutionResult,
    run_tool,
)
from gemgate.tools._tool import FunctionTool, Tool, ToolDefinitionError, tool

__all__ = [
    "AsyncToolExecutor",
    "ChatEvent",
    "FinalAnswer",
    "FunctionCall",
    "FunctionCallData",
    "FunctionCallEvent",
    "FunctionTool",
    "MaxIterationsReached",
    "RateLimitingAsyncExecutor",
    "SequentialToolExecutor",
    "TextDelta",
    "Tool",
    "ToolDefinitionError",
    "ToolEvent",
    "ToolExecutor",
    "ToolResult",
    "ToolsExecutionResult",
    "UsageEvent",
    "run_tool",
    "tool",
]
