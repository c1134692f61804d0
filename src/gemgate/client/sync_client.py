"""``Gemini``: the blocking facade, driving one :class:`AsyncGemini` on a portal thread.

All state lives in the async client, owned by one event loop in one thread; the facade
only forwards calls, so no logic is written twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import threading
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any, TypeVar

import anyio
from anyio.from_thread import BlockingPortal

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
        self._check_usable()
        return self._portal.call(functools.partial(method, self._async, *args, **kwargs))

    return run


def _plain(method: Callable[..., R]) -> Callable[..., R]:
    @functools.wraps(method)
    def run(self: Gemini, *args: Any, **kwargs: Any) -> R:
        self._check_usable()
        return self._portal.call(_as_async(functools.partial(method, self._async, *args, **kwargs)))

    return run


def _iterating(method: Callable[..., AsyncIterator[R]]) -> Callable[..., Iterator[R]]:
    @functools.wraps(method)
    def run(self: Gemini, *args: Any, **kwargs: Any) -> Iterator[R]:
        self._check_usable()
        return self._iterate(method(self._async, *args, **kwargs))

    return run


def _as_async(fn: Callable[[], R]) -> Callable[[], Awaitable[R]]:
    async def call() -> R:
        return fn()

    return call


def _start_portal() -> tuple[BlockingPortal, threading.Thread]:
    """An event loop with a :class:`BlockingPortal` on a daemon thread.

    Unlike ``anyio.from_thread.start_blocking_portal`` there is no generator to
    finalize: a client never closed must not hang the interpreter at exit (the
    generator's cleanup would wait on a loop thread that shutdown has frozen).
    """
    ready: Future[BlockingPortal] = Future()

    async def main() -> None:
        async with BlockingPortal() as portal:
            ready.set_result(portal)
            await portal.sleep_until_stopped()

    def run() -> None:
        try:
            anyio.run(main)
        except BaseException as exc:  # pragma: no cover - the loop failed to start
            if not ready.done():
                ready.set_exception(exc)

    thread = threading.Thread(target=run, name="gemgate-portal", daemon=True)
    thread.start()
    return ready.result(), thread


def _shutdown(
    portal: BlockingPortal,
    thread: threading.Thread,
    aclose: list[Callable[[], Awaitable[None]]],
    close: list[Callable[[], None]],
) -> None:
    """Close everything on the loop, stop it and join its thread (run once, by finalize)."""
    if threading.current_thread() is thread:
        # The garbage collector ran the finalizer on the loop thread itself.
        threading.Thread(target=_shutdown, args=(portal, thread, aclose, close)).start()
        return
    for fn in close:
        with contextlib.suppress(Exception):
            fn()
    for afn in aclose:
        with contextlib.suppress(Exception):
            portal.call(afn)
    with contextlib.suppress(RuntimeError):
        portal.call(portal.stop, True)
    thread.join()


class Gemini:
    """The blocking client: same arguments and methods as :class:`AsyncGemini`.

    Example::

        with Gemini() as g:                     # no key: the built-in emulator
            reply = g.chat([{"role": "user", "content": "What is the capital of France?"}])
            print(reply["choices"][0]["message"]["content"])
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        _check_no_loop()
        self._portal, thread = _start_portal()
        self._aclose: list[Callable[[], Awaitable[None]]] = []
        self._close: list[Callable[[], None]] = []
        self._finalizer = weakref.finalize(
            self, _shutdown, self._portal, thread, self._aclose, self._close
        )

        async def make() -> AsyncGemini:
            return AsyncGemini(*args, **kwargs)

        try:
            self._async = self._portal.call(make)
        except BaseException:
            self._finalizer()
            raise
        self._aclose.append(self._async.aclose)
        self._sdk: genai.Client | None = None

    def _check_usable(self) -> None:
        _check_no_loop()
        if not self._finalizer.alive:
            raise UsageError("this Gemini client is closed")

    def _iterate(self, agen: AsyncIterator[R]) -> Iterator[R]:
        try:
            while True:
                try:
                    item = self._portal.call(agen.__anext__)
                except StopAsyncIteration:
                    return
                yield item
        finally:
            # Left early (break, exception, garbage collection): end the stream now, so
            # its connection is released and its request leaves get_active_requests().
            aclose = getattr(agen, "aclose", None)
            if aclose is not None:
                with contextlib.suppress(RuntimeError):
                    self._portal.call(aclose)

    def __enter__(self) -> Gemini:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close connections and stop the portal thread (a second call does nothing).

        A client never closed is closed when it is garbage collected or at exit.
        """
        self._sdk = None
        self._finalizer()

    @property
    def sdk(self) -> genai.Client:
        """The official ``google.genai.Client`` (sync and ``.aio``) on gemgate's pipeline."""
        if self._sdk is None:
            import httpx2
            from google import genai
            from google.genai import types

            from gemgate.upstream.sdk import BlockingPipelineTransport, PipelineTransport

            self._check_usable()
            core = self._async._core
            http = httpx2.Client(
                transport=BlockingPipelineTransport(core, self._portal), timeout=None
            )
            http_async = httpx2.AsyncClient(transport=PipelineTransport(core), timeout=None)
            # The SDK leaves clients it was given open: they are ours to close.
            self._close.append(http.close)
            self._aclose.append(http_async.aclose)
            options = types.HttpOptions(
                base_url=core.driver.base_url,
                api_version=core.version,
                httpx_client=http,
                httpx_async_client=http_async,
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
        self._check_usable()

        async def run() -> Any:
            return await self._async.process_image(
                image_bytes, prompt, mime_type=mime_type, stream=stream, **params
            )

        result = self._portal.call(run)
        return self._iterate(result) if stream else result
