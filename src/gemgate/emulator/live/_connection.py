"""One Live connection after its setup: the turn-taking state machine and its timers.

Three tasks share the connection: a reader that parses client frames into an inbox, a
watcher that sends ``goAway`` ``live_goaway_seconds`` before the connection's lifetime
ends and then closes it (1008 "The operation was aborted.", the service's ABORTED), and
the session loop that answers.

A reply streams as several ``modelTurn`` chunks, then ``generationComplete`` and
``turnComplete`` with ``usageMetadata``. Between chunks the loop pauses
(``live_chunk_seconds``) and looks at the inbox: new user input (``clientContent``;
realtime text, speech or ``activityStart`` unless ``activityHandling`` is
``NO_INTERRUPTION``) stops the reply with ``interrupted`` then ``turnComplete``, keeping only
what was sent; other messages wait until the turn is over. A reply that calls functions
sends ``toolCall`` and the turn goes on when every call has its ``toolResponse``; user
input meanwhile cancels the calls (``toolCallCancellation``). With ``sessionResumption`` in
the setup, a turn's start sends ``resumable: false`` and its end a new handle.
"""

from __future__ import annotations

import logging
import math
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

import anyio
import anyio.lowlevel
from starlette.websockets import WebSocket, WebSocketDisconnect

from gemgate.emulator._errors import ApiError
from gemgate.emulator._faults import FaultRule
from gemgate.emulator._normalize import snake
from gemgate.emulator._state import EmulatorState
from gemgate.emulator._tokens import count_part, count_text
from gemgate.emulator._validate import check_contents
from gemgate.emulator.live import _wire as wire
from gemgate.emulator.live._audio import transcript
from gemgate.emulator.live._conversation import Conversation
from gemgate.emulator.live._setup import LiveConfig, check_config
from gemgate.emulator.live._tokens import AuthToken
from gemgate.emulator.live._turns import Plan, Usage, plan_reply
from gemgate.emulator.live._wire import INTERNAL, INVALID, POLICY, LiveClose

__all__ = ["Closing", "LiveConnection"]

logger = logging.getLogger("gemgate.emulator")
_DEADLINE = "Deadline expired before operation could complete."
_ABORTED = "The operation was aborted."
"""How the service ends a connection at its lifetime (ABORTED, after ``goAway``)."""
_POLL = 0.05
"""How often an injected (possibly jumping) clock is read while waiting for a deadline."""
_BROKEN = b'{"serverContent": {"modelTurn": {"parts": [{"text": "'
_FAULT_MESSAGES = {
    429: "Resource has been exhausted (e.g. check quota).",
    500: "Internal error encountered.",
    503: "The service is currently unavailable.",
    504: _DEADLINE,
}


@dataclass(frozen=True)
class Closing:
    """How a connection ends: a close code and reason, a drop, or the client leaving."""

    code: int | None
    reason: str = ""
    drop: bool = False


@dataclass(frozen=True)
class _Inbound:
    index: int
    kind: str
    value: dict[str, Any]


