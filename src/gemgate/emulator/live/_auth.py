"""Who opens a Live connection: an API key, or an ephemeral token on the constrained method.

``BidiGenerateContent`` takes a key like REST does (``x-goog-api-key`` header or ``?key=``):
a missing key closes with 1008 and Google's "unregistered callers" text, an unknown one
(or an ephemeral token passed as a key) with 1007 "API key not valid". The v1alpha
``BidiGenerateContentConstrained`` method takes an ephemeral token instead
(``?access_token=auth_tokens/...`` or ``Authorization: Token auth_tokens/...``); a missing,
unknown or expired token closes with 1008 and a reason saying which.
"""

from __future__ import annotations

from starlette.websockets import WebSocket

from gemgate.emulator._errors import ApiError
from gemgate.emulator._state import EmulatorState
from gemgate.emulator.live._tokens import AuthToken, TokenRefused
from gemgate.emulator.live._wire import POLICY, LiveClose

__all__ = ["authenticate"]

_TOKEN_NEEDED = (
    "BidiGenerateContentConstrained needs an ephemeral token "
    "(?access_token= or Authorization: Token auth_tokens/...)."
)


def _token_header(websocket: WebSocket) -> str:
    scheme, _, value = websocket.headers.get("authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "token" else ""


def authenticate(
    state: EmulatorState, websocket: WebSocket, *, constrained: bool
) -> tuple[str, AuthToken | None]:
    """The caller's project, and the ephemeral token it used if any."""
    if constrained:
        name = websocket.query_params.get("access_token") or _token_header(websocket)
        if not name:
            raise LiveClose(POLICY, _TOKEN_NEEDED)
        try:
            token = state.auth_tokens.lookup(name)
        except TokenRefused as exc:
            raise LiveClose(POLICY, str(exc)) from None
        return token.project, token
    try:
        return state.authenticate(websocket), None
    except ApiError as exc:
        raise LiveClose.from_api_error(exc) from None
