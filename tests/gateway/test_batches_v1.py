"""``/v1/batches`` with the official OpenAI client: Gemini batches behind OpenAI's Batch API."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Final

import anyio
import httpx2
import openai
import pytest
from openai.types import Batch

from gemgate import AsyncGemini
from gemgate.config import Settings
from gemgate.emulator import EmulatorConfig
from gemgate.emulator import create_app as create_emulator
from gemgate.errors import ServerError
from gemgate.gateway import Gateway, create_app
from gemgate.gateway._batches import BatchRecord
from gemgate.projects import GatewayKey, ProjectConfig, hash_secret
from gemgate.state._spend import period_of
from gemgate.upstream._pipeline import Call
from gemgate.usage import PriceTable
from tests.conftest import FakeClock, serve_in_loop, stop_serving

pytestmark = pytest.mark.anyio

FLASH = "gemini-2.5-flash"
CHAT: Final = "/v1/chat/completions"
KEY_A, KEY_B, KEY_RICH, KEY_BROKE = "batch-a", "batch-b", "batch-rich", "batch-broke"
KEY_LITE = "batch-lite"
KEYS = [
    GatewayKey(name="a", secret_sha256=hash_secret(KEY_A)),
    GatewayKey(name="b", secret_sha256=hash_secret(KEY_B)),
    GatewayKey(name="rich", secret_sha256=hash_secret(KEY_RICH), max_budget_usd=100.0),
    GatewayKey(name="broke", secret_sha256=hash_secret(KEY_BROKE), max_tokens=1),
    GatewayKey(name="lite", secret_sha256=hash_secret(KEY_LITE), models=["gemini-2.5-flash-lite"]),
]
FINAL = {"completed", "failed", "cancelled", "expired"}


@asynccontextmanager
async def batch_gateway(tmp_path: Path, clock: FakeClock | None = None) -> AsyncIterator[Gateway]:
    """The gateway over the built-in emulator; with ``clock``, batches wait for it to move."""
    settings = Settings(
        upstream="emulator", gateway_keys=KEYS, sessions_url=f"sqlite:///{tmp_path}/gw.db"
    )
    client = AsyncGemini(settings=settings, clock=clock)
    app = create_app(client)
    try:
        yield app
    finally:
        await app.budgets.settle()
        await app.aclose()


def openai_of(app: Gateway, key: str) -> openai.AsyncOpenAI:
    http = httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app))
    return openai.AsyncOpenAI(
        api_key=key, base_url="http://gateway/v1", http_client=http, max_retries=0
    )


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[Gateway]:
    async with batch_gateway(tmp_path) as app:
        yield app


@pytest.fixture
async def still(tmp_path: Path) -> AsyncIterator[Gateway]:
    """A gateway whose batches stay pending (the emulator's clock does not move)."""
    async with batch_gateway(tmp_path, FakeClock()) as app:
        yield app


def chat_line(custom_id: str, text: str, **extra: Any) -> dict[str, Any]:
    body = {"model": FLASH, "messages": [{"role": "user", "content": text}], **extra}
    return {"custom_id": custom_id, "method": "POST", "url": CHAT, "body": body}


def jsonl(*lines: dict[str, Any] | str) -> bytes:
    return "".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines).encode()


async def submit(
    client: openai.AsyncOpenAI, data: bytes, endpoint: str = CHAT, **extra: Any
) -> Batch:
    file = await client.files.create(file=("requests.jsonl", data), purpose="batch")
    return await client.batches.create(
        input_file_id=file.id,
        endpoint=endpoint,  # type: ignore[arg-type]
        completion_window="24h",
        **extra,
    )


async def finished(client: openai.AsyncOpenAI, batch_id: str) -> Batch:
    for _ in range(1000):
        batch = await client.batches.retrieve(batch_id)
        if batch.status in FINAL:
            return batch
        await anyio.sleep(0.01)
    raise AssertionError(f"batch {batch_id} never finished")


async def lines_of(client: openai.AsyncOpenAI, file_id: str | None) -> dict[str, Any]:
    assert file_id is not None
    text = (await client.files.content(file_id)).text
    rows = [json.loads(line) for line in text.splitlines()]
    return {row["custom_id"]: row for row in rows}


