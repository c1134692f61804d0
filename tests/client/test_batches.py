"""``AsyncGemini.batches`` against the emulator: submit, wait, results, ownership, resume.

The in-process emulator shares the test's fake clock, so waiting for a batch jumps the
clock instead of sleeping. Ownership and the official SDK's view use an emulator served
on 127.0.0.1 (``live``); resuming after a restart submits from a real second process.
"""

from __future__ import annotations

import json
import os
import sys
import textwrap
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from google import genai
from google.genai import errors as genai_errors
from google.genai import types

from gemgate import AsyncGemini, Gemini
from gemgate.batch import BatchItemError, BatchRecord, SQLiteJournal
from gemgate.errors import BadRequestError, BatchError, BatchTimeout, NotFoundError, UsageError
from tests.conftest import FakeClock
from tests.servers import REDIS_URL, need_server

from .conftest import Start, projects

pytestmark = pytest.mark.anyio

MODEL = "gemini-2.5-flash"


@pytest.fixture
async def g(clock: FakeClock, tmp_path: Path) -> AsyncIterator[AsyncGemini]:
    client = AsyncGemini.emulated(
        clock=clock, sleep=clock.sleep, batches_url=f"sqlite:///{tmp_path / 'batches.db'}"
    )
    async with client:
        yield client


def _text(response: Any) -> str:
    assert isinstance(response, dict), response
    return "".join(p.get("text", "") for p in response["candidates"][0]["content"]["parts"])


async def test_an_inline_batch_comes_back_by_key_with_a_bad_request_as_an_error(
    g: AsyncGemini,
) -> None:
    requests = {
        "sky": "Why is the sky blue?",
        "broken": {"contents": []},
        "turns": [{"role": "user", "parts": [{"text": "Name a prime number."}]}],
    }
    job = await g.batches.submit(requests, display_name="mixed")
    assert job.name.startswith("batches/") and job.responses_file is None
    assert job.state in ("BATCH_STATE_PENDING", "BATCH_STATE_RUNNING")
    done = await g.batches.wait(job.id)
    assert done.succeeded and done.stats.requests == 3 and done.stats.failed == 1
    results = await g.batches.results(job.id)
    assert list(results) == ["sky", "broken", "turns"]
    broken = results["broken"]
    assert isinstance(broken, BatchItemError) and broken.code == 3
    direct = await g.generate_content("Why is the sky blue?")
    assert _text(results["sky"]) == _text(direct)
    assert "prime" in _text(results["turns"])


async def test_a_large_batch_goes_as_a_file_and_its_results_are_streamed_back(
    g: AsyncGemini, monkeypatch: pytest.MonkeyPatch
) -> None:
    g.batches.inline_limit = 1_000  # so that these few requests count as large
    monkeypatch.setattr("gemgate.batch._jobs.UPLOAD_CHUNK", 997)  # several upload requests
    prompts = [f"Tell me fact number {i} about tides." for i in range(40)]
    job = await g.batches.submit(prompts)
    record = (await g.batches.pending())[0]
    assert record.input_file is not None and record.input_file.startswith("files/")
    uploads = [r for r in g.get_request_history().values() if r["kind"] == "upload"]
    assert len(uploads) >= 3  # the start, then the file in pieces
    done = await g.batches.wait(job.id)
    assert done.responses_file is not None
    results = await g.batches.results(job.id)
    assert list(results) == [str(i) for i in range(40)]
    assert all(not isinstance(v, BatchItemError) for v in results.values())
    assert "fact number 7" in _text(results["7"])
    assert await g.batches.pending() == []
    streamed = []
    async for key, value in g.batches.iter_results(job.id):
        streamed.append(key)
        assert value == results[key]
        if len(streamed) == 5:
            break  # leaving early ends the download
    assert streamed == ["0", "1", "2", "3", "4"]
    assert g.in_flight == 0


async def test_embedding_batches(g: AsyncGemini) -> None:
    job = await g.batches.submit_embeddings({"apples": "red apples", "pears": "green pears"})
    assert job.kind == "embed"
    await g.batches.wait(job.id)
    results = await g.batches.results(job.id)
    direct = await g.generate_embeddings("red apples")
    apples = results["apples"]
    assert isinstance(apples, dict)
    assert apples["embedding"]["values"] == direct["data"][0]["embedding"]


async def test_requests_already_on_the_wire_go_as_a_file_when_asked(g: AsyncGemini) -> None:
    requests = [
        ("q#0", {"contents": [{"role": "user", "parts": [{"text": "Name a prime number."}]}]}),
        ("q#1", {"contents": []}),
    ]
    alice = g.batches.for_owner("alice")
    job = await alice.submit(requests, display_name="relayed", as_file=True)
    record = await alice.record(job.name)
    assert record is not None and record.owner == "alice" and record.keys == ["q#0", "q#1"]
    assert record.input_file is not None and record.input_file.startswith("files/")
    assert await g.batches.record(job.name) is None  # another owner's
    assert await alice.record("batches/no-such-batch") is None
    done = await alice.wait(job.id)
    assert done.responses_file is not None  # a file in, a file out
    rows = [row async for row in alice.iter_results(job.id)]
    assert [key for key, _ in rows] == ["q#0", "q#1"]
    assert "prime" in _text(rows[0][1])
    assert isinstance(rows[1][1], BatchItemError) and rows[1][1].code == 3


