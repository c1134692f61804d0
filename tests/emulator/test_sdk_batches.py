"""The Batch API through the official SDK: inline and file batches, states, results."""

from __future__ import annotations

import io
import json
from typing import Any

import anyio
import httpx2
import pytest
from google import genai
from google.genai import errors, types

from gemgate import AsyncGemini
from gemgate.emulator import EmulatorConfig, EmulatorSettings, create_app
from tests.conftest import FakeClock

from .conftest import Target

pytestmark = pytest.mark.anyio

MODEL = "gemini-2.5-flash"
EMBED_MODEL = "gemini-embedding-001"
DONE = {
    types.JobState.JOB_STATE_SUCCEEDED,
    types.JobState.JOB_STATE_CANCELLED,
    types.JobState.JOB_STATE_EXPIRED,
    types.JobState.JOB_STATE_FAILED,
}


def _request(text: str, key: str | None = None) -> dict[str, Any]:
    request: dict[str, Any] = {"contents": [{"role": "user", "parts": [{"text": text}]}]}
    return {"key": key, "request": request} if key is not None else request


async def _finished(target: Target, client: genai.Client, name: str) -> types.BatchJob:
    """Poll a batch until it is done, moving the fake clock when there is one."""
    for _ in range(300):
        job = await client.aio.batches.get(name=name)
        if job.state in DONE:
            return job
        if target.clock is not None:
            target.clock.advance(0.05)
        else:
            await anyio.sleep(0.02)
    raise AssertionError(f"batch {name} never finished")


async def _upload_jsonl(client: genai.Client, lines: list[str]) -> str:
    uploaded = await client.aio.files.upload(
        file=io.BytesIO(("\n".join(lines) + "\n").encode()),
        config=types.UploadFileConfig(mime_type="application/jsonl", display_name="requests"),
    )
    assert uploaded.name
    return uploaded.name


async def test_inline_batch_runs_to_success_with_the_generate_answers(target: Target) -> None:
    client = target.sdk()
    questions = ["Why is the sky blue?", "Tell me about tides.", "Name a prime number."]
    job = await client.aio.batches.create(
        model=MODEL,
        src=[{**_request(q), "metadata": {"n": str(i)}} for i, q in enumerate(questions)],
        config={"display_name": "inline-job"},
    )
    assert job.name and job.name.startswith("batches/")
    assert job.display_name == "inline-job"
    assert job.model == f"models/{MODEL}"
    assert job.state in (types.JobState.JOB_STATE_PENDING, types.JobState.JOB_STATE_RUNNING)
    done = await _finished(target, client, job.name)
    assert done.state == types.JobState.JOB_STATE_SUCCEEDED
    assert done.end_time is not None and done.create_time is not None
    assert done.dest is not None and done.dest.inlined_responses is not None
    results = done.dest.inlined_responses
    assert [r.metadata for r in results] == [{"n": str(i)} for i in range(len(questions))]
    for question, result in zip(questions, results, strict=True):
        direct = await client.aio.models.generate_content(model=MODEL, contents=question)
        assert result.error is None and result.response is not None
        assert result.response.text == direct.text


async def test_the_wire_shows_pending_then_running_with_stats(inprocess: Target) -> None:
    requests = [{"request": _request(f"question {i}")} for i in range(4)]
    body = {"batch": {"inputConfig": {"requests": {"requests": requests}}}}
    created = await inprocess.http.post(
        f"/v1beta/models/{MODEL}:batchGenerateContent",
        json=body,
        headers={"x-goog-api-key": "test-key"},
    )
    assert created.status_code == 200
    wire = created.json()
    meta = wire["metadata"]
    assert meta["@type"].endswith(".GenerateContentBatch")
    assert meta["state"] == "BATCH_STATE_PENDING"
    assert meta["batchStats"] == {"requestCount": "4", "pendingRequestCount": "4"}
    assert "done" not in wire
    assert inprocess.clock is not None
    inprocess.clock.advance(0.075)
    running = (
        await inprocess.http.get(f"/v1beta/{wire['name']}", headers={"x-goog-api-key": "test-key"})
    ).json()
    assert running["metadata"]["state"] == "BATCH_STATE_RUNNING"
    stats = running["metadata"]["batchStats"]
    assert stats["successfulRequestCount"] == "2" and stats["pendingRequestCount"] == "2"
    inprocess.clock.advance(1)
    final = (
        await inprocess.http.get(f"/v1beta/{wire['name']}", headers={"x-goog-api-key": "test-key"})
    ).json()
    assert final["done"] is True
    assert final["metadata"]["batchStats"] == {"requestCount": "4", "successfulRequestCount": "4"}
    assert len(final["response"]["inlinedResponses"]["inlinedResponses"]) == 4


