"""The typed events ``AsyncGemini.chat_with_tools`` yields, in the order they happen."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

__all__ = [
    "ChatEvent",
    "FinalAnswer",
    "FunctionCallEvent",
    "MaxIterationsReached",
    "TextDelta",
    "ToolEvent",
    "ToolResult",
    "UsageEvent",
]


class TextDelta(BaseModel):
    """Text streamed from the model."""

    type: Literal["text_delta"] = "text_delta"
    text: str
    iteration: int


class FunctionCallEvent(BaseModel):
    """The model asked for a tool call."""

    type: Literal["function_call"] = "function_call"
    name: str
    args: dict[str, Any]
    id: str | None = None
    iteration: int


class ToolEvent(BaseModel):
    """An event the tool executor emitted while running the step's calls."""

    type: Literal["tool_event"] = "tool_event"
    event: Any
    iteration: int


class ToolResult(BaseModel):
    """What one call returned (``is_error`` when it failed or was refused)."""

    type: Literal["tool_result"] = "tool_result"
    name: str
    response: dict[str, Any]
    is_error: bool = False
    iteration: int


class UsageEvent(BaseModel):
    """Token usage of one model call."""

    type: Literal["usage"] = "usage"
    usage: dict[str, int]
    iteration: int


class FinalAnswer(BaseModel):
    """The model's final answer; the loop is done."""

    type: Literal["final_answer"] = "final_answer"
    text: str
    chat_id: str | None = None
    iterations: int
    usage: dict[str, int] = Field(default_factory=dict)
    """Totals over every model call of this loop."""
    grounding_metadata: dict[str, Any] | None = None
    """Gemini's ``groundingMetadata`` of the answer when it was grounded (stores or
    File Search): ``groundingChunks`` (the sources) and ``groundingSupports`` (which
    sentence each supports, by UTF-8 byte offsets)."""


class MaxIterationsReached(BaseModel):
    """The loop stopped after ``max_iterations`` steps that all asked for tools."""

    type: Literal["max_iterations"] = "max_iterations"
    iterations: int
    chat_id: str | None = None
    last_calls: list[str] = Field(default_factory=list)
    """Names called in the last step (run and answered; the model did not see the answers)."""


ChatEvent = (
    TextDelta
    | FunctionCallEvent
    | ToolEvent
    | ToolResult
    | UsageEvent
    | FinalAnswer
    | MaxIterationsReached
)
