"""The Live WebSocket route: ``/ws/google.ai.generativelanguage.{version}.GenerativeService.…``.

``BidiGenerateContent`` serves every API version the emulator knows;
``BidiGenerateContentConstrained`` (ephemeral tokens) only ``v1alpha``. Any other path is
refused at the upgrade with Google's 404 body. Once upgraded, the first client frame must
be ``setup``; the caller is authenticated when it arrives (so a refusal always reaches the
client as a close frame rather than racing its first send). A setup that resumes a session
(``sessionResumption.handle``) restores its conversation; an unknown or expired handle
closes with 1008 "BidiGenerateContent session not found", as the service does. Each
accepted setup counts as one request against the project's per-model RPM/RPD (and its
prompt tokens against TPM), quota family ``BidiGenerateContent``; a refusal closes with
1011 and a ``RESOURCE_EXHAUSTED`` reason naming the quota and the retry delay.
"""

from __future__ import annotations

import contextlib
import logging
import re
from typing import Any

import anyio
from starlette.websockets import WebSocket, WebSocketDisconnect

from gemgate.emulator._errors import ApiError
from gemgate.emulator._faults import LIVE_METHOD
from gemgate.emulator._http import TRANSPORT_KEY, error_response
from gemgate.emulator._state import VERSIONS, EmulatorState
from gemgate.emulator._tokens import count_request
from gemgate.emulator.live._auth import authenticate
from gemgate.emulator.live._connection import Closing, LiveConnection
from gemgate.emulator.live._conversation import Conversation
from gemgate.emulator.live._setup import LiveConfig, read_setup
from gemgate.emulator.live._tokens import AuthToken, TokenRefused, constrain
from gemgate.emulator.live._wire import INTERNAL, INVALID, POLICY, LiveClose, parse_message
from gemgate.wire.durations import format_duration

__all__ = ["live_endpoint"]

logger = logging.getLogger("gemgate.emulator")
_RPC = re.compile(
    r"google\.ai\.generativelanguage\.(?P<version>\w+)\.GenerativeService\."
    r"(?P<method>BidiGenerateContent(?:Constrained)?)"
)
_QUOTA = (
    "You exceeded your current quota, please check your plan and billing details. For more "
    "information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits."
)


async def _first_frame(websocket: WebSocket) -> str | bytes | None:
    message = await websocket.receive()
    if message["type"] == "websocket.disconnect":
        return None
    text = message.get("text")
    data: str | bytes = text if text is not None else message.get("bytes", b"")
    return data


def _open(
    state: EmulatorState,
    project: str,
    setup: dict[str, Any],
    version: str,
    token: AuthToken | None,
) -> tuple[LiveConfig, Conversation]:
    """The session a setup opens: its configuration and (restored) conversation."""
    resumption = setup.get("sessionResumption")
    handle = resumption.get("handle") if isinstance(resumption, dict) else None
    config = read_setup(state, constrain(setup, token) if token else dict(setup), version)
    conversation = Conversation()
    if handle:
        snapshot = state.live_sessions.restore(str(handle), project)
        if snapshot is None:
            raise LiveClose(POLICY, "BidiGenerateContent session not found")
        if snapshot.model != config.model.name:
            raise LiveClose(
                INVALID, f"A resumed session keeps its model (models/{snapshot.model})."
            )
        conversation = Conversation.restore(snapshot)
    if token is not None:
        try:
            state.auth_tokens.open(token, resuming=bool(handle))
        except TokenRefused as exc:
            raise LiveClose(POLICY, str(exc)) from None
    return config, conversation


def _admit(
    state: EmulatorState, project: str, config: LiveConfig, conversation: Conversation
) -> None:
    model = config.model
    tokens = count_request(config.request(conversation.history))
    limits = state.limits(project, model)
    refusal = state.quota.admit(project, model.name, limits, tokens, family=LIVE_METHOD)
    if refusal is not None:
        wait = format_duration(round(max(refusal.retry_after, 0.0), 3))
        quota = refusal.violation.quota_id
        raise LiveClose(INTERNAL, f"RESOURCE_EXHAUSTED: {quota}, retry in {wait}. {_QUOTA}")


async def _session(
    state: EmulatorState, websocket: WebSocket, version: str, constrained: bool
) -> Closing:
    first = await _first_frame(websocket)
    if first is None:
        return Closing(None)
    project, token = authenticate(state, websocket, constrained=constrained)
    kind, setup = parse_message(first)
    if kind != "setup":
        raise LiveClose(INVALID, "The first message of a Live session must be setup.")
    config, conversation = _open(state, project, setup, version, token)
    _admit(state, project, config, conversation)
    fault = state.faults.pick(LIVE_METHOD, config.model.name, project)
    if fault is not None and fault.kind == "delay":
        state.quota.record_fault(project, before_admission=False)
        await anyio.sleep(fault.delay_ms / 1000)
        fault = None
    connection = LiveConnection(
        websocket, state, project, config, conversation, token=token, fault=fault
    )
    return await connection.run()


async def _close(websocket: WebSocket, closing: Closing) -> None:
    if closing.drop:
        transport = websocket.scope.get(TRANSPORT_KEY)
        if transport is not None:
            transport.abort()
        return  # without a transport, returning without a close frame drops it too
    if closing.code is None:
        return
    with contextlib.suppress(OSError, RuntimeError, WebSocketDisconnect):
        await websocket.close(closing.code, closing.reason)


async def live_endpoint(state: EmulatorState, websocket: WebSocket) -> None:
    """Serve one Live connection."""
    match = _RPC.fullmatch(websocket.path_params.get("rpc", ""))
    version = match["version"] if match else ""
    constrained = match is not None and match["method"].endswith("Constrained")
    if match is None or version not in VERSIONS or (constrained and version != "v1alpha"):
        error = ApiError(404, f"Method not found: {websocket.url.path}.")
        if "websocket.http.response" in websocket.scope.get("extensions", {}):
            await websocket.send_denial_response(error_response(error))
        else:
            await websocket.close(POLICY, error.message)
        return
    await websocket.accept()
    try:
        closing = await _session(state, websocket, version, constrained)
    except LiveClose as exc:
        closing = Closing(exc.code, exc.reason)
    except ApiError as exc:
        refused = LiveClose.from_api_error(exc)
        closing = Closing(refused.code, refused.reason)
    except Exception:
        logger.exception("emulator bug while serving a Live connection")
        closing = Closing(INTERNAL, "Internal error encountered.")
    await _close(websocket, closing)
