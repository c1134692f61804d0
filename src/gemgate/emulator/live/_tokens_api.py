"""``POST /v1alpha/auth_tokens``: create an ephemeral token for Live sessions."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from gemgate.emulator._http import json_response, read_json
from gemgate.emulator._normalize import normalize
from gemgate.emulator._state import EmulatorState

__all__ = ["create_auth_token"]


async def create_auth_token(state: EmulatorState, request: Request) -> Response:
    """Create a token for the caller's project; only its ``name`` is returned.

    The other fields (``uses``, ``expireTime``, ``newSessionExpireTime``,
    ``bidiGenerateContentSetup``, ``fieldMask``) are input-only, as in the service.
    """
    project = state.authenticate(request)
    body = normalize(await read_json(request), "AuthToken")
    token = state.auth_tokens.create(project, body)
    return json_response({"name": token.name})
