"""The engine: settings, driver, state, pipeline and tracking, shared by every face."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

import anyio

from gemgate.config import GOOGLE_BASE_URL, Settings
from gemgate.errors import ProtocolError, StreamInterrupted, UpstreamTimeout, WireDecodeError
from gemgate.projects import ProjectConfig
from gemgate.state.memory import MemoryQuotaState, MemoryResponseCache
from gemgate.upstream.calls import bare_model
from gemgate.upstream.driver import ASGIDriver, Driver
from gemgate.upstream.endpoints import Endpoint
from gemgate.upstream.http1 import HTTPDriver
from gemgate.upstream.pipeline import Call, Sent, Upstream
from gemgate.upstream.tracking import RequestRecord, Tracker
from gemgate.wire.errors import parse_error
from gemgate.wire.jsonarray import JSONArrayDecoder
from gemgate.wire.sse import SSEDecoder

__all__ = ["Engine"]

EMULATOR_KEY = "emulator-key"
_MODEL_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_announced = False


def _announce_emulator() -> None:
    global _announced
    if not _announced:
        _announced = True
        print(
            "gemgate: no API key configured; using the built-in Gemini emulator "
            "(set GEMINI_API_KEY or [[projects]] to reach Google).",
            file=sys.stderr,
        )


class Engine:
    """Owns the pipeline and everything it shares between calls."""

    def __init__(
        self,
        settings: Settings,
        *,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        driver: Driver | None = None,
        cache_size: int | None = None,
        cache_ttl: float | None = None,
    ) -> None:
        self.clock = clock or time.time
        self.sleep = sleep or anyio.sleep
        if not settings.projects and settings.upstream_url is not None:
            from gemgate.errors import UsageError

            raise UsageError(
                f"no API key configured for the upstream {settings.upstream_url}: set "
                "GEMINI_API_KEY, pass api_key=, or list [[projects]] in the config file"
            )
        if settings.uses_emulator:
            settings = settings.model_copy(
                update={"projects": [ProjectConfig(name="emulator", keys=[EMULATOR_KEY])]}
            )
            if driver is None:
                from gemgate.emulator import create_app

                _announce_emulator()
                driver = ASGIDriver(create_app(clock=self.clock))
        self.settings = settings
        self.driver = driver or HTTPDriver(
            settings.upstream_url or GOOGLE_BASE_URL,
            connect=settings.timeouts.connect,
            limit=settings.max_connections,
            ca_file=settings.tls_ca_file,
        )
        self.state = MemoryQuotaState()
        self.tracker = Tracker(self.clock, settings.history_size)
        self.upstream = Upstream(
            settings, self.driver, self.state, self.tracker, clock=self.clock, sleep=self.sleep
        )
        self.cache = MemoryResponseCache(cache_size, cache_ttl, self.clock) if cache_size else None
        self.owners = self.upstream.owners
        """Project that owns each cachedContents/files resource (or upload id)."""
        self.endpoints: dict[str, Endpoint] = {}

    @property
    def version(self) -> str:
        """The API version in paths."""
        return self.settings.api_version

    def path(self, model: str, method: str) -> str:
        """``/v1beta/models/{model}:{method}``; the model id must be a plain name."""
        bare = bare_model(model)
        if not _MODEL_ID.match(bare):
            from gemgate.errors import UsageError

            raise UsageError(f"invalid model name {model!r}")
        return f"/{self.version}/models/{bare}:{method}"

    def endpoint(self, endpoint_id: str | None) -> Endpoint | None:
        """A dedicated endpoint by id (None for the default)."""
        if endpoint_id is None:
            return None
        try:
            return self.endpoints[endpoint_id]
        except KeyError:
            from gemgate.errors import UsageError

            raise UsageError(f"unknown endpoint_id {endpoint_id!r}") from None

    def start(self, call: Call, request_id: str | None, endpoint_id: str | None) -> RequestRecord:
        """Begin tracking a call."""
        rid = request_id or os.urandom(16).hex()
        return self.tracker.start(rid, call.model, endpoint_id, call.kind)

    async def send(self, call: Call, record: RequestRecord, endpoint_id: str | None = None) -> Sent:
        """Send through the pipeline (no tracking of the end: the caller finishes it)."""
        return await self.upstream.send(call, record, self.endpoint(endpoint_id))

    def cache_key(self, call: Call) -> str:
        """A canonical hash of model + request."""
        digest = hashlib.sha256()
        digest.update(call.path.encode())
        digest.update(b"\0")
        digest.update(call.body or b"")
        return digest.hexdigest()

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
        record = self.start(call, request_id, endpoint_id)
        try:
            sent = await self.send(call, record, endpoint_id)
            try:
                raw = await sent.reply.read()
            finally:
                await sent.reply.aclose()
            result = _parse(raw)
        except BaseException as exc:
            self.tracker.finish(record, error=exc)
            raise
        await self._account(record, sent, result)
        self.tracker.finish(record)
        if key is not None and self.cache is not None:
            await self.cache.set(key, raw)
        return result if isinstance(result, dict) else {"value": result}

    async def _account(self, record: RequestRecord, sent: Sent, result: Any) -> None:
        record.http_status = sent.reply.status
        usage = result.get("usageMetadata") if isinstance(result, Mapping) else None
        if usage:
            await self.record_usage(record, sent, usage)

    async def record_usage(
        self, record: RequestRecord, sent: Sent, usage: Mapping[str, Any]
    ) -> None:
        """Account ``usageMetadata``: token totals, and the TPM estimate made real."""
        self.tracker.add_usage(record, usage)
        if sent.grant is not None and record.model and "promptTokenCount" in usage:
            await self.state.reconcile(record.model, sent.grant, int(usage["promptTokenCount"]))

    async def call_stream(
        self,
        call: Call,
        *,
        request_id: str | None = None,
        endpoint_id: str | None = None,
    ) -> AsyncIterator[dict[str, Any]]:
        """Stream parsed chunks; a failure after the first chunk is :class:`StreamInterrupted`."""
        record = self.start(call, request_id, endpoint_id)
        try:
            sent = await self.send(call, record, endpoint_id)
        except BaseException as exc:
            self.tracker.finish(record, error=exc)
            raise
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
            self.tracker.finish(record, error=interrupted)
            raise interrupted from exc
        except BaseException as exc:
            self.tracker.finish(record, error=exc)
            raise
        finally:
            await sent.reply.aclose()
        if last_usage:
            await self.record_usage(record, sent, last_usage)
        record.http_status = sent.reply.status
        self.tracker.finish(record)

    async def aclose(self) -> None:
        """Close the driver's connections."""
        with contextlib.suppress(Exception):
            await self.driver.aclose()


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
