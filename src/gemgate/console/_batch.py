"""``gemgate batch``: Gemini batch jobs from the command line, through the library.

``gemgate batch submit FILE.jsonl`` reads Gemini batch lines (``{"key", "request"}``) or
OpenAI batch lines (``{"custom_id", "method", "url": "/v1/chat/completions", "body"}``),
submits them with ``AsyncGemini.batches`` (journalled at ``batches_url``, so ``status``,
``wait`` and ``results`` work from later runs) and, with ``--wait``, waits with a progress
bar. ``results`` writes one JSON line per request: Gemini's ``{"key", "response" |
"error"}``, or OpenAI's batch output lines for a batch submitted from OpenAI lines.

With no key and no ``upstream_url`` the commands use the built-in emulator, whose batches
live only as long as the command: use ``submit --wait -o out.jsonl`` there.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import IO, TYPE_CHECKING, Annotated, Any

import typer

from gemgate.console._stores import ConfigOption, JsonOption, _fail, _run

if TYPE_CHECKING:
    from gemgate.batch import BatchItemError, BatchJob
    from gemgate.client import AsyncGemini

__all__ = ["batch_app"]

batch_app = typer.Typer(
    help="Gemini batch jobs: submit a JSONL file, follow it, fetch its results.",
    no_args_is_help=True,
)
IdArgument = Annotated[str, typer.Argument(help="The batch's id (or batches/… name).")]
OPENAI = "openai"


@batch_app.command()
def submit(
    file: Annotated[Path, typer.Argument(help="JSONL: Gemini or OpenAI batch lines.")],
    model: Annotated[
        str | None, typer.Option(help="The model (default: the lines' or default_model).")
    ] = None,
    wait: Annotated[bool, typer.Option("--wait", help="Wait for it to finish.")] = False,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="With --wait: write the results here."),
    ] = None,
    display_name: Annotated[str | None, typer.Option(help="The batch's display name.")] = None,
    config: ConfigOption = None,
) -> None:
    """Submit a batch of requests from a JSONL file."""
    if not file.is_file():
        _fail(f"{file}: no such file", code=2)
    if output is not None and not wait:
        _fail("--output needs --wait (or use gemgate batch results)", code=2)
    requests, named, openai_lines = _read(file)
    chosen = model or named
    job = _run(
        config,
        lambda g: _submit(g, requests, chosen, display_name, openai_lines, wait, output),
    )
    _print_job(job)
    if wait and not job.succeeded:
        raise typer.Exit(1)


async def _submit(
    g: AsyncGemini,
    requests: dict[str, dict[str, Any]],
    model: str | None,
    display_name: str | None,
    openai_lines: bool,
    wait: bool,
    output: Path | None,
) -> BatchJob:
    extra = {"format": OPENAI} if openai_lines else {}
    job = await g.batches.submit(requests, model=model, display_name=display_name, metadata=extra)
    typer.echo(f"submitted {job.id} ({len(requests)} requests, {job.model})")
    if not wait:
        return job
    job = await g.batches.wait(job.id, progress=True)
    if job.succeeded and output is not None:
        await _write_results(g, job.id, output)
    return job


def _read(file: Path) -> tuple[dict[str, dict[str, Any]], str | None, bool]:
    """The file's requests by key, the model its OpenAI lines name, whether they are OpenAI's."""
    from gemgate.batch import parse_line
    from gemgate.errors import UsageError

    requests: dict[str, dict[str, Any]] = {}
    model: str | None = None
    openai_lines = False
    with file.open("rb") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                key, request, named = parse_line(line, number)
            except UsageError as exc:
                _fail(f"{file}: {exc}", code=2)
            if key in requests:
                _fail(f"{file}: line {number}: key {key!r} is given twice", code=2)
            requests[key] = request
            if named is not None:
                openai_lines = True
                model = model or named
    if not requests:
        _fail(f"{file}: no requests", code=2)
    return requests, model, openai_lines


@batch_app.command()
def status(batch: IdArgument, config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """Show a batch's state and request counts."""
    job = _run(config, lambda g: g.batches.get(batch))
    if as_json:
        typer.echo(json.dumps(_job_json(job), indent=2))
        return
    _print_job(job)


