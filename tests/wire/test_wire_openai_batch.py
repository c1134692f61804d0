"""OpenAI batch files ⇄ Gemini batch files: the pure translation."""

from __future__ import annotations

import json
from typing import Any

import pytest

from gemgate.batch._input import prepare
from gemgate.wire.openai import (
    MAX_BATCH_LINES,
    chat_request,
    completion,
    openai_results,
    openai_results_of,
    openai_status,
    read_batch_file,
)

CHAT = "/v1/chat/completions"
EMBEDDINGS = "/v1/embeddings"
FLASH = "gemini-2.5-flash"


def line(custom_id: str, **body: Any) -> dict[str, Any]:
    fields = {"model": FLASH, "messages": [{"role": "user", "content": "Hi"}], **body}
    return {"custom_id": custom_id, "method": "POST", "url": CHAT, "body": fields}


def jsonl(*rows: dict[str, Any] | str) -> bytes:
    return "\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows).encode()


def test_chat_lines_become_keyed_gemini_requests_as_the_chat_route_makes_them() -> None:
    body = {
        "temperature": 0.2,
        "max_tokens": 64,
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hi"},
        ],
    }
    read = read_batch_file(jsonl(line("a", **body), "", line("b")), CHAT)
    assert read.errors == [] and read.model == FLASH and read.lines == 2
    assert [r.key for r in read.requests] == ["a", "b"]
    assert read.requests[0].request == chat_request({"model": FLASH, **body}).request
    prepared = prepare([(r.key, r.request) for r in read.requests], "generate")  # the file
    prepared.lines.seek(0)
    rows = [json.loads(x) for x in prepared.lines.read().decode().splitlines()]
    prepared.close()
    assert rows[1] == {"key": "b", "request": read.requests[1].request}
    assert rows[0]["request"]["generationConfig"] == {"temperature": 0.2, "maxOutputTokens": 64}


def test_models_prefixed_with_models_are_the_same_model() -> None:
    read = read_batch_file(jsonl(line("a", model="models/gemini-2.5-flash"), line("b")), CHAT)
    assert read.errors == [] and read.model == FLASH


@pytest.mark.parametrize(
    ("rows", "code", "number", "words"),
    [
        (["not json"], "invalid_json_line", 1, "not valid JSON"),
        (["[1, 2]"], "invalid_json_line", 1, "object"),
        ([line("a"), {**line("b"), "url": EMBEDDINGS}], "mismatched_endpoint", 2, "endpoint"),
        ([line("a"), line("a")], "duplicate_custom_id", 2, "'a'"),
        ([{**line("a"), "custom_id": 7}], "invalid_request", 1, "custom_id"),
        ([{**line("a"), "extra": 1}], "invalid_request", 1, "extra"),
        ([{**line("a"), "body": "text"}], "invalid_request", 1, "body"),
        ([line("a", temperature="hot")], "invalid_request", 1, "temperature"),
        ([line("a", stream=True)], "invalid_request", 1, "stream"),
        ([line("a", model="a/b")], "invalid_request", 1, "model"),
        ([line("a"), line("b", model="gemini-2.0-flash")], "mismatched_model", 2, "differs"),
    ],
)
def test_bad_lines_are_refused_by_number(
    rows: list[Any], code: str, number: int, words: str
) -> None:
    read = read_batch_file(jsonl(*rows), CHAT)
    assert len(read.errors) == 1
    error = read.errors[0]
    assert (error.code, error.line) == (code, number)
    assert error.message.startswith(f"Line {number}:") and words in error.message
    assert error.as_json()["line"] == number


def test_every_bad_line_is_reported_and_an_empty_file_is_refused() -> None:
    read = read_batch_file(jsonl("{", line("a"), "}", line("a")), CHAT)
    assert [(e.line, e.code) for e in read.errors] == [
        (1, "invalid_json_line"),
        (3, "invalid_json_line"),
        (4, "duplicate_custom_id"),
    ]
    assert [e.code for e in read_batch_file(b"\n \n", CHAT).errors] == ["empty_file"]
    assert [e.code for e in read_batch_file(b"\xff\xfe", CHAT).errors] == ["invalid_file"]


def test_a_file_over_the_request_limit_is_refused() -> None:
    rows = [line(f"r{n}") for n in range(MAX_BATCH_LINES + 1)]
    (error,) = read_batch_file(jsonl(*rows), CHAT).errors
    assert error.code == "too_many_requests" and f"{MAX_BATCH_LINES:,}" in error.message
    assert not read_batch_file(jsonl(*rows[:MAX_BATCH_LINES]), CHAT).errors


