"""``/v1/messages``: Anthropic's Messages API over Gemini, for the official clients.

``POST /v1/messages`` answers a message (Anthropic's server-sent events with
``stream``); ``POST /v1/messages/count_tokens`` counts a request's input with Gemini's
``countTokens``. Translation is `gemgate.wire.anthropic`'s; calls go through the same
core as every other route (keys, quotas, retries, tracking).

``model`` is a Gemini model id, or an alias of the ``model_routes`` setting (so
``claude-…`` names can route to Gemini models, the next entry serving when one fails).
Failures are raised, and answered in Anthropic's shape by the gateway
(`gemgate.gateway._faces.ANTHROPIC`): an unknown model is a 404 ``not_found_error``.
"""

from __future__ import annotations

import base64
import json
import logging
import os
from collections.abc import AsyncIterator, Mapping
from typing import Any

from starlette.types import Receive, Scope, Send

from gemgate.client._async_client import AsyncGemini
from gemgate.errors import (
    GemgateError,
    NotFoundError,
    QuotaExhausted,
    RateLimitedError,
    ServerError,
    TransportError,
)
from gemgate.gateway._asgi import read_json, send_json, send_stream
from gemgate.gateway._backends import Registry
from gemgate.gateway._faces import Problem, anthropic_body, problem_of
from gemgate.gateway._fetch import FetchError, fetch_image
from gemgate.upstream._pipeline import Call
from gemgate.wire import anthropic
from gemgate.wire._models import InvalidModel, backend_model, model_id

__all__ = ["MessagesRoute"]

logger = logging.getLogger("gemgate.gateway")

_FALLBACK = (ServerError, RateLimitedError, QuotaExhausted, TransportError)
"""Failures (after the core's own retries) after which the next model of a route serves."""
_SSE_HEADERS = [("content-type", "text/event-stream"), ("cache-control", "no-cache")]


class MessagesRoute:
    """Serves ``/v1/messages`` and ``/v1/messages/count_tokens``."""

    def __init__(self, client: AsyncGemini, max_body: int, registry: Registry) -> None:
        self._default = client
        self._registry = registry
        self._max_body = max_body

    @property
    def _client(self) -> AsyncGemini:
        return self._registry.active.client or self._default

    async def create(self, scope: Scope, receive: Receive, send: Send) -> None:
        """``POST /v1/messages``."""
        body = await self._body(scope, receive)
        await self._inline_images(body)
        request = anthropic.messages_request(body)  # 400s name their field
        chain = self._chain(request.model)
        for position, model in enumerate(chain):
            try:
                await self._answer(request, model, receive, send)
                return
            except NotFoundError:  # a 404 here is the model's: no fallback hides it
                raise _not_found(request.model) from None
            except _FALLBACK as exc:
                if position == len(chain) - 1:
                    raise
                logger.warning("model %s failed (%s); falling back", model, type(exc).__name__)

    async def count_tokens(self, scope: Scope, receive: Receive, send: Send) -> None:
        """``POST /v1/messages/count_tokens``: ``{"input_tokens": n}``."""
        body = await self._body(scope, receive)
        await self._inline_images(body)
        request = anthropic.count_request(body)
        model = self._chain(request.model)[0]
        engine = self._client.engine
        inner = {"model": f"models/{model}", **request.request}
        call = Call(
            "POST",
            engine.path(model, "countTokens"),
            json.dumps({"generateContentRequest": inner}).encode(),
            {"content-type": "application/json"},
            kind="other",
        )
        try:
            counted = await engine.call_json(call)
        except NotFoundError:
            raise _not_found(request.model) from None
        await send_json(send, 200, {"input_tokens": int(counted.get("totalTokens", 0))})

    async def _body(self, scope: Scope, receive: Receive) -> dict[str, Any]:
        body = await read_json(receive, self._max_body)
        model = body.get("model")
        key = scope.get("gemgate.key")
        if key is not None and isinstance(model, str) and not key.allows(model):
            raise Problem(403, f"this gateway key may not use {model}", "model")
        return body

    def _chain(self, name: str) -> list[str]:
        """The Gemini models that may serve ``name``, in order (an alias's, or itself)."""
        chain = [
            target
            for target in self._client.settings.model_routes.get(name, [name])
            if not _backend_target(target, self._registry)
        ]
        try:
            models = [model_id(target) for target in chain]
        except InvalidModel:
            raise _not_found(name) from None
        if not models:
            raise _not_found(name)
        return models

    async def _inline_images(self, body: Mapping[str, Any]) -> None:
        """Replace ``url`` image sources with fetched base64 ones."""
        settings = self._client.settings
        for block in _media_blocks(body.get("messages")):
            source = block.get("source")
            if not isinstance(source, dict) or source.get("type") != "url":
                continue
            url = source.get("url")
            if not isinstance(url, str):
                continue
            try:
                data = await fetch_image(
                    url,
                    max_bytes=settings.image_fetch_max_bytes,
                    allow_private=settings.image_fetch_private,
                )
            except FetchError as exc:
                raise Problem(400, f"messages: {exc}", "messages") from None
            mime, _, encoded = data.removeprefix("data:").partition(";base64,")
            block["source"] = {"type": "base64", "media_type": mime, "data": encoded}

    async def _answer(
        self, request: anthropic.MessagesRequest, model: str, receive: Receive, send: Send
    ) -> None:
        """One model's answer; failures before any byte is sent may fall back."""
        message_id = "msg_" + base64.b32encode(os.urandom(15)).decode().lower()
        if not request.stream:
            response = await self._client.send_request(request.request, model)
            await send_json(send, 200, anthropic.message(response, request.model, message_id))
            return
        stream = self._client.stream_request(request.request, model)
        first = await _first(stream)  # errors before the first chunk are plain HTTP errors
        events = anthropic.MessageStream(request.model, message_id)
        await send_stream(send, receive, 200, _sse(first, stream, events), _SSE_HEADERS)


