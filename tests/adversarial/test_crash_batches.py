"""kill -9 in the middle of a batch submission, then restart on the same storage.

- the library: a process submits batches in a loop (journal on SQLite) and is killed
  mid-submission; afterwards every journalled batch is whole (its keys, its project) and
  `resume()` fetches its results keyed as submitted; a batch not journalled is absent;
- the gateway: `gemgate serve` is killed while it takes a `/v1/batches` create (sessions,
  hence batches, on SQLite and on PostgreSQL); after a restart every listed batch can be
  read and completes with all its requests, and a new batch works.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import openai
import pytest

from gemgate import AsyncGemini

from ._crash_support import api_key, postgres_database, served, slow_upstream, storage_url

pytestmark = pytest.mark.anyio
FLASH = "gemini-2.5-flash"
CHAT = "/v1/chat/completions"
FINAL = ("completed", "failed", "expired", "cancelled")

SUBMIT = """
import asyncio, sys
from gemgate import AsyncGemini

async def main() -> None:
    url, upstream, key = sys.argv[1:4]
    async with AsyncGemini(api_key=key, base_url=upstream, batches_url=url) as g:
        for i in range(1000):
            requests = {f"b{i}-r{j}": f"Question {j} of batch {i}: " + "word " * 400
                        for j in range(400)}
            job = await g.batches.submit(requests, model="gemini-2.5-flash",
                                         display_name=f"batch-{i}")
            print(i, job.name, flush=True)

asyncio.run(main())
"""


async def _submit_then_kill(url: str, upstream: str, after: int, delay: float) -> list[str]:
    """Run the submitting process; kill it ``delay`` s after ``after`` batches were sent."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        SUBMIT,
        url,
        upstream,
        api_key(),
        stdout=subprocess.PIPE,
        env={**os.environ, "GEMGATE_UPSTREAM": "google"},
    )
    assert process.stdout is not None
    names = []
    for _ in range(after):
        line = await asyncio.wait_for(process.stdout.readline(), 60)
        assert line, "the submitting process ended early"
        names.append(line.decode().split()[1])
    await asyncio.sleep(delay)
    process.kill()
    await process.wait()
    return names


@pytest.mark.parametrize("delay", [0.05, 0.4])
async def test_crash_library_batch_is_journalled_whole_or_not_at_all(
    tmp_path: Path, delay: float
) -> None:
    url = f"sqlite:///{tmp_path}/journal.db"
    async with slow_upstream() as upstream:
        acknowledged = await _submit_then_kill(url, upstream, 2, delay)
        async with AsyncGemini(api_key=api_key(), base_url=upstream, batches_url=url) as g:
            records = await g.batches.records()
            names = [r.name for r in records]
            assert names[: len(acknowledged)] == acknowledged  # every answered one is there
            for record in records:
                index = record.display_name.removeprefix("batch-")
                assert record.keys == [f"b{index}-r{j}" for j in range(400)]
                assert record.project and record.model == FLASH
            results = await g.batches.resume()
            for record in records:
                answer = results.get(record.name) or await g.batches.results(record.name)
                assert not isinstance(answer, Exception), answer
                assert list(answer) == record.keys
            job = await g.batches.submit({"after": "One more, after the crash."}, model=FLASH)
            done = await g.batches.wait(job.name)
            assert done.succeeded


def _jsonl(lines: int) -> bytes:
    rows = [
        {
            "custom_id": f"c{i}",
            "method": "POST",
            "url": CHAT,
            "body": {"model": FLASH, "messages": [{"role": "user", "content": f"Q{i} " * 200}]},
        }
        for i in range(lines)
    ]
    return "".join(json.dumps(r) + "\n" for r in rows).encode()


async def _finished(client: openai.AsyncOpenAI, batch_id: str) -> Any:
    for _ in range(600):
        batch = await client.batches.retrieve(batch_id)
        if batch.status in FINAL:
            return batch
        await asyncio.sleep(0.1)
    raise AssertionError(f"batch {batch_id} never finished")


@pytest.mark.full
@pytest.mark.parametrize("kind", ["sqlite", "pg"])
async def test_crash_gateway_batch_create_is_whole_or_absent(tmp_path: Path, kind: str) -> None:
    lines = 2000
    async with AsyncExitStack() as stack:
        database = await stack.enter_async_context(postgres_database()) if kind == "pg" else None
        url = storage_url(kind, tmp_path, database)
        upstream = await stack.enter_async_context(slow_upstream())
        gateway = await stack.enter_async_context(served(tmp_path, upstream, {"sessions_url": url}))
        client = openai.AsyncOpenAI(
            api_key="any", base_url=f"{gateway.url}/v1", max_retries=0, timeout=60
        )
        file = await client.files.create(file=("in.jsonl", _jsonl(lines)), purpose="batch")
        create = asyncio.create_task(
            client.batches.create(input_file_id=file.id, endpoint=CHAT, completion_window="24h")
        )
        await asyncio.sleep(0.3)  # the gateway is reading, uploading or starting the batch
        gateway.kill()
        with pytest.raises(openai.APIConnectionError):
            await create
        await client.close()

        await gateway.restart()
        async with openai.AsyncOpenAI(
            api_key="any", base_url=f"{gateway.url}/v1", max_retries=0, timeout=60
        ) as client:
            listed = [b async for b in client.batches.list()]
            for batch in listed:
                assert batch.request_counts is not None and batch.request_counts.total == lines
                done = await _finished(client, batch.id)
                assert done.status == "completed", done
                assert done.request_counts.completed == lines
            again = await client.batches.create(
                input_file_id=file.id, endpoint=CHAT, completion_window="24h"
            )
            done = await _finished(client, again.id)
            assert done.status == "completed" and done.request_counts.completed == lines
