"""A call's own ``timeout=``: the deadline its upstream attempts, retries and body end by."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator, Mapping
from typing import Any

from gemgate.errors import UsageError
from gemgate.upstream._pipeline import DEADLINE

__all__ = ["call_deadline", "timed_stream"]


@contextlib.contextmanager
def call_deadline(params: Mapping[str, Any], clock: Callable[[], float]) -> Iterator[None]:
    """Within the block, upstream calls end by ``clock() + params["timeout"]`` (if given)."""
    seconds = params.get("timeout")
    if seconds is None:
        yield
        return
    if not isinstance(seconds, int | float) or isinstance(seconds, bool) or seconds <= 0:
        raise UsageError(f"timeout must be a positive number of seconds, not {seconds!r}")
    token = DEADLINE.set(clock() + seconds)
    try:
        yield
    finally:
        DEADLINE.reset(token)


async def timed_stream(
    stream: AsyncGenerator[dict[str, Any], None],
    params: Mapping[str, Any],
    clock: Callable[[], float],
) -> AsyncIterator[dict[str, Any]]:
    """``stream`` under the call's own ``timeout``: its connection, retries and body.

    The deadline is read when the upstream call starts (the first chunk), so it is set only
    around that step: a context variable set across a ``yield`` would leak into the
    consumer.
    """
    async with contextlib.aclosing(stream):  # leaving early ends the upstream request now
        with call_deadline(params, clock):
            first = await anext(stream, None)
        if first is None:
            return
        yield first
        async for chunk in stream:
            yield chunk
