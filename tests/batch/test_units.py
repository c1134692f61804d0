"""The batch package's sans-I/O parts: input lines, encoding, result rows, polling pauses."""

from __future__ import annotations

import json

import pytest

from gemgate.batch import BatchItemError, parse_line
from gemgate.batch._input import fits_inline, inline_body, prepare
from gemgate.batch._progress import Poller
from gemgate.batch._results import BatchJob, LineSplitter, ResultsReader
from gemgate.errors import BatchTimeout, UsageError
from tests.conftest import FakeClock

pytestmark = pytest.mark.anyio


def test_gemini_and_openai_lines_are_read() -> None:
    key, request, model = parse_line('{"key": "a", "request": {"contents": []}}', 1)
    assert (key, request, model) == ("a", {"contents": []}, None)
    body = {
        "model": "gemini-2.5-flash",
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
        "temperature": 0.2,
    }
    line = {"custom_id": "r1", "method": "POST", "url": "/v1/chat/completions", "body": body}
    key, request, model = parse_line(json.dumps(line), 2)
    assert key == "r1" and model == "gemini-2.5-flash"
    assert request["systemInstruction"]["parts"][0]["text"] == "Be brief."
    assert request["generationConfig"]["temperature"] == 0.2


@pytest.mark.parametrize(
    ("line", "why"),
    [
        ("{nope", "not JSON"),
        ("[1]", "JSON object"),
        ('{"key": "a"}', "expected"),
        ('{"key": "a", "request": 3}', "'request'"),
        ('{"custom_id": "x", "url": "/v1/embeddings", "body": {}}', "only /v1/chat"),
        ('{"custom_id": "x", "body": {"model": "m", "messages": [], "bogus": 1}}', "bogus"),
    ],
)
def test_bad_lines_name_their_number(line: str, why: str) -> None:
    with pytest.raises(UsageError, match=f"line 7: .*{why}"):
        parse_line(line, 7)


def test_the_inline_body_carries_every_request_with_its_key() -> None:
    prepared = prepare({"a": "Hi", "b": [{"role": "user", "parts": [{"text": "Yo"}]}]}, "generate")
    try:
        body = json.loads(inline_body(prepared, "job"))
        assert body["batch"]["displayName"] == "job"
        items = body["batch"]["inputConfig"]["requests"]["requests"]
        assert [i["metadata"]["key"] for i in items] == ["a", "b"]
        assert items[1]["request"]["contents"][0]["parts"][0]["text"] == "Yo"
        assert fits_inline(prepared, 10_000) and not fits_inline(prepared, 100)
        assert b"".join(prepared.chunks(7)).count(b"\n") == 2
    finally:
        prepared.close()
    embeds = prepare(["red"], "embed")
    try:
        row = json.loads(next(iter(embeds.chunks(1_000))))
        assert row == {"key": "0", "request": {"content": {"parts": [{"text": "red"}]}}}
    finally:
        embeds.close()


def test_result_rows_fall_back_to_the_submitted_order() -> None:
    reader = ResultsReader(["a", "b", "c"])
    first = reader.line(b'{"key": "a", "response": {"x": 1}}')
    assert first == ("a", {"x": 1})
    second = reader.line(b'{"error": {"code": 3, "message": "Invalid JSON on line 2."}}')
    assert second is not None and second[0] == "b"
    assert second[1] == BatchItemError(3, "Invalid JSON on line 2.")
    third = reader.line(b"garbage")
    assert third is not None and third[0] == "c" and isinstance(third[1], BatchItemError)
    assert reader.line(b"  ") is None


def test_lines_are_split_across_chunks() -> None:
    lines = LineSplitter()
    assert lines.feed(b'{"a"') == []
    assert lines.feed(b':1}\n{"b":2}\n{"c"') == [b'{"a":1}', b'{"b":2}']
    assert lines.close() == [b'{"c"']


def test_a_job_reads_an_operation() -> None:
    job = BatchJob.from_operation(
        {
            "name": "batches/x",
            "done": True,
            "metadata": {
                "@type": "type.googleapis.com/google.ai.generativelanguage.v1main."
                "EmbedContentBatch",
                "state": "BATCH_STATE_SUCCEEDED",
                "batchStats": {
                    "requestCount": "3",
                    "successfulRequestCount": "2",
                    "failedRequestCount": "1",
                },
            },
            "response": {"responsesFile": "files/out"},
        }
    )
    assert job.kind == "embed" and job.id == "x" and job.done and job.succeeded
    assert job.stats.completed == 3 and job.responses_file == "files/out"
    assert job.inline_items() is None


async def test_polls_pause_longer_each_time_and_stop_at_the_timeout() -> None:
    clock = FakeClock()
    poller = Poller(clock, clock.sleep, first=1.0, cap=3.0, timeout=10.0)
    assert [poller.delay() for _ in range(5)] == [1.0, 1.5, 2.25, 3.0, 3.0]
    start = clock()
    with pytest.raises(BatchTimeout):
        for _ in range(10):
            await poller.pause("batches/x")
    assert clock() - start == pytest.approx(10.0)
    with pytest.raises(ValueError):
        Poller(clock, clock.sleep, first=0, cap=1, timeout=None)
