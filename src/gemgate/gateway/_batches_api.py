"""``/v1/batches``: OpenAI's Batch API over Gemini's.

Create reads the input file (a ``/v1/files`` file with purpose ``batch``), checks every
line as OpenAI does and translates it (`gemgate.wire.openai._batch`); a file with bad
lines gives a batch that is ``failed`` at once, its ``errors.data[]`` naming each line.
Otherwise the Gemini requests go, as a JSONL file, to a Gemini batch started by the
library's batches (`gemgate.batch`, ``client.batches.for_owner(key)``), which journals it
with the project that owns it. Reading a batch reads the Gemini batch; the first read
that finds it done reads its results, stores the output and error files (purpose
``batch_output``, owned by the batch's key) and charges each result's tokens, at batch
prices, to the request log and the key's budget — once. Gemini counts no tokens for
embeddings: those are estimated from the input file, as ``/v1/embeddings`` does.

A batch belongs to the gateway key that created it; another key gets OpenAI's 404.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qsl

import anyio
from starlette.types import Receive, Scope, Send

from gemgate.batch import Batches as GeminiBatches
from gemgate.batch import BatchItemError, BatchStats
from gemgate.errors import APIStatusError, BatchError, GemgateError, NotFoundError
from gemgate.gateway._asgi import read_json, send_json
from gemgate.gateway._batches import TERMINAL, TIMES, Batches, BatchRecord, new_batch_id
from gemgate.gateway._faces import Problem
from gemgate.gateway._files import Files
from gemgate.gateway._files_api import limit_of, page
from gemgate.gateway._sessions_api import owner_of
from gemgate.upstream._calls import estimate_tokens
from gemgate.upstream._pipeline import Call
from gemgate.usage import PriceTable, UsageEntry
from gemgate.wire.openai import (
    BATCH_ENDPOINTS,
    BatchResult,
    LineError,
    ReadBatch,
    openai_results_of,
    openai_status,
    read_batch_file,
)

__all__ = ["BatchesRoute", "batch_entry", "batch_json"]

logger = logging.getLogger("gemgate.gateway")

WINDOW = 24 * 3600
EMBEDDINGS = "/v1/embeddings"
_FIELDS = frozenset({"input_file_id", "endpoint", "completion_window", "metadata"})
_MAX_LINE_ERRORS = 100
_STALE_CLAIM = 300
"""Seconds after which another reader may finish a batch whose collection stopped."""


def batch_json(record: BatchRecord) -> dict[str, Any]:
    """OpenAI's batch object."""
    errors = {"object": "list", "data": record.errors} if record.errors else None
    out: dict[str, Any] = {
        "id": record.id,
        "object": "batch",
        "endpoint": record.endpoint,
        "errors": errors,
        "input_file_id": record.input_file_id,
        "completion_window": record.completion_window,
        "status": record.status,
        "output_file_id": record.output_file_id,
        "error_file_id": record.error_file_id,
    }
    out.update({name: getattr(record, name) for name in TIMES})
    out["request_counts"] = {
        "total": record.total,
        "completed": record.completed,
        "failed": record.failed,
    }
    out["metadata"] = record.meta
    return out


def _missing(batch_id: str) -> Problem:
    return Problem(404, f"No batch found with id '{batch_id}'.", "batch_id", code="not_found")


