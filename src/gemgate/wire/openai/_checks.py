"""Shape checks for OpenAI request values; each failure names the field at fault."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NoReturn

from gemgate.wire.openai._errors import InvalidRequest

__all__ = [
    "boolean",
    "integer",
    "number",
    "object_",
    "sequence",
    "string",
    "strings",
]


def _fail(where: str, what: str) -> NoReturn:
    raise InvalidRequest(f"'{where}' must be {what}", where)


def object_(value: Any, where: str) -> Mapping[str, Any]:
    """``value`` as a JSON object."""
    if not isinstance(value, Mapping):
        _fail(where, "an object")
    return value


def sequence(value: Any, where: str, *, non_empty: bool = False) -> Sequence[Any]:
    """``value`` as a JSON array (a list or tuple)."""
    if not isinstance(value, list | tuple) or (non_empty and not value):
        _fail(where, "a non-empty array" if non_empty else "an array")
    return value


def string(value: Any, where: str) -> str:
    """``value`` as a string."""
    if not isinstance(value, str):
        _fail(where, "a string")
    return value


def strings(value: Any, where: str) -> list[str]:
    """A string or an array of strings, as a list."""
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        _fail(where, "a string or an array of strings")
    return list(value)


def number(value: Any, where: str) -> float:
    """``value`` as a number (not a boolean)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        _fail(where, "a number")
    return value


def integer(value: Any, where: str, *, minimum: int | None = None) -> int:
    """``value`` as an integer (not a boolean), at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int):
        _fail(where, "an integer")
    if minimum is not None and value < minimum:
        _fail(where, f"an integer >= {minimum}")
    return value


def boolean(value: Any, where: str) -> bool:
    """``value`` as a boolean."""
    if not isinstance(value, bool):
        _fail(where, "a boolean")
    return value
