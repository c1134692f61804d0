"""With gateway keys, a key sees only the batches, files and caches it made through /gemini.

The official SDK (its async client) drives a served gateway as two keys would: Alice's
resources are listed, read, used and deleted by Alice; Bob gets Google's 404 for each of
them, and his lists leave them out. Ownership is in the gateway's database, so a restarted
gateway on the same file agrees.
"""

from __future__ import annotations

import io
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from google import genai
from google.genai import errors, types

from gemgate import AsyncGemini
from gemgate.config import Settings
from gemgate.errors import ServerError
from gemgate.gateway import Gateway, create_app
from gemgate.gateway._native_owners import resource_of, used_names
from gemgate.projects import GatewayKey, hash_secret
from gemgate.state._spend import period_of
from gemgate.usage import PriceTable
from tests.conftest import serve_in_loop, stop_serving

pytestmark = pytest.mark.anyio
ALICE, BOB = "alice-native-secret", "bob-native-secret"
KEYS = [
    GatewayKey(name="alice", secret_sha256=hash_secret(ALICE), max_budget_usd=10.0),
    GatewayKey(name="bob", secret_sha256=hash_secret(BOB)),
]
MODEL = "gemini-2.5-flash"


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[Gateway, str]]:
    settings = Settings(gateway_keys=KEYS, sessions_url=f"sqlite:///{tmp_path}/gw.db")
    client = AsyncGemini(settings=settings)
    app = create_app(client)
    server, task, base = await serve_in_loop(app, lifespan="on")
    try:
        yield app, base
    finally:
        await stop_serving(server, task)
        await client.aclose()


@pytest.fixture
def gateway(served: tuple[Gateway, str]) -> str:
    return served[1]


def sdk(base: str, key: str) -> genai.client.AsyncClient:
    options = types.HttpOptions(base_url=f"{base}/gemini")
    return genai.Client(api_key=key, http_options=options).aio


async def succeeded(client: genai.client.AsyncClient, name: str) -> types.BatchJob:
    """The batch ``name`` once it has succeeded."""
    for _ in range(200):
        done = await client.batches.get(name=name)
        if done.state == types.JobState.JOB_STATE_SUCCEEDED:
            return done
        await anyio.sleep(0.05)
    raise AssertionError(f"{name} never succeeded")


async def file_and_cache(
    client: genai.client.AsyncClient,
) -> tuple[types.File, types.CachedContent]:
    """A file and a context cache, made by ``client``'s key."""
    uploaded = await client.files.upload(
        file=io.BytesIO(b"alice's notes " * 300), config={"mime_type": "text/plain"}
    )
    cache = await client.caches.create(
        model=MODEL,
        config=types.CreateCachedContentConfig(
            contents=[types.Content(role="user", parts=[types.Part(text="notes " * 1200)])],
        ),
    )
    return uploaded, cache


async def test_each_key_sees_only_what_it_made(gateway: str) -> None:
    alice, bob = sdk(gateway, ALICE), sdk(gateway, BOB)
    batch = await alice.batches.create(
        model=MODEL,
        src=[types.InlinedRequest(contents="alice's secret question")],
    )
    uploaded, cache = await file_and_cache(alice)
    assert batch.name and uploaded.name and cache.name
    mine = await bob.batches.create(model=MODEL, src=[types.InlinedRequest(contents="bob's")])

    # Alice reads and lists her own.
    assert (await alice.batches.get(name=batch.name)).name == batch.name
    assert (await alice.files.get(name=uploaded.name)).name == uploaded.name
    assert (await alice.caches.get(name=cache.name)).name == cache.name
    assert batch.name in [b.name async for b in await alice.batches.list()]
    assert mine.name not in [b.name async for b in await alice.batches.list()]

    # Bob cannot read, change or delete them, nor see them listed.
    for attempt in (
        bob.batches.get(name=batch.name),
        bob.batches.cancel(name=batch.name),
        bob.batches.delete(name=batch.name),
        bob.files.get(name=uploaded.name),
        bob.files.delete(name=uploaded.name),
        bob.caches.get(name=cache.name),
        bob.caches.delete(name=cache.name),
    ):
        with pytest.raises(errors.ClientError) as refused:
            await attempt
        assert refused.value.code == 404 and refused.value.status == "NOT_FOUND"
    assert [b.name async for b in await bob.batches.list()] == [mine.name]
    assert uploaded.name not in [f.name async for f in await bob.files.list()]
    assert cache.name not in [c.name async for c in await bob.caches.list()]

    # Nothing of Alice's was touched by Bob's attempts.
    assert (await alice.files.get(name=uploaded.name)).name == uploaded.name
    await alice.caches.delete(name=cache.name)
    await alice.files.delete(name=uploaded.name)


