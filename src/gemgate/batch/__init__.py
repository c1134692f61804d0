"""Gemini's Batch API with gemgate's keys, a journal to resume from, and keyed results.

``AsyncGemini.batches`` (and ``Gemini.batches``, blocking) is a :class:`Batches`: submit
many requests at half price and collect the answers later, joined back to your keys.

Example::

    async with AsyncGemini() as g:
        job = await g.batches.submit({"q1": "Why is the sky blue?", "q2": "Name a prime"})
        job = await g.batches.wait(job.id, progress=True)
        for key, answer in (await g.batches.results(job.id)).items():
            print(key, answer if isinstance(answer, BatchItemError) else answer["candidates"])

A later process finds the batches still running with ``await g.batches.pending()`` and
collects them with ``await g.batches.resume()`` (the journal is at ``batches_url``).
"""

from __future__ import annotations

from gemgate.batch._input import FILE_LIMIT, INLINE_LIMIT, parse_line
from gemgate.batch._jobs import Batches, Results
from gemgate.batch._journal import (
    BatchJournal,
    BatchRecord,
    MemoryJournal,
    RedisJournal,
    SQLiteJournal,
    open_journal,
)
from gemgate.batch._results import BatchItemError, BatchJob, BatchStats

__all__ = [
    "FILE_LIMIT",
    "INLINE_LIMIT",
    "BatchItemError",
    "BatchJob",
    "BatchJournal",
    "BatchRecord",
    "BatchStats",
    "Batches",
    "MemoryJournal",
    "RedisJournal",
    "Results",
    "SQLiteJournal",
    "open_journal",
    "parse_line",
]