async def test_file_batch_writes_a_downloadable_responses_file(target: Target) -> None:
    client = target.sdk()
    lines = [
        json.dumps(_request("Why is the sky blue?", "first")),
        "{not json",
        json.dumps({"key": "bad", "request": {"contents": []}}),
        json.dumps(_request("Tell me about tides.", "last")),
    ]
    source = await _upload_jsonl(client, lines)
    job = await client.aio.batches.create(model=MODEL, src=source)
    assert job.name
    done = await _finished(target, client, job.name)
    assert done.state == types.JobState.JOB_STATE_SUCCEEDED
    assert done.dest is not None and done.dest.file_name
    data = await client.aio.files.download(file=done.dest.file_name)
    rows = [json.loads(line) for line in data.decode().splitlines()]
    assert [r.get("key") for r in rows] == ["first", None, "bad", "last"]
    assert rows[1]["error"]["code"] == 3 and "line 2" in rows[1]["error"]["message"]
    assert rows[2]["error"]["code"] == 3 and "response" not in rows[2]
    direct = await client.aio.models.generate_content(model=MODEL, contents="Tell me about tides.")
    answer = types.GenerateContentResponse.model_validate(rows[3]["response"])
    assert answer.text == direct.text


async def test_uploaded_files_cannot_be_downloaded(target: Target) -> None:
    client = target.sdk()
    source = await _upload_jsonl(client, [json.dumps(_request("hi", "k"))])
    with pytest.raises(errors.ClientError) as caught:
        await client.aio.files.download(file=source)
    assert caught.value.code == 400


async def test_list_cancel_and_delete(target: Target) -> None:
    client = target.sdk()
    names = []
    for i in range(3):
        job = await client.aio.batches.create(model=MODEL, src=[_request(f"q{i}")])
        assert job.name
        names.append(job.name)
    listed = [j.name async for j in await client.aio.batches.list(config={"page_size": 2})]
    assert set(names) <= set(listed)
    await client.aio.batches.cancel(name=names[0])
    cancelled = await client.aio.batches.get(name=names[0])
    assert cancelled.state == types.JobState.JOB_STATE_CANCELLED
    assert cancelled.end_time is not None
    with pytest.raises(errors.ClientError) as again:
        await client.aio.batches.cancel(name=names[0])
    assert again.value.code == 400
    await client.aio.batches.delete(name=names[1])
    with pytest.raises(errors.ClientError) as gone:
        await client.aio.batches.get(name=names[1])
    assert gone.value.code == 404


async def test_batches_belong_to_their_project(target: Target) -> None:
    job = await target.sdk().aio.batches.create(model=MODEL, src=[_request("mine")])
    assert job.name
    with pytest.raises(errors.ClientError) as caught:
        await target.sdk("key-b1").aio.batches.get(name=job.name)
    assert caught.value.code == 404


