"""Ids for stores, documents and chunks, and the document-metadata filter every backend uses."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

from gemgate.errors import RetrievalError

__all__ = ["check_filter", "matches", "new_id"]

_SCALARS = (str, int, float, bool)


def new_id(prefix: str) -> str:
    """A fresh random id such as ``store_3f9c0a…`` (``prefix``, an underscore, 20 hex digits)."""
    return f"{prefix}_{secrets.token_hex(10)}"


def check_filter(filter: Mapping[str, Any] | None) -> dict[str, Any]:
    """The filter as a plain dict, or ``RetrievalError`` (400) if it is not one we can match.

    Keys are metadata names; a value is a string, number or boolean (equality), or a list
    of them (any of).
    """
    if filter is None:
        return {}
    if not isinstance(filter, Mapping):
        raise RetrievalError("filter must be an object of metadata names to values")
    checked: dict[str, Any] = {}
    for key, value in filter.items():
        if not isinstance(key, str):
            raise RetrievalError("filter keys must be strings")
        if isinstance(value, list | tuple):
            if not all(isinstance(item, _SCALARS) for item in value):
                raise RetrievalError(
                    f"filter {key!r}: a list may hold strings, numbers or booleans"
                )
            checked[key] = list(value)
        elif isinstance(value, _SCALARS):
            checked[key] = value
        else:
            raise RetrievalError(
                f"filter {key!r}: expected a string, number, boolean or a list of them"
            )
    return checked


def matches(filter: Mapping[str, Any], metadata: Mapping[str, Any]) -> bool:
    """Whether a document's metadata satisfies every key of ``filter``.

    A list in the filter matches any of its values; a key the metadata lacks never matches.
    """
    for key, wanted in filter.items():
        if key not in metadata:
            return False
        have = metadata[key]
        options = wanted if isinstance(wanted, list) else [wanted]
        if not any(_same(option, have) for option in options):
            return False
    return True


def _same(wanted: Any, have: Any) -> bool:
    return bool(wanted == have) and isinstance(wanted, bool) == isinstance(have, bool)
