"""The official SDK through ``AsyncGemini.sdk``: same keys, quotas, retries, tracking."""

from __future__ import annotations

import io

import pytest
from google.genai import errors, types

from gemgate import AsyncGemini
from gemgate.errors import QuotaExhausted

from .conftest import MODEL, Start, projects

pytestmark = pytest.mark.anyio


async def test_sdk_rotates_projects_and_keys(live: Start) -> None:
    config = projects(2, keys=2)
    emu = await live(config)
    async with emu.client(config) as g:
        for i in range(8):
            response = await g.sdk.aio.models.generate_content(model=MODEL, contents=f"hi {i}")
            assert response.text
        history = list(g.get_request_history().values())
    assert {h["project"] for h in history} == {"proj-0", "proj-1"}
    assert len({h["key"] for h in history}) == 4
    stats = await emu.stats()
    assert stats["projects"]["proj-0"]["admitted"] == stats["projects"]["proj-1"]["admitted"] == 4


async def test_sdk_honours_retry_info_like_the_convenience_api(live: Start) -> None:
    config = projects(1, keys=1)
    emu = await live(config)
    await emu.faults({"kind": "status", "status": 429, "retry_delay": "2.5s", "times": 1})
    start = emu.clock.now
    async with emu.client(config) as g:
        response = await g.sdk.aio.models.generate_content(model=MODEL, contents="hello")
    assert response.text
    assert 2.5 <= emu.clock.now - start < 4


async def test_sdk_stream_and_usage_are_tracked(live: Start) -> None:
    config = projects(1, keys=1)
    emu = await live(config)
    async with emu.client(config) as g:
        chunks = [
            c
            async for c in await g.sdk.aio.models.generate_content_stream(
                model=MODEL, contents="a story"
            )
        ]
        usage = g.get_token_usage()
    last = chunks[-1].usage_metadata
    assert last is not None
    assert usage["total_tokens"] == last.total_token_count
    assert usage["prompt_tokens"] == last.prompt_token_count


async def test_sdk_errors_stay_sdk_errors(live: Start) -> None:
    config = projects(1, keys=1)
    emu = await live(config)
    async with emu.client(config) as g:
        with pytest.raises(errors.APIError) as excinfo:
            await g.sdk.aio.models.generate_content(
                model=MODEL, contents="x", config=types.GenerateContentConfig(temperature=5)
            )
        assert excinfo.value.code == 400
        with pytest.raises(errors.APIError) as missing:
            await g.sdk.aio.models.generate_content(model="gemini-nope", contents="x")
        assert missing.value.code == 404


async def test_sdk_quota_exhausted_when_parked(live: Start) -> None:
    emu = await live(projects(1, keys=1, rpd=1))
    async with emu.client(projects(1, keys=1)) as g:
        await g.sdk.aio.models.generate_content(model=MODEL, contents="one")
        with pytest.raises(QuotaExhausted):
            await g.sdk.aio.models.generate_content(model=MODEL, contents="two")


async def _upload(client: AsyncGemini) -> types.File:
    return await client.sdk.aio.files.upload(
        file=io.BytesIO(b"the secret ingredient is cardamom"),
        config=types.UploadFileConfig(mime_type="text/plain"),
    )


async def test_files_and_caches_stay_with_their_project(live: Start) -> None:
    config = projects(3, keys=1)
    emu = await live(config)
    async with emu.client(config) as g:
        uploaded = await _upload(g)
        assert uploaded.uri and uploaded.name
        for _ in range(4):  # rotation would spread these over all three projects
            response = await g.sdk.aio.models.generate_content(
                model=MODEL,
                contents=[
                    types.Part.from_uri(file_uri=uploaded.uri, mime_type="text/plain"),
                    "What is the secret ingredient?",
                ],
            )
            assert response.text
        fetched = await g.sdk.aio.files.get(name=uploaded.name)
        assert fetched.name == uploaded.name
        cache = await g.sdk.aio.caches.create(
            model=MODEL,
            config=types.CreateCachedContentConfig(
                contents=[types.Content(role="user", parts=[types.Part(text="word " * 1100)])]
            ),
        )
        for _ in range(4):
            cached = await g.sdk.aio.models.generate_content(
                model=MODEL,
                contents="summarise",
                config=types.GenerateContentConfig(cached_content=cache.name),
            )
            assert cached.usage_metadata and cached.usage_metadata.cached_content_token_count
        assert cache.name
        await g.sdk.aio.caches.delete(name=cache.name)
        await g.sdk.aio.files.delete(name=uploaded.name)
        history = list(g.get_request_history().values())
    assert all(h["attempts"] == 1 for h in history)  # no 403 ever: nothing misrouted
    generated = [h for h in history if h["kind"] == "generate"]
    assert len(generated) == 8
    file_owner = history[0]["project"]  # the upload start
    assert {h["project"] for h in generated[:4]} == {file_owner}
    cache_owner = history[-7]["project"]  # the cache create, before its 4 uses, 2 deletes
    assert {h["project"] for h in generated[4:]} == {cache_owner}