async def test_a_batch_made_through_gemini_is_charged_once_at_batch_prices(
    served: tuple[Gateway, str],
) -> None:
    app, base = served
    alice = sdk(base, ALICE)
    batch = await alice.batches.create(
        model=MODEL,
        src=[types.InlinedRequest(contents="first question"), types.InlinedRequest(contents="two")],
    )
    assert batch.name
    done = await succeeded(alice, batch.name)
    assert done.dest and done.dest.inlined_responses
    usages = [r.response.usage_metadata for r in done.dest.inlined_responses if r.response]
    prompt = sum(u.prompt_token_count or 0 for u in usages if u)
    answer = sum(u.candidates_token_count or 0 for u in usages if u)
    thoughts = sum(u.thoughts_token_count or 0 for u in usages if u)
    await alice.batches.get(name=batch.name)  # read again: charged once only
    await app.budgets.settle()
    tokens, usd = await app.client.engine.shared.spend.spent(
        "alice", period_of("month", time.time())[0]
    )
    assert tokens == prompt + answer + thoughts > 0
    price = PriceTable().cost(MODEL, prompt, answer, 0, thoughts, batch=True)
    assert price and usd == pytest.approx(price)


def test_resource_names_are_read_from_every_spelling_of_a_path() -> None:
    assert resource_of("/v1beta/batches/b1") == "batches/b1"
    assert resource_of("/v1beta/batches/b1:cancel") == "batches/b1"
    assert resource_of("/upload/v1beta/fileSearchStores/s:uploadToFileSearchStore") == (
        "fileSearchStores/s"
    )
    assert resource_of("/v1beta/files/f1:download?alt=media") == "files/f1"
    assert resource_of("/v1beta/batches") is None
    assert resource_of("/v1beta/models/gemini-2.5-flash:generateContent") is None


@pytest.mark.parametrize(
    ("body", "names"),
    [
        (rb'{"cached\u0043ontent": "cachedContents\/c1"}', ["cachedContents/c1"]),
        (b'{"batch": {"inputConfig": {"fileName": "files/in1"}}}', ["files/in1"]),
        (
            b'{"tools": [{"fileSearch": {"fileSearchStoreNames": ["fileSearchStores/s1"]}}]}',
            ["fileSearchStores/s1"],
        ),
        (b'{"fileName": "files/f3"}', ["files/f3"]),  # a store's importFile
        (b'{"fileData": {"fileUri": "https://example.com/files/report.pdf"}}', []),
        (b'{"contents": [{"parts": [{"text": "see files/f4"}]}]}', []),  # words, not a use
        (b"not json", []),
    ],
)
def test_the_resources_a_body_uses_are_read_after_decoding_it(
    body: bytes, names: list[str]
) -> None:
    """Found by review: escapes and fields the pattern did not know got past the check."""
    assert used_names(body) == names