async def test_a_chat_batch_completes_with_an_output_file_joined_by_custom_id(
    app: Gateway,
) -> None:
    client = openai_of(app, KEY_A)
    prompts = {"q1": "Name a colour.", "q2": "Name a fruit.", "q3": "Name a river."}
    lines = [chat_line(cid, text, max_tokens=40) for cid, text in prompts.items()]
    made = await submit(client, jsonl(*lines), metadata={"job": "nightly"})
    assert made.object == "batch" and made.id.startswith("batch_")
    assert made.status in ("validating", "in_progress")
    assert (made.endpoint, made.completion_window, made.metadata) == (
        CHAT,
        "24h",
        {"job": "nightly"},
    )
    assert made.expires_at == made.created_at + 24 * 3600
    assert made.request_counts is not None and made.request_counts.total == 3
    assert made.output_file_id is None and made.errors is None

    done = await finished(client, made.id)
    assert done.status == "completed" and done.completed_at is not None
    assert done.request_counts is not None
    assert (done.request_counts.completed, done.request_counts.failed) == (3, 0)
    assert done.error_file_id is None
    output = await lines_of(client, done.output_file_id)
    assert set(output) == set(prompts)
    for custom_id, text in prompts.items():
        row = output[custom_id]
        assert row["error"] is None and row["id"].startswith("batch_req_")
        assert row["response"]["status_code"] == 200
        body = row["response"]["body"]
        assert body["object"] == "chat.completion" and body["model"] == FLASH
        direct = await client.chat.completions.create(
            model=FLASH, messages=[{"role": "user", "content": text}], max_tokens=40
        )
        assert body["choices"][0]["message"]["content"] == direct.choices[0].message.content
        assert body["usage"]["prompt_tokens"] == direct.usage.prompt_tokens  # type: ignore[union-attr]

    stored = await client.files.retrieve(done.output_file_id or "")
    assert (stored.purpose, stored.filename) == ("batch_output", f"{made.id}_output.jsonl")
    again = await client.batches.retrieve(made.id)  # results are collected once
    assert again.output_file_id == done.output_file_id
    assert [f.id async for f in client.files.list(purpose="batch_output")] == [stored.id]


async def test_lines_that_fail_at_gemini_go_to_the_error_file(app: Gateway) -> None:
    client = openai_of(app, KEY_A)
    bad_tool = {"type": "function", "function": {"name": "not a valid name!"}}
    made = await submit(
        client, jsonl(chat_line("good", "Hello"), chat_line("bad", "Hello", tools=[bad_tool]))
    )
    done = await finished(client, made.id)
    assert done.status == "completed" and done.request_counts is not None
    assert (done.request_counts.total, done.request_counts.completed) == (2, 1)
    assert done.request_counts.failed == 1
    assert set(await lines_of(client, done.output_file_id)) == {"good"}
    errors = await lines_of(client, done.error_file_id)
    assert set(errors) == {"bad"}
    assert errors["bad"]["response"] is None
    assert errors["bad"]["error"]["code"] == "invalid_argument"
    assert "name" in errors["bad"]["error"]["message"]


async def test_an_embeddings_batch_answers_as_the_embeddings_route_does(app: Gateway) -> None:
    client = openai_of(app, KEY_A)
    model = "gemini-embedding-001"
    line = {"custom_id": "e1", "method": "POST", "url": "/v1/embeddings"}
    made = await submit(
        client,
        jsonl(
            {**line, "body": {"model": model, "input": ["one", "two"]}},
            {**line, "custom_id": "e2", "body": {"model": model, "input": "three"}},
        ),
        endpoint="/v1/embeddings",
    )
    done = await finished(client, made.id)
    assert done.status == "completed"
    counts = done.request_counts
    assert counts and (counts.total, counts.completed, counts.failed) == (2, 2, 0)  # lines
    output = await lines_of(client, done.output_file_id)
    direct = await client.embeddings.create(model=model, input=["one", "two"])
    body = output["e1"]["response"]["body"]
    assert [d["index"] for d in body["data"]] == [0, 1]
    assert [d["embedding"] for d in body["data"]] == [d.embedding for d in direct.data]
    assert len(output["e2"]["response"]["body"]["data"]) == 1