class BatchesRoute:
    """Serves ``/v1/batches``."""

    def __init__(
        self,
        gemini: GeminiBatches,
        files: Files,
        batches: Batches,
        prices: PriceTable,
        account: Callable[[UsageEntry], None],
        max_body: int,
    ) -> None:
        self.gemini = gemini
        self.files = files
        self.batches = batches
        self._prices = prices
        self._account = account
        self._max_body = max_body

    async def create(self, scope: Scope, receive: Receive, send: Send) -> None:
        """``POST /v1/batches``: ``input_file_id``, ``endpoint``, ``completion_window``."""
        body = await read_json(receive, self._max_body)
        endpoint, file_id, meta = _create_fields(body)
        owner = owner_of(scope) or ""
        stored = await self.files.get(owner, file_id)
        if stored is None:
            raise Problem(400, f"No such File object: {file_id}", "input_file_id")
        if stored.purpose != "batch":
            raise Problem(
                400,
                f"File {file_id} has purpose {stored.purpose!r}; a batch's input file needs "
                "purpose 'batch'",
                "input_file_id",
            )
        data = await self.files.content(owner, file_id) or b""
        read = await anyio.to_thread.run_sync(read_batch_file, data, endpoint)  # up to 50k lines
        now = int(time.time())
        record = BatchRecord(
            id=new_batch_id(),
            owner=owner,
            endpoint=endpoint,
            input_file_id=file_id,
            created_at=now,
            expires_at=now + WINDOW,
            model=read.model,
            meta=meta,
            total=read.lines,
        )
        if not read.errors and read.model is not None:
            key = scope.get("gemgate.key")
            if key is not None and not key.allows(read.model):
                raise Problem(403, f"this gateway key may not use {read.model}", "model")
            if not await self._has_model(read.model):
                message = f"Line {read.model_line}: the model {read.model!r} does not exist"
                read.errors.append(
                    LineError(read.model_line, "model_not_found", message, "body.model")
                )
        if read.errors:
            errors = [e.as_json() for e in read.errors[:_MAX_LINE_ERRORS]]
            record = record.with_(status="failed", failed_at=now, errors=errors)
        else:
            record = await self._start(record, read, now)
        await self.batches.add(record)
        await send_json(send, 200, batch_json(record))

    async def read(self, scope: Scope, receive: Receive, send: Send) -> None:
        """``GET /v1/batches/{batch_id}``."""
        await send_json(send, 200, batch_json(await self._refresh(await self._record(scope))))

    async def list_all(self, scope: Scope, receive: Receive, send: Send) -> None:
        """``GET /v1/batches?after=&limit=``: newest first."""
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
        limit = limit_of(query.get("limit", "20"), most=100)
        records = await self.batches.list_batches(
            owner_of(scope) or "", limit=limit + 1, after=query.get("after") or None
        )
        shown = [await self._listed(r) for r in records[:limit]] + records[limit:]
        await send_json(send, 200, page([batch_json(r) for r in shown], limit))

    async def _listed(self, record: BatchRecord) -> BatchRecord:
        """The batch as a list shows it: refreshed, or as stored if Gemini cannot say now."""
        try:
            return await self._refresh(record)
        except GemgateError as exc:  # one batch's upstream trouble does not fail the list
            logger.warning("batch %s not refreshed: %s", record.id, exc)
            return record

    async def cancel(self, scope: Scope, receive: Receive, send: Send) -> None:
        """``POST /v1/batches/{batch_id}/cancel``."""
        record = await self._record(scope)
        if record.status in TERMINAL or record.status == "finalizing":  # results being stored
            raise Problem(
                409,
                f"Cannot cancel a batch with status '{record.status}'.",
                code="batch_not_cancellable",
            )
        if record.status != "cancelling" and record.gemini_batch and record.project:
            await self._cancel(record)
            cancelling = record.with_(status="cancelling", cancelling_at=int(time.time()))
            if await self.batches.update(cancelling, {"status": record.status}):
                record = cancelling
        await send_json(send, 200, batch_json(await self._refresh(record)))

    async def _record(self, scope: Scope) -> BatchRecord:
        batch_id = scope["path_params"]["batch_id"]
        record = await self.batches.get(owner_of(scope) or "", batch_id)
        if record is None:
            raise _missing(batch_id)
        return record

    async def _has_model(self, model: str) -> bool:
        """Whether the upstream knows ``model``."""
        engine = self.gemini.engine
        try:
            await engine.call_json(Call("GET", f"/{engine.version}/models/{model}"))
        except APIStatusError as exc:
            if exc.status_code in (400, 404):
                return False
            raise
        return True

    async def _start(self, record: BatchRecord, read: ReadBatch, now: int) -> BatchRecord:
        """Start the Gemini batch, its requests uploaded as a file, as the key's own."""
        owned = self.gemini.for_owner(record.owner)
        job = await owned.submit(
            [(r.key, r.request) for r in read.requests],
            model=read.model,
            display_name=record.id,
            kind="embed" if record.endpoint == EMBEDDINGS else "generate",
            as_file=True,
        )
        journal = await owned.record(job.name)
        assert journal is not None  # submit journals the batch it started
        return record.with_(
            status="in_progress",
            in_progress_at=now,
            gemini_batch=job.name,
            gemini_file=journal.input_file,
            project=journal.project,
        )

    async def _cancel(self, record: BatchRecord) -> None:
        """Ask for the Gemini batch to be cancelled (one already finished stays as it is)."""
        assert record.gemini_batch is not None and record.project is not None
        owned = self.gemini.for_owner(record.owner)
        try:
            await owned.cancel(record.gemini_batch, keys=[record.project])
        except APIStatusError as exc:
            if exc.status_code not in (400, 409):  # FAILED_PRECONDITION: already finished
                raise

    async def _upstream(self, record: BatchRecord) -> tuple[str, BatchStats]:
        """The Gemini batch's state and counts (one deleted upstream has failed)."""
        assert record.gemini_batch is not None and record.project is not None
        owned = self.gemini.for_owner(record.owner)
        try:
            job = await owned.get(record.gemini_batch, keys=[record.project])
        except NotFoundError:  # deleted upstream: it will never finish
            return "BATCH_STATE_FAILED", BatchStats()
        return job.state, job.stats

    async def _refresh(self, record: BatchRecord) -> BatchRecord:
        """The batch now: read from Gemini unless it is final; collected once done."""
        if record.status in TERMINAL or not record.gemini_batch or not record.project:
            return record
        now = int(time.time())
        state, stats = await self._upstream(record)
        status = openai_status(state)
        if status == "in_progress" and now >= record.expires_at:  # past its 24 h window
            await self._cancel(record)
            status = "expired"
        # Gemini counts its requests; an embeddings line with n inputs is n of them.
        counts = {
            "total": record.total,
            "completed": min(stats.succeeded, record.total),
            "failed": min(stats.failed, record.total),
        }
        if status == "completed":
            return await self._collect(record, stats, now)
        if status == "in_progress":
            new = record.with_(**counts)
        elif status == "cancelled":
            new = record.with_(
                status="cancelled",
                cancelling_at=record.cancelling_at or now,
                cancelled_at=now,
                **counts,
            )
        elif status == "expired":
            new = record.with_(status="expired", expired_at=now, **counts)
        else:
            error = {"code": "batch_failed", "message": "The batch failed upstream."}
            new = record.with_(
                status="failed", failed_at=now, errors=[{**error, "param": None, "line": None}]
            )
        if new != record and not await self.batches.update(new, {"status": record.status}):
            return await self.batches.get(record.owner, record.id) or new
        return new

    async def _collect(self, record: BatchRecord, stats: BatchStats, now: int) -> BatchRecord:
        """Store the output and error files and charge the results (one reader does it)."""
        if record.status == "finalizing" and now - (record.finalizing_at or 0) < _STALE_CLAIM:
            return record
        claimed = record.with_(status="finalizing", finalizing_at=now)
        held = {"status": record.status, "finalizing_at": record.finalizing_at}
        if not await self.batches.update(claimed, held):
            return await self.batches.get(record.owner, record.id) or record
        assert record.project is not None and record.model is not None
        try:
            results = openai_results_of(
                await self._results(record),
                record.endpoint,
                record.model,
                batch_id=record.id,
                created=now,
                input_tokens=await self._input_tokens(record),
            )
            ok = [r for r in results if r.ok]
            bad = [r for r in results if not r.ok]
            output = await self._store(record, "output", ok)
            errors = await self._store(record, "error", bad)
        except BaseException:
            await self.batches.update(record, _claim(claimed))  # another read may retry
            raise
        done = claimed.with_(
            status="completed",
            completed_at=now,
            output_file_id=output,
            error_file_id=errors,
            total=record.total or len(results),
            completed=len(ok),
            failed=len(bad),
        )
        if not await self.batches.update(done, _claim(claimed)):  # a later reader took over
            for file_id in filter(None, (output, errors)):
                await self.files.delete(record.owner, file_id)
            return await self.batches.get(record.owner, record.id) or record
        self._charge(record, results, float(now))  # only the reader whose claim held
        return done

    async def _results(self, record: BatchRecord) -> list[dict[str, Any]]:
        """The Gemini batch's result rows, ``{"key", "response" | "error"}``."""
        assert record.gemini_batch is not None and record.project is not None
        owned = self.gemini.for_owner(record.owner)
        rows: list[dict[str, Any]] = []
        try:
            async for key, value in owned.iter_results(record.gemini_batch, keys=[record.project]):
                if isinstance(value, BatchItemError):
                    rows.append({"key": key, "error": value.as_dict()})
                else:
                    rows.append({"key": key, "response": value})
        except BatchError:  # it succeeded without a results file: no results
            return []
        return rows

    async def _input_tokens(self, record: BatchRecord) -> dict[str, int]:
        """Tokens of each embeddings input (Gemini key → estimate), from the input file.

        Estimated as ``/v1/embeddings`` does; none when the input file is gone.
        """
        if record.endpoint != EMBEDDINGS:
            return {}
        data = await self.files.content(record.owner, record.input_file_id)
        if data is None:
            return {}
        read = read_batch_file(data, record.endpoint)
        return {r.key: estimate_tokens(_text_of(r.request).encode()) for r in read.requests}

    async def _store(
        self, record: BatchRecord, kind: str, results: list[BatchResult]
    ) -> str | None:
        if not results:
            return None
        lines = "".join(json.dumps(r.line, separators=(",", ":")) + "\n" for r in results)
        name = f"{record.id}_{kind}.jsonl"
        stored = await self.files.add(record.owner, name, "batch_output", lines.encode())
        return stored.id

    def _charge(self, record: BatchRecord, results: list[BatchResult], at: float) -> None:
        """One request-log entry per result, priced at batch rates, onto the key's budget."""
        for result in results:
            response = result.line.get("response") or {}
            self._account(
                batch_entry(
                    self._prices,
                    record.model or "",
                    result.usage or {},
                    at=at,
                    request_id=str(result.line.get("id", "")),
                    caller=record.owner or None,
                    project=record.project,
                    ok=result.ok,
                    http_status=response.get("status_code"),
                )
            )


