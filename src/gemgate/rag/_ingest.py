"""The ingest loop every store shares: expand, read, ingest each, report, with progress."""

from __future__ import annotations

import functools
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import anyio

from gemgate.errors import DocumentError, UsageError
from gemgate.rag._sources import Source, SourceLike, expand, read
from gemgate.rag._types import DocumentInfo, IngestReport
from gemgate.upstream._together import together

__all__ = ["Progress", "ingest_all"]

Progress = Callable[[str, int], None]
"""Called with ``(source, chunks added)`` as each document of an ingest is done."""

IngestOne = Callable[[Source], Awaitable[tuple[DocumentInfo, bool]]]
"""Ingests one read source: its document, and whether it is new (False: unchanged)."""


async def ingest_all(
    sources: Sequence[SourceLike],
    one: IngestOne,
    *,
    progress: bool | Progress,
    max_bytes: int,
    concurrency: int,
) -> IngestReport:
    """Read every (expanded) source and ``one`` it, ``concurrency`` at a time.

    A source that cannot be read or ingested (``DocumentError``) is reported in
    ``failed`` and the others go on; any other failure raises.
    """
    if not sources:
        raise UsageError("add() needs at least one source")
    started = time.perf_counter()
    expanded = [s for source in sources for s in expand(source)]
    limit = anyio.Semaphore(max(1, concurrency))
    results: list[tuple[str, DocumentInfo | str, bool]] = [("", "", False)] * len(expanded)
    with _progress_of(progress, len(expanded)) as tick:

        async def run(index: int, source: SourceLike) -> None:
            async with limit:
                label = _label(source)
                added = 0
                try:
                    found = await read(source, max_bytes)
                    label = found.origin or found.name
                    document, new = await one(found)
                    results[index] = (label, document, new)
                    added = document.chunk_count if new else 0
                except DocumentError as exc:
                    results[index] = (label, str(exc), False)
                if tick is not None:
                    tick(label, added)

        await together(*(functools.partial(run, i, s) for i, s in enumerate(expanded)))
    report = IngestReport()
    for label, outcome, new in results:
        if isinstance(outcome, str):
            report.failed.append((label, outcome))
        elif new:
            report.added.append(outcome)
            report.chunks += outcome.chunk_count
        else:
            report.unchanged.append(outcome)
    report.seconds = time.perf_counter() - started
    return report


def _label(source: SourceLike) -> str:
    if isinstance(source, Source):
        return source.origin or source.name
    if isinstance(source, bytes):
        return f"<{len(source)} bytes>"
    return str(source)


class _progress_of:
    """A ``Progress`` callable for ``add(progress=…)``, with a rich bar for ``True``."""

    def __init__(self, progress: bool | Progress, documents: int) -> None:
        self._given = progress if callable(progress) else None
        self._draw = progress is True
        self._documents = documents
        self._bar: Any = None
        self._task: Any = None

    def __enter__(self) -> Progress | None:
        if self._given is not None:
            return self._given
        if not self._draw:
            return None
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        self._bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[chunks]} chunks"),
            console=Console(stderr=True),
            transient=False,
        )
        self._bar.start()
        self._task = self._bar.add_task("ingesting", total=self._documents, chunks=0)
        chunks = [0]

        def tick(name: str, added: int) -> None:
            chunks[0] += added
            self._bar.update(self._task, advance=1, chunks=chunks[0], description=name[-40:])

        return tick

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()
