"""``LiveSession``: one Live conversation that survives ``goAway`` and dropped connections.

The official SDK gives a raw session: when the server sends ``goAway`` or the
connection breaks, the conversation is over unless the caller reconnects with the newest
resumption handle and resends what the server had not yet taken in. ``LiveSession`` does
that itself:

- it always asks for resumption and keeps the newest handle;
- it keeps the client messages the newest handle may not include (those sent since the
  last turn that ended before the handle), and after reconnecting resends exactly those —
  a turn that was already answered is resent so the server has it, and its second answer
  is swallowed; the turn in flight is answered again and only the text past what was
  already delivered is passed on (a deterministic model continues seamlessly; a real one
  may word its second answer differently, so the seam can show);
- on ``goAway`` it reconnects at the next turn boundary (or at once when the connection
  closes first);
- it answers tool calls with gemgate :class:`~gemgate.tools.Tool` objects; when a turn
  resent after a reconnect calls a tool again with the same arguments, the result it
  already had is sent back and the tool does not run twice;
- it raises :class:`~gemgate.errors.LiveSessionLost` only when resumption is impossible
  (the server refuses the handle, or reconnecting fails ``max_reconnects`` times).

Example::

    async with LiveSession(client, tools=[get_weather]) as live:
        async for piece in live.stream("What's the weather in Paris?"):
            print(piece, end="")
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import Counter
from collections.abc import AsyncGenerator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from google import genai
from google.genai import errors as genai_errors
from google.genai import types

from gemgate.errors import GemgateError, LiveSessionLost
from gemgate.live._events import (
    LiveEvent,
    LiveReply,
    LiveText,
    LiveToolCalls,
    LiveTranscription,
    LiveTurnComplete,
)
from gemgate.live._target import LiveTarget, Targets
from gemgate.live._wire import (
    REFUSED,
    Closed,
    Pending,
    Refused,
    Sender,
    collect,
    connect_config,
    is_handshake_refusal,
    to_content,
    ws_closed,
)
from gemgate.tools._executor import FunctionCall, FunctionCallData, run_tool
from gemgate.tools._tool import Tool
from gemgate.upstream._engine import Engine, EngineSource, engine_of

if TYPE_CHECKING:
    from google.genai.live import AsyncSession

__all__ = ["LiveSession"]

logger = logging.getLogger("gemgate.live")


class LiveSession:
    """A Live conversation on gemgate's keys that reconnects and resumes by itself.

    Args:
        engine: The engine, or the :class:`~gemgate.AsyncGemini`, whose keys and quotas
            it uses.
        model: A Live model (default: the ``live_model`` setting).
        config: A ``LiveConnectConfig`` (or dict); by default TEXT answers, with
            transcriptions of audio input.
        tools: Tools the model may call; their calls are answered automatically.
        max_reconnects: Failed reconnection attempts in a row before giving up.
        idle_timeout: Seconds a turn may wait for the server's next message before the
            connection is treated as broken.
        handle: A resumption handle from an earlier session (its ``handle``) to continue
            that conversation, even from another process.
    """

    def __init__(
        self,
        engine: Engine | EngineSource,
        model: str | None = None,
        *,
        config: types.LiveConnectConfig | Mapping[str, Any] | None = None,
        tools: Sequence[Tool] = (),
        max_reconnects: int = 5,
        idle_timeout: float = 60.0,
        handle: str | None = None,
        targets: Targets | None = None,
    ) -> None:
        self._engine = engine_of(engine)
        self.model = (model or self._engine.settings.live_model).removeprefix("models/")
        self._config = connect_config(config, tools)
        self._sdk: genai.Client | None = None
        self._tools = {t.name: t for t in tools}
        self._max_reconnects = max_reconnects
        self._targets = targets or Targets(self._engine)
        self._own_targets = targets is None
        self.handle = handle
        """The newest resumption handle."""
        self.reconnects = 0
        """Connections after the first one."""
        self._key: str | None = None
        self._project = ""
        self._pending: list[Pending] = []
        self._events: asyncio.Queue[LiveEvent | Closed] = asyncio.Queue()
        self._stack: contextlib.AsyncExitStack | None = None
        self._session: AsyncSession | None = None
        self._reader: asyncio.Task[None] | None = None
        self._tool_tasks: dict[str, asyncio.Task[None]] = {}
        self._ran: dict[str, list[dict[str, Any]]] = {}
        """Results of the tool calls the newest handle may not include, by name and args."""
        self._replayed: Counter[str] = Counter()
        """Of those, how many this connection has asked for again."""
        self._going_away = False
        self._turn = asyncio.Lock()
        self._swallow = 0
        self._strikes = 0
        """Reconnections during turns since the last completed turn."""
        self._dirty = False
        """A turn was abandoned: its remaining answer may still be on this connection."""
        self._idle = idle_timeout
        self._interrupted = False
        self._covered = asyncio.Event()
        """Set while the newest handle includes every answered turn."""
        self._covered.set()
        self.closed = False

    async def __aenter__(self) -> LiveSession:
        await self.connect()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    @property
    def busy(self) -> bool:
        """Whether a turn is in progress."""
        return self._turn.locked()

    @property
    def connected(self) -> bool:
        """Whether a connection is open right now."""
        return self._session is not None and not self.closed

    async def connect(self) -> None:
        """Open the first connection (turns do this on demand too)."""
        if self.closed:
            raise GemgateError("this Live session is closed")
        if self._session is None:
            await self._reconnect(first=self._key is None)

    # -- turns -------------------------------------------------------------------------

    async def turn(
        self, content: str | types.Content | Mapping[str, Any]
    ) -> AsyncGenerator[LiveEvent]:
        """Send one user turn and yield the answer's events until the turn ends.

        ``content`` is text, a ``types.Content``, or a Content in the wire's JSON form
        (camelCase keys, base64 ``data``).
        """
        turn = to_content(content)

        async def send(session: AsyncSession) -> None:
            await session.send_client_content(turns=turn, turn_complete=True)

        async with contextlib.aclosing(self._exchange(send)) as events:
            async for event in events:
                yield event

    async def stream(self, content: str | types.Content | Mapping[str, Any]) -> AsyncGenerator[str]:
        """Send one user turn and yield the answer's text as it streams."""
        async with contextlib.aclosing(self.turn(content)) as events:
            async for event in events:
                if isinstance(event, LiveText):
                    yield event.text

    async def ask(self, content: str | types.Content | Mapping[str, Any]) -> LiveReply:
        """Send one user turn and return the whole answer."""
        async with contextlib.aclosing(self.turn(content)) as events:
            return await collect(events)

    async def send_image(
        self, image: bytes, prompt: str = "", *, mime_type: str = "image/jpeg"
    ) -> LiveReply:
        """Send an image (with an optional prompt) as one turn; return the answer."""
        parts = [types.Part(inline_data=types.Blob(data=image, mime_type=mime_type))]
        if prompt:
            parts.append(types.Part(text=prompt))
        return await self.ask(types.Content(role="user", parts=parts))

    async def send_audio(self, chunk: bytes, *, rate: int = 16000) -> None:
        """Send one chunk of 16-bit PCM audio (its transcription comes with the reply)."""
        mime = f"audio/pcm;rate={rate}"

        async def send(session: AsyncSession) -> None:
            await session.send_realtime_input(audio=types.Blob(data=chunk, mime_type=mime))

        await self._send_only(send)

    async def end_audio(self) -> AsyncGenerator[LiveEvent]:
        """End the audio stream; yield the reply's events, transcriptions included."""

        async def end(session: AsyncSession) -> None:
            await session.send_realtime_input(audio_stream_end=True)

        async with contextlib.aclosing(self._exchange(end)) as events:
            async for event in events:
                yield event

    async def seed(self, turns: Sequence[types.Content | Mapping[str, Any]]) -> None:
        """Add earlier turns to the context without asking for an answer."""
        contents: list[types.Content | types.ContentDict] = [to_content(t) for t in turns]
        if not contents:
            return

        async def send(session: AsyncSession) -> None:
            await session.send_client_content(turns=contents, turn_complete=False)

        await self._send_only(send)

    async def _send_only(self, send: Sender) -> None:
        """A client message that does not end a turn (audio chunks)."""
        async with self._turn:
            await self._ready()
            pending = Pending(send, expects_reply=False)
            self._pending.append(pending)
            await self._deliver(pending)

    async def _exchange(self, send: Sender) -> AsyncGenerator[LiveEvent]:
        async with self._turn:
            await self._ready()
            pending = Pending(send)
            self._pending.append(pending)
            finished = False
            try:
                await self._deliver(pending)
                async with contextlib.aclosing(self._answer()) as answer:
                    async for event in answer:
                        yield event
                finished = True
            finally:
                if not finished:  # abandoned or failed: what is still coming is no one's
                    self._abandon(pending)
            if self._going_away:
                await self._reconnect()

    async def _answer(self) -> AsyncGenerator[LiveEvent]:
        """The current turn's events, across reconnections, until it ends."""
        delivered = 0  # characters of this turn's text the caller already has
        seen = 0  # characters of text received on the current connection
        while True:
            event = await self._next_event()
            if isinstance(event, Closed):
                await self._reconnect(cause=event)
                seen = 0
                continue
            if isinstance(event, LiveTurnComplete):
                self._strikes = 0  # the connection works
            if self._swallow:  # the answer to a resent, already answered turn
                if isinstance(event, LiveTurnComplete):
                    self._swallow -= 1
                continue
            if isinstance(event, LiveText):
                start, seen = seen, seen + len(event.text)
                if seen <= delivered:
                    continue
                event = LiveText(event.text[max(delivered - start, 0) :])
                delivered = seen
            yield event
            if isinstance(event, LiveTurnComplete):
                return

    async def _next_event(self) -> LiveEvent | Closed:
        """The next event, or a ``Closed`` when the server stays silent too long."""
        try:
            async with asyncio.timeout(self._idle):
                return await self._events.get()
        except TimeoutError:
            return Closed(None, f"no answer for {self._idle:g} s")

    def _abandon(self, pending: Pending) -> None:
        """Forget a turn nobody will read: the next turn starts on a fresh connection."""
        if not pending.answered and pending in self._pending:
            self._pending.remove(pending)
        self._dirty = True

    # -- connection ----------------------------------------------------------------------

    async def _ready(self) -> None:
        if self.closed:
            raise GemgateError("this Live session is closed")
        if self._session is None or self._going_away or self._dirty:
            await self._reconnect(first=self._key is None)

    async def _deliver(self, pending: Pending) -> None:
        assert self._session is not None
        try:
            await pending.send(self._session)
        except (genai_errors.APIError, OSError, ws_closed()) as exc:
            logger.info("live send failed (%s); reconnecting", type(exc).__name__)
            await self._reconnect(cause=await self._why_closed(exc))  # resends ``pending``

    async def _why_closed(self, exc: Exception) -> Closed:
        """The close behind a failed send: its code, from the reader if need be."""
        received = getattr(exc, "rcvd", None)
        if received is not None:
            return Closed(received.code, received.reason)
        if isinstance(exc, genai_errors.APIError):
            return Closed(exc.code, exc.message or "")
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(1.0):  # the reader sees the close frame too
                while not isinstance(event := await self._events.get(), Closed):
                    pass
                return event
        return Closed(None, f"{type(exc).__name__}: {exc}")

    async def _reconnect(self, *, first: bool = False, cause: Closed | None = None) -> None:
        """(Re)open the connection with the newest handle and resend what it lacks.

        Every reconnection in the middle of a turn is a strike; strikes reset when a turn
        completes. A refusal (1007/1008) the server did not announce with ``goAway`` ends
        the session at once, and so do more than ``max_reconnects`` strikes in a row.
        """
        if self.closed:
            raise GemgateError("this Live session is closed")
        announced = self._going_away
        await self._disconnect()
        failure: Closed | None = cause
        if cause is not None:
            if cause.code in REFUSED and not announced:
                await self._lose()
                raise LiveSessionLost(
                    f"the server closed the Live session: {cause.code} {cause.reason}",
                    cause.code,
                    cause.reason,
                )
            self._strikes += 1
        for attempt in range(self._strikes, self._max_reconnects + 1):
            if attempt > 1:
                await self._engine.sleep(min(0.1 * 2 ** (attempt - 1), 5.0))
            try:
                await self._open(first=first)
            except Refused as exc:
                await self._lose()
                raise LiveSessionLost(
                    f"the server refused the Live session: {exc.code} {exc.reason}",
                    exc.code,
                    exc.reason,
                ) from None
            except Exception as exc:  # a broken upgrade or setup shows up as many types
                failure = Closed(getattr(exc, "code", None), f"{type(exc).__name__}: {exc}")
                continue
            if not first:
                self.reconnects += 1
            try:
                await self._resend()
            except (genai_errors.APIError, OSError, ws_closed()) as exc:
                failure = Closed(None, str(exc))
                await self._disconnect()
                continue
            return
        code = failure.code if failure else None
        await self._lose()
        raise LiveSessionLost(
            f"the Live connection could not be restored after {self._max_reconnects} attempts",
            code,
            failure.reason if failure else "",
        )

    async def _open(self, *, first: bool) -> None:
        target = await self._targets.get()
        if self._key is None:
            project, self._key = await self._engine.upstream.admit(self.model)
            self._project = project.name
        if self._sdk is None:  # one per session: the key and the target stay the same
            self._sdk = _sdk_client(self._key, target, self._engine.version)
        sdk = self._sdk
        config = self._config.model_copy(
            update={"session_resumption": types.SessionResumptionConfig(handle=self.handle)}
        )
        stack = contextlib.AsyncExitStack()
        try:
            session = await stack.enter_async_context(
                sdk.aio.live.connect(model=self.model, config=config)
            )
        except genai_errors.APIError as exc:
            await stack.aclose()
            if exc.code in REFUSED:
                raise Refused(exc.code, exc.message or str(exc.details or "")) from None
            raise
        except BaseException as exc:
            await stack.aclose()
            if isinstance(exc, Exception) and is_handshake_refusal(exc):
                raise Refused(1008, str(exc)) from None
            raise
        self._events = asyncio.Queue()
        self._stack, self._session, self._going_away = stack, session, False
        self._dirty = False
        self._interrupted = False
        self._replayed.clear()
        self._reader = asyncio.create_task(self._read(session, self._events))

    async def _resend(self) -> None:
        """Send the messages the resumed state lacks, in order."""
        assert self._session is not None
        self._swallow = sum(1 for p in self._pending if p.answered and p.expects_reply)
        for pending in self._pending:
            await pending.send(self._session)

    async def _disconnect(self) -> None:
        reader, stack = self._reader, self._stack
        self._reader = self._stack = self._session = None
        for task in self._tool_tasks.values():
            task.cancel()
        self._tool_tasks.clear()
        if reader is not None:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await reader
            self._events.put_nowait(Closed(None, "the connection was closed"))  # wake a turn
        if stack is not None:
            with contextlib.suppress(Exception):
                await stack.aclose()

    async def _lose(self) -> None:
        """The conversation is gone (or closed): this session is closed for good."""
        self.closed = True
        self._pending.clear()
        if self._sdk is not None:
            await self._sdk.aio.aclose()
            self._sdk.close()
            self._sdk = None
        if self._own_targets:
            await self._targets.aclose()

    async def settle(self, wait: float = 2.0) -> str | None:
        """Wait (up to ``wait`` seconds) until ``handle`` includes every answered turn.

        The server sends the handle for a turn just after the turn ends, so a handle read
        at once may be one turn behind.
        """
        if self._session is not None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    await self._covered.wait()
        return self.handle

    async def aclose(self) -> None:
        """Close the connection (after :meth:`settle`); the session cannot be used again."""
        if self.closed:
            return
        await self.settle()
        self.closed = True  # before the disconnect wakes a waiting turn: it must not reconnect
        await self._disconnect()
        await self._lose()

    # -- reading -------------------------------------------------------------------------

    async def _read(self, session: AsyncSession, events: asyncio.Queue[LiveEvent | Closed]) -> None:
        """Pump one connection's messages into ``events``; end with a ``Closed``."""
        try:
            while True:
                async for message in session.receive():
                    self._handle(session, message, events)
                    if message.usage_metadata is not None:  # the turn's tokens, as used
                        tokens = message.usage_metadata.prompt_token_count or 0
                        await self._engine.upstream.spend(self._project, self.model, tokens)
        except genai_errors.APIError as exc:
            events.put_nowait(Closed(exc.code, exc.message or str(exc.details or "")))
        except Exception as exc:  # a broken socket shows up as many types
            events.put_nowait(Closed(None, f"{type(exc).__name__}: {exc}"))

    def _handle(
        self,
        session: AsyncSession,
        message: types.LiveServerMessage,
        events: asyncio.Queue[LiveEvent | Closed],
    ) -> None:
        update = message.session_resumption_update
        if update is not None and update.resumable and update.new_handle:
            self.handle = update.new_handle
            self._pending = [p for p in self._pending if not p.answered]
            if not self._pending:  # every call so far is in the handle's state
                self._ran.clear()
            self._covered.set()
        if message.go_away is not None:
            self._going_away = True
        if message.tool_call is not None:
            self._tool_call(session, message.tool_call, events)
        if message.tool_call_cancellation is not None:
            for call_id in message.tool_call_cancellation.ids or []:
                task = self._tool_tasks.pop(call_id, None)
                if task is not None:
                    task.cancel()
        if message.server_content is not None:
            self._on_content(message.server_content, message.usage_metadata, events)

    def _tool_call(
        self,
        session: AsyncSession,
        tool_call: types.LiveServerToolCall,
        events: asyncio.Queue[LiveEvent | Closed],
    ) -> None:
        calls = [
            {"id": c.id, "name": c.name, "args": dict(c.args or {})}
            for c in tool_call.function_calls or []
        ]
        events.put_nowait(LiveToolCalls(calls))
        for call in calls:
            self._tool_tasks[str(call["id"])] = asyncio.create_task(
                self._answer_tool(session, call)
            )

    def _on_content(
        self,
        content: types.LiveServerContent,
        usage: types.UsageMetadata | None,
        events: asyncio.Queue[LiveEvent | Closed],
    ) -> None:
        parts = content.model_turn.parts if content.model_turn else None
        for part in parts or []:
            if part.text and not part.thought:
                events.put_nowait(LiveText(part.text))
        if content.input_transcription is not None and content.input_transcription.text:
            events.put_nowait(LiveTranscription(content.input_transcription.text, "input"))
        if content.output_transcription is not None and content.output_transcription.text:
            events.put_nowait(LiveTranscription(content.output_transcription.text, "output"))
        if content.turn_complete and self._interrupted:  # the interrupted turn's own end
            self._interrupted = False
            return
        if content.interrupted or content.turn_complete:
            self._interrupted = bool(content.interrupted and not content.turn_complete)
            self._mark_answered()
            events.put_nowait(
                LiveTurnComplete(
                    usage.model_dump(mode="json", exclude_none=True) if usage else None,
                    interrupted=bool(content.interrupted),
                )
            )

    def _mark_answered(self) -> None:
        """The oldest unanswered turn (and the messages before it) is answered now."""
        self._covered.clear()
        for pending in self._pending:
            if not pending.answered:
                pending.answered = True
                if pending.expects_reply:
                    return

    async def _answer_tool(self, session: AsyncSession, call: dict[str, Any]) -> None:
        name = str(call["name"])
        tool = self._tools.get(name)
        key = json.dumps([name, call["args"]], sort_keys=True, default=str)
        done, seen = self._ran.setdefault(key, []), self._replayed[key]
        self._replayed[key] += 1
        if seen < len(done):  # a resent turn asks again: it already ran, send its result
            result: dict[str, Any] = done[seen]
        elif tool is None:
            result = {"error": f"no tool named {name!r} is available"}
        else:
            data = FunctionCallData(name=name, args=call["args"], id=call["id"])
            result = await run_tool(FunctionCall(tool=tool, function_call=data))
            done.append(result)
        with contextlib.suppress(genai_errors.APIError, OSError, ws_closed()):
            await session.send_tool_response(
                function_responses=[
                    types.FunctionResponse(id=call["id"], name=name, response=result)
                ]
            )
        self._tool_tasks.pop(str(call["id"]), None)


def _sdk_client(key: str, target: LiveTarget, version: str) -> genai.Client:
    """The official client a session connects with: its key, the target, and its trust."""
    options: dict[str, Any] = {"base_url": target.base_url, "api_version": version}
    if target.ssl is not None:
        options["async_client_args"] = {"ssl": target.ssl}
    return genai.Client(api_key=key, http_options=types.HttpOptions(**options))
