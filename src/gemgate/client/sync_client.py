"""``Gemini``: the blocking facade, driving one :class:`AsyncGemini` on a portal thread.

All state lives in the async client, owned by one event loop in one thread; the facade
only forwards calls, so no logic is written twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

from anyio.from_thread import BlockingPortal, start_blocking_portal

from gemgate.client.async_client import AsyncGemini
from gemgate.errors import UsageError

if TYPE_CHECKING:
    from google import genai

__all__ = ["Gemini"]

R = TypeVar("R")


def _check_no_loop() -> None:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return
    raise UsageError(
        "Gemini (the blocking client) was called from a running event loop; "
        "use AsyncGemini there instead"
    )


def _blocking(method: Callable[..., Awaitable[R]]) -> Callable[..., R]:
    @functools.wraps(method)
    def run(self: Gemini, *args: Any, **kwargs: Any) -> R:
        _check_no_loop()
        return self._portal.call(functools.partial(method, self._async, *args, **kwargs))

    return run


def _plain(method: Callable[..., R]) -> Callable[..., R]:
    @functools.wraps(method)
    def run(self: Gemini, *args: Any, **kwargs: Any) -> R:
        _check_no_loop()
        return self._portal.call(_as_async(functools.partial(method, self._async, *args, **kwargs)))

    return run


def _iterating(method: Callable[..., AsyncIterator[R]]) -> Callable[..., Iterator[R]]:
    @functools.wraps(method)
    def run(self: Gemini, *args: Any, **kwargs: Any) -> Iterator[R]:
        _check_no_loop()
        return self._iterate(method(self._async, *args, **kwargs))

    return run


def _as_async(fn: Callable[[], R]) -> Callable[[], Awaitable[R]]:
    async def call() -> R:
        return fn()

    return call


class Gemini:
    """The blocking client: same arguments and methods as :class:`AsyncGemini`.

    Example::

        with Gemini() as g:                     # no key: the built-in emulator
            reply = g.chat([{"role": "user", "content": "What is the capital of France?"}])
            print(reply["choices"][0]["message"]["content"])
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        _check_no_loop()
        self._stack = contextlib.ExitStack()
        self._portal: BlockingPortal = self._stack.enter_context(start_blocking_portal())

        async def make() -> AsyncGemini:
            return AsyncGemini(*args, **kwargs)

        self._async = self._portal.call(make)
        self._sdk: genai.Client | None = None

    def _iterate(self, agen: AsyncIterator[R]) -> Iterator[R]:
        while True:
            try:
                yield self._portal.call(agen.__anext__)
            except StopAsyncIteration:
                return

    def __enter__(self) -> Gemini:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close connections and stop the portal thread."""
        if self._sdk is not None:
            self._sdk.close()
            self._sdk = None
        with contextlib.suppress(RuntimeError):
            self._portal.call(self._async.aclose)
        self._stack.close()

    @property
    def sdk(self) -> genai.Client:
        """The official ``google.genai.Client`` (sync and ``.aio``) on gemgate's pipeline."""
        if self._sdk is None:
            import httpx2
            from google import genai
            from google.genai import types

            from gemgate.upstream.sdk import BlockingPipelineTransport, PipelineTransport

            core = self._async._core
            options = types.HttpOptions(
                base_url=core.driver.base_url,
                api_version=core.version,
                httpx_client=httpx2.Client(
                    transport=BlockingPipelineTransport(core, self._portal), timeout=None
                ),
                httpx_async_client=httpx2.AsyncClient(
                    transport=PipelineTransport(core), timeout=None
                ),
            )
            self._sdk = genai.Client(api_key="gemgate-managed", http_options=options)
        return self._sdk

    chat = _blocking(AsyncGemini.chat)
    stream_chat = _iterating(AsyncGemini.stream_chat)
    generate_content = _blocking(AsyncGemini.generate_content)
    stream_generate_content = _iterating(AsyncGemini.stream_generate_content)
    generate_embeddings = _blocking(AsyncGemini.generate_embeddings)
    count_tokens = _blocking(AsyncGemini.count_tokens)
    batch_generate_content = _blocking(AsyncGemini.batch_generate_content)
    clear_cache = _blocking(AsyncGemini.clear_cache)
    get_token_usage = _plain(AsyncGemini.get_token_usage)
    reset_token_usage = _plain(AsyncGemini.reset_token_usage)
    create_endpoint = _plain(AsyncGemini.create_endpoint)
    get_endpoint_status = _plain(AsyncGemini.get_endpoint_status)
    list_endpoints = _plain(AsyncGemini.list_endpoints)
    get_endpoint_metrics = _plain(AsyncGemini.get_endpoint_metrics)
    get_active_requests = _plain(AsyncGemini.get_active_requests)
    get_request_history = _plain(AsyncGemini.get_request_history)

    def process_image(
        self,
        image_bytes: bytes,
        prompt: str,
        *,
        mime_type: str = "image/jpeg",
        stream: bool = False,
        **params: Any,
    ) -> Any:
        """See :meth:`AsyncGemini.process_image`; with ``stream=True`` an iterator."""
        _check_no_loop()

        async def run() -> Any:
            return await self._async.process_image(
                image_bytes, prompt, mime_type=mime_type, stream=stream, **params
            )

        result = self._portal.call(run)
        return self._iterate(result) if stream else result
