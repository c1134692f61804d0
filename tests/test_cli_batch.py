"""``gemgate batch`` against `gemgate emulate` on 127.0.0.1, run in process by typer's runner.

Each command is a new client: the batch is found again through the journal
(``GEMGATE_BATCHES_URL``, a fresh SQLite file) and the server keeps the batches.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
from google import genai
from google.genai import types
from typer.testing import CliRunner

from gemgate.cli import app

WIDE = {"COLUMNS": "400", "TERMINAL_WIDTH": "400"}


@pytest.fixture(autouse=True)
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, emulator_server: str) -> str:
    for name in list(os.environ):
        if name.startswith(("GEMGATE_", "GEMINI_API_KEY", "GOOGLE_API_KEY")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GEMINI_API_KEY", "test-key")
    monkeypatch.setenv("GEMGATE_UPSTREAM_URL", emulator_server)
    monkeypatch.setenv("GEMGATE_BATCHES_URL", f"sqlite:///{tmp_path / 'batches.db'}")
    return emulator_server


def invoke(*args: str) -> Any:
    return CliRunner().invoke(app, ["batch", *args], env=WIDE)


def _write(path: Path, rows: list[Any]) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def _gemini_line(key: str, text: str) -> dict[str, Any]:
    return {"key": key, "request": {"contents": [{"role": "user", "parts": [{"text": text}]}]}}


def test_submit_then_status_wait_and_results_from_later_runs(tmp_path: Path, env: str) -> None:
    source = _write(
        tmp_path / "in.jsonl",
        [
            _gemini_line("sky", "Why is the sky blue?"),
            {"key": "broken", "request": {"contents": []}},
            _gemini_line("prime", "Name a prime number."),
        ],
    )
    submitted = invoke("submit", str(source), "--display-name", "cli-job")
    assert submitted.exit_code == 0, submitted.output
    batch = re.search(r"submitted (\S+) \(3 requests", submitted.output)
    assert batch is not None
    bid = batch.group(1)
    waited = invoke("wait", bid)
    assert waited.exit_code == 0, waited.output
    assert f"{bid}  SUCCEEDED  3/3 done, 1 failed" in waited.output
    status = invoke("status", bid, "--json")
    assert json.loads(status.output)["state"] == "BATCH_STATE_SUCCEEDED"
    out = tmp_path / "out.jsonl"
    fetched = invoke("results", bid, "-o", str(out))
    assert fetched.exit_code == 0 and "3 results written" in fetched.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["key"] for r in rows] == ["sky", "broken", "prime"]
    assert rows[1]["error"]["code"] == 3 and "response" not in rows[1]
    assert "prime" in json.dumps(rows[2]["response"])
    listed = invoke("list")
    assert bid in listed.output
    sdk = genai.Client(api_key="test-key", http_options=types.HttpOptions(base_url=env))
    seen = sdk.batches.get(name=f"batches/{bid}")
    assert seen.display_name == "cli-job" and seen.state == types.JobState.JOB_STATE_SUCCEEDED
    sdk.close()


def test_openai_batch_lines_come_back_as_openai_output_lines(tmp_path: Path) -> None:
    body = {"model": "gemini-2.5-flash", "messages": [{"role": "user", "content": "Hello there"}]}
    source = _write(
        tmp_path / "openai.jsonl",
        [
            {"custom_id": "req-1", "method": "POST", "url": "/v1/chat/completions", "body": body},
            {"custom_id": "req-2", "method": "POST", "url": "/v1/chat/completions", "body": body},
        ],
    )
    out = tmp_path / "out.jsonl"
    done = invoke("submit", str(source), "--wait", "-o", str(out))
    assert done.exit_code == 0, done.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["custom_id"] for r in rows] == ["req-1", "req-2"]
    first = rows[0]
    assert first["error"] is None and first["response"]["status_code"] == 200
    completion = first["response"]["body"]
    assert completion["object"] == "chat.completion"
    assert "Hello there" in completion["choices"][0]["message"]["content"]


def test_bad_files_and_unknown_batches(tmp_path: Path) -> None:
    source = _write(tmp_path / "bad.jsonl", [_gemini_line("a", "hi"), "{not json"])
    refused = invoke("submit", str(source))
    assert refused.exit_code == 2 and "line 2" in refused.output
    twice = _write(tmp_path / "twice.jsonl", [_gemini_line("a", "hi"), _gemini_line("a", "ho")])
    assert invoke("submit", str(twice)).exit_code == 2
    assert invoke("submit", str(tmp_path / "missing.jsonl")).exit_code == 2
    unknown = invoke("status", "no-such-batch")
    assert unknown.exit_code == 1 and "NOT_FOUND" in unknown.output
