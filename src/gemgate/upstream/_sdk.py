"""Wiring the official SDK onto the pipeline.

``google.genai.Client`` accepts an injected ``httpx2.AsyncClient``; gemgate gives it one
whose transport hands every request to :class:`~gemgate.upstream._engine.Engine`. The
gateway's native route relays through the same :func:`build_call` and :func:`relay`. The SDK's
calls then get gemgate's keys, quotas, retries, affinity and tracking, while the SDK
keeps parsing and raising its own errors from the final upstream answer.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

import httpx2

from gemgate.errors import APIStatusError
from gemgate.upstream._calls import estimate_tokens, model_method, referenced_resources
from gemgate.upstream._exchange import Exchange
from gemgate.upstream._pipeline import Call, Sent
from gemgate.wire.errors import error_body
from gemgate.wire.sse import SSEDecoder

if TYPE_CHECKING:
    from gemgate.upstream._engine import Engine

__all__ = [
    "BlockingPipelineTransport",
    "PipelineTransport",
    "Relayed",
    "build_call",
    "portal_request",
    "portal_response",
    "relay",
]

_KINDS = {
    "generateContent": "generate",
    "streamGenerateContent": "stream",
    "embedContent": "embed",
    "batchEmbedContents": "embed",
    "countTokens": "other",
}
_DROP = {
    "x-goog-api-key",
    "x-gemgate-timeout",
    "host",
    "content-length",
    "connection",
    "transfer-encoding",
}
_HOP = {
    "content-encoding",
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "date",
    "server",
}
"""Headers of the upstream answer that are not passed on: hop-by-hop, or set by our server."""


async def build_call(
    engine: Engine,
    method: str,
    raw: str,
    headers: Iterable[tuple[str, str]],
    body: bytes,
) -> Call:
    """The pipeline call for one native Gemini REST request (``raw``: path and query)."""
    query = raw.partition("?")[2]
    upload_id = parse_qs(query).get("upload_id", [None])[0] if "upload_id=" in query else None
    model, action = model_method(raw)
    kind = _KINDS.get(action or "", "upload" if raw.startswith("/upload/") else "other")
    owner = await engine.owners.get(upload_id) if upload_id else None
    resources = referenced_resources(raw, body)
    kept = {k: v for k, v in headers if k.lower() not in _DROP}
    quota_model = model if kind in ("generate", "stream", "embed") else None
    return Call(
        method=method,
        path=raw,
        body=body or None,
        headers=kept,
        model=quota_model,
        kind=kind,
        tokens=estimate_tokens(body) if quota_model else 0,
        project=owner,
        resources=resources,
    )


@dataclass
class Relayed:
    """An upstream answer to pass on: a rebuilt error body, or a live stream of chunks."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes | None = None
    stream: _Recorded | None = None


async def relay(engine: Engine, call: Call) -> Relayed:
    """Send ``call`` through the pipeline; errors after retries come back in Google's shape."""
    exchange = engine.exchange(call)
    try:
        sent = await exchange.send()
    except APIStatusError as exc:
        payload = error_body(exc.status_code, exc.message, status=exc.status, details=exc.details)
        body = json.dumps(payload, separators=(",", ":")).encode()
        return Relayed(exc.status_code, [("content-type", "application/json")], body=body)
    await _remember_upload(engine, sent)
    headers = [(k, v) for k, v in sent.reply.headers.items() if k.lower() not in _HOP]
    return Relayed(
        sent.reply.status, headers, stream=_Recorded(exchange, sent, call.kind == "stream")
    )


async def _remember_upload(engine: Engine, sent: Sent) -> None:
    upload_url = sent.reply.headers.get("x-goog-upload-url")
    if upload_url:
        upload_id = httpx2.URL(upload_url).params.get("upload_id")
        if upload_id:
            await engine.owners.set(upload_id, sent.project)


