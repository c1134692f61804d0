"""``/gemini/...``: the native Gemini REST API, relayed through the upstream core.

Requests are handed to the same pipeline the SDK uses (keys, quotas, retries, affinity,
tracking); bodies are relayed as bytes and streams chunk by chunk. Upload URLs returned
by the upstream are rewritten to point back at this gateway.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx2
from starlette.types import Receive, Scope, Send

from gemgate.client.core import Core
from gemgate.gateway.asgi import header, read_body, send_bytes, send_stream
from gemgate.upstream.sdk import PipelineTransport

__all__ = ["NativeRoute"]

PREFIX = "/gemini"
_HOP = {"content-length", "transfer-encoding", "connection", "content-encoding", "keep-alive"}


class NativeRoute:
    """Relays ``/gemini/{version}/...`` and ``/gemini/upload/...`` to the upstream."""

    def __init__(self, core: Core, max_body: int) -> None:
        self._core = core
        self._transport = PipelineTransport(core)
        self._max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one request."""
        body = await read_body(receive, self._max_body)
        path = scope["path"][len(PREFIX) :] or "/"
        query = scope.get("query_string", b"").decode("latin-1")
        url = self._core.driver.base_url + path + (f"?{query}" if query else "")
        headers = [
            (k.decode("latin-1"), v.decode("latin-1"))
            for k, v in scope["headers"]
            if k not in (b"authorization", b"x-goog-api-key")  # gateway credentials stay here
        ]
        request = httpx2.Request(scope["method"], url, headers=headers, content=body)
        response = await self._transport.handle_async_request(request)
        out = [(k, v) for k, v in response.headers.items() if k.lower() not in _HOP]
        out = [
            (k, self._rewrite(scope, v) if k.lower() == "x-goog-upload-url" else v) for k, v in out
        ]
        try:
            content = response.content  # an error the pipeline already read
        except httpx2.ResponseNotRead:
            await send_stream(send, receive, response.status_code, _raw(response), out)
        else:
            await send_bytes(send, response.status_code, content, out)

    def _rewrite(self, scope: Scope, url: str) -> str:
        base = self._core.driver.base_url
        if not url.startswith(base):
            return url
        host = header(scope, b"host") or "127.0.0.1"
        return f"{scope.get('scheme', 'http')}://{host}{PREFIX}{url[len(base) :]}"


async def _raw(response: httpx2.Response) -> AsyncIterator[bytes]:
    try:
        async for chunk in response.aiter_raw():
            yield chunk
    finally:
        await response.aclose()