def _not_found(name: str) -> Problem:
    return Problem(404, f"model: {name}", "model", code="not_found_error")


def _backend_target(target: str, registry: Registry) -> bool:
    """Whether ``target`` names a model of an OpenAI-compatible backend (not served here)."""
    named = backend_model(target)
    return named is not None and registry.named(named[0]) is not None


def _media_blocks(messages: Any) -> list[dict[str, Any]]:
    """The image blocks of ``messages``, tool results' included (others are left as sent)."""
    found: list[dict[str, Any]] = []
    for message in messages if isinstance(messages, list) else []:
        content = message.get("content") if isinstance(message, dict) else None
        for block in content if isinstance(content, list) else []:
            if not isinstance(block, dict):
                continue
            if block.get("type") == "image":
                found.append(block)
            inner = block.get("content") if block.get("type") == "tool_result" else None
            blocks = inner if isinstance(inner, list) else []
            found += [b for b in blocks if isinstance(b, dict) and b.get("type") == "image"]
    return found


async def _first(stream: AsyncIterator[dict[str, Any]]) -> dict[str, Any] | None:
    try:
        return await stream.__anext__()
    except StopAsyncIteration:
        return None


async def _sse(
    first: dict[str, Any] | None,
    stream: AsyncIterator[dict[str, Any]],
    events: anthropic.MessageStream,
) -> AsyncIterator[bytes]:
    try:
        for event in events.start(first):
            yield anthropic.sse_event(event)
        chunk = first
        while chunk is not None:
            for event in events.convert(chunk):
                yield anthropic.sse_event(event)
            chunk = await _first(stream)
    except GemgateError as exc:
        yield anthropic.sse_event(anthropic_body(problem_of(exc)))
        return
    finally:
        aclose = getattr(stream, "aclose", None)
        if aclose is not None:
            await aclose()
    for event in events.finish():
        yield anthropic.sse_event(event)
