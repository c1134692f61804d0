"""Shape checks for Anthropic request values; each failure names the field at fault.

Failures are :class:`~gemgate.wire.openai.InvalidRequest` (a ``UsageError`` with a
``param``), which the gateway answers with a 400 ``invalid_request_error``.

Example:
    >>> integer(5, "max_tokens", minimum=1)
    5
    >>> integer(True, "max_tokens")
    Traceback (most recent call last):
    ...
    gemgate.wire.openai._errors.InvalidRequest: max_tokens: Input should be an integer
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NoReturn

from gemgate.wire.openai import InvalidRequest

__all__ = ["boolean", "fail", "invalid", "integer", "number", "object_", "sequence", "string"]


def invalid(where: str, what: str) -> InvalidRequest:
    """The 400 for ``where``: ``"<where>: <what>"``, as Anthropic words them."""
    return InvalidRequest(f"{where}: {what}", where)


def fail(where: str, what: str) -> NoReturn:
    """Raise :func:`invalid`."""
    raise invalid(where, what)


def object_(value: Any, where: str) -> Mapping[str, Any]:
    """``value`` as a JSON object."""
    if not isinstance(value, Mapping):
        fail(where, "Input should be an object")
    return value


def sequence(value: Any, where: str, *, non_empty: bool = False) -> Sequence[Any]:
    """``value`` as a JSON array (a list or tuple)."""
    if not isinstance(value, list | tuple):
        fail(where, "Input should be a valid list")
    if non_empty and not value:
        fail(where, "List should have at least 1 item")
    return value


def string(value: Any, where: str) -> str:
    """``value`` as a string."""
    if not isinstance(value, str):
        fail(where, "Input should be a valid string")
    return value


def number(value: Any, where: str) -> float:
    """``value`` as a number (not a boolean)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        fail(where, "Input should be a valid number")
    return value


def integer(value: Any, where: str, *, minimum: int | None = None) -> int:
    """``value`` as an integer (not a boolean), at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int):
        fail(where, "Input should be an integer")
    if minimum is not None and value < minimum:
        fail(where, f"Input should be greater than or equal to {minimum}")
    return value


def boolean(value: Any, where: str) -> bool:
    """``value`` as a boolean."""
    if not isinstance(value, bool):
        fail(where, "Input should be a valid boolean")
    return value