async def test_an_embeddings_batch_counts_and_charges_its_inputs_as_the_route_does(
    app: Gateway,
) -> None:
    client = openai_of(app, KEY_RICH)
    model, texts = "gemini-embedding-001", ["one apple", "two pears and a ripe plum"]
    line = {"custom_id": "e1", "method": "POST", "url": "/v1/embeddings"}
    made = await submit(
        client, jsonl({**line, "body": {"model": model, "input": texts}}), endpoint="/v1/embeddings"
    )
    done = await finished(client, made.id)
    output = await lines_of(client, done.output_file_id)
    usage = output["e1"]["response"]["body"]["usage"]
    await app.budgets.settle()
    spent_tokens, spent_usd = await _spent(app, "rich")
    direct = await client.embeddings.create(model=model, input=texts)
    assert usage["prompt_tokens"] == usage["total_tokens"] == direct.usage.prompt_tokens > 0
    assert spent_tokens == usage["prompt_tokens"]
    price = PriceTable().cost(model, usage["prompt_tokens"], 0, 0, 0, batch=True)
    assert price and spent_usd == pytest.approx(price)


async def test_cancel_stops_a_pending_batch(still: Gateway) -> None:
    client = openai_of(still, KEY_A)
    made = await submit(client, jsonl(chat_line("q1", "Hello"), chat_line("q2", "Bye")))
    assert made.status == "in_progress"
    cancelled = await client.batches.cancel(made.id)
    assert cancelled.status in ("cancelling", "cancelled")
    assert cancelled.cancelling_at is not None
    done = await client.batches.retrieve(made.id)
    assert done.status == "cancelled" and done.cancelled_at is not None
    assert done.output_file_id is None and done.completed_at is None
    with pytest.raises(openai.ConflictError, match="cancel"):
        await client.batches.cancel(made.id)


async def test_list_is_newest_first_in_pages(still: Gateway) -> None:
    client = openai_of(still, KEY_A)
    ids = [(await submit(client, jsonl(chat_line("q", f"Hi {i}")))).id for i in range(3)]
    first = await client.batches.list(limit=2)
    assert [b.id for b in first.data] == ids[:0:-1] and first.has_more
    rest = await client.batches.list(limit=2, after=first.data[-1].id)
    assert [b.id for b in rest.data] == [ids[0]] and not rest.has_more
    assert [b.id async for b in client.batches.list(limit=2)] == ids[::-1]
    async with httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=still),
        base_url="http://gateway",
        headers={"authorization": f"Bearer {KEY_A}"},
    ) as http:
        for limit in ("0", "101"):  # OpenAI lists 1 to 100 batches a page
            refused = await http.get(f"/v1/batches?limit={limit}")
            assert refused.status_code == 400 and refused.json()["error"]["param"] == "limit"


async def test_a_key_never_sees_another_keys_batches(app: Gateway) -> None:
    mine = openai_of(app, KEY_A)
    theirs = openai_of(app, KEY_B)
    made = await submit(mine, jsonl(chat_line("q1", "Hello")))
    done = await finished(mine, made.id)
    assert [b async for b in theirs.batches.list()] == []
    for call in (theirs.batches.retrieve, theirs.batches.cancel):
        with pytest.raises(openai.NotFoundError):
            await call(made.id)
    with pytest.raises(openai.NotFoundError):
        await theirs.files.content(done.output_file_id or "")
    with pytest.raises(openai.BadRequestError, match="No such File"):
        await theirs.batches.create(
            input_file_id=made.input_file_id, endpoint=CHAT, completion_window="24h"
        )
    assert (await mine.batches.retrieve(made.id)).status == "completed"