async def test_an_invalid_inline_request_fails_alone(target: Target) -> None:
    client = target.sdk()
    bad = {**_request("x"), "generationConfig": {"temperature": 9}}
    requests = [{"request": _request("ok")}, {"request": bad}]
    body = {"batch": {"inputConfig": {"requests": {"requests": requests}}}}
    created = await target.http.post(
        f"/v1beta/models/{MODEL}:batchGenerateContent",
        json=body,
        headers={"x-goog-api-key": "test-key"},
    )
    assert created.status_code == 200
    done = await _finished(target, client, created.json()["name"])
    assert done.dest is not None and done.dest.inlined_responses is not None
    good, failed = done.dest.inlined_responses
    assert good.response is not None and good.error is None
    assert failed.response is None and failed.error is not None
    assert failed.error.code == 3


async def test_oversized_inline_batches_and_bad_models_are_refused(target: Target) -> None:
    huge = "word " * (4 * 1024 * 1024 + 10)
    body = {"batch": {"inputConfig": {"requests": {"requests": [{"request": _request(huge)}]}}}}
    too_big = await target.http.post(
        f"/v1beta/models/{MODEL}:batchGenerateContent",
        json=body,
        headers={"x-goog-api-key": "test-key"},
    )
    assert too_big.status_code == 400
    assert "exceeds the limit" in too_big.json()["error"]["message"]
    with pytest.raises(errors.ClientError) as missing:
        await target.sdk().aio.batches.create(model="no-such-model", src=[_request("x")])
    assert missing.value.code == 404


@pytest.mark.filterwarnings("ignore::google.genai._common.ExperimentalWarning")
async def test_embeddings_batch(target: Target) -> None:
    client = target.sdk()
    job = await client.aio.batches.create_embeddings(
        model=EMBED_MODEL,
        src=types.EmbeddingsBatchJobSource(
            inlined_requests=types.EmbedContentBatch(contents=["red apples", "green pears"])
        ),
    )
    assert job.name
    done = await _finished(target, client, job.name)
    assert done.state == types.JobState.JOB_STATE_SUCCEEDED
    assert done.dest is not None and done.dest.inlined_embed_content_responses is not None
    vectors = done.dest.inlined_embed_content_responses
    direct = await client.aio.models.embed_content(model=EMBED_MODEL, contents="red apples")
    assert direct.embeddings is not None
    first = vectors[0].response
    assert first is not None and first.embedding is not None
    assert first.embedding.values == direct.embeddings[0].values
    with pytest.raises(errors.ClientError) as wrong:
        await client.aio.batches.create_embeddings(
            model=MODEL,
            src=types.EmbeddingsBatchJobSource(
                inlined_requests=types.EmbedContentBatch(contents=["x"])
            ),
        )
    assert wrong.value.code == 404


async def test_the_library_sdk_reaches_batches() -> None:
    async with AsyncGemini.emulated() as g:
        job = await g.sdk.aio.batches.create(model=MODEL, src=[_request("Hello there")])
        assert job.name
        for _ in range(300):
            job = await g.sdk.aio.batches.get(name=job.name)
            if job.state in DONE:
                break
            await anyio.sleep(0.02)
        assert job.state == types.JobState.JOB_STATE_SUCCEEDED
        assert job.dest is not None and job.dest.inlined_responses
        response = job.dest.inlined_responses[0].response
        assert response is not None and response.text


async def test_a_batch_still_running_at_its_expiry_expires(clock: FakeClock) -> None:
    settings = EmulatorSettings(batch_seconds_per_request=100.0, batch_expiry_seconds=150.0)
    emulator = create_app(EmulatorConfig(emulator=settings), clock=clock)
    base = "http://emulator.local"
    http = httpx2.AsyncClient(transport=httpx2.ASGITransport(app=emulator), base_url=base)
    options = types.HttpOptions(base_url=base, httpx_async_client=http)
    client = genai.Client(api_key="any-key", http_options=options)
    try:
        job = await client.aio.batches.create(model=MODEL, src=[_request("a"), _request("b")])
        assert job.name
        clock.advance(120)
        running = await client.aio.batches.get(name=job.name)
        assert running.state == types.JobState.JOB_STATE_RUNNING
        clock.advance(60)
        expired = await client.aio.batches.get(name=job.name)
        assert expired.state == types.JobState.JOB_STATE_EXPIRED
        assert expired.dest is None
        with pytest.raises(errors.ClientError):
            await client.aio.batches.cancel(name=job.name)
    finally:
        await http.aclose()