def batch_entry(
    prices: PriceTable,
    model: str,
    usage: Mapping[str, Any],
    *,
    at: float,
    request_id: str,
    caller: str | None,
    project: str | None,
    ok: bool,
    http_status: int | None = None,
) -> UsageEntry:
    """One batch result as a request-log entry, priced at batch rates (a failure costs 0)."""
    prompt = int(usage.get("promptTokenCount", 0))
    completion = int(usage.get("candidatesTokenCount", 0))
    cached = int(usage.get("cachedContentTokenCount", 0))
    thoughts = int(usage.get("thoughtsTokenCount", 0))
    cost = prices.cost(model, prompt, completion, cached, thoughts, batch=True)
    return UsageEntry(
        at=at,
        request_id=request_id,
        caller=caller,
        project=project,
        api_key=None,
        model=model,
        kind="batch",
        status="success" if ok else "error",
        http_status=http_status,
        latency_ms=0.0,
        prompt_tokens=prompt,
        completion_tokens=completion,
        cached_tokens=cached,
        thoughts_tokens=thoughts,
        cost_usd=cost if ok else (0.0 if cost is not None else None),
    )


def _text_of(request: Mapping[str, Any]) -> str:
    """The text of an ``EmbedContentRequest``."""
    parts = (request.get("content") or {}).get("parts") or []
    return "".join(str(p.get("text", "")) for p in parts if isinstance(p, Mapping))


