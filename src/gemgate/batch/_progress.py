"""Waiting for a batch: a capped, growing pause between polls, and a progress bar."""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

from gemgate.batch._results import BatchJob
from gemgate.errors import BatchTimeout

__all__ = ["Poller", "progress_bar"]

GROWTH = 1.5
"""Each pause is this much longer than the one before, up to the cap."""


class Poller:
    """The pauses between polls: ``first``, then ×1.5 each time, at most ``cap``.

    Example::

        poller = Poller(time.time, anyio.sleep, first=1.0, cap=30.0, timeout=600)
        await poller.pause("batches/x")   # BatchTimeout once 600 s have passed
    """

    def __init__(
        self,
        clock: Callable[[], float],
        sleep: Callable[[float], Awaitable[None]],
        *,
        first: float,
        cap: float,
        timeout: float | None,
    ) -> None:
        if first <= 0 or cap < first:
            raise ValueError("poll intervals must be positive, the cap no less than the first")
        self._clock = clock
        self._sleep = sleep
        self._next = first
        self._cap = cap
        self._deadline = None if timeout is None else clock() + timeout

    def delay(self) -> float:
        """The next pause (and grow the one after)."""
        delay = self._next
        self._next = min(self._cap, self._next * GROWTH)
        return delay

    async def pause(self, name: str) -> None:
        """Sleep before the next poll; :class:`BatchTimeout` when the time is up."""
        delay = self.delay()
        if self._deadline is not None:
            left = self._deadline - self._clock()
            if left <= 0:
                raise BatchTimeout(f"{name} is not finished after the wait's timeout")
            delay = min(delay, left)
        await self._sleep(delay)


@contextlib.contextmanager
def progress_bar(draw: bool) -> Iterator[Callable[[BatchJob], None]]:
    """A callable that shows a job's progress: a rich bar on stderr, or nothing."""
    if not draw:
        yield lambda job: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[failed]} failed"),
        console=Console(stderr=True),
        transient=False,
    )
    task: list[Any] = []

    def show(job: BatchJob) -> None:
        state = job.state.removeprefix("BATCH_STATE_").lower()
        total = job.stats.requests or None
        if not task:
            task.append(bar.add_task(state, total=total, failed=0))
        bar.update(
            task[0],
            description=f"{job.id[:12]} {state}",
            total=total,
            completed=job.stats.completed,
            failed=job.stats.failed,
        )

    bar.start()
    try:
        yield show
    finally:
        bar.stop()
