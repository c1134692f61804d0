"""Run coroutines at once and raise a failure as itself, not inside an exception group."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

import anyio

__all__ = ["together"]


async def together(*calls: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Run ``calls`` at once; a failure is raised as itself, not in an exception group."""
    try:
        async with anyio.create_task_group() as group:
            for call in calls:
                group.start_soon(call)
    except BaseExceptionGroup as failed:
        first: BaseException = failed
        while isinstance(first, BaseExceptionGroup):
            first = first.exceptions[0]
        raise first from None
