"""Ordering candidates (projects, keys): round-robin, least-loaded or weighted."""

from __future__ import annotations

import enum
import itertools
from collections.abc import Callable, Sequence
from typing import TypeVar

__all__ = ["Rotation", "Strategy", "order"]

T = TypeVar("T")


class Strategy(enum.Enum):
    """How to spread calls over projects and keys."""

    ROUND_ROBIN = "round_robin"
    LEAST_LOADED = "least_loaded"
    WEIGHTED = "weighted"


class Rotation:
    """A counter per name, so round-robin and weighted orders advance per call."""

    def __init__(self) -> None:
        self._counters: dict[str, itertools.count[int]] = {}

    def next(self, name: str) -> int:
        """The next turn for ``name``."""
        counter = self._counters.setdefault(name, itertools.count())
        return next(counter)


def order(
    items: Sequence[T],
    strategy: Strategy,
    turn: int,
    *,
    load: Callable[[T], int] = lambda _: 0,
    weight: Callable[[T], float] = lambda _: 1.0,
) -> list[T]:
    """Items in the order they should be tried for call number ``turn``.

    Example:
        >>> order(["a", "b", "c"], Strategy.ROUND_ROBIN, 1)
        ['b', 'c', 'a']
    """
    if not items:
        return []
    if strategy is Strategy.LEAST_LOADED:
        start = turn % len(items)
        rotated = list(items[start:]) + list(items[:start])
        return sorted(rotated, key=load)
    if strategy is Strategy.WEIGHTED:
        return _weighted(items, turn, weight)
    start = turn % len(items)
    return list(items[start:]) + list(items[:start])


def _weighted(items: Sequence[T], turn: int, weight: Callable[[T], float]) -> list[T]:
    """Smooth weighted round-robin: item i leads in proportion to its weight."""
    weights = [max(weight(item), 0.0) for item in items]
    total = sum(weights) or 1.0
    position = (turn * 0.6180339887498949) % 1.0 * total  # low-discrepancy walk
    lead = 0
    for index, w in enumerate(weights):
        if position < w:
            lead = index
            break
        position -= w
    rest = [item for i, item in enumerate(items) if i != lead]
    rest.sort(key=lambda item: -weight(item))
    return [items[lead], *rest]
