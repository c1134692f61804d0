"""``Gemini``: the blocking facade, driving one :class:`AsyncGemini` on a portal thread.

All state lives in the async client, owned by one event loop in one thread; the facade
only forwards calls, so no logic is written twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import queue
import threading
import weakref
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Generator,
    Mapping,
    Sequence,
)
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any, TypeVar

import anyio
import httpx2
from anyio.from_thread import BlockingPortal

from gemgate.client.async_client import AsyncGemini
from gemgate.config import Settings
from gemgate.errors import UsageError

if TYPE_CHECKING:
    from google import genai

    from gemgate.upstream.engine import Engine

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


def _iterating(
    method: Callable[..., AsyncIterator[R]],
) -> Callable[..., Generator[R, None, None]]:
    @functools.wraps(method)
    def run(self: Gemini, *args: Any, **kwargs: Any) -> Generator[R, None, None]:
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


async def _on_portal(portal: BlockingPortal, fn: Callable[..., Awaitable[R]], *args: Any) -> R:
    """Await ``fn(*args)`` run on the portal's loop from another asyncio loop."""
    return await asyncio.wrap_future(portal.start_task_soon(fn, *args))


class _PortalTransport(httpx2.AsyncBaseTransport):
    """``Gemini.sdk.aio``'s transport: the pipeline runs on the portal's loop.

    The pipeline's connections, locks and state belong to that loop; the SDK's async
    calls come from the caller's loop, so every request and body chunk crosses over.
    """

    def __init__(self, core: Engine, portal: BlockingPortal) -> None:
        from gemgate.upstream.sdk import PipelineTransport

        self._inner = PipelineTransport(core)
        self._portal = portal

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        """Send on the portal's loop; relay the body chunk by chunk."""
        from gemgate.upstream.sdk import portal_request, portal_response

        clone = portal_request(request, await request.aread())
        response = await _on_portal(self._portal, self._inner.handle_async_request, clone)
        return portal_response(response, request, _PortalStream(response, self._portal))


class _PortalStream(httpx2.AsyncByteStream):
    def __init__(self, response: httpx2.Response, portal: BlockingPortal) -> None:
        self._response = response
        self._portal = portal

    async def __aiter__(self) -> AsyncIterator[bytes]:
        chunks = self._response.aiter_raw()
        while True:
            try:
                yield await _on_portal(self._portal, chunks.__anext__)
            except StopAsyncIteration:
                return

    async def aclose(self) -> None:
        await _on_portal(self._portal, self._response.aclose)


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

    @classmethod
    def emulated(cls, **kwargs: Any) -> Gemini:
        """A client whose upstream is the built-in, in-process Gemini emulator (no key)."""
        return cls(upstream="emulator", **kwargs)

    def _check_usable(self) -> None:
        _check_no_loop()
        self._check_open()

    def _check_open(self) -> None:
        if not self._finalizer.alive:
            raise UsageError("this Gemini client is closed")

    def _iterate(self, agen: AsyncIterator[R]) -> Generator[R, None, None]:
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
    def settings(self) -> Settings:
        """The settings in force (frozen, so safe to read from this thread)."""
        return self._async.settings

    @property
    def in_flight(self) -> int:
        """Requests sent upstream and not yet answered."""
        return self._portal.call(_as_async(lambda: self._async.in_flight))

    @property
    def sdk(self) -> genai.Client:
        """The official ``google.genai.Client`` (sync and ``.aio``) on gemgate's pipeline.

        Both faces run their requests on this client's own loop thread, so ``.aio``
        works from any asyncio loop.
        """
        if self._sdk is None:
            import httpx2
            from google import genai
            from google.genai import types

            from gemgate.upstream.sdk import BlockingPipelineTransport

            self._check_open()
            core = self._async.engine
            http = httpx2.Client(
                transport=BlockingPipelineTransport(core, self._portal), timeout=None
            )
            http_async = httpx2.AsyncClient(
                transport=_PortalTransport(core, self._portal), timeout=None
            )
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
    clear_cache = _blocking(AsyncGemini.clear_cache)
    get_token_usage = _plain(AsyncGemini.get_token_usage)
    reset_token_usage = _plain(AsyncGemini.reset_token_usage)
    create_endpoint = _plain(AsyncGemini.create_endpoint)
    get_endpoint_status = _plain(AsyncGemini.get_endpoint_status)
    list_endpoints = _plain(AsyncGemini.list_endpoints)
    get_endpoint_metrics = _plain(AsyncGemini.get_endpoint_metrics)
    get_active_requests = _plain(AsyncGemini.get_active_requests)
    get_request_history = _plain(AsyncGemini.get_request_history)

    def batch_generate_content(
        self,
        prompts: Sequence[str | Sequence[Mapping[str, Any]]],
        *,
        batch_size: int = 5,
        progress: Callable[[int, int], None] | None = None,
        **params: Any,
    ) -> list[dict[str, Any]]:
        """See :meth:`AsyncGemini.batch_generate_content`.

        ``progress`` is called in the calling thread (so it may use this client), while
        the batch goes on; if it raises, the rest of the batch is cancelled.
        """
        self._check_usable()
        run = functools.partial(
            self._async.batch_generate_content, prompts, batch_size=batch_size, **params
        )
        if progress is None:
            return self._portal.call(run)
        events: queue.SimpleQueue[tuple[int, int] | None] = queue.SimpleQueue()
        scopes: list[anyio.CancelScope] = []

        async def guarded() -> list[dict[str, Any]] | None:
            with anyio.CancelScope() as scope:
                scopes.append(scope)
                batch: list[dict[str, Any]] = await run(
                    progress=lambda done, total: events.put((done, total))
                )
                return batch
            return None  # cancelled, and every request has ended

        async def cancel() -> None:
            for scope in scopes:
                scope.cancel()

        future = self._portal.start_task_soon(guarded)
        future.add_done_callback(lambda _: events.put(None))
        try:
            while (event := events.get()) is not None:
                progress(*event)
        except BaseException:
            # Cancel inside the loop and wait for the batch to unwind (future.cancel()
            # would return before its requests have ended).
            with contextlib.suppress(RuntimeError):
                self._portal.call(cancel)
            with contextlib.suppress(Exception):
                future.result()
            raise
        results: list[dict[str, Any]] | None = future.result()
        assert results is not None  # only a cancelled batch has none
        return results

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