BAD_FILES = [
    pytest.param(
        [chat_line("q1", "Hi"), '{"custom_id": "q2", "method": "POST",'],
        "invalid_json_line",
        2,
        id="malformed-json",
    ),
    pytest.param(
        [chat_line("q1", "Hi"), {**chat_line("q2", "Hi"), "url": "/v1/embeddings"}],
        "mismatched_endpoint",
        2,
        id="other-endpoint",
    ),
    pytest.param(
        [chat_line("q1", "Hi"), chat_line("q2", "Hi"), chat_line("q1", "Hi")],
        "duplicate_custom_id",
        3,
        id="duplicate-custom-id",
    ),
    pytest.param(
        [chat_line("q1", "Hi") | {"body": {"model": FLASH, "messages": []}}],
        "invalid_request",
        1,
        id="no-messages",
    ),
    pytest.param(
        [
            chat_line("q1", "Hi")
            | {
                "body": {
                    "model": "gemini-9-imaginary",
                    "messages": [{"role": "user", "content": "x"}],
                }
            },
        ],
        "model_not_found",
        1,
        id="unknown-model",
    ),
    pytest.param(
        [
            chat_line("q1", "Hi"),
            chat_line("q2", "Hi")
            | {
                "body": {
                    "model": "gemini-2.0-flash",
                    "messages": [{"role": "user", "content": "x"}],
                }
            },
        ],
        "mismatched_model",
        2,
        id="two-models",
    ),
    pytest.param(
        [chat_line("q1", "Hi", stream=True)],
        "invalid_request",
        1,
        id="streaming-line",
    ),
    pytest.param([{**chat_line("q1", "Hi"), "method": "GET"}], "invalid_request", 1, id="not-post"),
    pytest.param([""], "empty_file", 1, id="empty-file"),
]


@pytest.mark.parametrize(("lines", "code", "line"), BAD_FILES)
async def test_a_file_with_bad_lines_gives_a_failed_batch_naming_the_line(
    app: Gateway, lines: list[dict[str, Any] | str], code: str, line: int
) -> None:
    client = openai_of(app, KEY_A)
    made = await submit(client, jsonl(*lines))
    assert made.status == "failed" and made.failed_at is not None
    assert made.errors is not None and made.errors.data
    first = made.errors.data[0]
    assert (first.code, first.line) == (code, line)
    if code != "empty_file":
        assert first.message and f"Line {line}" in first.message
    assert (await client.batches.retrieve(made.id)).status == "failed"
    with pytest.raises(openai.ConflictError):
        await client.batches.cancel(made.id)


async def test_bad_create_requests_are_openai_400s(app: Gateway) -> None:
    client = openai_of(app, KEY_A)
    notes = await client.files.create(
        file=("a.jsonl", jsonl(chat_line("q", "x"))), purpose="user_data"
    )
    requests = await client.files.create(
        file=("b.jsonl", jsonl(chat_line("q", "x"))), purpose="batch"
    )
    cases: list[tuple[dict[str, Any], str]] = [
        ({"input_file_id": notes.id, "endpoint": CHAT}, "purpose"),
        ({"input_file_id": "file-missing", "endpoint": CHAT}, "file-missing"),
        ({"input_file_id": requests.id, "endpoint": "/v1/completions"}, "endpoint"),
        ({"input_file_id": requests.id, "endpoint": CHAT, "completion_window": "1h"}, "24h"),
        ({"input_file_id": requests.id, "endpoint": CHAT, "metadata": {"k": 1}}, "metadata"),
        ({"input_file_id": requests.id, "endpoint": CHAT, "priority": "high"}, "priority"),
    ]
    for fields, words in cases:
        body = {"completion_window": "24h", **fields}
        with pytest.raises(openai.BadRequestError, match=words) as refused:
            await client.post("/batches", body=body, cast_to=Batch)
        assert refused.value.status_code == 400
    assert [b async for b in client.batches.list()] == []


def _spent(app: Gateway, name: str) -> Any:
    period, _ = period_of("month", time.time())
    return app.client.engine.shared.spend.spent(name, period)


