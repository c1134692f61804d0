"""What a Live turn yields: text, transcriptions, tool calls, and how the turn ended."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "LiveEvent",
    "LiveReply",
    "LiveText",
    "LiveToolCalls",
    "LiveTranscription",
    "LiveTurnComplete",
]


@dataclass(frozen=True)
class LiveText:
    """A piece of the model's answer."""

    text: str


@dataclass(frozen=True)
class LiveTranscription:
    """What was heard (``input``) or said aloud (``output``)."""

    text: str
    source: Literal["input", "output"]


@dataclass(frozen=True)
class LiveToolCalls:
    """The model called tools; the session answers them with its tools."""

    calls: list[dict[str, Any]]
    """``{"id", "name", "args"}`` per call."""


@dataclass(frozen=True)
class LiveTurnComplete:
    """The turn ended: completely, or ``interrupted`` by newer input."""

    usage: dict[str, Any] | None = None
    interrupted: bool = False


LiveEvent = LiveText | LiveTranscription | LiveToolCalls | LiveTurnComplete


@dataclass
class LiveReply:
    """A whole turn's answer."""

    text: str = ""
    usage: dict[str, Any] | None = None
    interrupted: bool = False
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    transcriptions: list[LiveTranscription] = field(default_factory=list)
