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
import os
from collections.abc import AsyncIterator, Mapping
from typing import Any

from starlette.types import Receive, Scope, Send

from gemgate.errors import GemgateError, NotFoundError
from gemgate.gateway._asgi import send_json, send_stream
from gemgate.gateway._faces import Problem, anthropic_body, problem_of
from gemgate.gateway._generate import (
    SSE_HEADERS,
    GenerationRoute,
    PeekedStream,
    serve_chain,
)
from gemgate.upstream._pipeline import Call
from gemgate.wire import anthropic
from gemgate.wire._models import InvalidModel, model_id

__all__ = ["MessagesRoute"]


class MessagesRoute(GenerationRoute):
    """Serves ``/v1/messages`` and ``/v1/messages/count_tokens``."""

    async def create(self, scope: Scope, receive: Receive, send: Send) -> None:
        """``POST /v1/messages``."""
        body = await self.read(scope, receive)
        await self._inline_images(body)
        request = anthropic.messages_request(body)  # 400s name their field

        async def serve(model: str, last: bool) -> None:
            await self._answer(request, model, receive, send)

        # Anthropic's 404, naming the model asked for (an alias, not the entry that failed)
        await serve_chain(self._chain(request.model), serve, lambda _: _not_found(request.model))

    async def count_tokens(self, scope: Scope, receive: Receive, send: Send) -> None:
        """``POST /v1/messages/count_tokens``: ``{"input_tokens": n}``."""
        body = await self.read(scope, receive)
        await self._inline_images(body)
        request = anthropic.count_request(body)
        model = self._chain(request.model)[0]
        engine = self.client.engine
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

    def _chain(self, name: str) -> list[str]:
        """The Gemini models that may serve ``name``, in order (an alias's, or itself).

        A route's entries naming an OpenAI-compatible backend are left out; any other
        entry that is not a model id is Anthropic's 404.
        """
        chain = [target for target in self.chain(name) if self.target(target)[0] is None]
        try:
            models = [model_id(target) for target in chain]
        except InvalidModel:
            raise _not_found(name) from None
        if not models:
            raise _not_found(name)
        return models

    async def _inline_images(self, body: Mapping[str, Any]) -> None:
        """Replace ``url`` image sources with fetched base64 ones."""
        for block in _media_blocks(body.get("messages")):
            source = block.get("source")
            if not isinstance(source, dict) or source.get("type") != "url":
                continue
            url = source.get("url")
            if not isinstance(url, str):
                continue
            data = await self.fetch_image(url, "messages", label="messages: ")
            mime, _, encoded = data.removeprefix("data:").partition(";base64,")
            block["source"] = {"type": "base64", "media_type": mime, "data": encoded}

    async def _answer(
        self, request: anthropic.MessagesRequest, model: str, receive: Receive, send: Send
    ) -> None:
        """One model's answer; failures before any byte is sent may fall back."""
        message_id = "msg_" + base64.b32encode(os.urandom(15)).decode().lower()
        if not request.stream:
            response = await self.client.send_request(request.request, model)
            await send_json(send, 200, anthropic.message(response, request.model, message_id))
            return
        stream = self.client.stream_request(request.request, model)
        peeked = await PeekedStream.peek(stream)  # errors before the first chunk: plain HTTP errors
        events = anthropic.MessageStream(request.model, message_id)
        await send_stream(send, receive, 200, _sse(peeked, events), SSE_HEADERS)


def _not_found(name: str) -> Problem:
    return Problem(404, f"model: {name}", "model", code="not_found_error")


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


async def _sse(
    stream: PeekedStream,
    events: anthropic.MessageStream,
) -> AsyncIterator[bytes]:
    try:
        for event in events.start(stream.first):
            yield anthropic.sse_event(event)
        async for chunk in stream:
            for event in events.convert(chunk):
                yield anthropic.sse_event(event)
    except GemgateError as exc:
        yield anthropic.sse_event(anthropic_body(problem_of(exc)))
        return
    finally:
        await stream.aclose()
    for event in events.finish():
        yield anthropic.sse_event(event)
