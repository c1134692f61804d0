"""Exceptions raised by gemgate.

Every exception gemgate raises on purpose derives from one root::

    GemgateError
     ├── TransportError          the request did not get an HTTP answer
     │    ├── UpstreamTimeout    a connect, first-byte, idle or total deadline passed
     │    ├── ConnectError       the connection could not be made
     │    ├── CircuitOpen        the upstream failed too often: calls fail fast for a while
     │    └── ProtocolError      the connection broke or spoke bad HTTP
     ├── APIStatusError          Google answered with an error status
     │    ├── BadRequestError    400
     │    ├── AuthError          401, 403
     │    ├── NotFoundError      404
     │    ├── RateLimitedError   429
     │    └── ServerError        5xx
     ├── QuotaExhausted          every project is cooling down or parked
     ├── StreamInterrupted       a stream failed after it had delivered data
     ├── LiveSessionLost         a Live session closed and could not be resumed
 ├── BatchError              a batch job ended without what was asked of it
 │    └── BatchTimeout       a batch was still running when the wait gave up
     ├── StorageError            a state or session store failed
     ├── RetrievalError          a retrieval store refused a request (``status_code``)
     │    ├── DocumentError      a document is unsupported, unreadable, empty or too large
     │    ├── StoreNotFound      no such store or document (also a LookupError)
     │    └── EmbeddingMismatch  embeddings of another size than the store's
     ├── GeminiToolExecutionError  a tool executor failed (a tool's own failure goes
     │                           back to the model as an error response instead)
     ├── UsageError              (also a RuntimeError: the API was used the wrong way)
     ├── ConfigError             (also a ValueError: a setting, file or value is wrong)
     └── WireDecodeError         (also a ValueError: malformed data on the wire)
          └── GeminiResponseError  a response body that is not the JSON it should be

The seed library's names are kept: ``GeminiClientError`` is ``GemgateError`` and
``GeminiAPIError`` is ``APIStatusError``.

`ConfigWarning` (a ``UserWarning``, not an error) flags settings that are ignored, such
as a ``GEMGATE_*`` environment variable that names no setting.

Catch `GemgateError` to handle anything gemgate raises; catch the leaves for
specific failures. All exceptions pickle, so they survive process pools.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = [
    "APIStatusError",
    "AuthError",
    "BadRequestError",
    "BatchError",
    "BatchTimeout",
    "CircuitOpen",
    "ConfigError",
    "ConfigWarning",
    "ConnectError",
    "DocumentError",
    "EmbeddingMismatch",
    "GemgateError",
    "GeminiAPIError",
    "GeminiClientError",
    "GeminiResponseError",
    "GeminiToolExecutionError",
    "LiveSessionLost",
    "NotFoundError",
    "ProtocolError",
    "QuotaExhausted",
    "RateLimitedError",
    "RetrievalError",
    "ServerError",
    "StorageError",
    "StoreNotFound",
    "StreamInterrupted",
    "TransportError",
    "UpstreamTimeout",
    "UsageError",
    "WireDecodeError",
    "status_error",
]


class GemgateError(Exception):
    """Root of every exception raised by gemgate.

    Example:
        >>> try:
        ...     raise WireDecodeError("unterminated JSON array")
        ... except GemgateError as exc:
        ...     print(type(exc).__name__, exc)
        WireDecodeError unterminated JSON array
    """


class UsageError(GemgateError, RuntimeError):
    """A programming mistake: gemgate was called in a way it does not support.

    Example:
        >>> raise UsageError("feed() called after close()")
        Traceback (most recent call last):
        ...
        gemgate.errors.UsageError: feed() called after close()
    """


class ConfigError(GemgateError, ValueError):
    """Settings that cannot be used: a missing or malformed file, an unknown key, a bad value.

    The message is one line naming where the problem is (the file with its line and
    column, the key path or the ``GEMGATE_*`` variable) and what was expected; it never
    shows a value, so API keys stay out of it.

    Example:
        >>> raise ConfigError("gemgate.toml: unknown key 'max_bodybytes'")
        Traceback (most recent call last):
        ...
        gemgate.errors.ConfigError: gemgate.toml: unknown key 'max_bodybytes'
    """


class ConfigWarning(UserWarning):
    """A setting is ignored, such as a ``GEMGATE_*`` variable that names no setting."""


class WireDecodeError(GemgateError, ValueError):
    """Malformed wire data: bad JSON in a stream, a truncated array, and so on.

    Example:
        >>> raise WireDecodeError("stream ended inside an element")
        Traceback (most recent call last):
        ...
        gemgate.errors.WireDecodeError: stream ended inside an element
    """


class TransportError(GemgateError):
    """The request got no HTTP answer (timeout, refused connection, broken stream)."""


class UpstreamTimeout(TransportError):
    """A connect, first-byte, idle or overall deadline passed."""


class ConnectError(TransportError):
    """The connection to the upstream could not be made.

    Attributes:
        retry_after: Seconds until a call is worth trying again, when the pipeline gave
            up on the upstream (its breaker's wait if the failures opened it), else None.

    Example:
        >>> ConnectError("cannot connect to upstream 127.0.0.1:1", retry_after=30.0).retry_after
        30.0
    """

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class CircuitOpen(TransportError):
    """The upstream failed too many times in a row: calls fail at once until it may recover.

    Attributes:
        retry_after: Seconds until a call may try the upstream again.

    Example:
        >>> err = CircuitOpen("endpoint default is open", retry_after=12.5)
        >>> isinstance(err, TransportError), err.retry_after
        (True, 12.5)
    """

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.args[0], self.retry_after))


class ProtocolError(TransportError):
    """The connection broke mid-response or the peer spoke invalid HTTP."""


class APIStatusError(GemgateError):
    """The upstream answered with an error status.

    Attributes:
        status_code: The HTTP status.
        status: Google's ``error.status`` (``RESOURCE_EXHAUSTED`` …), if any.
        message: Google's ``error.message``.
        details: The raw ``error.details`` entries.
        retry_after: Seconds the server asked to wait (``RetryInfo``), if any.
        key_fingerprint: A short fingerprint of the key used, never the key.

    Example:
        >>> err = status_error(429, "RESOURCE_EXHAUSTED", "quota", retry_after=2.5)
        >>> type(err).__name__, err.retry_after
        ('RateLimitedError', 2.5)
    """

    def __init__(
        self,
        status_code: int,
        status: str | None,
        message: str,
        *,
        details: Sequence[Mapping[str, Any]] = (),
        retry_after: float | None = None,
        key_fingerprint: str | None = None,
    ) -> None:
        label = f"{status_code} {status}" if status else str(status_code)
        suffix = f" (key {key_fingerprint})" if key_fingerprint else ""
        super().__init__(f"{label}: {message}{suffix}")
        self.status_code = status_code
        self.status = status
        self.message = message
        self.details = [dict(d) for d in details]
        self.retry_after = retry_after
        self.key_fingerprint = key_fingerprint

    def __reduce__(self) -> tuple[Any, ...]:
        rebuild = functools.partial(
            type(self),
            details=self.details,
            retry_after=self.retry_after,
            key_fingerprint=self.key_fingerprint,
        )
        return (rebuild, (self.status_code, self.status, self.message))


class BadRequestError(APIStatusError):
    """400: the request is invalid (or the key is, with ``API_KEY_INVALID``)."""


class AuthError(APIStatusError):
    """401 or 403: the caller is not allowed."""


class NotFoundError(APIStatusError):
    """404: unknown model, cache, file or method."""


class RateLimitedError(APIStatusError):
    """429: a quota was exceeded."""


class ServerError(APIStatusError):
    """5xx: the service failed or is overloaded."""


def status_error(
    status_code: int,
    status: str | None,
    message: str,
    *,
    details: Sequence[Mapping[str, Any]] = (),
    retry_after: float | None = None,
    key_fingerprint: str | None = None,
) -> APIStatusError:
    """The most specific :class:`APIStatusError` subclass for ``status_code``."""
    cls: type[APIStatusError] = APIStatusError
    if status_code == 400:
        cls = BadRequestError
    elif status_code in (401, 403):
        cls = AuthError
    elif status_code == 404:
        cls = NotFoundError
    elif status_code == 429:
        cls = RateLimitedError
    elif status_code >= 500:
        cls = ServerError
    return cls(
        status_code,
        status,
        message,
        details=details,
        retry_after=retry_after,
        key_fingerprint=key_fingerprint,
    )


class QuotaExhausted(GemgateError):
    """Every project that could serve the model is cooling down or parked.

    Attributes:
        model: The model asked for.
        until: Epoch seconds when the first project frees up (None if never: every key
            is disabled).
    """

    def __init__(self, model: str, until: float | None, reason: str) -> None:
        super().__init__(f"no capacity for {model}: {reason}")
        self.model = model
        self.until = until
        self.reason = reason

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.model, self.until, self.reason))


class LiveSessionLost(GemgateError):
    """A Live session closed and could not be resumed; its conversation is gone.

    Attributes:
        code: The WebSocket close code that ended it (1006 when the connection just broke).
        reason: The server's close reason.
    """

    def __init__(self, message: str, code: int | None = None, reason: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason


class StreamInterrupted(GemgateError):
    """A stream failed after delivering data; it is never replayed.

    Attributes:
        received: The chunks (parsed JSON objects) delivered before the failure.
        cause: The error that ended the stream.
    """

    def __init__(self, message: str, received: Sequence[Any], cause: BaseException | None) -> None:
        super().__init__(message)
        self.received = list(received)
        self.cause = cause

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.args[0], self.received, self.cause))


class BatchError(GemgateError):
    """A batch job ended (cancelled, expired, failed) without the results asked for."""


class BatchTimeout(BatchError, TimeoutError):
    """A batch job was still unfinished when ``wait(timeout=…)`` gave up on it."""


class StorageError(GemgateError):
    """A state, cache or session store failed."""


class RetrievalError(GemgateError):
    """A retrieval store refused a request; ``status_code`` is the HTTP status it maps to."""

    status_code = 400


class DocumentError(RetrievalError):
    """A document cannot be ingested; nothing of it is stored.

    Unsupported types are 415, unreadable or empty documents 422, too large ones 413.

    Example:
        >>> raise DocumentError("notes.xyz: unsupported file type", status_code=415)
        Traceback (most recent call last):
        ...
        gemgate.errors.DocumentError: notes.xyz: unsupported file type
    """

    def __init__(self, message: str, *, status_code: int = 422) -> None:
        super().__init__(message)
        self.status_code = status_code

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_document_error, (self.args[0], self.status_code))


def _rebuild_document_error(message: str, status_code: int) -> DocumentError:
    return DocumentError(message, status_code=status_code)


class StoreNotFound(RetrievalError, LookupError):
    """No such store or document (or it belongs to another gateway key)."""

    status_code = 404


class EmbeddingMismatch(RetrievalError):
    """Embeddings of another size than the store's: stores never mix dimensions."""

    status_code = 409


class GeminiToolExecutionError(GemgateError):
    """A tool executor itself failed while running a step's calls."""


class GeminiResponseError(WireDecodeError):
    """A response body was not the JSON object the API promises."""


GeminiClientError = GemgateError
"""The seed's name for the root of every gemgate error."""
GeminiAPIError = APIStatusError
"""The seed's name for an error status from the API."""
