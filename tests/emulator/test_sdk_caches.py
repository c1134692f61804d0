"""cachedContents through the official SDK: lifecycle, use in generation, errors, expiry."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from google.genai import errors, types

from gemgate.wire.durations import parse_timestamp

from .conftest import KEY, Target, user_turn

pytestmark = [
    pytest.mark.anyio,
    # google-genai subclasses aiohttp.ClientSession when aiohttp is installed.
]

TINY = "gemini-test-tiny"
FLASH = "gemini-2.5-flash"
SYSTEM = "You answer questions about the lighthouse archive only."
ARCHIVE = (
    "Archive entry: the lighthouse on Elm Island was built in 1871 by the engineer Agnes "
    "Whitlock, who also designed its rotating lens and the keeper's cottage beside it."
)
QUESTION = "Who built the lighthouse?"
RESOURCE_KEYS = {
    "name",
    "model",
    "displayName",
    "createTime",
    "updateTime",
    "expireTime",
    "usageMetadata",
}


def _archive(entries: int) -> str:
    """A long document: numbered archive entries."""
    return "\n".join(f"{i}. {ARCHIVE}" for i in range(entries))


async def _count(target: Target, model: str, text: str) -> int:
    counted = await target.sdk().aio.models.count_tokens(model=model, contents=text)
    assert counted.total_tokens is not None
    return counted.total_tokens


async def _tiny_cache(target: Target, key: str = KEY, **config: Any) -> types.CachedContent:
    settings: dict[str, Any] = {
        "contents": _archive(2),
        "system_instruction": SYSTEM,
        "ttl": "300s",
    }
    settings.update(config)
    return await target.sdk(key).aio.caches.create(
        model=TINY, config=types.CreateCachedContentConfig(**settings)
    )


def _assert_z_timestamps(resource: dict[str, Any]) -> None:
    for key in ("createTime", "updateTime", "expireTime"):
        assert resource[key].endswith("Z"), resource[key]
        parse_timestamp(resource[key])


async def test_cache_lifecycle_on_a_default_model(target: Target) -> None:
    client = target.sdk()
    document = _archive(40)
    expected = await _count(target, FLASH, document) + await _count(target, FLASH, SYSTEM)
    assert expected >= 1024
    cache = await client.aio.caches.create(
        model=FLASH,
        config=types.CreateCachedContentConfig(
            contents=document, system_instruction=SYSTEM, ttl="300s", display_name="archive"
        ),
    )
    assert cache.name and cache.name.startswith("cachedContents/")
    assert cache.model == f"models/{FLASH}"
    assert cache.display_name == "archive"
    assert cache.usage_metadata and cache.usage_metadata.total_token_count == expected
    assert cache.create_time and cache.expire_time and cache.update_time
    assert cache.expire_time - cache.create_time == timedelta(seconds=300)

    got = await client.aio.caches.get(name=cache.name)
    assert got.name == cache.name and got.display_name == "archive"
    assert got.expire_time == cache.expire_time
    assert got.usage_metadata and got.usage_metadata.total_token_count == expected
    by_id = await client.aio.caches.get(name=cache.name.removeprefix("cachedContents/"))
    assert by_id.name == cache.name

    longer = await client.aio.caches.update(
        name=cache.name, config=types.UpdateCachedContentConfig(ttl="600s")
    )
    assert longer.update_time and longer.expire_time
    assert longer.expire_time - longer.update_time == timedelta(seconds=600)
    assert longer.update_time >= cache.create_time
    assert longer.create_time == cache.create_time

    when = (longer.update_time + timedelta(hours=2)).replace(microsecond=0)
    fixed = await client.aio.caches.update(
        name=cache.name, config=types.UpdateCachedContentConfig(expire_time=when)
    )
    assert fixed.expire_time == when
    assert (await client.aio.caches.get(name=cache.name)).expire_time == when

    await client.aio.caches.delete(name=cache.name)
    with pytest.raises(errors.APIError) as gone:
        await client.aio.caches.get(name=cache.name)
    assert gone.value.code in (403, 404)
    assert [c.name async for c in await client.aio.caches.list()] == []


async def test_raw_json_hides_input_only_fields_and_uses_utc(target: Target) -> None:
    headers = {"x-goog-api-key": KEY}
    created = await target.http.post(
        "/v1beta/cachedContents",
        headers=headers,
        json={
            "model": f"models/{TINY}",
            "displayName": "raw",
            "contents": [{"role": "user", "parts": [{"text": _archive(2)}]}],
            "systemInstruction": {"parts": [{"text": SYSTEM}]},
            "ttl": "120s",
        },
    )
    assert created.status_code == 200, created.text
    resource = created.json()
    got = await target.http.get(f"/v1beta/{resource['name']}", headers=headers)
    listed = await target.http.get("/v1beta/cachedContents", headers=headers)
    assert got.status_code == listed.status_code == 200
    [in_list] = listed.json()["cachedContents"]
    for seen in (resource, got.json(), in_list):
        assert set(seen) == RESOURCE_KEYS, seen
        assert (
            seen["usageMetadata"]["totalTokenCount"] == resource["usageMetadata"]["totalTokenCount"]
        )
        _assert_z_timestamps(seen)
    expire = parse_timestamp(resource["expireTime"])
    assert expire - parse_timestamp(resource["createTime"]) == pytest.approx(120)


async def test_cache_list_pages(target: Target) -> None:
    names = [(await _tiny_cache(target, display_name=f"c{i}")).name for i in range(3)]
    headers = {"x-goog-api-key": KEY}
    first = await target.http.get("/v1beta/cachedContents?pageSize=2", headers=headers)
    assert first.status_code == 200
    assert len(first.json()["cachedContents"]) == 2
    token = first.json()["nextPageToken"]
    second = await target.http.get(
        "/v1beta/cachedContents", params={"pageSize": 2, "pageToken": token}, headers=headers
    )
    assert "nextPageToken" not in second.json()
    paged = [c["name"] for c in first.json()["cachedContents"] + second.json()["cachedContents"]]
    assert paged == names  # oldest first
    pager = await target.sdk().aio.caches.list(config=types.ListCachedContentsConfig(page_size=2))
    assert [c.name async for c in pager] == names
    bad = await target.http.get(
        "/v1beta/cachedContents", params={"pageToken": "LTE="}, headers=headers
    )
    assert bad.status_code == 400


async def test_generate_with_cache_counts_and_uses_the_cached_context(target: Target) -> None:
    client = target.sdk()
    cache = await _tiny_cache(target)
    assert cache.name and cache.usage_metadata
    cached_tokens = cache.usage_metadata.total_token_count
    assert cached_tokens and cached_tokens >= 32
    config = types.GenerateContentConfig(cached_content=cache.name)
    with_cache = await client.aio.models.generate_content(
        model=TINY, contents=QUESTION, config=config
    )
    again = await client.aio.models.generate_content(model=TINY, contents=QUESTION, config=config)
    without = await client.aio.models.generate_content(model=TINY, contents=QUESTION)
    usage = with_cache.usage_metadata
    assert usage is not None
    assert usage.cached_content_token_count == cached_tokens
    question_tokens = await _count(target, TINY, QUESTION)
    assert usage.prompt_token_count == cached_tokens + question_tokens
    assert usage.total_token_count == usage.prompt_token_count + (usage.candidates_token_count or 0)
    assert without.usage_metadata and without.usage_metadata.prompt_token_count == question_tokens
    assert without.usage_metadata.cached_content_token_count is None
    assert with_cache.text and with_cache.text == again.text
    assert with_cache.text != without.text
    # The same cached context with the system instruction inline gives the cached reply.
    inline = await client.aio.models.generate_content(
        model=TINY,
        contents=[
            user_turn(_archive(2)),
            user_turn(QUESTION),
        ],
        config=types.GenerateContentConfig(system_instruction=SYSTEM),
    )
    assert inline.text == with_cache.text


async def test_cache_too_small_is_refused_with_the_minimum(target: Target) -> None:
    client = target.sdk()
    with pytest.raises(errors.APIError) as small:
        await client.aio.caches.create(
            model=FLASH, config=types.CreateCachedContentConfig(contents=_archive(2), ttl="60s")
        )
    assert small.value.code == 400 and small.value.status == "INVALID_ARGUMENT"
    assert small.value.message and "Cached content is too small" in small.value.message
    assert "min_total_token_count=1024" in small.value.message
    # Enough for 2.5 Flash, not for 2.5 Pro (2048).
    middle = _archive(40)
    flash_ok = await client.aio.caches.create(
        model=FLASH, config=types.CreateCachedContentConfig(contents=middle)
    )
    assert flash_ok.usage_metadata and flash_ok.usage_metadata.total_token_count
    assert flash_ok.usage_metadata.total_token_count < 2048
    with pytest.raises(errors.APIError) as pro:
        await client.aio.caches.create(
            model="gemini-2.5-pro", config=types.CreateCachedContentConfig(contents=middle)
        )
    assert pro.value.code == 400
    assert pro.value.message and "min_total_token_count=2048" in pro.value.message
    assert f"total_token_count={flash_ok.usage_metadata.total_token_count}" in pro.value.message


async def test_default_ttl_is_one_hour(target: Target) -> None:
    cache = await target.sdk().aio.caches.create(
        model=TINY, config=types.CreateCachedContentConfig(contents=_archive(2))
    )
    assert cache.expire_time and cache.create_time
    assert cache.expire_time - cache.create_time == timedelta(hours=1)


@pytest.mark.parametrize(
    "extra",
    [
        {"system_instruction": "Be brief."},
        {
            "tools": [
                types.Tool(
                    function_declarations=[
                        types.FunctionDeclaration(name="lookup", description="Look up.")
                    ]
                )
            ]
        },
        {
            "tool_config": types.ToolConfig(
                function_calling_config=types.FunctionCallingConfig(
                    mode=types.FunctionCallingConfigMode.NONE
                )
            )
        },
    ],
    ids=["system_instruction", "tools", "tool_config"],
)
async def test_cache_conflicts_with_request_level_context(
    target: Target, extra: dict[str, Any]
) -> None:
    cache = await _tiny_cache(target)
    with pytest.raises(errors.APIError) as conflict:
        await target.sdk().aio.models.generate_content(
            model=TINY,
            contents=QUESTION,
            config=types.GenerateContentConfig(cached_content=cache.name, **extra),
        )
    assert conflict.value.code == 400 and conflict.value.status == "INVALID_ARGUMENT"
    assert conflict.value.message and "system_instruction" in conflict.value.message


async def test_cache_used_with_another_model_is_refused(target: Target) -> None:
    cache = await _tiny_cache(target)
    with pytest.raises(errors.APIError) as wrong:
        await target.sdk().aio.models.generate_content(
            model=FLASH,
            contents=QUESTION,
            config=types.GenerateContentConfig(cached_content=cache.name),
        )
    assert wrong.value.code == 400
    assert wrong.value.message and f"models/{TINY}" in wrong.value.message


async def test_cache_for_an_embedding_model_is_not_found(target: Target) -> None:
    with pytest.raises(errors.APIError) as missing:
        await target.sdk().aio.caches.create(
            model="gemini-embedding-001",
            config=types.CreateCachedContentConfig(contents=_archive(2)),
        )
    assert missing.value.code == 404


async def test_another_project_cannot_see_the_cache(target: Target) -> None:
    cache = await _tiny_cache(target, key="key-a1")
    assert cache.name
    outsider = target.sdk("key-b1")
    with pytest.raises(errors.APIError) as get:
        await outsider.aio.caches.get(name=cache.name)
    assert get.value.code in (403, 404)
    with pytest.raises(errors.APIError) as use:
        await outsider.aio.models.generate_content(
            model=TINY,
            contents=QUESTION,
            config=types.GenerateContentConfig(cached_content=cache.name),
        )
    assert use.value.code in (403, 404)
    with pytest.raises(errors.APIError) as update:
        await outsider.aio.caches.update(
            name=cache.name, config=types.UpdateCachedContentConfig(ttl="9999s")
        )
    assert update.value.code in (403, 404)
    with pytest.raises(errors.APIError) as delete:
        await outsider.aio.caches.delete(name=cache.name)
    assert delete.value.code in (403, 404)
    assert [c.name async for c in await outsider.aio.caches.list()] == []
    # The same project's other key sees it, unchanged.
    same_project = await target.sdk("key-a2").aio.caches.get(name=cache.name)
    assert same_project.expire_time == cache.expire_time
    assert [c.name async for c in await target.sdk("key-a2").aio.caches.list()] == [cache.name]


async def test_bad_expirations_are_refused(target: Target) -> None:
    client = target.sdk()
    for ttl in ("-5s", "0s"):
        with pytest.raises(errors.APIError) as bad_ttl:
            await _tiny_cache(target, ttl=ttl)
        assert bad_ttl.value.code == 400, ttl
    cache = await _tiny_cache(target)
    assert cache.name
    with pytest.raises(errors.APIError) as zero:
        await client.aio.caches.update(
            name=cache.name, config=types.UpdateCachedContentConfig(ttl="0s")
        )
    assert zero.value.code == 400
    past = datetime(2020, 1, 1, tzinfo=UTC)
    with pytest.raises(errors.APIError) as in_the_past:
        await client.aio.caches.update(
            name=cache.name, config=types.UpdateCachedContentConfig(expire_time=past)
        )
    assert in_the_past.value.code == 400
    with pytest.raises(errors.APIError) as both:
        await client.aio.caches.update(
            name=cache.name,
            config=types.UpdateCachedContentConfig(ttl="60s", expire_time=past),
        )
    assert both.value.code == 400
    # None of the refused updates changed the cache.
    still = await client.aio.caches.get(name=cache.name)
    assert still.expire_time == cache.expire_time and still.update_time == cache.update_time


async def test_cache_expires_with_the_clock(inprocess: Target) -> None:
    assert inprocess.clock is not None
    client = inprocess.sdk()
    short = await _tiny_cache(inprocess, ttl="300s", display_name="short")
    extended = await _tiny_cache(inprocess, ttl="300s", display_name="extended")
    assert short.name and extended.name
    inprocess.clock.advance(100)
    await client.aio.caches.update(
        name=extended.name, config=types.UpdateCachedContentConfig(ttl="1000s")
    )
    inprocess.clock.advance(199)
    assert (await client.aio.caches.get(name=short.name)).name == short.name
    config = types.GenerateContentConfig(cached_content=short.name)
    assert (
        await client.aio.models.generate_content(model=TINY, contents=QUESTION, config=config)
    ).text

    inprocess.clock.advance(2)
    with pytest.raises(errors.APIError) as expired:
        await client.aio.caches.get(name=short.name)
    assert expired.value.code in (403, 404)
    with pytest.raises(errors.APIError) as use:
        await client.aio.models.generate_content(model=TINY, contents=QUESTION, config=config)
    assert use.value.code in (403, 404)
    assert [c.name async for c in await client.aio.caches.list()] == [extended.name]

    inprocess.clock.advance(800)
    assert [c.name async for c in await client.aio.caches.list()] == []
    with pytest.raises(errors.APIError):
        await client.aio.caches.get(name=extended.name)


def _file_part(file: types.File) -> types.Part:
    assert file.uri and file.mime_type
    return types.Part.from_uri(file_uri=file.uri, mime_type=file.mime_type)


async def test_cache_of_an_uploaded_file(target: Target) -> None:
    owner = target.sdk("key-a1")
    uploaded = await owner.aio.files.upload(
        file=io.BytesIO(_archive(3).encode()), config=types.UploadFileConfig(mime_type="text/plain")
    )
    cache = await owner.aio.caches.create(
        model=TINY,
        config=types.CreateCachedContentConfig(
            contents=[types.Content(role="user", parts=[_file_part(uploaded)])]
        ),
    )
    assert cache.usage_metadata and cache.usage_metadata.total_token_count
    response = await owner.aio.models.generate_content(
        model=TINY, contents=QUESTION, config=types.GenerateContentConfig(cached_content=cache.name)
    )
    assert response.usage_metadata
    assert (
        response.usage_metadata.cached_content_token_count == cache.usage_metadata.total_token_count
    )
    # Another project cannot build a cache from this project's file.
    with pytest.raises(errors.APIError) as foreign:
        await target.sdk("key-b1").aio.caches.create(
            model=TINY,
            config=types.CreateCachedContentConfig(
                contents=[types.Content(role="user", parts=[_file_part(uploaded)])]
            ),
        )
    assert foreign.value.code in (403, 404)


async def test_cache_of_a_processing_video_is_refused(inprocess: Target) -> None:
    assert inprocess.clock is not None
    client = inprocess.sdk()
    video = await client.aio.files.upload(
        file=io.BytesIO(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 64),
        config=types.UploadFileConfig(mime_type="video/mp4"),
    )
    config = types.CreateCachedContentConfig(
        contents=[types.Content(role="user", parts=[_file_part(video), types.Part(text=ARCHIVE)])]
    )
    with pytest.raises(errors.APIError) as processing:
        await client.aio.caches.create(model=TINY, config=config)
    assert processing.value.code == 400 and processing.value.status == "FAILED_PRECONDITION"
    inprocess.clock.advance(2)
    cache = await client.aio.caches.create(model=TINY, config=config)
    assert cache.name
