"""How the gateway answers a failure: one ``exception → (status, body, headers)`` per face.

The gateway has four faces, told apart by the path's prefix (`face_of`):

- ``/gemini/…`` (native) answers like Google:
  ``{"error": {"code", "message", "status", "details"?}}``;
- ``/v1/messages…`` (Anthropic) answers like Anthropic:
  ``{"type": "error", "error": {"type", "message"}}``, an overloaded upstream (503) as 529;
- ``/v1/…`` (OpenAI) answers like OpenAI: ``{"error": {"message", "type", "param", "code"}}``;
- everything else (``/api/v1/…``, ``/healthz``, unknown paths) answers ``{"detail": "…"}``.

The status does not depend on the face (but for Anthropic's 529): `problem_of` reads it
from the exception alone.
An upstream timeout is 504, an upstream that cannot be reached or whose circuit breaker is
open 503 with ``Retry-After``, a connection to it that breaks 502, exhausted quota 429 with
``Retry-After``, a body over the cap 413, a body that is not a JSON object 400, and an
error status from the upstream passes with its own status, message and details.

Example:
    >>> from gemgate.errors import UpstreamTimeout
    >>> OPENAI.answer(UpstreamTimeout("first byte after 60 s")).status
    504
    >>> GATEWAY.answer(UpstreamTimeout("first byte after 60 s")).body[:10]
    b'{"detail":'
"""

from __future__ import annotations

import json
import math
import operator
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from gemgate.errors import (
    APIStatusError,
    CircuitOpen,
    ConnectError,
    GemgateError,
    QuotaExhausted,
    RetrievalError,
    StorageError,
    StreamInterrupted,
    UpstreamTimeout,
    UsageError,
)
from gemgate.gateway._asgi import BadBody, BodyTooLarge
from gemgate.gateway._backends import BackendError
from gemgate.sessions import ChatNotFound
from gemgate.wire.errors import RETRY_INFO, error_body, retry_info

__all__ = [
    "ANTHROPIC",
    "FACES",
    "GATEWAY",
    "GOOGLE",
    "OPENAI",
    "Answer",
    "Face",
    "Problem",
    "anthropic_body",
    "anthropic_status",
    "detail_body",
    "expected",
    "face_of",
    "google_body",
    "model_not_found",
    "openai_body",
    "problem_of",
]