async def test_results_in_a_file_come_from_the_batch_project_unjournalled(live: Start) -> None:
    pool = projects(3, keys=1)
    server = await live(pool)
    async with server.client(pool, batches_url="memory://") as client:
        job = await client.batches.submit(["one", "two"], keys=["proj-2"], as_file=True)
        assert (await client.batches.wait(job.id)).responses_file is not None
    for _ in range(3):  # a client with neither journal nor owners, each project in turn
        async with server.client(pool, batches_url="memory://") as forgetful:
            assert list(await forgetful.batches.results(job.id)) == ["0", "1"]


async def test_unknown_batches_are_not_found(g: AsyncGemini) -> None:
    with pytest.raises(NotFoundError):
        await g.batches.get("no-such-batch")
    with pytest.raises(NotFoundError):
        await g.batches.results("batches/no-such-batch")


async def test_bad_submissions_are_usage_errors(g: AsyncGemini) -> None:
    with pytest.raises(UsageError):
        await g.batches.submit({})
    with pytest.raises(UsageError):
        await g.batches.submit([("a", "x"), ("a", "y")])
    with pytest.raises(UsageError):
        await g.batches.submit([42])
    with pytest.raises(UsageError):
        await g.batches.submit(["x"], keys=["no-such-project"])


async def test_cancel_delete_and_results_of_a_cancelled_batch(
    g: AsyncGemini, clock: FakeClock
) -> None:
    job = await g.batches.submit(["a", "b", "c"])
    cancelled = await g.batches.cancel(job.id)
    assert cancelled.state == "BATCH_STATE_CANCELLED" and cancelled.done
    with pytest.raises(BatchError, match="CANCELLED"):
        await g.batches.results(job.id)
    assert await g.batches.pending() == []
    await g.batches.delete(job.id)
    with pytest.raises(NotFoundError):
        await g.batches.get(job.id)
    assert await g.batches.records() == []


async def test_a_wait_gives_up_after_its_timeout(live: Start) -> None:
    server = await live(projects(1, keys=1), batch_seconds_per_request=1_000.0)
    async with server.client(projects(1, keys=1), batches_url="memory://") as client:
        job = await client.batches.submit(["slow", "slower"])
        with pytest.raises(BatchTimeout):
            await client.batches.wait(job.id, timeout=30)
        again = await client.batches.get(job.id)
        assert again.state == "BATCH_STATE_RUNNING"


async def test_an_inline_batch_over_20_mb_is_refused_with_the_api_error(g: AsyncGemini) -> None:
    g.batches.inline_limit = 10**9  # send it inline regardless
    huge = "word " * (4 * 1024 * 1024 + 10)
    with pytest.raises(BadRequestError, match="exceeds the limit"):
        await g.batches.submit({"big": huge})
    assert await g.batches.records() == []


async def test_an_input_file_over_the_file_limit_is_refused(live: Start) -> None:
    server = await live(projects(1, keys=1), max_file_bytes=2_000)
    async with server.client(projects(1, keys=1), batches_url="memory://") as client:
        client.batches.inline_limit = 500
        with pytest.raises(BadRequestError, match="exceeds the maximum"):
            await client.batches.submit([f"question {i}" for i in range(100)])


async def test_batches_stay_with_their_project_and_the_sdk_sees_them(
    live: Start, tmp_path: Path
) -> None:
    pool = projects(2, keys=1)
    server = await live(pool)
    journal = f"sqlite:///{tmp_path / 'batches.db'}"
    async with server.client(pool, batches_url=journal) as client:
        job = await client.batches.submit({"q": "Hello there"}, keys=["proj-1"])
        record = await client.batches.journal.get(job.name)
        assert record is not None and record.project == "proj-1"
    mine = genai.Client(api_key="key-1-0", http_options=types.HttpOptions(base_url=server.base))
    other = genai.Client(api_key="key-0-0", http_options=types.HttpOptions(base_url=server.base))
    seen = await mine.aio.batches.get(name=job.name)
    assert seen.model == f"models/{MODEL}"
    with pytest.raises(genai_errors.ClientError) as caught:
        await other.aio.batches.get(name=job.name)
    assert caught.value.code == 404
    # a new client with the same journal polls with proj-1's key, even listed second
    async with server.client(pool, batches_url=journal) as fresh:
        done = await fresh.batches.wait(job.id)
        assert done.succeeded
        assert _text((await fresh.batches.results(job.id))["q"])
        with pytest.raises(NotFoundError):
            await fresh.batches.get(job.id, keys=["proj-0"])
    # without the journal the owner is found by trying the projects in turn
    async with server.client(pool, batches_url="memory://") as forgetful:
        assert (await forgetful.batches.get(job.id)).succeeded
        assert await forgetful.engine.owners.get(job.name) == "proj-1"
    await mine.aio.aclose()
    await other.aio.aclose()


