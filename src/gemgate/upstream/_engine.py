"""The engine: settings, driver, state, pipeline and tracking, shared by every face."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import anyio

from gemgate.config import GOOGLE_BASE_URL, Settings
from gemgate.errors import (
    ProtocolError,
    StreamInterrupted,
    UpstreamTimeout,
    UsageError,
    WireDecodeError,
)
from gemgate.policy._report import QuotaReport, build_report
from gemgate.projects import ProjectConfig
from gemgate.state._base import OwnerStore
from gemgate.state._open import open_state
from gemgate.upstream._calls import bare_model, estimate_tokens, referenced_resources
from gemgate.upstream._driver import ASGIDriver, Driver
from gemgate.upstream._endpoints import Endpoint
from gemgate.upstream._exchange import Exchange
from gemgate.upstream._http1 import HTTPDriver
from gemgate.upstream._pipeline import Call, Sent, Upstream
from gemgate.upstream._together import together
from gemgate.upstream._tracking import Tracker
from gemgate.wire._models import model_id
from gemgate.wire.errors import parse_error
from gemgate.wire.jsonarray import JSONArrayDecoder
from gemgate.wire.sse import SSEDecoder

if TYPE_CHECKING:
    import httpx2
    from google import genai

__all__ = ["EMBED_BATCH", "EMULATOR_KEY", "Engine", "EngineSource", "engine_of"]

EMBED_BATCH = 100
"""Texts per ``:batchEmbedContents`` call at most (the API refuses more)."""

EMULATOR_KEY = "emulator-key"
_NO_KEY = (
    "no Gemini API key configured: set GEMINI_API_KEY, pass api_key= (or projects=), or "
    "list [[projects]] in the config file; to use the built-in emulator instead, say so "
    "with AsyncGemini.emulated() / Gemini.emulated() or GEMGATE_UPSTREAM=emulator"
)


class Engine:
    """Owns the pipeline and everything it shares between calls.

    Every face sends through one engine: the library's convenience API, the official SDK
    (:attr:`sdk`), the gateway's routes, and the features (context caching, the tool
    loop, Live sessions), which take an engine rather than a client.

    Example::

        engine = Engine(Settings.load(upstream="emulator"))
        reply = await engine.generate({"contents": [...]}, "gemini-2.5-flash")
    """

    def __init__(
        self,
        settings: Settings,
        *,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        driver: Driver | None = None,
        cache_size: int | None = None,
        cache_ttl: float | None = None,
        owners: OwnerStore | None = None,
    ) -> None:
        self.clock = clock or time.time
        self.sleep = sleep or anyio.sleep
        if settings.uses_emulator:
            settings = settings.model_copy(
                update={"projects": [ProjectConfig(name="emulator", keys=[EMULATOR_KEY])]}
            )
            if driver is None:
                driver = ASGIDriver(_emulator_app(self.clock))
        elif not settings.projects:
            raise UsageError(_NO_KEY)
        self.settings = settings
        self.driver = driver or HTTPDriver(
            settings.upstream_url or GOOGLE_BASE_URL,
            connect=settings.timeouts.connect,
            limit=settings.max_connections,
            ca_file=settings.tls_ca_file,
        )
        self.shared = open_state(
            settings.state_url,
            fail_closed=settings.state_fail_closed,
            prefix=settings.state_prefix,
            cache_size=cache_size,
            cache_ttl=cache_ttl,
            clock=self.clock,
        )
        """Quota state, owners and cache: this process's memory, or Redis (``state_url``)."""
        self.state = self.shared.quota
        self.tracker = Tracker(self.clock, settings.history_size)
        self.owners: OwnerStore = owners or self.shared.owners
        """Project that owns each cachedContents/files resource (or upload id)."""
        self.upstream = Upstream(
            settings,
            self.driver,
            self.state,
            self.tracker,
            self.owners,
            clock=self.clock,
            sleep=self.sleep,
        )
        self.cache = self.shared.cache
        self.endpoints: dict[str, Endpoint] = {}
        self._sdk: genai.Client | None = None
        self._sdk_http: httpx2.AsyncClient | None = None

    @property
    def version(self) -> str:
        """The API version in paths."""
        return self.settings.api_version

    @property
    def emulated(self) -> bool:
        """Whether the upstream is the built-in, in-process emulator."""
        return isinstance(self.driver, ASGIDriver)

    @property
    def sdk(self) -> genai.Client:
        """The official async-capable ``google.genai.Client``, sending through the pipeline."""
        if self._sdk is None:
            import httpx2
            from google import genai
            from google.genai import types

            from gemgate.upstream._sdk import PipelineTransport

            http = httpx2.AsyncClient(transport=PipelineTransport(self), timeout=None)
            self._sdk_http = http
            options = types.HttpOptions(
                base_url=self.driver.base_url, api_version=self.version, httpx_async_client=http
            )
            self._sdk = genai.Client(api_key="gemgate-managed", http_options=options)
        return self._sdk

    def path(self, model: str, method: str) -> str:
        """``/v1beta/models/{model}:{method}``; the model id must be a plain name."""
        return f"/{self.version}/models/{model_id(model)}:{method}"

    def endpoint(self, endpoint_id: str | None) -> Endpoint | None:
        """A dedicated endpoint by id (None for the default)."""
        if endpoint_id is None:
            return None
        try:
            return self.endpoints[endpoint_id]
        except KeyError:
            raise UsageError(f"unknown endpoint_id {endpoint_id!r}") from None

    def exchange(
        self, call: Call, request_id: str | None = None, endpoint_id: str | None = None
    ) -> Exchange:
        """Start tracking ``call`` (see :class:`~gemgate.upstream._exchange.Exchange`)."""
        return Exchange(self, call, request_id, endpoint_id)

    def cache_key(self, call: Call) -> str:
        """A canonical hash of model + request."""
        digest = hashlib.sha256()
        digest.update(call.path.encode())
        digest.update(b"\0")
        digest.update(call.body or b"")
        return digest.hexdigest()

    def generate_call(self, request: Mapping[str, Any], model: str, *, stream: bool) -> Call:
        """The call for a GenerateContentRequest (``alt=sse`` when streaming)."""
        body = json.dumps(request, separators=(",", ":")).encode()
        method = "streamGenerateContent" if stream else "generateContent"
        path = self.path(model, method) + ("?alt=sse" if stream else "")
        return Call(
            "POST",
            path,
            body,
            {"content-type": "application/json"},
            model=bare_model(model),
            kind="stream" if stream else "generate",
            tokens=estimate_tokens(body),
            resources=referenced_resources("", body),
        )

    async def generate(
        self,
        request: Mapping[str, Any],
        model: str,
        *,
        request_id: str | None = None,
        endpoint_id: str | None = None,
        cacheable: bool = False,
    ) -> dict[str, Any]:
        """Send a whole GenerateContentRequest; the GenerateContentResponse."""
        call = self.generate_call(request, model, stream=False)
        return await self.call_json(
            call, request_id=request_id, endpoint_id=endpoint_id, cacheable=cacheable
        )

    def stream_generate(
        self,
        request: Mapping[str, Any],
        model: str,
        *,
        request_id: str | None = None,
        endpoint_id: str | None = None,
    ) -> AsyncGenerator[dict[str, Any], None]:
        """Stream a GenerateContentRequest's response chunks."""
        call = self.generate_call(request, model, stream=True)
        return self.call_stream(call, request_id=request_id, endpoint_id=endpoint_id)

    async def embed(
        self,
        texts: Sequence[str],
        model: str,
        *,
        task_type: str | None = None,
        dimensions: int | None = None,
        titles: Sequence[str] | None = None,
        request_id: str | None = None,
        endpoint_id: str | None = None,
    ) -> list[list[float]]:
        """One embedding per text, in order, through ``:batchEmbedContents``.

        Texts go in batches of at most :data:`EMBED_BATCH` (the API's limit), up to four
        batches at once; each batch is one call with the engine's keys, quotas and retries.
        ``titles`` (one per text) go with ``RETRIEVAL_DOCUMENT`` embeddings.
        """
        if titles is not None and len(titles) != len(texts):
            raise UsageError("titles must have one entry per text")
        name = bare_model(model)
        path = self.path(name, "batchEmbedContents")
        out: list[list[float]] = [[] for _ in texts]
        limit = anyio.Semaphore(4)

        async def batch(start: int) -> None:
            requests = []
            for i in range(start, min(start + EMBED_BATCH, len(texts))):
                entry: dict[str, Any] = {
                    "model": f"models/{name}",
                    "content": {"parts": [{"text": texts[i]}]},
                }
                if task_type:
                    entry["taskType"] = task_type
                if dimensions:
                    entry["outputDimensionality"] = dimensions
                if titles is not None and titles[i]:
                    entry["title"] = titles[i]
                requests.append(entry)
            body = json.dumps({"requests": requests}, separators=(",", ":")).encode()
            call = Call(
                "POST",
                path,
                body,
                {"content-type": "application/json"},
                model=name,
                kind="embed",
                tokens=estimate_tokens(body),
            )
            async with limit:
                response = await self.call_json(
                    call, request_id=request_id, endpoint_id=endpoint_id
                )
            embeddings = response.get("embeddings", [])
            if len(embeddings) != len(requests):
                raise WireDecodeError(
                    f"batchEmbedContents answered {len(embeddings)} embeddings "
                    f"for {len(requests)} texts"
                )
            for offset, embedding in enumerate(embeddings):
                out[start + offset] = embedding.get("values", [])

        await together(*(functools.partial(batch, s) for s in range(0, len(texts), EMBED_BATCH)))
        return out

    async def call_json(
        self,
        call: Call,
        *,
        request_id: str | None = None,
        endpoint_id: str | None = None,
        cacheable: bool = False,
    ) -> dict[str, Any]:
        """Send a call and return its JSON body, with caching, usage and tracking."""
        key = self.cache_key(call) if cacheable and self.cache is not None else None
        if key is not None and self.cache is not None:
            hit = await self.cache.get(key)
            if hit is not None:
                cached: dict[str, Any] = json.loads(hit)
                return cached
        exchange = self.exchange(call, request_id, endpoint_id)
        sent = await exchange.send()
        try:
            try:
                raw = await sent.reply.read()
            finally:
                await sent.reply.aclose()
            result = _parse(raw)
        except BaseException as exc:
            exchange.fail(exc)
            raise
        await exchange.finish(result.get("usageMetadata") if isinstance(result, Mapping) else None)
        if key is not None and self.cache is not None:
            await self.cache.set(key, raw)
        return result if isinstance(result, dict) else {"value": result}

    async def call_stream(
        self,
        call: Call,
        *,
        request_id: str | None = None,
        endpoint_id: str | None = None,
    ) -> AsyncGenerator[dict[str, Any], None]:
        """Stream parsed chunks; a failure after the first chunk is :class:`StreamInterrupted`."""
        exchange = self.exchange(call, request_id, endpoint_id)
        sent = await exchange.send()
        received: list[dict[str, Any]] = []
        last_usage: Mapping[str, Any] | None = None
        try:
            async for chunk in _events(sent):
                if "error" in chunk and isinstance(chunk["error"], Mapping):
                    error = parse_error(chunk, status_code=int(chunk["error"].get("code", 500)))
                    raise StreamInterrupted(
                        f"stream failed after {len(received)} chunks: {error.code} "
                        f"{error.status}: {error.message}",
                        received,
                        None,
                    )
                received.append(chunk)
                last_usage = chunk.get("usageMetadata") or last_usage
                yield chunk
        except (ProtocolError, UpstreamTimeout, WireDecodeError) as exc:
            interrupted = StreamInterrupted(
                f"stream failed after {len(received)} chunks: {exc}", received, exc
            )
            exchange.fail(interrupted)
            raise interrupted from exc
        except BaseException as exc:
            exchange.fail(exc)
            raise
        finally:
            await sent.reply.aclose()
        await exchange.finish(last_usage)

    async def quota_report(self) -> QuotaReport:
        """Every project's quota windows, cooldowns and keys, now (read-only, no secrets).

        Example::

            report = await engine.quota_report()
            for project in report.projects:
                print(project.name, [(k.name, k.state) for k in project.keys])
        """
        now = self.clock()
        projects = list(self.settings.projects)
        for endpoint in self.endpoints.values():  # a dedicated endpoint's own keys
            projects += endpoint.projects
        return build_report(
            now,
            projects,
            await self.state.usage(now),
            await self.state.cooldowns(now),
            await self.state.disabled_reasons(),
            self.upstream.key_requests,
            self.upstream.key_errors,
        )

    async def aclose(self) -> None:
        """Close the SDK client, if one was made, and the driver's connections."""
        if self._sdk is not None:
            await self._sdk.aio.aclose()
        if self._sdk_http is not None:  # the SDK leaves a client it was given open
            await self._sdk_http.aclose()
        with contextlib.suppress(Exception):
            await self.driver.aclose()
        await self.shared.aclose()