class Problem(Exception):
    """A failure, as every face answers it: a status, a message and a few hints.

    Handlers raise it for failures they detect themselves; `problem_of` makes one from
    any other exception.

    Attributes:
        status: The HTTP status.
        message: What went wrong, for people.
        param: The request field at fault (OpenAI's ``param``).
        code: A machine-readable code (OpenAI's ``code``).
        retry_after: Seconds the caller should wait (sent as ``Retry-After``).
        headers: Extra response headers (``Allow`` on a 405).
        google_status: Google's ``error.status`` when the upstream gave one.
        details: Google's ``error.details`` when the upstream gave them.

    Example:
        >>> raise Problem(400, "'content' must be a non-empty string", param="content")
        Traceback (most recent call last):
        ...
        gemgate.gateway._faces.Problem: 'content' must be a non-empty string
    """

    def __init__(
        self,
        status: int,
        message: str,
        param: str | None = None,
        *,
        code: str | None = None,
        retry_after: float | None = None,
        headers: Sequence[tuple[str, str]] = (),
        google_status: str | None = None,
        details: Sequence[Mapping[str, Any]] = (),
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.param, self.code = status, message, param, code
        self.retry_after = retry_after
        self.headers = tuple(headers)
        self.google_status = google_status
        self.details = [dict(d) for d in details]


def model_not_found(name: str) -> Problem:
    """OpenAI's 404 for a model that does not exist, in OpenAI's words."""
    return Problem(
        404,
        f"The model `{name}` does not exist or you do not have access to it.",
        code="model_not_found",
    )


def _upstream_status(exc: APIStatusError, now: float) -> Problem:
    return Problem(
        exc.status_code,
        exc.message,
        code=exc.status,
        retry_after=exc.retry_after,
        google_status=exc.status,
        details=exc.details,
    )


def _quota(exc: QuotaExhausted, now: float) -> Problem:
    wait = None if exc.until is None else max(exc.until - now, 0.0)
    return Problem(429, str(exc), code="quota_exhausted", retry_after=wait)


def _timeout(exc: UpstreamTimeout, now: float) -> Problem:
    return Problem(504, f"upstream timeout: {exc}", code="upstream_timeout")


def _circuit_open(exc: CircuitOpen, now: float) -> Problem:
    return Problem(
        503,
        f"upstream unavailable: {exc}",
        code="upstream_unavailable",
        retry_after=exc.retry_after,
        google_status="UNAVAILABLE",
    )


def _unreachable(exc: ConnectError, now: float) -> Problem:
    """503 UNAVAILABLE: like Google's own front end, and clients retry it after a wait."""
    return Problem(
        503,
        f"upstream unreachable: {exc}",
        code="upstream_unreachable",
        retry_after=_UNREACHABLE_RETRY if exc.retry_after is None else exc.retry_after,
        google_status="UNAVAILABLE",
    )


def _interrupted(exc: StreamInterrupted, now: float) -> Problem:
    return Problem(502, str(exc), code="stream_interrupted")


def _upstream_failure(exc: GemgateError, now: float) -> Problem:
    return Problem(502, f"upstream failure: {exc}", code="upstream_error")


def _too_large(exc: BodyTooLarge, now: float) -> Problem:
    """413, and the connection closes: the rest of the body is not read."""
    return Problem(413, str(exc), code="request_too_large", headers=[("connection", "close")])


_UNREACHABLE_RETRY = 1.0
"""``Retry-After`` (seconds) of an unreachable upstream when nothing better is known."""

_RULES: tuple[tuple[type[BaseException], Callable[[Any, float], Problem]], ...] = (
    (BodyTooLarge, _too_large),
    (BadBody, lambda exc, now: Problem(400, str(exc))),
    (APIStatusError, _upstream_status),
    (QuotaExhausted, _quota),
    (UpstreamTimeout, _timeout),
    (CircuitOpen, _circuit_open),
    (ConnectError, _unreachable),
    (StreamInterrupted, _interrupted),
    (ChatNotFound, lambda exc, now: Problem(404, str(exc))),
    (RetrievalError, lambda exc, now: Problem(exc.status_code, str(exc))),
    (StorageError, lambda exc, now: Problem(503, str(exc), code="storage_unavailable")),
    (BackendError, lambda exc, now: Problem(exc.status, exc.reason)),
    (UsageError, lambda exc, now: Problem(400, str(exc), getattr(exc, "param", None))),
    (GemgateError, _upstream_failure),
)
"""First match wins: the specific classes come before their bases."""


def problem_of(exc: BaseException, now: float | None = None) -> Problem:
    """The status, message and hints every face answers ``exc`` with.

    Args:
        exc: The failure.
        now: Epoch seconds (default: the wall clock), for ``Retry-After``.

    Returns:
        ``exc`` itself if it is a `Problem`; a 500 for an exception nobody expects.
    """
    if isinstance(exc, Problem):
        return exc
    for kind, make in _RULES:
        if isinstance(exc, kind):
            return make(exc, time.time() if now is None else now)
    return Problem(500, "internal gateway error", code="internal_error")


def expected(exc: BaseException) -> bool:
    """Whether ``exc`` is a failure the faces know (else a bug, worth a log line)."""
    return isinstance(exc, Problem) or any(isinstance(exc, kind) for kind, _ in _RULES)


class Answer(NamedTuple):
    """A complete error response."""

    status: int
    body: bytes
    headers: list[tuple[str, str]]


_OPENAI_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    413: "invalid_request_error",
    429: "rate_limit_error",
}
_GOOGLE_STATUS = {405: "UNIMPLEMENTED", 413: "INVALID_ARGUMENT", 502: "UNAVAILABLE"}
"""google.rpc statuses for HTTP codes only a gateway answers with."""


def google_body(problem: Problem) -> dict[str, Any]:
    """Google's error body: the upstream's own status and details where it gave them."""
    details = problem.details
    if problem.retry_after is not None and not any(d.get("@type") == RETRY_INFO for d in details):
        details = [*details, retry_info(problem.retry_after)]
    status = problem.google_status or _GOOGLE_STATUS.get(problem.status)
    return error_body(problem.status, problem.message, status=status, details=details)


