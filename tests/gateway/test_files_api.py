"""``/v1/files`` with the official OpenAI client, per-key isolation, bad uploads."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import openai
import pytest

from gemgate.gateway import Gateway
from tests.gateway._rag_app import KEY_A, KEY_B, http_of, openai_of, rag_gateway

pytestmark = pytest.mark.anyio


@pytest.fixture
async def app(tmp_path: Path) -> AsyncIterator[Gateway]:
    async with rag_gateway(tmp_path) as app:
        yield app


async def test_upload_list_read_download_delete(app: Gateway) -> None:
    client = openai_of(app, KEY_A)
    made = await client.files.create(file=("notes.txt", b"hello files"), purpose="assistants")
    assert made.id.startswith("file-") and made.object == "file"
    assert (made.bytes, made.filename, made.purpose, made.status) == (
        11,
        "notes.txt",
        "assistants",
        "processed",
    )
    other = await client.files.create(file=("b.jsonl", b"{}\n"), purpose="batch")
    listed = [f.id async for f in client.files.list()]
    assert listed == [other.id, made.id]
    assert [f.id async for f in client.files.list(purpose="batch")] == [other.id]
    first = await client.files.list(limit=1)
    assert [f.id for f in first.data] == [other.id] and first.has_more
    assert (await client.files.retrieve(made.id)).filename == "notes.txt"
    assert (await client.files.content(made.id)).content == b"hello files"
    deleted = await client.files.delete(made.id)
    assert deleted.deleted and deleted.id == made.id
    with pytest.raises(openai.NotFoundError):
        await client.files.retrieve(made.id)


async def test_bad_uploads_are_clear_errors(app: Gateway) -> None:
    client = openai_of(app, KEY_A)
    with pytest.raises(openai.BadRequestError, match="purpose"):
        await client.files.create(file=("a.txt", b"x"), purpose="nonsense")  # type: ignore[arg-type]
    with pytest.raises(openai.APIStatusError) as big:
        await client.files.create(file=("a.txt", b"x" * 70_000), purpose="assistants")
    assert big.value.status_code == 413
    async with http_of(app, KEY_A) as http:
        no_file = await http.post("/v1/files", data={"purpose": "assistants"}, files={})
        assert no_file.status_code == 400 and no_file.json()["error"]["message"]
        as_json = await http.post("/v1/files", json={"purpose": "assistants"})
        assert as_json.status_code == 400 and as_json.json()["error"]["type"]
        assert (await http.get("/v1/files?limit=zero")).status_code == 400
    assert [f async for f in client.files.list()] == []


async def test_a_key_never_sees_another_keys_files(app: Gateway) -> None:
    mine = await openai_of(app, KEY_A).files.create(file=("a.txt", b"secret"), purpose="batch")
    theirs = openai_of(app, KEY_B)
    assert [f async for f in theirs.files.list()] == []
    for call in (theirs.files.retrieve, theirs.files.content, theirs.files.delete):
        with pytest.raises(openai.NotFoundError):
            await call(mine.id)
    assert (await openai_of(app, KEY_A).files.retrieve(mine.id)).bytes == 6