def _emulator_app(clock: Callable[[], float]) -> Any:
    """The built-in emulator's ASGI app, or a clear error when its extra is missing."""
    try:
        from gemgate.emulator import create_app
    except ModuleNotFoundError as exc:
        raise UsageError(
            f"the built-in emulator needs {exc.name!r}, which is not installed: "
            "pip install 'gemgate[emulator]'"
        ) from exc
    return create_app(clock=clock)


class EngineSource(Protocol):
    """Anything that has an engine: :class:`~gemgate.AsyncGemini`, for one."""

    @property
    def engine(self) -> Engine:
        """The engine its calls go through."""


def engine_of(source: Engine | EngineSource) -> Engine:
    """The engine itself, or the engine of a client."""
    return source if isinstance(source, Engine) else source.engine


def _parse(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError as exc:
        from gemgate.errors import GeminiResponseError

        raise GeminiResponseError(f"the response is not valid JSON: {exc}") from exc


async def _events(sent: Sent) -> AsyncIterator[dict[str, Any]]:
    """Decode an SSE (``alt=sse``) or JSON-array stream into chunk objects."""
    content_type = sent.reply.headers.get("content-type", "")
    if "event-stream" in content_type:
        decoder = SSEDecoder()
        async for raw in sent.reply.chunks:
            for event in decoder.feed(raw):
                yield _load(event.data)
        for event in decoder.flush():
            yield _load(event.data)
        return
    array = JSONArrayDecoder()
    async for raw in sent.reply.chunks:
        for item in array.feed(raw):
            yield item
    array.close()


def _load(data: str) -> dict[str, Any]:
    try:
        value = json.loads(data)
    except ValueError as exc:
        raise WireDecodeError(f"malformed stream event: {exc}") from exc
    if not isinstance(value, dict):
        raise WireDecodeError("stream event is not a JSON object")
    return value