@batch_app.command("wait")
def wait_command(
    batch: IdArgument,
    timeout: Annotated[
        float | None, typer.Option(help="Give up after this many seconds.", min=0)
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Wait for a batch to finish, with a progress bar; exit 1 unless it succeeded."""
    job = _run(config, lambda g: g.batches.wait(batch, progress=True, timeout=timeout))
    _print_job(job)
    if not job.succeeded:
        raise typer.Exit(1)


@batch_app.command()
def results(
    batch: IdArgument,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here (default: stdout).")
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Write a succeeded batch's results as JSON lines, one per request."""
    count = _run(config, lambda g: _write_results(g, batch, output))
    if output is not None:
        typer.echo(f"{count} results written to {output}")


async def _write_results(g: AsyncGemini, batch: str, output: Path | None) -> int:
    """Write the results line by line as they are read; how many."""
    record = await g.batches.journal.get(_name(batch))
    openai_lines = record is not None and record.extra.get("format") == OPENAI
    model = record.model if record is not None else ""
    out: IO[str] = sys.stdout if output is None else output.open("w", encoding="utf-8")
    count = 0
    try:
        async for key, value in g.batches.iter_results(batch):
            if openai_lines:
                row = _openai_row(key, value, model, f"{_name(batch)}-{count}")
            else:
                row = _gemini_row(key, value)
            out.write(json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n")
            count += 1
    finally:
        if output is not None:
            out.close()
    return count


def _name(batch: str) -> str:
    return batch if batch.startswith("batches/") else f"batches/{batch}"


def _gemini_row(key: str, value: dict[str, Any] | BatchItemError) -> dict[str, Any]:
    """Gemini's output line: ``{"key", "response" | "error"}``."""
    from gemgate.batch import BatchItemError

    if isinstance(value, BatchItemError):
        return {"key": key, "error": value.as_dict()}
    return {"key": key, "response": value}


def _openai_row(
    key: str, value: dict[str, Any] | BatchItemError, model: str, row_id: str
) -> dict[str, Any]:
    """OpenAI's batch output line: ``{"id", "custom_id", "response", "error"}``."""
    from gemgate.batch import BatchItemError
    from gemgate.wire import openai

    row: dict[str, Any] = {"id": row_id, "custom_id": key}
    if isinstance(value, BatchItemError):
        row["response"] = None
        row["error"] = {"code": str(value.code), "message": value.message}
    else:
        body = openai.completion(value, model, created=0)
        row["response"] = {"status_code": 200, "body": body}
        row["error"] = None
    return row


@batch_app.command("list")
def list_command(config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """List the batches of the configured projects, newest first."""
    jobs = _run(config, lambda g: g.batches.list())
    if as_json:
        typer.echo(json.dumps([_job_json(j) for j in jobs], indent=2))
        return
    if not jobs:
        typer.echo("no batches")
        return
    for job in jobs:
        _print_job(job)


def _print_job(job: BatchJob) -> None:
    state = job.state.removeprefix("BATCH_STATE_")
    stats = job.stats
    typer.echo(
        f"{job.id}  {state}  {stats.completed}/{stats.requests} done, {stats.failed} failed"
        f"  {job.model}" + (f"  {job.display_name}" if job.display_name else "")
    )


def _job_json(job: BatchJob) -> Mapping[str, Any]:
    return {
        "id": job.id,
        "name": job.name,
        "state": job.state,
        "model": job.model,
        "kind": job.kind,
        "display_name": job.display_name,
        "requests": job.stats.requests,
        "succeeded": job.stats.succeeded,
        "failed": job.stats.failed,
        "pending": job.stats.pending,
        "create_time": job.create_time,
        "end_time": job.end_time,
        "responses_file": job.responses_file,
    }
