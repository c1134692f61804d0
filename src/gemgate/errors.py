"""Exceptions raised by gemgate.

Every exception gemgate raises on purpose derives from one root::

    GemgateError
     ├── UsageError       (also a RuntimeError: the API was used the wrong way)
     └── WireDecodeError  (also a ValueError: malformed data on the wire)

Catch `GemgateError` to handle anything gemgate raises; catch the leaves for
specific failures. All exceptions pickle, so they survive process pools.
"""

from __future__ import annotations

__all__ = ["GemgateError", "UsageError", "WireDecodeError"]


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


class WireDecodeError(GemgateError, ValueError):
    """Malformed wire data: bad JSON in a stream, a truncated array, and so on.

    Example:
        >>> raise WireDecodeError("stream ended inside an element")
        Traceback (most recent call last):
        ...
        gemgate.errors.WireDecodeError: stream ended inside an element
    """