def test_embedding_lines_split_into_one_gemini_request_per_input() -> None:
    row = {"custom_id": "e", "method": "POST", "url": EMBEDDINGS}
    data = jsonl(
        {**row, "body": {"model": "gemini-embedding-001", "input": ["x", "y"], "dimensions": 8}},
        {**row, "custom_id": "f#2", "body": {"model": "gemini-embedding-001", "input": "z"}},
    )
    read = read_batch_file(data, EMBEDDINGS)
    assert read.errors == []
    assert [r.key for r in read.requests] == ["e#0", "e#1", "f#2#0"]
    assert read.requests[0].request == {
        "content": {"parts": [{"text": "x"}]},
        "outputDimensionality": 8,
    }
    results = openai_results(
        jsonl(
            {"key": "e#1", "response": {"embedding": {"values": [2.0]}}},
            {"key": "e#0", "response": {"embedding": {"values": [1.0]}}},
            {"key": "f#2#0", "error": {"code": 3, "message": "too long"}},
        ),
        EMBEDDINGS,
        "gemini-embedding-001",
        batch_id="batch_1",
        created=0,
    )
    by_id = {r.custom_id: r for r in results}
    body = by_id["e"].line["response"]["body"]
    assert [d["embedding"] for d in body["data"]] == [[1.0], [2.0]]
    assert not by_id["f#2"].ok and by_id["f#2"].line["error"]["code"] == "invalid_argument"


def test_embedding_lines_count_the_input_tokens_they_are_given() -> None:
    rows = [
        {"key": "e#1", "response": {"embedding": {"values": [2.0]}}},
        {"key": "e#0", "response": {"embedding": {"values": [1.0]}}},
        {"key": "f#0", "response": {"embedding": {"values": [3.0]}}},
    ]
    tokens = {"e#0": 3, "e#1": 4}
    results = openai_results_of(
        rows, EMBEDDINGS, "gemini-embedding-001", batch_id="b", created=0, input_tokens=tokens
    )
    by_id = {r.custom_id: r for r in results}
    assert by_id["e"].line["response"]["body"]["usage"] == {"prompt_tokens": 7, "total_tokens": 7}
    assert by_id["e"].usage == {"promptTokenCount": 7}
    assert by_id["f"].usage == {"promptTokenCount": 0}  # no count given: none charged


def test_results_become_output_and_error_lines() -> None:
    response = {
        "candidates": [{"content": {"parts": [{"text": "Hello"}]}, "finishReason": "STOP"}],
        "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 2, "totalTokenCount": 5},
        "responseId": "r1",
    }
    data = jsonl(
        {"key": "a", "response": response},
        {"key": "b", "error": {"code": 8, "message": "slow down"}},
        "garbage",
    )
    results = openai_results(data, CHAT, FLASH, batch_id="batch_1", created=7)
    ok, failed, broken = results
    assert ok.ok and ok.custom_id == "a" and ok.usage == response["usageMetadata"]
    assert ok.line["response"]["status_code"] == 200 and ok.line["error"] is None
    assert ok.line["response"]["body"] == completion(response, FLASH, created=7)
    assert ok.line["id"] == f"batch_req_{ok.line['response']['request_id']}"
    assert not failed.ok and failed.line["response"] is None
    assert failed.line["error"] == {"code": "resource_exhausted", "message": "slow down"}
    assert not broken.ok and broken.line["error"]["code"] == "internal"
    again = openai_results(data, CHAT, FLASH, batch_id="batch_1", created=7)
    assert again[0].line["id"] == ok.line["id"]  # stable ids


@pytest.mark.parametrize(
    ("state", "status"),
    [
        ("BATCH_STATE_PENDING", "in_progress"),
        ("BATCH_STATE_RUNNING", "in_progress"),
        ("BATCH_STATE_SUCCEEDED", "completed"),
        ("BATCH_STATE_FAILED", "failed"),
        ("BATCH_STATE_CANCELLED", "cancelled"),
        ("BATCH_STATE_EXPIRED", "expired"),
        ("JOB_STATE_SUCCEEDED", "completed"),
        (None, "in_progress"),
    ],
)
def test_states_map_to_openai_statuses(state: str | None, status: str) -> None:
    assert openai_status(state) == status