class LiveConnection:
    """Serve one Live connection whose setup was accepted.

    Example::

        closing = await LiveConnection(websocket, state, project, config, conversation).run()
    """

    def __init__(
        self,
        websocket: WebSocket,
        state: EmulatorState,
        project: str,
        config: LiveConfig,
        conversation: Conversation,
        *,
        token: AuthToken | None = None,
        fault: FaultRule | None = None,
    ) -> None:
        self._ws = websocket
        self._state = state
        self._project = project
        self._config = config
        self._conversation = conversation
        self._token = token
        self._fault = fault
        self._outbox, self._inbox = anyio.create_memory_object_stream[_Inbound](math.inf)
        self._deferred: deque[_Inbound] = deque()
        self._lock = anyio.Lock()
        self._sent = 0
        self._received = 0
        self._consumed = 0
        self._queued = False
        self._usage = Usage(modality=config.modality)
        self._closing: Closing | None = None
        self._scope: anyio.CancelScope | None = None
        self._tasks: anyio.abc.TaskGroup | None = None
        self._started = state.clock()

    async def run(self) -> Closing:
        """Send ``setupComplete`` and serve until the connection ends; say how it ended."""
        try:
            async with anyio.create_task_group() as tasks:
                self._tasks = tasks
                self._scope = tasks.cancel_scope
                tasks.start_soon(self._read)
                tasks.start_soon(self._watch_lifetime)
                if self._token is not None:
                    tasks.start_soon(self._watch_token, self._token)
                await self._write(wire.encode(wire.setup_complete()))
                await self._check_fault()
                await self._serve()
        finally:
            self._outbox.close()
            self._inbox.close()
        return self._closing or Closing(None)

    # -- plumbing ---------------------------------------------------------------------------

    def _finish(self, closing: Closing) -> None:
        if self._closing is None:
            self._closing = closing
        if self._scope is not None:
            self._scope.cancel()

    async def _write(self, data: bytes) -> None:
        async with self._lock:
            try:
                await self._ws.send_bytes(data)
            except (OSError, RuntimeError, WebSocketDisconnect):
                self._finish(Closing(None))
        await anyio.lowlevel.checkpoint()

    async def _send(self, message: dict[str, Any]) -> None:
        await self._write(wire.encode(message))
        self._sent += 1
        await self._check_fault()

    async def _check_fault(self) -> None:
        """Fire the connection's fault rule once ``after_messages`` messages have gone out."""
        rule = self._fault
        if rule is None or self._sent < rule.after_messages:
            return
        self._fault = None
        self._state.quota.record_fault(self._project, before_admission=False)
        if rule.kind == "status":
            message = rule.message or _FAULT_MESSAGES.get(rule.status, "Injected fault.")
            self._finish(_closing(LiveClose(wire.close_code(rule.status), message)))
        elif rule.kind == "drop":
            self._finish(Closing(None, drop=True))
        elif rule.kind == "malformed":
            await self._write(_BROKEN)
            self._finish(Closing(INTERNAL, "Internal error encountered."))
        elif rule.kind == "goaway":
            await self._write(wire.encode(wire.go_away(rule.delay_ms / 1000)))
            assert self._tasks is not None
            self._tasks.start_soon(self._close_after, rule.delay_ms / 1000)
        await anyio.lowlevel.checkpoint()

    async def _until(self, deadline: float) -> None:
        clock = self._state.clock
        left = deadline - clock()
        while left > 0:
            # An injected clock may jump ahead (tests move it by hand): read it often.
            await anyio.sleep(left if clock is time.time else min(left, _POLL))
            left = deadline - clock()

    async def _close_after(self, seconds: float) -> None:
        await self._until(self._state.clock() + seconds)
        self._finish(Closing(POLICY, _ABORTED))

    async def _watch_lifetime(self) -> None:
        settings = self._state.config.emulator
        end = self._started + settings.live_connection_seconds
        await self._until(end - settings.live_goaway_seconds)
        await self._send(wire.go_away(end - self._state.clock()))
        await self._until(end)
        self._finish(Closing(POLICY, _ABORTED))

    async def _watch_token(self, token: AuthToken) -> None:
        await self._until(token.expire_time)
        self._finish(Closing(POLICY, "The ephemeral token has expired."))

    async def _read(self) -> None:
        while True:
            message = await self._ws.receive()
            if message["type"] == "websocket.disconnect":
                self._finish(Closing(None))
                return
            raw = message.get("text")
            self._received += 1
            try:
                kind, value = wire.parse_message(
                    raw if raw is not None else message.get("bytes", b"")
                )
            except LiveClose as exc:
                self._finish(_closing(exc))
                return
            self._outbox.send_nowait(_Inbound(self._received, kind, value))

    # -- the session loop -------------------------------------------------------------------

    async def _serve(self) -> None:
        try:
            while True:
                if self._queued:
                    self._queued = False
                    await self._generate()
                    continue
                item = self._deferred.popleft() if self._deferred else await self._inbox.receive()
                await self._handle(item)
        except LiveClose as exc:
            self._finish(_closing(exc))
        except ApiError as exc:
            self._finish(_closing(LiveClose.from_api_error(exc)))

    async def _handle(self, item: _Inbound) -> None:
        self._consumed = item.index
        if item.kind == "clientContent":
            await self._on_content(item.value)
        elif item.kind == "realtimeInput":
            await self._on_realtime(item.value)
        elif item.kind == "toolResponse":
            if self._conversation.answer_calls(item.value.get("functionResponses", [])):
                self._queued = True
        elif item.kind == "contextUpdate":
            self._config.update(item.value)
            check_config(self._config, self._state.signer)
        else:
            raise LiveClose(INVALID, "setup must be the first message, and is sent only once.")

    async def _cancel_calls(self) -> None:
        ids = self._conversation.cancel_calls()
        if ids:
            await self._send(wire.tool_call_cancellation(ids))

    async def _on_content(self, value: dict[str, Any]) -> None:
        turns = value.get("turns", [])
        check_contents(turns, "client_content.turns")
        await self._cancel_calls()
        self._conversation.add_turns(turns)
        if value.get("turnComplete"):
            self._queued = True

    def _require(self, value: dict[str, Any], field: str, automatic: bool) -> None:
        if field in value and self._config.automatic_activity != automatic:
            state = "enabled" if automatic else "disabled"
            raise LiveClose(
                INVALID,
                f"realtime_input.{snake(field)} needs automatic activity detection to be {state}.",
            )

    async def _on_realtime(self, value: dict[str, Any]) -> None:
        self._require(value, "audioStreamEnd", automatic=True)
        self._require(value, "activityStart", automatic=False)
        self._require(value, "activityEnd", automatic=False)
        conversation = self._conversation
        blobs = [
            *value.get("mediaChunks", []),
            *[value[k] for k in ("audio", "video") if k in value],
        ]
        for blob in blobs:
            if blob.get("mimeType", "").startswith("audio/"):
                await self._hear(blob)
            else:
                conversation.buffer_frame(blob)
        if "activityStart" in value:
            await self._cancel_calls()
        text = value.get("text", "")
        if text or value.get("audioStreamEnd") or "activityEnd" in value:
            if text or conversation.buffered:
                await self._cancel_calls()
            if conversation.end_realtime_turn(text):
                self._queued = True

    async def _hear(self, blob: dict[str, Any]) -> None:
        if self._config.automatic_activity and self._config.interrupts:
            await self._cancel_calls()
        self._conversation.buffer_audio(blob)
        if self._config.input_transcription:
            text = transcript(blob.get("data", ""), blob.get("mimeType", ""))
            await self._send(wire.server_content(inputTranscription={"text": text}))

    def _interrupts(self, item: _Inbound) -> bool:
        """Whether ``item`` arriving mid-reply cuts the reply short."""
        if item.kind == "clientContent":
            return True
        if item.kind != "realtimeInput" or not self._config.interrupts:
            return False
        value = item.value
        if "text" in value or "activityStart" in value:
            return True
        blobs = [*value.get("mediaChunks", []), value.get("audio", {})]
        speech = any(b.get("mimeType", "").startswith("audio/") for b in blobs)
        return speech and self._config.automatic_activity

    async def _pause(self) -> _Inbound | None:
        """Wait ``live_chunk_seconds`` for client input; return it if some arrived."""
        try:
            return self._inbox.receive_nowait()
        except anyio.WouldBlock:
            pass
        interval = self._state.config.emulator.live_chunk_seconds
        if interval <= 0:
            return None
        with anyio.move_on_after(interval):
            return await self._inbox.receive()
        return None

    async def _generate(self) -> None:
        conversation = self._conversation
        plan = plan_reply(self._state.responder, self._config, conversation.history)
        self._usage.prompt, self._usage.prompt_details = plan.prompt_tokens, plan.prompt_details
        self._usage.thoughts += plan.thoughts_tokens
        if self._config.resumption:
            await self._send(wire.resumption_update(None, self._consumed))
        said: list[str] = []
        for chunk in plan.chunks:
            await self._send(wire.model_turn(chunk.parts))
            if chunk.transcript is not None:
                text = {"text": chunk.transcript}
                await self._send(wire.server_content(outputTranscription=text))
            said.append(chunk.text)
            incoming = await self._pause()
            if incoming is not None:
                self._deferred.append(incoming)
                if self._interrupts(incoming):
                    await self._end_turn(said, interrupted=True)
                    return
        if plan.calls:
            await self._call(plan, said)
            return
        await self._end_turn(said, interrupted=False)

    async def _call(self, plan: Plan, said: list[str]) -> None:
        text = "".join(said)
        parts: list[dict[str, Any]] = [{"text": text}] if text else []
        parts += [{"functionCall": call} for call in plan.calls]
        self._conversation.add_model(parts)
        self._conversation.pending_calls = list(plan.calls)
        self._usage.response += sum(count_part({"functionCall": call}) for call in plan.calls)
        await self._send(wire.tool_call(plan.calls))

    async def _end_turn(self, said: list[str], *, interrupted: bool) -> None:
        text = "".join(said)
        self._conversation.add_model([{"text": text}] if text else [])
        self._usage.response += count_text(text)
        if interrupted:
            await self._send(wire.server_content(interrupted=True))
        else:
            await self._send(wire.server_content(generationComplete=True))
        await self._send(wire.turn_complete(self._usage.metadata()))
        self._usage = Usage(modality=self._config.modality)
        if self._config.compression is not None:
            self._conversation.compress(*self._config.compression)
        if self._config.resumption:
            snapshot = self._conversation.snapshot(self._project, self._config.model.name)
            handle = self._state.live_sessions.save(snapshot)
            await self._send(wire.resumption_update(handle, self._consumed))


def _closing(exc: LiveClose) -> Closing:
    return Closing(exc.code, exc.reason)
