"""``/api/v1/models/status`` and ``/api/v1/models/load``: the active ``/v1`` backend.

A backend that cannot be configured is answered ``{"detail": why}`` with its
`BackendError` status (400 or 503), by the gateway; the previous backend stays active.
"""

from __future__ import annotations

from typing import Any

from starlette.types import Receive, Scope, Send

from gemgate.gateway._asgi import read_json, send_json
from gemgate.gateway._backends import Registry
from gemgate.gateway._faces import Problem

__all__ = ["BackendsRoute"]


class BackendsRoute:
    """Reports and switches the registry's active backend."""

    def __init__(self, registry: Registry) -> None:
        self._registry = registry

    async def status(self, scope: Scope, receive: Receive, send: Send) -> None:
        """``GET /api/v1/models/status``."""
        await send_json(send, 200, self._registry.status())

    async def load(self, scope: Scope, receive: Receive, send: Send) -> None:
        """``POST /api/v1/models/load`` with ``{"backend_type", "model_name_or_path"?, …}``.

        It changes ``/v1`` for every caller (and can aim it at any ``base_url``), so with
        gateway keys only an ``admin`` key may.
        """
        key = scope.get("gemgate.key")
        if key is not None and not key.admin:
            raise Problem(403, f"gateway key {key.name!r} may not switch the backend (not admin)")
        body = await read_json(receive, 65536)
        kind = body.get("backend_type")
        model = body.get("model_name_or_path")
        if not isinstance(kind, str) or not isinstance(model, str | None):
            raise Problem(400, 'expected {"backend_type": ..., "model_name_or_path": ...}')
        options: dict[str, Any] = {k: body[k] for k in ("base_url", "api_key") if k in body}
        await send_json(send, 200, await self._registry.load(kind, model, options))