async def test_another_keys_cache_and_file_stay_out_of_reach_however_named(
    gateway: str,
) -> None:
    alice = sdk(gateway, ALICE)
    uploaded, cache = await file_and_cache(alice)
    assert uploaded.name and cache.name
    generate = f"{gateway}/gemini/v1beta/models/{MODEL}:generateContent"
    escaped = cache.name.replace("/", "\\/").encode()
    attempts = [
        b'{"cached\\u0043ontent": "' + escaped + b'", "contents": [{"parts": [{"text": "hi"}]}]}',
        (
            '{"contents": [{"parts": [{"fileData": {"fileUri": "' + uploaded.name + '",'
            ' "mimeType": "text/plain"}}]}]}'
        ).encode(),
    ]
    async with httpx2.AsyncClient(timeout=30) as http:
        for body in attempts:
            for key, status in ((BOB, 404), (ALICE, 200)):
                answer = await http.post(
                    generate,
                    content=body,
                    headers={"x-goog-api-key": key, "content-type": "application/json"},
                )
                assert answer.status_code == status, (key, answer.text)
        zipped = await http.post(
            generate,
            content=b"\x1f\x8b",
            headers={"x-goog-api-key": BOB, "content-encoding": "gzip"},
        )
        assert zipped.status_code == 415, zipped.text
        assert zipped.json()["error"]["code"] == 415


async def test_a_file_batchs_results_are_its_owners_to_download(gateway: str) -> None:
    """Found by review: the results file, made by Google, belonged to no key, so its
    owner's download was a 404 too."""
    alice, bob = sdk(gateway, ALICE), sdk(gateway, BOB)
    line = b'{"key": "k1", "request": {"contents": [{"parts": [{"text": "hi"}]}]}}\n'
    requests = await alice.files.upload(
        file=io.BytesIO(line), config={"mime_type": "application/jsonl"}
    )
    assert requests.name
    batch = await alice.batches.create(model=MODEL, src=requests.name)
    assert batch.name
    done = await succeeded(alice, batch.name)
    assert done.dest and done.dest.file_name
    results = await alice.files.download(file=done.dest.file_name)
    assert b'"k1"' in results
    with pytest.raises(errors.ClientError) as refused:
        await bob.files.download(file=done.dest.file_name)
    assert refused.value.code == 404


async def test_a_deleted_files_name_is_free_for_the_next_key_that_makes_it(gateway: str) -> None:
    """Found by review: the first owner's row outlived the file, so a name chosen again
    stayed the first key's."""
    alice, bob = sdk(gateway, ALICE), sdk(gateway, BOB)
    chosen = {"mime_type": "text/plain", "name": "files/quarterly-report"}
    made = await alice.files.upload(file=io.BytesIO(b"alice's report"), config=chosen)
    assert made.name == "files/quarterly-report"
    await alice.files.delete(name=made.name)
    again = await bob.files.upload(file=io.BytesIO(b"bob's report"), config=chosen)
    assert again.name == made.name
    assert (await bob.files.get(name=again.name)).name == again.name
    with pytest.raises(errors.ClientError) as refused:
        await alice.files.get(name=again.name)
    assert refused.value.code == 404


async def test_a_batch_charge_that_failed_is_made_by_the_next_read(
    served: tuple[Gateway, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found by review: the batch was marked charged before its results were read, so one
    failed read of them made it free for good."""
    app, base = served
    alice = sdk(base, ALICE)
    batch = await alice.batches.create(
        model=MODEL, src=[types.InlinedRequest(contents="first question")]
    )
    assert batch.name
    results = app.client.batches.iter_results
    failures = [ServerError(503, "UNAVAILABLE", "results unavailable")]

    def flaky(name: str, **kwargs: Any) -> Any:
        if failures:
            raise failures.pop()
        return results(name, **kwargs)

    monkeypatch.setattr(app.client.batches, "iter_results", flaky)
    await succeeded(alice, batch.name)  # the first read that sees it done: its charge fails
    await app.budgets.settle()
    period = period_of("month", time.time())[0]
    assert await app.client.engine.shared.spend.spent("alice", period) == (0, 0.0)
    done = await alice.batches.get(name=batch.name)  # the next read charges it
    await alice.batches.get(name=batch.name)  # and only once
    await app.budgets.settle()
    assert done.dest and done.dest.inlined_responses
    [answer] = done.dest.inlined_responses
    assert answer.response and answer.response.usage_metadata
    tokens, _ = await app.client.engine.shared.spend.spent("alice", period)
    assert tokens == answer.response.usage_metadata.total_token_count