async def test_sdk_embeddings_and_count_tokens(live: Start) -> None:
    config = projects(1, keys=1)
    emu = await live(config)
    async with emu.client(config) as g:
        embedded = await g.sdk.aio.models.embed_content(
            model="gemini-embedding-001", contents=["one", "two"]
        )
        assert embedded.embeddings and len(embedded.embeddings) == 2
        counted = await g.sdk.aio.models.count_tokens(model=MODEL, contents="one two three")
        assert counted.total_tokens == 3


async def test_someone_elses_cache_does_not_disable_keys(live: Start) -> None:
    config = projects(2, keys=1)
    emu = await live(config)
    long_text = "The lighthouse keeper counts the ships. " * 200
    async with emu.client(config) as maker:
        first = await maker.cache_manager.create_cache(MODEL, content=long_text)
        second = await maker.cache_manager.create_cache(MODEL, content=long_text)
    async with emu.client(config) as other:  # knows neither cache's owner
        for name in (second, first, second, first):
            response = await other.generate_content("hi", model=MODEL, cached_content=name)
            assert response["usageMetadata"]["cachedContentTokenCount"] > 0
        history = list(other.get_request_history().values())
    assert sum(h["attempts"] for h in history) <= 6  # at most one wrong project per cache
    assert all(h["status"] == "success" for h in history)


async def test_sdk_non_stream_usage_is_tracked(live: Start) -> None:
    config = projects(1, keys=1)
    emu = await live(config)
    async with emu.client(config) as g:
        response = await g.sdk.aio.models.generate_content(model=MODEL, contents="count this")
        usage = g.get_token_usage()
    meta = response.usage_metadata
    assert meta is not None
    assert (usage["prompt_tokens"], usage["total_tokens"]) == (
        meta.prompt_token_count,
        meta.total_token_count,
    )
    assert usage["thoughts_tokens"] == (meta.thoughts_token_count or 0)


async def test_a_file_of_an_unknown_owner_is_tried_on_each_project_until_its_own(
    live: Start,
) -> None:
    config = projects(3, keys=1)
    emu = await live(config)
    async with emu.client(config) as uploader:
        uploaded = await _upload(uploader)
        assert uploaded.name
        owner = await uploader.engine.owners.get(uploaded.name)
    # a second process knows nothing of the upload; its owner is the last project it tries
    reordered = [p for p in config if p["name"] != owner] + [
        p for p in config if p["name"] == owner
    ]
    async with emu.client(reordered) as stranger:
        response = await stranger.sdk.aio.models.generate_content(
            model=MODEL,
            contents=[
                types.Part.from_uri(file_uri=uploaded.uri or "", mime_type="text/plain"),
                "What is the secret ingredient?",
            ],
        )
        assert response.text
        (record,) = stranger.get_request_history().values()
        assert record["project"] == owner
        assert record["attempts"] > 1  # another project answered 403 first; it was skipped
        assert await stranger.engine.state.disabled_keys() == frozenset()  # "not yours" ≠ bad key


async def test_a_file_search_store_routes_its_calls_to_its_project(live: Start) -> None:
    config = projects(3, keys=1)
    emu = await live(config)
    async with emu.client(config) as g:
        store = await g.sdk.aio.file_search_stores.create(config={"display_name": "handbook"})
        assert store.name
        owner = await g.engine.owners.get(store.name)
        assert owner in {p["name"] for p in config}
        tool = types.Tool(file_search=types.FileSearch(file_search_store_names=[store.name]))
        for _ in range(4):  # round robin would reach the other projects: ownership wins
            await g.sdk.aio.models.generate_content(
                model=MODEL, contents="Hi", config=types.GenerateContentConfig(tools=[tool])
            )
        await g.sdk.aio.file_search_stores.get(name=store.name)
        history = list(g.get_request_history().values())
    assert all(h["attempts"] == 1 for h in history)
    assert {h["project"] for h in history[1:]} == {owner}