def _claim(claimed: BatchRecord) -> dict[str, Any]:
    """The row as this reader's claim left it (unless a later reader took it over)."""
    return {"status": "finalizing", "finalizing_at": claimed.finalizing_at}


def _create_fields(body: Mapping[str, Any]) -> tuple[str, str, dict[str, str] | None]:
    """``endpoint``, ``input_file_id`` and ``metadata`` of a create body, checked."""
    unknown = sorted(set(body) - _FIELDS)
    if unknown:
        raise Problem(400, f"Unrecognized request argument(s): {', '.join(unknown)}", unknown[0])
    file_id = body.get("input_file_id")
    if not isinstance(file_id, str) or not file_id:
        raise Problem(400, "'input_file_id' is required and must be a string", "input_file_id")
    endpoint = body.get("endpoint")
    if endpoint not in BATCH_ENDPOINTS:
        raise Problem(400, f"'endpoint' must be one of {sorted(BATCH_ENDPOINTS)}", "endpoint")
    if body.get("completion_window") != "24h":
        raise Problem(400, "'completion_window' must be '24h'", "completion_window")
    return str(endpoint), file_id, _metadata(body.get("metadata"))


def _metadata(value: Any) -> dict[str, str] | None:
    if value is None:
        return None
    if (
        not isinstance(value, dict)
        or len(value) > 16
        or not all(isinstance(k, str) and len(k) <= 64 for k in value)
        or not all(isinstance(v, str) and len(v) <= 512 for v in value.values())
    ):
        raise Problem(
            400,
            "'metadata' must be an object of at most 16 strings (keys up to 64 characters, "
            "values up to 512)",
            "metadata",
        )
    return dict(value)
