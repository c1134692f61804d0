"""Serving a generation over a model route chain, with fallback.

What the generation routes (``/v1/chat/completions``, ``/v1/messages``, ``/v1/responses``,
``/v1/images``, ``/v1/audio``) share: the active backend's client; the body, its model
allowed for the caller's gateway key, or the whole request relayed to an OpenAI-compatible
backend; a model route (the ``model_routes`` setting), served by each entry in turn, the next
one after a retryable failure; the peek at a stream's first chunk, so that a failure before
it is a plain HTTP error; and images named by URL, fetched. What a face does its own way
(its error shape, its frames, what it stores) stays in its module.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

from starlette.types import Receive, Scope, Send

from gemgate.client._async_client import AsyncGemini
from gemgate.errors import (
    NotFoundError,
    QuotaExhausted,
    RateLimitedError,
    ServerError,
    TransportError,
)
from gemgate.gateway._asgi import read_body, read_json, send_stream
from gemgate.gateway._backends import Backend, Registry
from gemgate.gateway._faces import Problem, model_not_found
from gemgate.gateway._fetch import FetchError, fetch_image
from gemgate.wire._models import InvalidModel, backend_model, model_id

__all__ = [
    "FALLBACK",
    "SSE_HEADERS",
    "BackendUnavailable",
    "GenerationRoute",
    "PeekedStream",
    "check_model",
    "gemini_model",
    "serve_chain",
]

logger = logging.getLogger("gemgate.gateway")


class BackendUnavailable(Exception):
    """An OpenAI-compatible backend failed in a way the next entry of a route may absorb."""


FALLBACK = (ServerError, RateLimitedError, QuotaExhausted, TransportError, BackendUnavailable)
"""Failures (after the core's own retries) after which the next model of a route serves."""

SSE_HEADERS = [("content-type", "text/event-stream"), ("cache-control", "no-cache")]
"""The headers of a server-sent-events answer."""


class GenerationRoute:
    """The base of a generation route: the active client, the body, a model's route.

    Args:
        client: The Gemini client (the active backend's, when that is Gemini).
        max_body: The body cap.
        registry: The gateway's backends.

    Example:
        >>> class ModelEcho(GenerationRoute):
        ...     async def create(self, scope, receive, send):
        ...         body = await self.read(scope, receive)  # 403 for a model not allowed
        ...
        ...         async def serve(model, last):
        ...             await send_json(send, 200, {"model": gemini_model(model)})
        ...
        ...         await serve_chain(self.chain(body["model"]), serve, model_not_found)
    """

    def __init__(self, client: AsyncGemini, max_body: int, registry: Registry) -> None:
        self._default = client
        self.registry = registry
        self.max_body = max_body

    @property
    def client(self) -> AsyncGemini:
        """The active backend's Gemini client, or the gateway's own."""
        return self.registry.active.client or self._default

    async def read(self, scope: Scope, receive: Receive) -> dict[str, Any]:
        """The JSON body, its ``model`` allowed for the caller's gateway key.

        Raises:
            Problem: 403 when the key may not use the model.
        """
        body = await read_json(receive, self.max_body)
        check_model(scope, body.get("model"))
        return body

    async def read_or_relay(
        self, scope: Scope, receive: Receive, send: Send
    ) -> dict[str, Any] | None:
        """The JSON body (its model unchecked); None once relayed to the active backend.

        When the active backend is an OpenAI-compatible server, the request goes to it as
        bytes and its answer streams back.
        """
        if self.registry.active.type != "openai_compatible":
            return await read_json(receive, self.max_body)
        raw = await read_body(receive, self.max_body)  # too large: the gateway answers 413
        if scope.get("gemgate.key") is not None:  # the key's models hold on every backend
            check_model(scope, _model_of(raw))
        path = scope["path"].removeprefix("/v1")
        status, headers, chunks = await self.registry.active.relay(path, raw)
        await send_stream(send, receive, status, chunks, list(headers.items()))
        return None

    def chain(self, name: str) -> list[str]:
        """The entries of ``name``'s model route, in order (``[name]`` when it has none)."""
        return self.client.settings.model_routes.get(name, [name])

    def target(self, entry: str) -> tuple[Backend | None, str]:
        """``NAME/model`` names a configured OpenAI-compatible backend; else a Gemini model."""
        prefix, model = backend_model(entry) or ("", entry)
        backend = self.registry.named(prefix) if prefix else None
        return (backend, model) if backend is not None else (None, entry)

    async def fetch_image(self, url: str, param: str, label: str = "") -> str:
        """The image at ``url`` as a ``data:`` URL, within the gateway's fetch settings.

        Raises:
            Problem: 400 naming ``param`` when it cannot be fetched (``label`` starts the
                message).
        """
        settings = self.client.settings
        try:
            return await fetch_image(
                url,
                max_bytes=settings.image_fetch_max_bytes,
                allow_private=settings.image_fetch_private,
            )
        except FetchError as exc:
            raise Problem(400, f"{label}{exc}", param) from None


async def serve_chain(
    chain: Sequence[str],
    serve: Callable[[str, bool], Awaitable[None]],
    not_found: Callable[[str], Exception],
) -> None:
    """Serve with each entry of ``chain`` in turn, until one answers.

    ``serve(entry, last)`` answers with one entry. After a `FALLBACK` failure the next entry
    serves; the last entry's failure is raised. A `NotFoundError` is the model's, which no
    fallback hides: it is raised as ``not_found(entry)``.
    """
    for position, entry in enumerate(chain):
        last = position == len(chain) - 1
        try:
            await serve(entry, last)
            return
        except NotFoundError:
            raise not_found(entry) from None
        except FALLBACK as exc:
            if last:
                raise
            logger.warning("model %s failed (%s); falling back", entry, type(exc).__name__)


def gemini_model(name: str) -> str:
    """The bare model id; a name that cannot be one (``a/b``, ``x?y``) is OpenAI's 404."""
    try:
        return model_id(name)
    except InvalidModel:
        raise model_not_found(name) from None


def _model_of(raw: bytes) -> Any:
    """The ``model`` of a JSON body (None if it is not a JSON object)."""
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    return body.get("model") if isinstance(body, dict) else None


def check_model(scope: Scope, model: Any) -> None:
    """Refuse a model the caller's gateway key may not use (403 naming ``model``)."""
    key = scope.get("gemgate.key")
    if key is not None and isinstance(model, str) and not key.allows(model):
        raise Problem(403, f"this gateway key may not use {model}", "model")


class PeekedStream:
    """A stream of Gemini chunks whose first chunk was read before answering.

    A failure before the first chunk is so raised by `peek`, a plain HTTP error, rather
    than an event of a stream already begun. Iterating gives the first chunk, then the rest.

    Example:
        >>> async def frames(stream):
        ...     peeked = await PeekedStream.peek(stream)  # may raise: nothing sent yet
        ...     try:
        ...         async for chunk in peeked:
        ...             yield chunk
        ...     finally:
        ...         await peeked.aclose()
    """

    def __init__(self, first: dict[str, Any] | None, stream: AsyncIterator[dict[str, Any]]) -> None:
        self.first = first
        """The first chunk; None when the stream was empty."""
        self._pending = first
        self._stream = stream

    @classmethod
    async def peek(cls, stream: AsyncIterator[dict[str, Any]]) -> PeekedStream:
        """``stream``, its first chunk read."""
        try:
            first = await stream.__anext__()
        except StopAsyncIteration:
            first = None
        return cls(first, stream)

    def __aiter__(self) -> PeekedStream:
        return self

    async def __anext__(self) -> dict[str, Any]:
        if self._pending is not None:
            chunk, self._pending = self._pending, None
            return chunk
        if self.first is None:  # empty: the stream is not read again
            raise StopAsyncIteration
        return await self._stream.__anext__()

    async def aclose(self) -> None:
        """Close the stream if it can be closed (an async generator), releasing its upstream."""
        aclose = getattr(self._stream, "aclose", None)
        if aclose is not None:
            await aclose()