async def test_another_owner_batches_look_absent(g: AsyncGemini) -> None:
    alice = g.batches.for_owner("alice")
    job = await alice.submit({"a": "Hi"})
    assert [r.name for r in await alice.pending()] == [job.name]
    assert await g.batches.pending() == []
    for other in (g.batches, g.batches.for_owner("bob")):
        with pytest.raises(NotFoundError):
            await other.get(job.id)
        with pytest.raises(NotFoundError):
            await other.cancel(job.id)
    assert (await alice.wait(job.id)).succeeded
    assert list(await alice.results(job.id)) == ["a"]


async def test_list_shows_every_project_batches(live: Start) -> None:
    pool = projects(2, keys=1)
    server = await live(pool)
    async with server.client(pool, batches_url="memory://") as client:
        first = await client.batches.submit(["one"], keys=["proj-0"])
        second = await client.batches.submit(["two"], keys=["proj-1"])
        listed = {j.name for j in await client.batches.list()}
        assert {first.name, second.name} <= listed
        only = {j.name for j in await client.batches.list(keys=["proj-1"])}
        assert second.name in only and first.name not in only


SUBMITTER = textwrap.dedent(
    """
    import asyncio, sys
    from gemgate import AsyncGemini

    async def main():
        async with AsyncGemini(api_key="test-key", base_url=sys.argv[1],
                               batches_url=sys.argv[2]) as g:
            job = await g.batches.submit({"first": "Why is the sky blue?", "bad": {"contents": []}})
            print(job.name)

    asyncio.run(main())
    """
)


async def test_a_new_process_resumes_what_another_submitted(
    emulator_server: str, tmp_path: Path
) -> None:
    journal = f"sqlite:///{tmp_path / 'journal.db'}"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    with anyio.fail_after(120):
        done = await anyio.run_process(
            [sys.executable, "-c", SUBMITTER, emulator_server, journal], env=env, check=True
        )
    name = done.stdout.decode().strip().splitlines()[-1]
    async with AsyncGemini(
        api_key="test-key", base_url=emulator_server, batches_url=journal
    ) as client:
        client.batches.poll_interval = 0.05
        pending = await client.batches.pending()
        assert [r.name for r in pending] == [name]
        assert pending[0].keys == ["first", "bad"]
        resumed = await client.batches.resume()
        results = resumed[name]
        assert not isinstance(results, BatchError)
        assert list(results) == ["first", "bad"]
        assert isinstance(results["bad"], BatchItemError)
        assert await client.batches.pending() == []


async def test_the_journal_can_live_in_redis(clock: FakeClock) -> None:
    need_server("Redis", 6379)
    prefix = f"gemgate-test-{uuid.uuid4().hex[:8]}:"
    options: dict[str, Any] = {"batches_url": REDIS_URL, "state_prefix": prefix}
    try:
        async with AsyncGemini.emulated(clock=clock, sleep=clock.sleep, **options) as first:
            job = await first.batches.submit({"k": "Hello"})
            record = BatchRecord(
                name="batches/elsewhere",
                kind="generate",
                model=MODEL,
                project="emulator",
                keys=["x"],
                submitted_at=1.0,
            )
            await first.batches.journal.put(record)
            assert [r.name for r in await first.batches.pending()] == [
                "batches/elsewhere",
                job.name,
            ]
            await first.batches.journal.remove("batches/elsewhere")
        async with AsyncGemini.emulated(clock=clock, sleep=clock.sleep, **options) as second:
            found = await second.batches.journal.get(job.name)
            assert found is not None and found.keys == ["k"] and found.project == "emulator"
            assert [r.name for r in await second.batches.pending()] == [job.name]
    finally:
        import redis.asyncio as aioredis

        raw = aioredis.from_url(REDIS_URL)
        names = [k async for k in raw.scan_iter(f"{prefix}*")]
        if names:
            await raw.delete(*names)
        await raw.aclose()


async def test_the_default_journal_is_next_to_the_sessions_database(
    clock: FakeClock, tmp_path: Path
) -> None:
    sessions = tmp_path / "sessions.db"
    async with AsyncGemini.emulated(
        clock=clock, sleep=clock.sleep, sessions_url=f"sqlite:///{sessions}"
    ) as client:
        job = await client.batches.submit(["hi"])
    journal = SQLiteJournal(sessions)
    try:
        record = await journal.get(job.name)
        assert record is not None and record.keys == ["0"]
        assert "AIza" not in json.dumps(record.to_json())
    finally:
        await journal.aclose()


def test_the_blocking_client_has_the_same_batches(tmp_path: Path) -> None:
    with Gemini.emulated(batches_url=f"sqlite:///{tmp_path / 'b.db'}") as client:
        client.batches.poll_interval = 0.05
        job = client.batches.submit({"a": "Hi", "b": "Name a prime"})
        assert client.batches.wait(job.id).succeeded
        results = client.batches.results(job.id)
        assert list(results) == ["a", "b"]
        assert [key for key, _ in client.batches.iter_results(job.id)] == ["a", "b"]
        assert [r.name for r in client.batches.records()] == [job.name]