def openai_body(problem: Problem) -> dict[str, Any]:
    """OpenAI's error body."""
    fallback = "api_error" if problem.status >= 500 else "invalid_request_error"
    kind = _OPENAI_TYPES.get(problem.status, fallback)
    error = {"message": problem.message, "type": kind, "param": problem.param}
    return {"error": {**error, "code": problem.code}}


_ANTHROPIC_TYPES = {
    **_OPENAI_TYPES,
    413: "request_too_large",
    529: "overloaded_error",
}
_ANTHROPIC_STATUS = {503: 529}
"""Anthropic answers an overloaded service with 529; Gemini with 503 UNAVAILABLE."""


def anthropic_status(problem: Problem) -> int:
    """The status Anthropic would answer ``problem`` with."""
    return _ANTHROPIC_STATUS.get(problem.status, problem.status)


def anthropic_body(problem: Problem) -> dict[str, Any]:
    """Anthropic's error body: ``{"type": "error", "error": {"type", "message"}}``."""
    status = anthropic_status(problem)
    fallback = "api_error" if status >= 500 else "invalid_request_error"
    kind = _ANTHROPIC_TYPES.get(status, fallback)
    return {"type": "error", "error": {"type": kind, "message": problem.message}}


def detail_body(problem: Problem) -> dict[str, Any]:
    """The gateway's own error body: ``{"detail": message}``."""
    return {"detail": problem.message}


_STRING = {"type": "string"}
_NULLABLE = {"type": ["string", "null"]}


@dataclass(frozen=True, slots=True)
class Face:
    """One of the gateway's faces: how it words errors, and the schema of those errors."""

    name: str
    """The error schema's name in ``/openapi.json``."""
    render: Callable[[Problem], dict[str, Any]]
    schema: Mapping[str, Any]
    """The JSON schema of its error bodies."""
    status: Callable[[Problem], int] = operator.attrgetter("status")
    """The HTTP status it answers a problem with (the problem's own, but for Anthropic)."""

    def answer(self, exc: BaseException, now: float | None = None) -> Answer:
        """The response for ``exc`` on this face.

        Args:
            exc: The failure.
            now: Epoch seconds (default: the wall clock), for ``Retry-After``.
        """
        problem = problem_of(exc, now)
        body = json.dumps(self.render(problem), separators=(",", ":"), ensure_ascii=False)
        headers = [*problem.headers, ("content-type", "application/json")]
        if problem.retry_after is not None:
            headers.append(("retry-after", str(math.ceil(problem.retry_after))))
        return Answer(self.status(problem), body.encode(), headers)


GOOGLE = Face(
    "GoogleError",
    google_body,
    {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message", "status"],
                "properties": {
                    "code": {"type": "integer"},
                    "message": _STRING,
                    "status": _STRING,
                    "details": {"type": "array", "items": {"type": "object"}},
                },
            }
        },
    },
)
OPENAI = Face(
    "OpenAIError",
    openai_body,
    {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["message", "type", "param", "code"],
                "properties": {
                    "message": _STRING,
                    "type": _STRING,
                    "param": _NULLABLE,
                    "code": _NULLABLE,
                },
            }
        },
    },
)
ANTHROPIC = Face(
    "AnthropicError",
    anthropic_body,
    {
        "type": "object",
        "required": ["type", "error"],
        "properties": {
            "type": {"const": "error"},
            "error": {
                "type": "object",
                "required": ["type", "message"],
                "properties": {"type": _STRING, "message": _STRING},
            },
        },
    },
    anthropic_status,
)
GATEWAY = Face(
    "GatewayError",
    detail_body,
    {"type": "object", "required": ["detail"], "properties": {"detail": _STRING}},
)
FACES = (GOOGLE, ANTHROPIC, OPENAI, GATEWAY)


def face_of(path: str) -> Face:
    """The face a path belongs to, by its prefix (unknown paths included)."""
    if path.startswith("/gemini/") or path == "/gemini":
        return GOOGLE
    if path == "/v1/messages" or path.startswith("/v1/messages/"):
        return ANTHROPIC
    if path.startswith("/v1/") or path == "/v1":
        return OPENAI
    return GATEWAY