async def test_results_are_charged_once_at_half_the_interactive_price(app: Gateway) -> None:
    client = openai_of(app, KEY_RICH)
    made = await submit(client, jsonl(chat_line("q1", "Hello there"), chat_line("q2", "Bye now")))
    done = await finished(client, made.id)
    await app.budgets.settle()
    output = await lines_of(client, done.output_file_id)
    prices = PriceTable()
    interactive = batch = 0.0
    tokens = 0
    for row in output.values():
        usage = row["response"]["body"]["usage"]
        prompt, completion = usage["prompt_tokens"], usage["completion_tokens"]
        tokens += prompt + completion
        interactive += prices.cost(FLASH, prompt, completion, 0, 0) or 0.0
        batch += prices.cost(FLASH, prompt, completion, 0, 0, batch=True) or 0.0
    assert batch == pytest.approx(interactive / 2) and batch > 0
    spent_tokens, spent_usd = await _spent(app, "rich")
    assert spent_tokens == tokens and spent_usd == pytest.approx(batch)
    assert app.usage.log is not None
    logged = await app.usage.log.summary(caller="rich", group_by="model")
    by_model = {row.group: row for row in logged}  # None: the batch's own calls, free
    assert by_model[FLASH].requests == 2 and by_model[FLASH].cost_usd == pytest.approx(batch)
    assert not by_model[None].cost_usd
    await client.batches.retrieve(made.id)  # reading it again charges nothing more
    [b async for b in client.batches.list()]
    await app.budgets.settle()
    assert await _spent(app, "rich") == (spent_tokens, pytest.approx(spent_usd))


async def test_a_key_over_its_budget_cannot_create_a_batch(app: Gateway) -> None:
    client = openai_of(app, KEY_BROKE)
    file = await client.files.create(file=("r.jsonl", jsonl(chat_line("q", "Hi"))), purpose="batch")
    await client.chat.completions.create(model=FLASH, messages=[{"role": "user", "content": "Hi"}])
    await app.budgets.settle()
    with pytest.raises(openai.RateLimitError) as refused:
        await client.batches.create(input_file_id=file.id, endpoint=CHAT, completion_window="24h")
    assert refused.value.code == "budget_exceeded"


async def test_a_key_may_batch_only_its_models(app: Gateway) -> None:
    client = openai_of(app, KEY_LITE)
    with pytest.raises(openai.PermissionDeniedError, match=FLASH):
        await submit(client, jsonl(chat_line("q", "Hi")))
    assert [b async for b in client.batches.list()] == []


async def test_a_batch_past_its_window_expires_and_one_gone_upstream_fails(still: Gateway) -> None:
    client = openai_of(still, KEY_A)
    late = await submit(client, jsonl(chat_line("q1", "Hello")))
    gone = await submit(client, jsonl(chat_line("q1", "Bye")))
    record = await still.batches.batches.get("a", late.id)
    assert record is not None and record.gemini_batch and record.project
    await still.batches.batches.update(record.with_(expires_at=record.created_at - 1))
    expired = await client.batches.retrieve(late.id)
    assert expired.status == "expired" and expired.expired_at is not None
    upstream = await still.batches.gemini.for_owner("a").get(
        record.gemini_batch, keys=[record.project]
    )
    assert upstream.state == "BATCH_STATE_CANCELLED"  # the Gemini batch was stopped too

    named = await still.batches.batches.get("a", gone.id)
    assert named is not None and named.gemini_batch
    await still.client.engine.call_json(
        Call("DELETE", f"/v1beta/{named.gemini_batch}", project=named.project)
    )
    failed = await client.batches.retrieve(gone.id)
    assert failed.status == "failed" and failed.errors is not None and failed.errors.data
    assert failed.errors.data[0].code == "batch_failed"


async def test_every_call_about_a_batch_goes_to_the_project_that_made_it(tmp_path: Path) -> None:
    names = [f"proj-{p}" for p in range(3)]
    config = EmulatorConfig.model_validate(
        {"projects": [{"name": n, "keys": [f"{n}-key"]} for n in names]}
    )
    server, task, base = await serve_in_loop(create_emulator(config))
    client = AsyncGemini(
        projects=[ProjectConfig(name=n, keys=[f"{n}-key"]) for n in names],
        base_url=base,
        gateway_keys=KEYS,
        sessions_url=f"sqlite:///{tmp_path}/gw.db",
    )
    app = create_app(client)
    try:
        user = openai_of(app, KEY_A)
        made = [await submit(user, jsonl(chat_line("q", f"Hi {i}"))) for i in range(6)]
        for batch in made:
            done = await finished(user, batch.id)
            assert done.status == "completed", done
            assert set(await lines_of(user, done.output_file_id)) == {"q"}
        records = [await app.batches.batches.get("a", b.id) for b in made]
        used = {r.project for r in records if r is not None}
        assert len(used) > 1 and used <= set(names)
    finally:
        await app.aclose()
        await stop_serving(server, task)


