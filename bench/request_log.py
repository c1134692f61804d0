"""The request log's CPU per logged call: building the entry, and writing it in a batch.

Run with ``python -m bench.request_log`` (SQLite in a temporary directory).
"""

from __future__ import annotations

import asyncio
import tempfile
import time

from gemgate.upstream._tracking import RequestRecord
from gemgate.usage import PriceTable, RequestLog, entry_of

ROWS = 20_000


async def main() -> None:
    """Log ``ROWS`` calls, then write them in one flush; print µs per row of each."""
    with tempfile.TemporaryDirectory() as folder:
        log = RequestLog(f"sqlite:///{folder}/usage.db", interval=3600)
        prices = PriceTable()
        now = time.time()
        usage = {"prompt_tokens": 10, "completion_tokens": 20, "total_tokens": 30}
        record = RequestRecord(
            "rid", "gemini-2.5-flash", None, "generate", now, status="success",
            ended=now + 0.01, project="p", key="key:1234", usage=usage,
        )  # fmt: skip
        await log.flush()  # the schema, outside the measurement
        started = time.perf_counter()
        for _ in range(ROWS):
            log.record(entry_of(record, prices))
        recorded = time.perf_counter()
        await log.flush()
        written = time.perf_counter()
        await log.close()
    print(f"record {(recorded - started) / ROWS * 1e6:.1f} µs/row")
    print(f"write  {(written - recorded) / ROWS * 1e6:.1f} µs/row (one batch of {ROWS:,})")


if __name__ == "__main__":
    asyncio.run(main())
