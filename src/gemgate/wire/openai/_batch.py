"""OpenAI Batch files ⇄ Gemini Batch files (sans-I/O).

An OpenAI batch input file holds one JSON request per line::

    {"custom_id": "q1", "method": "POST", "url": "/v1/chat/completions", "body": {...}}

:func:`read_batch_file` checks every line as OpenAI does (valid JSON, the batch's
endpoint, unique ``custom_id``, one model) and translates its body with the chat (or
embeddings) adapter into keyed Gemini requests (the library's batches,
:mod:`gemgate.batch`, send them). Gemini's result lines come back through
:func:`openai_results` (or, already read, :func:`openai_results_of`) as OpenAI's
output lines (``response.body`` a ``chat.completion`` or an embeddings list) and error
lines. :func:`openai_status` maps ``BATCH_STATE_*``.

Example:
    >>> line = {"custom_id": "q1", "method": "POST", "url": "/v1/chat/completions",
    ...     "body": {"model": "gemini-2.5-flash",
    ...              "messages": [{"role": "user", "content": "Hi"}]}}
    >>> read = read_batch_file(json.dumps(line).encode(), "/v1/chat/completions")
    >>> read.model, read.errors, read.requests[0].key
    ('gemini-2.5-flash', [], 'q1')
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from gemgate.wire._models import InvalidModel, model_id
from gemgate.wire.openai._errors import InvalidRequest
from gemgate.wire.openai._request import chat_request
from gemgate.wire.openai._response import completion

__all__ = [
    "BATCH_ENDPOINTS",
    "MAX_BATCH_LINES",
    "BatchRequest",
    "BatchResult",
    "LineError",
    "ReadBatch",
    "batch_request_id",
    "openai_results",
    "openai_results_of",
    "openai_status",
    "read_batch_file",
]

CHAT = "/v1/chat/completions"
EMBEDDINGS = "/v1/embeddings"
BATCH_ENDPOINTS = frozenset({CHAT, EMBEDDINGS})
"""The endpoints a batch may run."""
_LINE_FIELDS = frozenset({"custom_id", "method", "url", "body"})
_EMBED_FIELDS = frozenset({"model", "input", "dimensions", "encoding_format", "user"})
_PART = "#"
"""Separates a ``custom_id`` from the input's index in an embeddings batch's keys."""
_RPC = {
    1: "cancelled",
    3: "invalid_argument",
    4: "deadline_exceeded",
    5: "not_found",
    7: "permission_denied",
    8: "resource_exhausted",
    9: "failed_precondition",
    13: "internal",
    14: "unavailable",
}
_STATES = {
    "BATCH_STATE_PENDING": "in_progress",
    "BATCH_STATE_RUNNING": "in_progress",
    "BATCH_STATE_SUCCEEDED": "completed",
    "BATCH_STATE_FAILED": "failed",
    "BATCH_STATE_CANCELLED": "cancelled",
    "BATCH_STATE_EXPIRED": "expired",
    "JOB_STATE_PENDING": "in_progress",
    "JOB_STATE_RUNNING": "in_progress",
    "JOB_STATE_SUCCEEDED": "completed",
    "JOB_STATE_FAILED": "failed",
    "JOB_STATE_CANCELLED": "cancelled",
    "JOB_STATE_EXPIRED": "expired",
}


MAX_BATCH_LINES = 50_000
"""Requests one OpenAI batch may hold."""


@dataclass(frozen=True, slots=True)
class LineError:
    """Why one input line was refused (OpenAI's ``errors.data[]`` entry)."""

    line: int
    code: str
    message: str
    param: str | None = None

    def as_json(self) -> dict[str, Any]:
        """OpenAI's shape."""
        return {"code": self.code, "message": self.message, "param": self.param, "line": self.line}


@dataclass(frozen=True, slots=True)
class BatchRequest:
    """One Gemini batch request: its key and ``GenerateContentRequest``/``EmbedContentRequest``."""

    key: str
    request: dict[str, Any]


@dataclass(slots=True)
class ReadBatch:
    """An input file, read: the Gemini requests, the model, and the lines refused."""

    requests: list[BatchRequest] = field(default_factory=list)
    model: str | None = None
    model_line: int = 0
    """The first line naming :attr:`model`."""
    errors: list[LineError] = field(default_factory=list)
    lines: int = 0
    """How many requests the file holds."""


@dataclass(frozen=True, slots=True)
class BatchResult:
    """One OpenAI output (or error) line, and the usage to charge for it."""

    custom_id: str
    line: dict[str, Any]
    ok: bool
    usage: dict[str, Any] | None = None
    """Gemini's ``usageMetadata`` of a successful answer (for embeddings: the input
    tokens given to :func:`openai_results_of`, as ``promptTokenCount``)."""


def read_batch_file(data: bytes, endpoint: str) -> ReadBatch:
    """Check and translate every line of an OpenAI batch input file.

    Lines are numbered from 1; blank lines are skipped. Each refused line gives one
    :class:`LineError` (the file is then refused as a whole).
    """
    out = ReadBatch()
    seen: set[str] = set()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        out.errors.append(LineError(1, "invalid_file", "The input file is not UTF-8 text."))
        return out
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        out.lines += 1
        try:
            custom_id, requests, model = _line(raw, number, endpoint, seen)
        except _Refused as refused:
            out.errors.append(refused.error)
            continue
        if out.model is None:
            out.model, out.model_line = model, number
        elif model != out.model:
            message = f"Line {number}: model {model!r} differs from {out.model!r} in earlier lines."
            out.errors.append(LineError(number, "mismatched_model", message, "body.model"))
            continue
        seen.add(custom_id)
        out.requests += requests
    if not out.lines:
        out.errors.append(LineError(1, "empty_file", "The input file holds no requests."))
    elif out.lines > MAX_BATCH_LINES:
        message = f"A batch holds at most {MAX_BATCH_LINES:,} requests; this has {out.lines:,}."
        out.errors.append(LineError(MAX_BATCH_LINES + 1, "too_many_requests", message))
    return out


class _Refused(Exception):
    def __init__(self, line: int, code: str, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.error = LineError(line, code, f"Line {line}: {message}", param)


def _line(
    raw: str, number: int, endpoint: str, seen: set[str]
) -> tuple[str, list[BatchRequest], str]:
    try:
        row = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise _Refused(number, "invalid_json_line", f"not valid JSON ({exc})") from None
    if not isinstance(row, dict):
        raise _Refused(number, "invalid_json_line", "must be a JSON object")
    unknown = sorted(set(row) - _LINE_FIELDS)
    if unknown:
        raise _Refused(number, "invalid_request", f"unknown field {unknown[0]!r}", unknown[0])
    custom_id = row.get("custom_id")
    if not isinstance(custom_id, str) or not custom_id:
        raise _Refused(number, "invalid_request", "'custom_id' must be a string", "custom_id")
    if custom_id in seen:
        message = f"custom_id {custom_id!r} is used by an earlier line"
        raise _Refused(number, "duplicate_custom_id", message, "custom_id")
    if row.get("method") != "POST":
        raise _Refused(number, "invalid_request", "'method' must be \"POST\"", "method")
    if row.get("url") != endpoint:
        message = f"'url' is {row.get('url')!r}, but the batch's endpoint is {endpoint!r}"
        raise _Refused(number, "mismatched_endpoint", message, "url")
    body = row.get("body")
    if not isinstance(body, dict):
        raise _Refused(number, "invalid_request", "'body' must be a JSON object", "body")
    try:
        if endpoint == CHAT:
            model, request = _chat_body(body)
            return custom_id, [BatchRequest(custom_id, request)], model
        model, requests = _embeddings_body(body)
    except InvalidRequest as exc:
        param = f"body.{exc.param}" if exc.param else "body"
        raise _Refused(number, "invalid_request", exc.message, param) from None
    keyed = [BatchRequest(f"{custom_id}{_PART}{i}", r) for i, r in enumerate(requests)]
    return custom_id, keyed, model


def _model(name: Any) -> str:
    if not isinstance(name, str) or not name:
        raise InvalidRequest("'model' is required and must be a string", "model")
    try:
        return model_id(name)
    except InvalidModel:
        raise InvalidRequest(f"{name!r} is not a Gemini model", "model") from None


def _chat_body(body: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    chat = chat_request(body)
    if chat.stream:
        raise InvalidRequest("a batch request cannot stream", "stream")
    return _model(chat.model), chat.request


def _embeddings_body(body: Mapping[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    unknown = sorted(set(body) - _EMBED_FIELDS)
    if unknown:
        raise InvalidRequest(f"Unrecognized request argument(s): {unknown[0]}", unknown[0])
    model = _model(body.get("model"))
    texts = body.get("input")
    if isinstance(texts, str):
        texts = [texts]
    if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
        raise InvalidRequest("'input' must be a string or an array of strings", "input")
    dims = body.get("dimensions")
    if dims is not None and (not isinstance(dims, int) or isinstance(dims, bool) or dims < 1):
        raise InvalidRequest("'dimensions' must be a positive integer", "dimensions")
    extra = {"outputDimensionality": dims} if dims else {}
    return model, [{"content": {"parts": [{"text": t}]}, **extra} for t in texts]


def openai_status(state: str | None) -> str:
    """Gemini's ``BATCH_STATE_*`` (or the SDK's ``JOB_STATE_*``) → OpenAI's batch status."""
    return _STATES.get(state or "", "in_progress")


def batch_request_id(batch_id: str, custom_id: str) -> str:
    """A stable id for one request of a batch."""
    return hashlib.sha256(f"{batch_id}\0{custom_id}".encode()).hexdigest()[:24]


def openai_results(
    data: bytes, endpoint: str, model: str, *, batch_id: str, created: int
) -> list[BatchResult]:
    """Gemini's results file → OpenAI output lines and error lines, by ``custom_id``.

    An embeddings request split into several Gemini requests gives one line: an error
    if any of its inputs failed, else every embedding in input order.
    """
    rows = [_row(raw) for raw in data.decode("utf-8", "replace").splitlines() if raw.strip()]
    return openai_results_of(rows, endpoint, model, batch_id=batch_id, created=created)


def openai_results_of(
    rows: Iterable[Mapping[str, Any]],
    endpoint: str,
    model: str,
    *,
    batch_id: str,
    created: int,
    input_tokens: Mapping[str, int] | None = None,
) -> list[BatchResult]:
    """Gemini's result rows (``{"key", "response" | "error"}``) → OpenAI's lines.

    As :func:`openai_results`. Gemini's embedding results count no tokens:
    ``input_tokens`` (Gemini key → tokens of that input) gives each embeddings line
    its ``usage``.
    """
    if endpoint == EMBEDDINGS:
        return _embedding_results(rows, model, batch_id, input_tokens or {})
    out = []
    for row in rows:
        custom_id = str(row.get("key", ""))
        response = row.get("response")
        if isinstance(response, dict) and "error" not in row:
            body = completion(response, model, created=created)
            usage = response.get("usageMetadata")
            out.append(
                _success(batch_id, custom_id, body, usage if isinstance(usage, dict) else {})
            )
        else:
            out.append(_failure(batch_id, custom_id, row.get("error")))
    return out


def _row(raw: str) -> dict[str, Any]:
    try:
        row = json.loads(raw)
    except (ValueError, RecursionError):
        return {"error": {"code": 13, "message": "The result line is not valid JSON."}}
    return row if isinstance(row, dict) else {"error": {"code": 13, "message": "Bad result."}}


def _success(
    batch_id: str, custom_id: str, body: dict[str, Any], usage: dict[str, Any] | None
) -> BatchResult:
    rid = batch_request_id(batch_id, custom_id)
    line = {
        "id": f"batch_req_{rid}",
        "custom_id": custom_id,
        "response": {"status_code": 200, "request_id": rid, "body": body},
        "error": None,
    }
    return BatchResult(custom_id, line, True, usage)


def _failure(batch_id: str, custom_id: str, error: Any) -> BatchResult:
    status = error if isinstance(error, dict) else {}
    code = status.get("code")
    line = {
        "id": f"batch_req_{batch_request_id(batch_id, custom_id)}",
        "custom_id": custom_id,
        "response": None,
        "error": {
            "code": _RPC.get(code, "unknown") if isinstance(code, int) else str(code or "unknown"),
            "message": str(status.get("message") or "The request failed."),
        },
    }
    return BatchResult(custom_id, line, False)


def _embedding_results(
    rows: Iterable[Mapping[str, Any]], model: str, batch_id: str, tokens: Mapping[str, int]
) -> list[BatchResult]:
    grouped: dict[str, list[tuple[int, Mapping[str, Any]]]] = {}
    for row in rows:
        custom_id, _, index = str(row.get("key", "")).rpartition(_PART)
        grouped.setdefault(custom_id, []).append((int(index) if index.isdigit() else 0, row))
    out = []
    for custom_id, parts in grouped.items():
        parts.sort(key=lambda p: p[0])
        failed = next((row for _, row in parts if "error" in row or "response" not in row), None)
        if failed is not None:
            out.append(_failure(batch_id, custom_id, failed.get("error")))
            continue
        data = [
            {
                "object": "embedding",
                "index": i,
                "embedding": row["response"].get("embedding", {}).get("values", []),
            }
            for i, (_, row) in enumerate(parts)
        ]
        used = sum(tokens.get(str(row.get("key", "")), 0) for _, row in parts)
        body = {
            "object": "list",
            "data": data,
            "model": model,
            "usage": {"prompt_tokens": used, "total_tokens": used},
        }
        out.append(_success(batch_id, custom_id, body, {"promptTokenCount": used}))
    return out
