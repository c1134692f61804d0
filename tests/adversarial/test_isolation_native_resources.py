"""Native resources (``/gemini``: files, caches, batches) belong to the key that made them.

Every gateway key shares the gateway's Google projects, so without a per-key record one
key could read, list, use or delete another's files. Probed with the official SDK.
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from google import genai
from google.genai import errors, types

from tests.conftest import serve_in_loop, stop_serving
from tests.gateway._rag_app import KEY_A, KEY_B, rag_gateway

pytestmark = pytest.mark.anyio
FLASH = "gemini-2.5-flash"


@pytest.fixture
async def sdks(tmp_path: Path) -> AsyncIterator[tuple[genai.Client, genai.Client]]:
    async with rag_gateway(tmp_path) as app:
        server, task, url = await serve_in_loop(app)
        options = types.HttpOptions(base_url=f"{url}/gemini")
        try:
            yield (
                genai.Client(api_key=KEY_A, http_options=options),
                genai.Client(api_key=KEY_B, http_options=options),
            )
        finally:
            await stop_serving(server, task)


async def test_key_a_cannot_reach_key_b_native_files(
    sdks: tuple[genai.Client, genai.Client],
) -> None:
    a, b = sdks
    mine = await a.aio.files.upload(file=io.BytesIO(b"a's"), config={"mime_type": "text/plain"})
    theirs = await b.aio.files.upload(file=io.BytesIO(b"b's"), config={"mime_type": "text/plain"})
    assert theirs.name and mine.name
    with pytest.raises(errors.ClientError) as read:
        await a.aio.files.get(name=theirs.name)
    assert read.value.code == 404
    assert [f.name async for f in await a.aio.files.list()] == [mine.name]
    part = types.Part.from_uri(file_uri=str(theirs.uri), mime_type="text/plain")
    with pytest.raises(errors.ClientError) as used:
        await a.aio.models.generate_content(model=FLASH, contents=[part, "summarise"])
    assert used.value.code == 404
    with pytest.raises(errors.ClientError) as deleted:
        await a.aio.files.delete(name=theirs.name)
    assert deleted.value.code == 404
    assert (await b.aio.files.get(name=theirs.name)).name == theirs.name  # still B's
    own = types.Part.from_uri(file_uri=str(mine.uri), mime_type="text/plain")
    assert (await a.aio.models.generate_content(model=FLASH, contents=[own, "hi"])).text


async def test_key_a_cannot_reach_key_b_caches(sdks: tuple[genai.Client, genai.Client]) -> None:
    a, b = sdks
    config = types.CreateCachedContentConfig(contents=["b's long context " * 600], ttl="600s")
    cache = await b.aio.caches.create(model=FLASH, config=config)
    assert cache.name
    with pytest.raises(errors.ClientError) as read:
        await a.aio.caches.get(name=cache.name)
    assert read.value.code == 404
    assert [c.name async for c in await a.aio.caches.list()] == []
    used = types.GenerateContentConfig(cached_content=cache.name)
    with pytest.raises(errors.ClientError) as generated:
        await a.aio.models.generate_content(model=FLASH, contents="hi", config=used)
    assert generated.value.code == 404
    assert (await b.aio.caches.get(name=cache.name)).name == cache.name
