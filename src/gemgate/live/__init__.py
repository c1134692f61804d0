"""Live API sessions that survive ``goAway`` and dropped connections, and a pool of them."""

from __future__ import annotations

from gemgate.errors import LiveSessionLost
from gemgate.live._events import (
    LiveEvent,
    LiveReply,
    LiveText,
    LiveToolCalls,
    LiveTranscription,
    LiveTurnComplete,
)
from gemgate.live._pool import LivePool, LivePoolFull
from gemgate.live._session import LiveSession

__all__ = [
    "LiveEvent",
    "LivePool",
    "LivePoolFull",
    "LiveReply",
    "LiveSession",
    "LiveSessionLost",
    "LiveText",
    "LiveToolCalls",
    "LiveTranscription",
    "LiveTurnComplete",
]