async def test_readers_at_once_collect_and_charge_the_results_once(app: Gateway) -> None:
    client = openai_of(app, KEY_RICH)
    made = await submit(client, jsonl(chat_line("q1", "Hello"), chat_line("q2", "Bye")))
    record = await app.batches.batches.get("rich", made.id)
    assert record is not None and record.gemini_batch and record.project
    for _ in range(1000):  # wait for Gemini without reading through the gateway
        upstream = await app.batches.gemini.for_owner(record.owner).get(
            record.gemini_batch, keys=[record.project]
        )
        if upstream.state == "BATCH_STATE_SUCCEEDED":
            break
        await anyio.sleep(0.01)
    seen: list[Batch] = []

    async def read() -> None:
        seen.append(await client.batches.retrieve(made.id))

    async with anyio.create_task_group() as group:
        for _ in range(6):
            group.start_soon(read)
    assert {b.status for b in seen} <= {"finalizing", "completed"}
    assert len({b.output_file_id for b in seen if b.output_file_id}) == 1
    done = await finished(client, made.id)
    assert [f.id async for f in client.files.list(purpose="batch_output")] == [done.output_file_id]
    await app.budgets.settle()
    tokens, _ = await _spent(app, "rich")
    output = await lines_of(client, done.output_file_id)
    assert tokens == sum(r["response"]["body"]["usage"]["total_tokens"] for r in output.values())


async def test_a_collection_left_unfinished_is_taken_over_later(app: Gateway) -> None:
    client = openai_of(app, KEY_A)
    made = await submit(client, jsonl(chat_line("q1", "Hello")))
    record = await app.batches.batches.get("a", made.id)
    assert record is not None and record.gemini_batch and record.project
    for _ in range(1000):
        upstream = await app.batches.gemini.for_owner(record.owner).get(
            record.gemini_batch, keys=[record.project]
        )
        if upstream.state == "BATCH_STATE_SUCCEEDED":
            break
        await anyio.sleep(0.01)
    now = int(time.time())
    await app.batches.batches.update(record.with_(status="finalizing", finalizing_at=now))
    held = await client.batches.retrieve(made.id)  # another reader is at it
    assert held.status == "finalizing" and held.output_file_id is None
    await app.batches.batches.update(record.with_(status="finalizing", finalizing_at=now - 3600))
    done = await client.batches.retrieve(made.id)  # that reader is long gone
    assert done.status == "completed" and done.output_file_id is not None


def test_a_batch_through_gemgate_serve(gateway_server: str) -> None:
    """The same round trip against the real server (no key: the built-in emulator)."""
    client = openai.OpenAI(api_key="any-key", base_url=f"{gateway_server}/v1", max_retries=0)
    prompts = {"x": "Name a planet.", "y": "Name a tree."}
    file = client.files.create(
        file=("in.jsonl", jsonl(*(chat_line(k, v) for k, v in prompts.items()))), purpose="batch"
    )
    batch = client.batches.create(input_file_id=file.id, endpoint=CHAT, completion_window="24h")
    for _ in range(1000):
        batch = client.batches.retrieve(batch.id)
        if batch.status in FINAL:
            break
        time.sleep(0.01)  # noqa: TID251 - a sync client, outside any event loop
    assert batch.status == "completed" and batch.output_file_id
    rows = [json.loads(x) for x in client.files.content(batch.output_file_id).text.splitlines()]
    assert sorted(r["custom_id"] for r in rows) == ["x", "y"]
    assert all(r["response"]["body"]["choices"][0]["message"]["content"] for r in rows)
    assert batch.id in [b.id for b in client.batches.list()]


