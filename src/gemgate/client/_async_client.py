"""``AsyncGemini``: the official SDK made production-safe, plus a convenience API."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gemgate.client._counting import Counting, contents_of
from gemgate.client._deadlines import call_deadline, timed_stream
from gemgate.client._media import Media
from gemgate.client._operations import Operations
from gemgate.config import Settings
from gemgate.errors import GemgateError, UsageError
from gemgate.projects import ProjectConfig
from gemgate.upstream._calls import bare_model
from gemgate.upstream._engine import Engine
from gemgate.wire import openai
from gemgate.wire._models import model_id

if TYPE_CHECKING:
    from google import genai

    from gemgate.batch import Batches
    from gemgate.caching import CacheConfig, CacheManager
    from gemgate.live import LivePool
    from gemgate.rag import FileSearchStores, RetrievalStore, Stores
    from gemgate.sessions import ChatManager
    from gemgate.tools import ChatEvent, Tool, ToolExecutor

__all__ = ["AsyncGemini"]

_ROUTING = frozenset({"model", "request_id", "endpoint_id", "timeout"})
"""Parameters that choose where a request goes, not what it asks."""


class AsyncGemini(Operations, Media, Counting):
    """Gemini with many keys, per-project quotas, retries, caching and tracking.

    Example::

        async with AsyncGemini() as g:          # no key: the built-in emulator
            reply = await g.chat([{"role": "user", "content": "Hello"}])
            print(reply["choices"][0]["message"]["content"])
            sdk_reply = await g.sdk.aio.models.generate_content(
                model="gemini-2.5-flash", contents="Hi"
            )

    Args:
        api_key: One key (its own project). Keys also come from the environment.
        projects: Projects with their keys and limits.
        config: A TOML file (default ``GEMGATE_CONFIG``).
        settings: Ready-made settings (then ``config`` and the environment are not read).
        base_url: The upstream (default Google's; the emulator when there is no key).
        cache: Cache identical non-streaming requests.
        cache_max_size: Entries kept by the cache.
        cache_ttl: Seconds an entry lives (None: until evicted).
        metadata: The seed's constructor dict (``gemini_api_key``, ``use_cache``,
            ``cache_max_size``).
        clock: Time source (epoch seconds), for tests.
        sleep: Async sleep, for tests.
        timeout: Seconds each call may take, retries and waits for quota included
            (``timeouts.total``); past it the call raises `UpstreamTimeout` saying how long it
            took. ``generate_content``, ``chat`` and their streaming twins also take a
            ``timeout`` of their own, which bounds a stream's body too.
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
        meta = dict(metadata or {})
        api_key = api_key or meta.get("gemini_api_key")
        cache = cache or bool(meta.get("use_cache", False))
        cache_max_size = int(meta.get("cache_max_size", cache_max_size))
        unknown = set(overrides) - set(Settings.model_fields)
        if unknown:
            raise UsageError(f"unknown argument(s): {', '.join(sorted(unknown))}")
        if settings is None:
            extra: dict[str, Any] = dict(overrides)
            if base_url is not None:
                extra["upstream_url"] = base_url
            if api_version is not None:
                extra["api_version"] = api_version
            settings = Settings.load(config=config, **extra)
        listed = [
            p if isinstance(p, ProjectConfig) else ProjectConfig.model_validate(p)
            for p in projects or []
        ]
        if api_key:
            listed.insert(0, ProjectConfig(name="default", keys=[api_key]))
        if listed:
            settings = settings.model_copy(update={"projects": listed + list(settings.projects)})
        if timeout is not None:  # the deadline of every call, retries and waits included
            total = settings.timeouts.model_copy(update={"total": float(timeout)})
            settings = settings.model_copy(update={"timeouts": total})
        self.engine = Engine(
            settings,
            clock=clock,
            sleep=sleep,
            cache_size=cache_max_size if cache else None,
            cache_ttl=cache_ttl,
        )
        """The engine every call goes through (keys, quotas, retries, cache, tracking)."""
        self._cache_manager: CacheManager | None = None
        self._live: LivePool | None = None
        self._stores: Stores | FileSearchStores | None = None
        self._batches: Batches | None = None

    # -- lifecycle --------------------------------------------------------------------

    async def __aenter__(self) -> AsyncGemini:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close connections, Live sessions and the SDK client, if one was made."""
        if self._live is not None:
            await self._live.aclose()
        if self._stores is not None:
            await self._stores.aclose()
        if self._batches is not None:
            await self._batches.aclose()
        await self.engine.aclose()

    @classmethod
    def emulated(cls, **kwargs: Any) -> AsyncGemini:
        """A client whose upstream is the built-in, in-process Gemini emulator (no key).

        Example::

            async with AsyncGemini.emulated() as g:
                print((await g.chat([{"role": "user", "content": "Hi"}]))["choices"])
        """
        return cls(upstream="emulator", **kwargs)

    @property
    def sdk(self) -> genai.Client:
        """The official ``google.genai.Client``, sending through gemgate's pipeline."""
        return self.engine.sdk

    @property
    def live(self) -> LivePool:
        """Live sessions by session id (see :class:`gemgate.live.LivePool`)."""
        if self._live is None:
            from gemgate.live import LivePool

            self._live = LivePool(self.engine)
        return self._live

    @property
    def stores(self) -> Stores | FileSearchStores:
        """Retrieval stores (see :class:`gemgate.rag.Stores`), in ``stores_url``.

        With ``stores_url="gemini://file-search"`` they are Gemini's own File Search
        stores (:class:`gemgate.rag.FileSearchStores`, the same methods).

        Example::

            store = await g.stores.open("handbook")
            await store.add("docs/")
            reply = await g.chat([{"role": "user", "content": "Refunds?"}], stores=[store])
        """
        if self._stores is None:
            from gemgate.rag import (
                FileSearchStores,
                GeminiEmbedder,
                Stores,
                is_file_search,
                open_backend,
                stores_url_of,
            )

            settings = self.settings
            url = stores_url_of(settings.stores_url, settings.sessions_url)
            if is_file_search(url):
                self._stores = FileSearchStores(self.engine, model=settings.default_model)
            else:
                embedder = GeminiEmbedder(
                    self.engine, settings.embedding_model, settings.stores_dimensions
                )
                self._stores = Stores(open_backend(url), embedder)
        return self._stores

    @property
    def batches(self) -> Batches:
        """Gemini batch jobs (see :class:`gemgate.batch.Batches`), journalled at ``batches_url``.

        Example::

            job = await g.batches.submit({"a": "Hi", "b": "Name a prime"})
            await g.batches.wait(job.id, progress=True)
            results = await g.batches.results(job.id)  # {"a": {...}, "b": {...}}
        """
        if self._batches is None:
            from gemgate.batch import Batches

            self._batches = Batches(self.engine)
        return self._batches

    @property
    def in_flight(self) -> int:
        """Requests sent upstream and not yet answered."""
        return sum(self.engine.upstream.inflight.values())

    # -- the seed's convenience API -----------------------------------------------------

    def _model(self, params: Mapping[str, Any]) -> str:
        """``model=``, else the dedicated endpoint's model, else the default model."""
        endpoint = self.engine.endpoint(params.get("endpoint_id"))
        chosen = params.get("model") or (endpoint.model if endpoint else None)
        return model_id(chosen or self.settings.default_model)

    @staticmethod
    def build_request(
        contents: list[dict[str, Any]],
        system: Mapping[str, Any] | None,
        params: Mapping[str, Any],
        *,
        model: str | None = None,
    ) -> dict[str, Any]:
        """A GenerateContentRequest from contents, a system instruction and parameters.

        ``params`` are those of :meth:`chat` (OpenAI's, Google's ``extra_body.google`` and
        the Gemini-flavoured ones); ``model``, ``request_id`` and ``endpoint_id`` route the
        call and are not part of the request. ``model`` picks how ``reasoning_effort``
        maps (a ``thinkingLevel`` for Gemini 3 models, else a ``thinkingBudget``).

        Raises:
            UsageError: An unknown parameter or a value that cannot be translated
                (a :class:`gemgate.wire.openai.InvalidRequest` naming the parameter).
        """
        fields = {k: v for k, v in params.items() if k not in _ROUTING}
        return openai.gemini_request(contents, system, fields, model=model)

    async def send_request(
        self, request: Mapping[str, Any], model: str, **routing: Any
    ) -> dict[str, Any]:
        """Send a whole GenerateContentRequest (Gemini format) and return the response."""
        return await self.engine.generate(
            request,
            model,
            request_id=routing.get("request_id"),
            endpoint_id=routing.get("endpoint_id"),
        )

    async def stream_request(
        self, request: Mapping[str, Any], model: str, **routing: Any
    ) -> AsyncIterator[dict[str, Any]]:
        """Stream a whole GenerateContentRequest's response chunks."""
        async for chunk in self.engine.stream_generate(
            request,
            model,
            request_id=routing.get("request_id"),
            endpoint_id=routing.get("endpoint_id"),
        ):
            yield chunk

    @property
    def cache_manager(self) -> CacheManager:
        """The client's :class:`~gemgate.caching.CacheManager`."""
        if self._cache_manager is None:
            from gemgate.caching import CacheManager

            self._cache_manager = CacheManager(self.engine)
        return self._cache_manager

    def chat_with_tools(
        self,
        query: str,
        *,
        model: str | None = None,
        tools: Sequence[Tool | Callable[..., Any]] = (),
        tool_executor: ToolExecutor[Any] | None = None,
        tool_mode: str = "auto",
        allowed_tools: Sequence[str] | None = None,
        max_iterations: int = 10,
        chat_id: str | None = None,
        chat_manager: ChatManager | None = None,
        cache_config: CacheConfig | None = None,
        system_instruction: str | None = None,
        parts: Sequence[dict[str, Any]] = (),
        replace_last: bool = False,
        stores: Sequence[RetrievalStore] = (),
        top_k: int = 8,
        **params: Any,
    ) -> AsyncIterator[ChatEvent]:
        """The function-calling loop: typed events as they happen, then the final answer.

        With a chat, the whole turn is stored once it has ended: a failed or stopped turn
        leaves the chat as it was. ``parts`` are more Gemini parts of the question (e.g.
        ``{"inlineData": {"mimeType": "image/png", "data": b64}}``). ``replace_last=True``
        answers in place of the chat's last turn: its question again when ``query`` is
        empty (regenerate), or this new question (edit). With ``stores``, the question's
        ``top_k`` best chunks ground the answer, and the final answer carries
        ``grounding_metadata`` (its sources and the sentences each supports); File Search
        stores go to the model as its ``fileSearch`` tool and it grounds the answer.

        Example::

            async for event in g.chat_with_tools("Weather in Paris?", tools=[get_weather]):
                if event.type == "text_delta":
                    print(event.text, end="")
        """
        from gemgate.tools._loop import ToolLoop

        chosen = self._model({"model": model})
        loop = ToolLoop(
            engine=self.engine,
            query=query,
            model=chosen,
            build=lambda contents: self.build_request(contents, None, params, model=chosen),
            cache_manager=self.cache_manager if cache_config is not None else None,
            tools=tools,
            executor=tool_executor,
            tool_mode=tool_mode,
            allowed_tools=allowed_tools,
            max_iterations=max_iterations,
            chat_id=chat_id,
            chat_manager=chat_manager,
            cache_config=cache_config,
            system_instruction=system_instruction,
            parts=parts,
            replace_last=replace_last,
            stores=stores,
            top_k=top_k,
            params=params,
        )
        return loop.run()

    async def tool_request_fields(
        self,
        model: str,
        tools: Sequence[Tool | Callable[..., Any]],
        tool_mode: str = "auto",
        cache_config: CacheConfig | None = None,
    ) -> dict[str, Any]:
        """The ``tools`` and ``toolConfig`` of a request, or the ``cachedContent`` holding them.

        With a ``cache_config``, an existing ``cachedContents/…`` name is used as it is;
        any other name is the display name of a cache of the tools that this client's
        cache manager makes (or reuses). Used by
        :meth:`~gemgate.sessions.ChatManager.generate_content_request`.
        """
        from gemgate.tools._loop import with_tools
        from gemgate.tools._tool import TOOL_MODES, Tool, tool, tool_fields

        mode = tool_mode.lower() if isinstance(tool_mode, str) else None
        if mode not in TOOL_MODES:
            raise UsageError(f"tool_mode must be one of {sorted(TOOL_MODES)}, not {tool_mode!r}")
        made = [t if isinstance(t, Tool) else tool(t) for t in tools]
        manager = self.cache_manager if cache_config is not None else None
        fields = tool_fields(made, mode)
        return await with_tools({}, fields, bare_model(model), cache_config, manager)

    async def generate_content(
        self, prompt: str | Sequence[Mapping[str, Any]], **params: Any
    ) -> dict[str, Any]:
        """Generate from a prompt (or Gemini contents); returns the Gemini response dict."""
        model = self._model(params)
        request = self.build_request(contents_of(prompt), None, params, model=model)
        with call_deadline(params, self.engine.clock):
            return await self.engine.generate(request, model, **_routing(params), cacheable=True)

    async def stream_generate_content(
        self, prompt: str | Sequence[Mapping[str, Any]], **params: Any
    ) -> AsyncIterator[dict[str, Any]]:
        """Stream Gemini response chunks."""
        model = self._model(params)
        request = self.build_request(contents_of(prompt), None, params, model=model)
        stream = self.engine.stream_generate(request, model, **_routing(params))
        async for chunk in timed_stream(stream, params, self.engine.clock):
            yield chunk

    async def chat(self, messages: Sequence[Mapping[str, Any]], **params: Any) -> dict[str, Any]:
        """OpenAI-format messages and parameters in, an OpenAI ``chat.completion`` dict out.

        The parameters are those of ``/v1/chat/completions`` (``tools``, ``tool_choice``,
        ``response_format``, ``extra_body={"google": ...}`` …) plus the Gemini-flavoured
        ones (``safety_settings``, ``tool_config``, ``system_instruction``,
        ``cached_content``, Gemini ``tools``); the gateway translates them the same way.
        ``stores=[store, …]`` grounds the answer on the last question's ``top_k`` (8) best
        chunks: the message then carries ``annotations`` citing them. File Search stores
        (:class:`~gemgate.rag.FileSearchStore`) go to the model as its ``fileSearch`` tool
        instead, and the annotations come from Gemini's own grounding.

        Example::

            reply = await g.chat(messages, tools=[weather_tool], tool_choice="required")
            calls = reply["choices"][0]["message"]["tool_calls"]
        """
        stores: Sequence[RetrievalStore] = params.pop("stores", ())
        top_k = int(params.pop("top_k", 8))
        contents, system = openai.messages_to_contents(messages)
        model = self._model(params)
        request = _with_file_search(
            self.build_request(contents, system, params, model=model), stores, top_k
        )
        hits = await self._retrieve(stores, contents, top_k)
        if hits:
            from gemgate.rag import ground_response, grounded_request

            request = grounded_request(request, hits)
        with call_deadline(params, self.engine.clock):
            response = await self.engine.generate(
                request, model, **_routing(params), cacheable=True
            )
        if hits:
            ground_response(response, hits)
        tag = openai.thought_tag_of(params)
        return openai.completion(response, model, created=int(self.engine.clock()), thought_tag=tag)

    async def _retrieve(
        self, stores: Sequence[RetrievalStore], contents: Sequence[Mapping[str, Any]], k: int
    ) -> list[Any]:
        """The best ``k`` chunks of the local ``stores`` for the last user message's text."""
        if not stores:
            return []
        from gemgate.rag import retrieve

        return await retrieve(stores, contents, k)

    async def stream_chat(
        self, messages: Sequence[Mapping[str, Any]], **params: Any
    ) -> AsyncIterator[dict[str, Any]]:
        """OpenAI-format ``chat.completion.chunk`` dicts, as they arrive (see :meth:`chat`)."""
        stores: Sequence[RetrievalStore] = params.pop("stores", ())
        top_k = int(params.pop("top_k", 8))
        contents, system = openai.messages_to_contents(messages)
        model = self._model(params)
        request = _with_file_search(
            self.build_request(contents, system, params, model=model), stores, top_k
        )
        hits = await self._retrieve(stores, contents, top_k)
        feed: Callable[[dict[str, Any]], dict[str, Any]] = lambda chunk: chunk  # noqa: E731
        if hits:
            from gemgate.rag import GroundedStream, grounded_request

            request = grounded_request(request, hits)
            feed = GroundedStream(hits).feed
        tag = openai.thought_tag_of(params)
        chunks = openai.ChunkStream(model, created=int(self.engine.clock()), thought_tag=tag)
        stream = self.engine.stream_generate(request, model, **_routing(params))
        async for chunk in timed_stream(stream, params, self.engine.clock):
            yield chunks.convert(feed(chunk))

    async def process_image(
        self,
        image_bytes: bytes,
        prompt: str,
        *,
        mime_type: str = "image/jpeg",
        stream: bool = False,
        **params: Any,
    ) -> Any:
        """Ask about an image: ``{"analysis": text, ...}``, or chunks with ``analysis_chunk``."""
        parts = [
            {"inlineData": {"mimeType": mime_type, "data": base64.b64encode(image_bytes).decode()}},
            {"text": prompt},
        ]
        contents = [{"role": "user", "parts": parts}]
        if stream:
            return self._image_stream(contents, params)
        response = await self.generate_content(contents, **params)
        return {
            "analysis": _text(response),
            "model": self._model(params),
            "usage": openai.usage(response.get("usageMetadata")),
            "response": response,
        }

    async def _image_stream(
        self, contents: list[dict[str, Any]], params: Mapping[str, Any]
    ) -> AsyncIterator[dict[str, Any]]:
        async for chunk in self.stream_generate_content(contents, **params):
            yield {"analysis_chunk": _text(chunk), "done": _finished(chunk)}

    async def batch_generate_content(
        self,
        prompts: Sequence[str | Sequence[Mapping[str, Any]]],
        *,
        batch_size: int = 5,
        progress: Callable[[int, int], None] | None = None,
        **params: Any,
    ) -> list[dict[str, Any]]:
        """Generate for many prompts, ``batch_size`` at a time, results in prompt order.

        A failed prompt yields ``{"error": {"type": ..., "message": ...}}`` in its place;
        nothing is raised for it.
        """
        if batch_size < 1:
            raise UsageError("batch_size must be at least 1")
        results: list[dict[str, Any]] = [{} for _ in prompts]
        slots = asyncio.Semaphore(batch_size)
        done = 0

        async def one(index: int, prompt: str | Sequence[Mapping[str, Any]]) -> None:
            nonlocal done
            async with slots:
                try:
                    results[index] = await self.generate_content(prompt, **params)
                except GemgateError as exc:
                    results[index] = {"error": {"type": type(exc).__name__, "message": str(exc)}}
            done += 1
            if progress is not None:
                progress(done, len(prompts))

        await asyncio.gather(*(one(i, p) for i, p in enumerate(prompts)))
        return results


def _text(response: Mapping[str, Any]) -> str:
    candidates = response.get("candidates") or [{}]
    parts = candidates[0].get("content", {}).get("parts", [])
    return "".join(p.get("text", "") for p in parts if not p.get("thought"))


def _finished(chunk: Mapping[str, Any]) -> bool:
    return any("finishReason" in c for c in chunk.get("candidates", []))


def _with_file_search(
    request: dict[str, Any], stores: Sequence[RetrievalStore], top_k: int
) -> dict[str, Any]:
    """``request`` with the ``fileSearch`` tool of the File Search stores among ``stores``."""
    if not stores:
        return request
    from gemgate.rag import file_search_tool

    searched = file_search_tool(stores, top_k)
    if searched is not None:
        request["tools"] = [*request.get("tools", []), searched]
    return request


def _routing(params: Mapping[str, Any]) -> dict[str, Any]:
    """The ``request_id`` and ``endpoint_id`` a call was given, for the engine."""
    return {"request_id": params.get("request_id"), "endpoint_id": params.get("endpoint_id")}
