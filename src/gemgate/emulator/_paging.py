"""``pageSize`` / ``pageToken`` paging shared by the list endpoints."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import TypeVar

from gemgate.emulator._errors import invalid_argument

__all__ = ["page"]

T = TypeVar("T")


def page(
    items: Sequence[T], size: str | None, token: str | None, *, default: int, maximum: int
) -> tuple[Sequence[T], str | None]:
    """Slice ``items`` for one page; return it and the next page token (or None)."""
    try:
        count = int(size) if size else default
    except ValueError:
        raise invalid_argument(f"Invalid value for page_size: {size!r}") from None
    if count <= 0:
        count = default
    count = min(count, maximum)
    start = 0
    if token:
        try:
            start = int(base64.urlsafe_b64decode(token.encode()).decode())
        except (ValueError, UnicodeDecodeError):
            raise invalid_argument("Invalid page token.") from None
        if start < 0:
            raise invalid_argument("Invalid page token.")
    chunk = items[start : start + count]
    end = start + count
    next_token = base64.urlsafe_b64encode(str(end).encode()).decode() if end < len(items) else None
    return chunk, next_token