class PipelineTransport(httpx2.AsyncBaseTransport):
    """An httpx2 transport that sends through gemgate's pipeline."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        """Send one SDK request through the pipeline."""
        body = await request.aread()
        raw = request.url.raw_path.decode()
        call = await build_call(self._engine, request.method, raw, request.headers.items(), body)
        relayed = await relay(self._engine, call)
        if relayed.stream is None:
            return httpx2.Response(
                relayed.status, headers=relayed.headers, content=relayed.body, request=request
            )
        return httpx2.Response(
            relayed.status, headers=relayed.headers, stream=relayed.stream, request=request
        )


class _Recorded(httpx2.AsyncByteStream):
    """Relays the body and, at its end, records usage, ownership and the outcome."""

    def __init__(self, exchange: Exchange, sent: Sent, streaming: bool) -> None:
        self._exchange = exchange
        self._sent = sent  # the exchange's reply, known to be there
        self._streaming = streaming

    @property
    def streaming(self) -> bool:
        """Whether the body is an event stream (relay it as it comes)."""
        return self._streaming

    async def __aiter__(self) -> AsyncIterator[bytes]:
        decoder = SSEDecoder() if self._streaming else None
        kept: list[bytes] = []
        usage: Any = None
        try:
            async for chunk in self._sent.reply.chunks:
                if decoder is not None:
                    for event in decoder.feed(chunk):
                        usage = _usage(event.data) or usage
                else:
                    kept.append(chunk)
                yield chunk
        except BaseException as exc:
            self._exchange.fail(exc)
            raise
        if decoder is None:
            usage = await self._inspect(b"".join(kept))
        await self._exchange.finish(usage)

    async def _inspect(self, body: bytes) -> Any:
        if b'"name"' not in body:  # no resource was created: only usage matters
            return _usage_only(body)
        try:
            value = json.loads(body) if body else None
        except ValueError:
            return None
        if not isinstance(value, dict):
            return None
        resource = value.get("file", value) if isinstance(value.get("file", value), dict) else value
        name = resource.get("name") if isinstance(resource, dict) else None
        if isinstance(name, str) and name.startswith(("cachedContents/", "files/")):
            await self._exchange.engine.owners.set(name, self._sent.project)
        elif isinstance(name, str) and name.startswith("fileSearchStores/"):
            store = "/".join(name.split("/", 2)[:2])  # also from an upload's operation name
            await self._exchange.engine.owners.set(store, self._sent.project)
        return value.get("usageMetadata")

    async def aclose(self) -> None:
        """Release the upstream connection."""
        await self._sent.reply.aclose()


_DECODER = json.JSONDecoder()


def _usage_only(body: bytes) -> Any:
    """``usageMetadata`` of a response, decoding only that object (it comes last)."""
    at = body.rfind(b'"usageMetadata"')
    if at < 0:
        return None
    start = body.find(b"{", at)
    try:
        value, _ = _DECODER.raw_decode(body[start:].decode("utf-8", "replace"))
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _usage(data: str) -> Any:
    if '"usageMetadata"' not in data:
        return None
    try:
        return json.loads(data).get("usageMetadata")
    except (ValueError, AttributeError):
        return None


def portal_request(request: httpx2.Request, body: bytes) -> httpx2.Request:
    """A copy of ``request`` with its body read, to hand to another event loop's pipeline."""
    return httpx2.Request(request.method, request.url, headers=request.headers, content=body)


def portal_response(
    response: httpx2.Response,
    request: httpx2.Request,
    stream: httpx2.SyncByteStream | httpx2.AsyncByteStream,
) -> httpx2.Response:
    """``response`` for ``request``: whole when the pipeline read it (an error), else ``stream``."""
    if response.is_stream_consumed:
        return httpx2.Response(
            response.status_code,
            headers=response.headers,
            content=response.content,
            request=request,
        )
    return httpx2.Response(
        response.status_code, headers=response.headers, stream=stream, request=request
    )


class BlockingPipelineTransport(httpx2.BaseTransport):
    """The sync SDK's transport: runs :class:`PipelineTransport` on the portal's loop."""

    def __init__(self, engine: Engine, portal: Any) -> None:
        self._async = PipelineTransport(engine)
        self._portal = portal

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        """Send through the pipeline and relay the body chunk by chunk."""
        clone = portal_request(request, request.read())
        response: httpx2.Response = self._portal.call(self._async.handle_async_request, clone)
        return portal_response(response, request, _BlockingStream(response, self._portal))


class _BlockingStream(httpx2.SyncByteStream):
    def __init__(self, response: httpx2.Response, portal: Any) -> None:
        self._response = response
        self._portal = portal

    def __iter__(self) -> Any:
        chunks = self._response.aiter_raw()
        while True:
            try:
                yield self._portal.call(chunks.__anext__)
            except StopAsyncIteration:
                return

    def close(self) -> None:
        self._portal.call(self._response.aclose)