@pytest.mark.filterwarnings("ignore::google.genai._common.ExperimentalWarning")
async def test_embeddings_batch_from_a_file(target: Target) -> None:
    client = target.sdk()
    lines = [
        json.dumps({"key": "a", "request": {"content": {"parts": [{"text": "red apples"}]}}}),
        json.dumps({"key": "b", "request": {"content": {"parts": []}}}),
    ]
    source = await _upload_jsonl(client, lines)
    job = await client.aio.batches.create_embeddings(
        model=EMBED_MODEL, src=types.EmbeddingsBatchJobSource(file_name=source)
    )
    assert job.name
    done = await _finished(target, client, job.name)
    assert done.dest is not None and done.dest.file_name
    data = await client.aio.files.download(file=done.dest.file_name)
    rows = [json.loads(line) for line in data.splitlines()]
    assert rows[0]["key"] == "a" and len(rows[0]["response"]["embedding"]["values"]) > 0
    assert rows[1]["key"] == "b" and rows[1]["error"]["code"] == 3


async def test_batch_requests_are_counted_in_the_stats(inprocess: Target) -> None:
    before = (await inprocess.stats())["totals"]["admitted"]
    client = inprocess.sdk()
    await client.aio.batches.create(model=MODEL, src=[_request("one"), _request("two")])
    after = (await inprocess.stats())["totals"]
    assert after["admitted"] == before + 2
    assert after["input_tokens"] > 0


async def test_files_over_the_size_limit_are_refused(clock: FakeClock) -> None:
    settings = EmulatorSettings(max_file_bytes=100)
    emulator = create_app(EmulatorConfig(emulator=settings), clock=clock)
    base = "http://emulator.local"
    http = httpx2.AsyncClient(transport=httpx2.ASGITransport(app=emulator), base_url=base)
    options = types.HttpOptions(base_url=base, httpx_async_client=http)
    client = genai.Client(api_key="any-key", http_options=options)
    try:
        small = json.dumps(_request("hi", "k")).encode()
        assert len(small) <= 100
        await client.aio.files.upload(
            file=io.BytesIO(small), config=types.UploadFileConfig(mime_type="application/jsonl")
        )
        with pytest.raises(errors.ClientError) as caught:
            await client.aio.files.upload(
                file=io.BytesIO(small * 2),
                config=types.UploadFileConfig(mime_type="application/jsonl"),
            )
        assert caught.value.code == 400 and "exceeds the maximum" in str(caught.value.message)
    finally:
        await http.aclose()


@pytest.mark.parametrize(
    ("batch", "unknown"),
    [
        ({"inputConfig": {"requests": {"requests": "x"}}, "bogus": 1}, '"bogus"'),
        ({"inputConfig": {"requests": {"requests": "x"}}}, "requests"),
        ({"inputConfig": {"requests": {"requests": [5]}}}, "requests"),
        ({"inputConfig": {"requests": {"requests": [{"request": {}, "metadata": 3}]}}}, "metadata"),
        ({"inputConfig": {"fileName": "files/x", "extra": True}}, '"extra"'),
    ],
)
async def test_a_malformed_batch_envelope_is_refused_whole(
    inprocess: Target, batch: dict[str, Any], unknown: str
) -> None:
    created = await inprocess.http.post(
        f"/v1beta/models/{MODEL}:batchGenerateContent",
        json={"batch": batch},
        headers={"x-goog-api-key": "test-key"},
    )
    assert created.status_code == 400, created.text
    error = created.json()["error"]
    assert error["status"] == "INVALID_ARGUMENT" and unknown in error["message"]
    listed = await inprocess.http.get("/v1beta/batches", headers={"x-goog-api-key": "test-key"})
    assert listed.json().get("operations", []) == []  # nothing was created
