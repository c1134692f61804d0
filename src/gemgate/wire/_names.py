"""Field-name spellings: proto JSON accepts ``snake_case`` and ``camelCase`` alike."""

from __future__ import annotations

import functools
import re

__all__ = ["camel", "snake"]

_UPPER = re.compile(r"(?<=[a-z0-9])([A-Z])")


@functools.lru_cache(maxsize=4096)  # field names: a small vocabulary, read per request
def camel(name: str) -> str:
    """``generation_config`` → ``generationConfig`` (camelCase passes through).

    Example:
        >>> camel("thinking_budget")
        'thinkingBudget'
    """
    head, *rest = name.split("_")
    return head + "".join(word[:1].upper() + word[1:] for word in rest)


@functools.lru_cache(maxsize=4096)
def snake(name: str) -> str:
    """``generationConfig`` → ``generation_config``, as Google spells error paths.

    Example:
        >>> snake("responseMimeType")
        'response_mime_type'
    """
    return _UPPER.sub(r"_\1", name).lower()
