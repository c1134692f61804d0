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
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self, TypeVar

import anyio
import httpx2
from anyio.from_thread import BlockingPortal

from gemgate.client._async_client import AsyncGemini
from gemgate.client._blocking import (
    Blocking,
    Forwarded,
    Runner,
    blocking,
    building,
    check_no_loop,
    iterating,
    plain,
)
from gemgate.config import Settings
from gemgate.projects import ProjectConfig

if TYPE_CHECKING:
    from google import genai

    from gemgate.client._sync_twins import (
        BlockingBatches,
        BlockingCacheManager,
        BlockingFileSearchStores,
        BlockingLivePool,
        BlockingStores,
    )
    from gemgate.upstream._engine import Engine

__all__ = ["Gemini"]

R = TypeVar("R")


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
        from gemgate.upstream._sdk import PipelineTransport

        self._inner = PipelineTransport(core)
        self._portal = portal

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        """Send on the portal's loop; relay the body chunk by chunk."""
        from gemgate.upstream._sdk import portal_request, portal_response

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


class Gemini(Blocking[AsyncGemini], twin_of=AsyncGemini):
    """The blocking client: the arguments and methods of :class:`AsyncGemini`, blocking.

    Every public method of :class:`AsyncGemini` has a twin here with the same parameters:
    coroutines become blocking calls, async iterators (``stream_chat``, ``chat_with_tools``
    …) blocking iterators; ``cache_manager`` and ``live`` are blocking twins of the
    :class:`~gemgate.caching.CacheManager` and :class:`~gemgate.live.LivePool`. All of it
    runs on one event loop in a background thread, which owns the client's state.

    Example::

        with Gemini() as g:                     # no key: the built-in emulator
            reply = g.chat([{"role": "user", "content": "What is the capital of France?"}])
            print(reply["choices"][0]["message"]["content"])
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        projects: Sequence[ProjectConfig | Mapping[str, Any]] | None = None,
        config: str | Path | None = None,
        settings: Settings | None = None,
        base_url: str | None = None,
        api_version: str | None = None,
        cache: bool = False,
        cache_max_size: int = 128,
        cache_ttl: float | None = None,
        metadata: Mapping[str, Any] | None = None,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        timeout: float | None = None,
        **overrides: Any,
    ) -> None:
        make = functools.partial(
            AsyncGemini,
            api_key,
            projects=projects,
            config=config,
            settings=settings,
            base_url=base_url,
            api_version=api_version,
            cache=cache,
            cache_max_size=cache_max_size,
            cache_ttl=cache_ttl,
            metadata=metadata,
            clock=clock,
            sleep=sleep,
            timeout=timeout,
            **overrides,
        )
        self._open(make)

    def _open(self, make: Callable[[], AsyncGemini]) -> None:
        """Start the loop thread and build the async client on it with ``make()``."""
        check_no_loop()
        portal, thread = _start_portal()
        self._aclose: list[Callable[[], Awaitable[None]]] = []
        self._close: list[Callable[[], None]] = []
        finalizer = weakref.finalize(self, _shutdown, portal, thread, self._aclose, self._close)
        self._finalizer = finalizer
        self._runner = Runner(portal, lambda: finalizer.alive)
        self._owner = None
        self._sdk: genai.Client | None = None

        async def build() -> AsyncGemini:
            return make()

        try:
            self._async = portal.call(build)
        except BaseException:
            finalizer()
            raise
        self._aclose.append(self._async.aclose)

    @classmethod
    def _adopt(cls, make: Callable[[], Any]) -> Self:
        client = cls.__new__(cls)
        client._open(make)
        return client

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

    in_flight = Forwarded[int]()
    """Requests sent upstream and not yet answered."""

    @property
    def cache_manager(self) -> BlockingCacheManager:
        """The client's cache manager, blocking (see :class:`~gemgate.caching.CacheManager`)."""
        from gemgate.client._sync_twins import BlockingCacheManager

        manager = self._runner.run(getattr, self._async, "cache_manager")
        return self._twin(BlockingCacheManager, manager)

    @property
    def live(self) -> BlockingLivePool:
        """Live sessions by session id, blocking (see :class:`~gemgate.live.LivePool`)."""
        from gemgate.client._sync_twins import BlockingLivePool

        pool = self._runner.run(getattr, self._async, "live")
        return self._twin(BlockingLivePool, pool)

    @property
    def stores(self) -> BlockingStores | BlockingFileSearchStores:
        """Retrieval stores, blocking (see :class:`~gemgate.rag.Stores`).

        With ``stores_url="gemini://file-search"``: Gemini's File Search stores
        (:class:`~gemgate.rag.FileSearchStores`), with the same methods.
        """
        from gemgate.client._sync_twins import BlockingFileSearchStores, BlockingStores
        from gemgate.rag import FileSearchStores

        stores = self._runner.run(getattr, self._async, "stores")
        if isinstance(stores, FileSearchStores):
            return self._twin(BlockingFileSearchStores, stores)
        return self._twin(BlockingStores, stores)

    @property
    def batches(self) -> BlockingBatches:
        """Gemini batch jobs, blocking (see :class:`~gemgate.batch.Batches`)."""
        from gemgate.client._sync_twins import BlockingBatches

        batches = self._runner.run(getattr, self._async, "batches")
        return self._twin(BlockingBatches, batches)

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

            from gemgate.upstream._sdk import BlockingPipelineTransport

            self._runner.check_open()
            core = self._async.engine
            http = httpx2.Client(
                transport=BlockingPipelineTransport(core, self._runner.portal), timeout=None
            )
            http_async = httpx2.AsyncClient(
                transport=_PortalTransport(core, self._runner.portal), timeout=None
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

    chat = blocking(AsyncGemini.chat)
    stream_chat = iterating(AsyncGemini.stream_chat)
    chat_with_tools = iterating(AsyncGemini.chat_with_tools)
    generate_content = blocking(AsyncGemini.generate_content)
    stream_generate_content = iterating(AsyncGemini.stream_generate_content)
    send_request = blocking(AsyncGemini.send_request)
    stream_request = iterating(AsyncGemini.stream_request)
    build_request = staticmethod(AsyncGemini.build_request)
    tool_request_fields = blocking(AsyncGemini.tool_request_fields)
    emulated = building(AsyncGemini.emulated)
    generate_embeddings = blocking(AsyncGemini.generate_embeddings)
    generate_image = blocking(AsyncGemini.generate_image)
    speak = blocking(AsyncGemini.speak)
    count_tokens = blocking(AsyncGemini.count_tokens)
    clear_cache = blocking(AsyncGemini.clear_cache)
    quota_report = blocking(AsyncGemini.quota_report)
    get_token_usage = plain(AsyncGemini.get_token_usage)
    reset_token_usage = plain(AsyncGemini.reset_token_usage)
    create_endpoint = plain(AsyncGemini.create_endpoint)
    get_endpoint_status = plain(AsyncGemini.get_endpoint_status)
    list_endpoints = plain(AsyncGemini.list_endpoints)
    get_endpoint_metrics = plain(AsyncGemini.get_endpoint_metrics)
    get_active_requests = plain(AsyncGemini.get_active_requests)
    get_request_history = plain(AsyncGemini.get_request_history)

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
        self._runner.check()
        run = functools.partial(
            self._async.batch_generate_content, prompts, batch_size=batch_size, **params
        )
        if progress is None:
            return self._runner.portal.call(run)
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

        future = self._runner.portal.start_task_soon(guarded)
        future.add_done_callback(lambda _: events.put(None))
        try:
            while (event := events.get()) is not None:
                progress(*event)
        except BaseException:
            # Cancel inside the loop and wait for the batch to unwind (future.cancel()
            # would return before its requests have ended).
            with contextlib.suppress(RuntimeError):
                self._runner.portal.call(cancel)
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
        self._runner.check()

        async def run() -> Any:
            return await self._async.process_image(
                image_bytes, prompt, mime_type=mime_type, stream=stream, **params
            )

        result = self._runner.portal.call(run)
        return self._runner.iterate(result) if stream else result