async def _succeeded(app: Gateway, owner: str, batch_id: str) -> BatchRecord:
    """The gateway's record once Gemini has finished the batch (not read through /v1)."""
    record = await app.batches.batches.get(owner, batch_id)
    assert record is not None and record.gemini_batch and record.project
    for _ in range(1000):
        upstream = await app.batches.gemini.for_owner(owner).get(
            record.gemini_batch, keys=[record.project]
        )
        if upstream.state == "BATCH_STATE_SUCCEEDED":
            return record
        await anyio.sleep(0.01)
    raise AssertionError(f"batch {batch_id} never succeeded upstream")


async def test_a_batch_being_collected_cannot_be_cancelled(app: Gateway) -> None:
    """Found by review: a cancel then collected it a second time, and charged it twice."""
    client = openai_of(app, KEY_RICH)
    made = await submit(client, jsonl(chat_line("q1", "Hello")))
    record = await _succeeded(app, "rich", made.id)
    claim = record.with_(status="finalizing", finalizing_at=int(time.time()))
    await app.batches.batches.update(claim)
    with pytest.raises(openai.ConflictError, match="finalizing"):
        await client.batches.cancel(made.id)
    await app.batches.batches.update(claim.with_(finalizing_at=int(time.time()) - 3600))
    done = await finished(client, made.id)
    assert done.status == "completed"
    await app.budgets.settle()
    tokens, _ = await _spent(app, "rich")
    output = await lines_of(client, done.output_file_id)
    assert tokens == sum(r["response"]["body"]["usage"]["total_tokens"] for r in output.values())


async def test_a_reader_whose_claim_was_taken_over_charges_nothing_and_keeps_no_files(
    app: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = openai_of(app, KEY_RICH)
    made = await submit(client, jsonl(chat_line("q1", "Hello"), chat_line("q2", "Bye")))
    await _succeeded(app, "rich", made.id)
    results = app.batches._results

    async def slow_results(record: BatchRecord) -> list[dict[str, Any]]:
        rows = await results(record)  # meanwhile, a later reader takes the claim over
        claimed = await app.batches.batches.get(record.owner, record.id)
        assert claimed is not None and claimed.status == "finalizing"
        await app.batches.batches.update(claimed.with_(finalizing_at=int(time.time()) + 60))
        return rows

    monkeypatch.setattr(app.batches, "_results", slow_results)
    held = await client.batches.retrieve(made.id)
    assert held.status == "finalizing" and held.output_file_id is None
    assert [f async for f in client.files.list(purpose="batch_output")] == []
    await app.budgets.settle()
    assert await _spent(app, "rich") == (0, 0.0)


async def test_the_input_of_an_unfinished_batch_cannot_be_deleted(still: Gateway) -> None:
    """Found by review: deleting it made an embeddings batch free (its price is read from it)."""
    client = openai_of(still, KEY_A)
    made = await submit(client, jsonl(chat_line("q1", "Hello")))
    with pytest.raises(openai.ConflictError, match="has not finished"):
        await client.files.delete(made.input_file_id)
    assert (await client.files.retrieve(made.input_file_id)).id == made.input_file_id
    await client.batches.cancel(made.id)
    for _ in range(1000):
        if (await client.batches.retrieve(made.id)).status == "cancelled":
            break
        await anyio.sleep(0.01)
    assert (await client.files.delete(made.input_file_id)).deleted


async def test_one_batch_gemini_cannot_report_leaves_the_list_whole(
    still: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found by review: one batch's upstream error failed the whole list."""
    client = openai_of(still, KEY_A)
    first = await submit(client, jsonl(chat_line("q1", "Hello")))
    second = await submit(client, jsonl(chat_line("q2", "Bye")))
    upstream = still.batches._upstream

    async def failing(record: BatchRecord) -> Any:
        if record.id == first.id:
            raise ServerError(503, "UNAVAILABLE", "try later")
        return await upstream(record)

    monkeypatch.setattr(still.batches, "_upstream", failing)
    listed = [b async for b in client.batches.list()]
    assert [b.id for b in listed] == [second.id, first.id]
    assert {b.status for b in listed} == {"in_progress"}
    with pytest.raises(openai.InternalServerError):  # asked for itself, the error shows
        await client.batches.retrieve(first.id)
