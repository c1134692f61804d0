"""``LivePool``: Live sessions by session id, reused until idle too long.

Opening a Live connection costs a TLS and WebSocket handshake plus the setup round trip,
so a service that talks to many users keeps one :class:`LiveSession` per user
conversation and reuses it. The pool closes sessions idle longer than ``ttl`` (15 minutes
by default, as a Live session's own limit; checked in the background), caps how many
are open (closing the least recently used idle one to make room), and spaces out
openings to ``opens_per_minute``.

``AsyncGemini.live`` is its client's pool, with the seed service's calls::

    async for piece in client.live.process_text_stream("Hello", session_id="user-1"):
        print(piece, end="")
    print(await client.live.process_image(jpeg, "What is this?", session_id="user-1"))
    print(await client.live.health_check())
    await client.live.close_session("user-1")
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import OrderedDict, deque
from collections.abc import AsyncGenerator, Mapping, Sequence
from typing import Any

from google.genai import types

from gemgate.errors import GemgateError
from gemgate.live._session import LiveSession
from gemgate.live._target import Targets
from gemgate.tools._tool import Tool
from gemgate.upstream._engine import Engine, EngineSource, engine_of

__all__ = ["LivePool", "LivePoolFull"]


class LivePoolFull(GemgateError):
    """Every pooled session is in the middle of a turn and the pool is at its cap."""


class LivePool:
    """Live sessions keyed by session id, with a TTL, a cap and paced openings.

    Args:
        engine: The engine (or client) whose keys and quotas the sessions use.
        model: Live model for new sessions (default: the ``live_model`` setting).
        config: ``LiveConnectConfig`` for new sessions.
        tools: Tools new sessions answer calls with.
        ttl: Seconds a session may sit idle before it is closed.
        max_sessions: Open sessions at most.
        opens_per_minute: New connections per minute at most (openings wait).
    """

    def __init__(
        self,
        engine: Engine | EngineSource,
        *,
        model: str | None = None,
        config: types.LiveConnectConfig | Mapping[str, Any] | None = None,
        tools: Sequence[Tool] = (),
        ttl: float = 15 * 60,
        max_sessions: int = 100,
        opens_per_minute: int = 60,
    ) -> None:
        self._engine = engine_of(engine)
        self._model, self._config, self._tools = model, config, tuple(tools)
        self.ttl = ttl
        self.max_sessions = max_sessions
        self.opens_per_minute = opens_per_minute
        self._sessions: OrderedDict[str, LiveSession] = OrderedDict()
        self._used: dict[str, float] = {}
        self._opened: deque[float] = deque()
        self._lock = asyncio.Lock()
        self._reaper: asyncio.Task[None] | None = None
        self._opening: dict[str, asyncio.Lock] = {}
        self._pacing = asyncio.Lock()
        self._targets = Targets(self._engine)
        self._clock = self._engine.clock

    def __len__(self) -> int:
        return len(self._sessions)

    def __contains__(self, session_id: object) -> bool:
        """Whether an open session exists for ``session_id``."""
        live = self._sessions.get(session_id) if isinstance(session_id, str) else None
        return live is not None and not live.closed

    async def session(self, session_id: str) -> LiveSession:
        """The open session for ``session_id``, opening one if needed.

        Only the bookkeeping holds the pool's lock: waiting for an opening slot and
        connecting do not, so users with open sessions never wait behind a new one.
        """
        live = self._reuse(session_id)
        if live is not None:
            return live
        opening = self._opening.setdefault(session_id, asyncio.Lock())
        async with opening:  # one opening per session id at a time
            live = self._reuse(session_id)
            if live is not None:
                return live
            async with self._lock:
                await self._expire()
                await self._make_room()
            await self._pace()
            live = LiveSession(
                self._engine,
                self._model,
                config=self._config,
                tools=self._tools,
                targets=self._targets,
            )
            await live.connect()
            async with self._lock:
                try:
                    await self._make_room()  # others may have opened meanwhile
                except LivePoolFull:
                    await live.aclose()
                    raise
                self._sessions[session_id] = live
                self._used[session_id] = self._clock()
                if self._reaper is None or self._reaper.done():
                    self._reaper = asyncio.create_task(self._reap())
        if not opening.locked():
            self._opening.pop(session_id, None)
        return live

    def _reuse(self, session_id: str) -> LiveSession | None:
        live = self._sessions.get(session_id)
        if live is None or live.closed:
            return None
        self._sessions.move_to_end(session_id)
        self._used[session_id] = self._clock()
        return live

    async def _reap(self) -> None:
        """Close idle sessions in the background while any are open."""
        while self._sessions:
            await asyncio.sleep(min(max(self.ttl / 4, 0.05), 60.0))  # real time, not the clock
            await self.cleanup()

    async def _expire(self) -> None:
        now = self._clock()
        idle = [s for s, used in self._used.items() if now - used > self.ttl]
        for session_id in idle:
            if not self._sessions[session_id].busy:  # a long turn is not idleness
                await self._close(session_id)

    async def _make_room(self) -> None:
        while len(self._sessions) >= self.max_sessions:
            idle = next((s for s, live in self._sessions.items() if not live.busy), None)
            if idle is None:
                raise LivePoolFull(f"{self.max_sessions} Live sessions are busy")
            await self._close(idle)

    async def _pace(self) -> None:
        """Wait until one more opening fits in the last minute."""
        async with self._pacing:
            await self._wait_for_slot()

    async def _wait_for_slot(self) -> None:
        while True:
            now = self._clock()
            while self._opened and now - self._opened[0] >= 60:
                self._opened.popleft()
            if len(self._opened) < self.opens_per_minute:
                self._opened.append(now)
                return
            await self._engine.sleep(60 - (now - self._opened[0]))

    async def _close(self, session_id: str) -> bool:
        live = self._sessions.pop(session_id, None)
        self._used.pop(session_id, None)
        if live is None:
            return False
        await live.aclose()
        return True

    async def cleanup(self) -> int:
        """Close sessions idle longer than the TTL; return how many were closed."""
        async with self._lock:
            before = len(self._sessions)
            await self._expire()
            return before - len(self._sessions)

    async def close_session(self, session_id: str) -> bool:
        """Close one session; ``False`` if there was none."""
        async with self._lock:
            return await self._close(session_id)

    async def process_text_stream(
        self, text: str, *, session_id: str = "default"
    ) -> AsyncGenerator[str]:
        """One text turn in ``session_id``'s session, as text chunks."""
        live = await self.session(session_id)
        async with contextlib.aclosing(live.stream(text)) as pieces:
            async for piece in pieces:
                yield piece
        self._used[session_id] = self._clock()

    async def process_text(self, text: str, *, session_id: str = "default") -> str:
        """One text turn in ``session_id``'s session; the whole answer."""
        return "".join(
            [piece async for piece in self.process_text_stream(text, session_id=session_id)]
        )

    async def process_image(
        self,
        image: bytes,
        prompt: str = "Describe this image.",
        *,
        session_id: str = "default",
        mime_type: str = "image/jpeg",
    ) -> str:
        """One turn with an image and a prompt in ``session_id``'s session."""
        live = await self.session(session_id)
        reply = await live.send_image(image, prompt, mime_type=mime_type)
        self._used[session_id] = self._clock()
        return reply.text

    async def health_check(self) -> dict[str, Any]:
        """Open a throwaway session, run one short turn, and report how it went."""
        started = time.perf_counter()
        probe = LiveSession(self._engine, self._model, config=self._config, targets=self._targets)
        try:
            async with probe:
                reply = await probe.ask("ping")
        except GemgateError as exc:
            return {
                "status": "unhealthy",
                "error": f"{type(exc).__name__}: {exc}",
                "open_sessions": len(self._sessions),
            }
        return {
            "status": "healthy",
            "model": probe.model,
            "latency_ms": round((time.perf_counter() - started) * 1000, 1),
            "answered": bool(reply.text),
            "open_sessions": len(self._sessions),
        }

    async def aclose(self) -> None:
        """Close every session and the loopback emulator, if one was started."""
        if self._reaper is not None:
            self._reaper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reaper
        async with self._lock:
            for session_id in list(self._sessions):
                await self._close(session_id)
        await self._targets.aclose()
