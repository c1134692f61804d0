"""File Search through the official SDK: stores, uploads, imports, documents, grounding."""

from __future__ import annotations

import io
from typing import Any

import anyio
import pytest
from google import genai
from google.genai import errors, types

from gemgate import AsyncGemini

from ._usage import total_adds_up
from .conftest import KEY, Target

pytestmark = pytest.mark.anyio

MODEL = "gemini-2.5-flash"
KEEPER = (
    "The lighthouse lens is cleaned every Friday by the keeper. "
    "Visitors may climb the tower on Sundays. "
    "The café by the harbour sells tickets for three euros."
)
GARDEN = (
    "Tomatoes need full sun and regular watering. "
    "Basil grows well next to tomatoes in the greenhouse."
)
Op = types.UploadToFileSearchStoreOperation | types.ImportFileOperation


async def _done(target: Target, client: genai.Client, operation: Op) -> Op:
    """Poll an operation until it is done, moving the fake clock when there is one."""
    for _ in range(200):
        if operation.done:
            return operation
        if target.clock is not None:
            target.clock.advance(0.1)
        else:
            await anyio.sleep(0.02)
        operation = await client.aio.operations.get(operation)
    raise AssertionError(f"operation {operation.name} never finished")


async def _upload(
    target: Target,
    client: genai.Client,
    store: str,
    text: str,
    *,
    mime: str = "text/plain",
    data: bytes | None = None,
    **config: Any,
) -> types.UploadToFileSearchStoreOperation:
    operation = await client.aio.file_search_stores.upload_to_file_search_store(
        file_search_store_name=store,
        file=io.BytesIO(data if data is not None else text.encode()),
        config=types.UploadToFileSearchStoreConfig(mime_type=mime, **config),
    )
    done = await _done(target, client, operation)
    assert isinstance(done, types.UploadToFileSearchStoreOperation)
    return done


def _search_tool(store: str, **options: Any) -> types.GenerateContentConfig:
    tool = types.Tool(file_search=types.FileSearch(file_search_store_names=[store], **options))
    return types.GenerateContentConfig(tools=[tool])


async def test_store_lifecycle_and_paging(target: Target) -> None:
    client = target.sdk()
    created = [
        await client.aio.file_search_stores.create(config={"display_name": f"Manuals {i}"})
        for i in range(3)
    ]
    first = created[0]
    assert first.name and first.name.startswith("fileSearchStores/manuals-0-")
    assert len(first.name.removeprefix("fileSearchStores/")) <= 40
    assert first.display_name == "Manuals 0" and first.create_time and first.update_time
    assert first.active_documents_count is None and first.size_bytes is None

    got = await client.aio.file_search_stores.get(name=first.name)
    assert got.name == first.name and got.create_time == first.create_time

    pager = await client.aio.file_search_stores.list(config={"page_size": 2})
    assert len(pager.page) == 2
    names = [s.name async for s in pager]
    assert names == [s.name for s in created]  # ascending createTime

    await client.aio.file_search_stores.delete(name=first.name)
    with pytest.raises(errors.ClientError) as gone:
        await client.aio.file_search_stores.get(name=first.name)
    assert gone.value.code == 403 and gone.value.status == "PERMISSION_DENIED"


async def test_raw_store_resource_uses_int64_strings(target: Target) -> None:
    client = target.sdk()
    store = await client.aio.file_search_stores.create(config={"display_name": "raw"})
    assert store.name
    await _upload(target, client, store.name, KEEPER)
    response = await target.http.get(f"/v1beta/{store.name}", headers={"x-goog-api-key": KEY})
    resource = response.json()
    assert resource["activeDocumentsCount"] == "1"
    assert resource["sizeBytes"] == str(len(KEEPER.encode()))
    assert "pendingDocumentsCount" not in resource and "failedDocumentsCount" not in resource
    assert resource["createTime"].endswith("Z")


async def test_upload_runs_as_an_operation(target: Target) -> None:
    client = target.sdk()
    store = await client.aio.file_search_stores.create(config={"display_name": "Keeper"})
    assert store.name
    started = await client.aio.file_search_stores.upload_to_file_search_store(
        file_search_store_name=store.name,
        file=io.BytesIO(KEEPER.encode()),
        config=types.UploadToFileSearchStoreConfig(
            mime_type="text/plain",
            display_name="Keeper notes",
            custom_metadata=[
                types.CustomMetadata(key="author", string_value="Ann"),
                types.CustomMetadata(key="year", numeric_value=2020),
            ],
            chunking_config=types.ChunkingConfig(
                white_space_config=types.WhiteSpaceConfig(
                    max_tokens_per_chunk=12, max_overlap_tokens=2
                )
            ),
        ),
    )
    assert started.name and started.name.startswith(f"{store.name}/upload/operations/")
    if target.clock is not None:
        assert not started.done and started.response is None
        pending = await client.aio.file_search_stores.get(name=store.name)
        assert pending.pending_documents_count == 1
    done = await _done(target, client, started)
    assert done.name == started.name and done.error is None
    assert done.response and done.response.parent == store.name
    document_name = done.response.document_name
    assert document_name and document_name.startswith(f"{store.name}/documents/keeper-notes-")

    document = await client.aio.file_search_stores.documents.get(name=document_name)
    assert document.state == types.DocumentState.STATE_ACTIVE
    assert document.display_name == "Keeper notes" and document.mime_type == "text/plain"
    assert document.size_bytes == len(KEEPER.encode())
    assert document.custom_metadata and {m.key for m in document.custom_metadata} == {
        "author",
        "year",
    }
    refreshed = await client.aio.file_search_stores.get(name=store.name)
    assert refreshed.active_documents_count == 1 and refreshed.pending_documents_count is None


async def test_import_file_from_the_files_api(target: Target) -> None:
    client = target.sdk()
    store = await client.aio.file_search_stores.create(config={"display_name": "garden"})
    uploaded = await client.aio.files.upload(
        file=io.BytesIO(GARDEN.encode()),
        config=types.UploadFileConfig(mime_type="text/markdown", display_name="garden.md"),
    )
    assert store.name and uploaded.name
    started = await client.aio.file_search_stores.import_file(
        file_search_store_name=store.name,
        file_name=uploaded.name,
        config=types.ImportFileConfig(
            custom_metadata=[types.CustomMetadata(key="topic", string_value="plants")]
        ),
    )
    assert started.name and started.name.startswith(f"{store.name}/operations/")
    done = await _done(target, client, started)
    assert isinstance(done, types.ImportFileOperation)
    assert done.response and done.response.document_name
    document = await client.aio.file_search_stores.documents.get(name=done.response.document_name)
    assert document.display_name == "garden.md" and document.mime_type == "text/markdown"

    with pytest.raises(errors.ClientError) as missing:
        await client.aio.file_search_stores.import_file(
            file_search_store_name=store.name, file_name="files/nosuchfile"
        )
    assert missing.value.code == 403


async def test_documents_list_get_and_delete(target: Target) -> None:
    client = target.sdk()
    store = await client.aio.file_search_stores.create(config={"display_name": "docs"})
    assert store.name
    for i in range(3):
        await _upload(target, client, store.name, f"Note {i}: {KEEPER}", display_name=f"n{i}")
    pager = await client.aio.file_search_stores.documents.list(
        parent=store.name, config={"page_size": 2}
    )
    assert len(pager.page) == 2
    documents = [d async for d in pager]
    assert sorted(d.display_name or "" for d in documents) == ["n0", "n1", "n2"]

    doomed = documents[0].name
    assert doomed
    with pytest.raises(errors.ClientError) as refused:
        await client.aio.file_search_stores.documents.delete(name=doomed)
    assert refused.value.code == 400 and refused.value.status == "FAILED_PRECONDITION"
    await client.aio.file_search_stores.documents.delete(name=doomed, config={"force": True})
    with pytest.raises(errors.ClientError) as gone:
        await client.aio.file_search_stores.documents.get(name=doomed)
    assert gone.value.code == 403
    left = [
        d.name async for d in await client.aio.file_search_stores.documents.list(parent=store.name)
    ]
    assert doomed not in left and len(left) == 2


async def test_delete_non_empty_store_needs_force(target: Target) -> None:
    client = target.sdk()
    store = await client.aio.file_search_stores.create(config={"display_name": "full"})
    assert store.name
    await _upload(target, client, store.name, KEEPER)
    with pytest.raises(errors.ClientError) as refused:
        await client.aio.file_search_stores.delete(name=store.name)
    assert refused.value.code == 400 and refused.value.status == "FAILED_PRECONDITION"
    await client.aio.file_search_stores.delete(name=store.name, config={"force": True})
    assert [s.name async for s in await client.aio.file_search_stores.list()] == []


async def test_unsupported_document_fails_its_operation(target: Target) -> None:
    client = target.sdk()
    store = await client.aio.file_search_stores.create(config={"display_name": "bad"})
    assert store.name
    done = await _upload(
        target, client, store.name, "", mime="application/x-tar", data=b"\x00\x01binary"
    )
    assert done.response is None and done.error and done.error["code"] == 3
    assert "unsupported" in done.error["message"]
    counted = await client.aio.file_search_stores.get(name=store.name)
    assert counted.failed_documents_count == 1 and counted.active_documents_count is None
    [document] = [
        d async for d in await client.aio.file_search_stores.documents.list(parent=store.name)
    ]
    assert document.state == types.DocumentState.STATE_FAILED


async def test_malformed_mime_type_is_refused_at_start(target: Target) -> None:
    client = target.sdk()
    store = await client.aio.file_search_stores.create(config={"display_name": "mime"})
    assert store.name
    with pytest.raises(errors.ClientError) as refused:
        await client.aio.file_search_stores.upload_to_file_search_store(
            file_search_store_name=store.name,
            file=io.BytesIO(b"text"),
            config=types.UploadToFileSearchStoreConfig(mime_type="plain"),
        )
    assert refused.value.code == 400 and "type/subtype" in (refused.value.message or "")


async def test_generate_is_grounded_in_the_store(target: Target) -> None:
    client = target.sdk()
    store = await client.aio.file_search_stores.create(config={"display_name": "grounded"})
    assert store.name
    await _upload(target, client, store.name, KEEPER, display_name="Keeper notes")
    await _upload(target, client, store.name, GARDEN, display_name="Garden")
    reply = await client.aio.models.generate_content(
        model=MODEL,
        contents="How much do tickets at the café cost?",
        config=_search_tool(store.name),
    )
    text = reply.text or ""
    assert "three euros" in text
    candidate = (reply.candidates or [])[0]
    metadata = candidate.grounding_metadata
    assert metadata and metadata.grounding_chunks and metadata.grounding_supports
    first = metadata.grounding_chunks[0].retrieved_context
    assert first and first.title == "Keeper notes" and first.file_search_store == store.name
    assert first.text and "three euros" in first.text
    raw = text.encode()
    for support in metadata.grounding_supports:
        segment = support.segment
        assert segment and segment.end_index is not None and segment.text
        start = segment.start_index or 0
        assert raw[start : segment.end_index].decode() == segment.text  # UTF-8 byte offsets
        indices = support.grounding_chunk_indices or []
        assert indices and len(indices) == len(support.confidence_scores or [])
        assert all(
            segment.text in (metadata.grounding_chunks[i].retrieved_context.text or "")  # type: ignore[union-attr]
            for i in indices
        )
    total_adds_up(reply.usage_metadata)


async def test_metadata_filter_and_top_k(target: Target) -> None:
    client = target.sdk()
    store = await client.aio.file_search_stores.create(config={"display_name": "filtered"})
    assert store.name
    for author, year in (("Ann", 2020), ("Bob", 2024)):
        await _upload(
            target,
            client,
            store.name,
            f"{author} wrote that the lighthouse keeper cleans the lens on Friday.",
            display_name=author,
            custom_metadata=[
                types.CustomMetadata(key="author", string_value=author),
                types.CustomMetadata(key="year", numeric_value=year),
            ],
        )

    async def titles(**options: Any) -> list[str]:
        reply = await client.aio.models.generate_content(
            model=MODEL,
            contents="Who cleans the lighthouse lens?",
            config=_search_tool(store.name or "", **options),
        )
        metadata = (reply.candidates or [])[0].grounding_metadata
        chunks = (metadata.grounding_chunks or []) if metadata else []
        return sorted(c.retrieved_context.title or "" for c in chunks if c.retrieved_context)

    assert await titles() == ["Ann", "Bob"]
    assert await titles(metadata_filter='author = "Bob"') == ["Bob"]
    assert await titles(metadata_filter="year < 2022") == ["Ann"]
    assert await titles(metadata_filter='(author = "Ann" OR year = 2024) AND year > 0') == [
        "Ann",
        "Bob",
    ]
    assert await titles(metadata_filter='author = "Eve"') == []
    assert len(await titles(top_k=1)) == 1

    with pytest.raises(errors.ClientError) as malformed:
        await titles(metadata_filter='author = "Ann" AND (')
    assert malformed.value.code == 400 and malformed.value.status == "INVALID_ARGUMENT"


async def test_no_matching_chunk_answers_without_grounding(target: Target) -> None:
    client = target.sdk()
    store = await client.aio.file_search_stores.create(config={"display_name": "quiet"})
    assert store.name
    await _upload(target, client, store.name, GARDEN)
    reply = await client.aio.models.generate_content(
        model=MODEL, contents="Explain quantum chromodynamics", config=_search_tool(store.name)
    )
    assert reply.text and (reply.candidates or [])[0].grounding_metadata is None


async def test_streaming_puts_grounding_on_the_last_chunk(target: Target) -> None:
    client = target.sdk()
    store = await client.aio.file_search_stores.create(config={"display_name": "stream"})
    assert store.name
    await _upload(target, client, store.name, KEEPER, display_name="Keeper notes")
    chunks = [
        c
        async for c in await client.aio.models.generate_content_stream(
            model=MODEL,
            contents="When is the lighthouse lens cleaned?",
            config=_search_tool(store.name),
        )
    ]
    assert len(chunks) > 1
    grounded = [
        c for c in chunks if (c.candidates or [None])[0] and c.candidates[0].grounding_metadata
    ]  # type: ignore[index]
    assert grounded == [chunks[-1]]
    text = "".join(c.text or "" for c in chunks)
    metadata = (chunks[-1].candidates or [])[0].grounding_metadata
    assert metadata and metadata.grounding_supports
    segment = metadata.grounding_supports[0].segment
    assert segment and segment.end_index
    assert text.encode()[segment.start_index or 0 : segment.end_index].decode() == segment.text


async def test_unknown_store_and_strict_tool_fields(target: Target) -> None:
    client = target.sdk()
    with pytest.raises(errors.ClientError) as unknown:
        await client.aio.models.generate_content(
            model=MODEL, contents="Hi", config=_search_tool("fileSearchStores/nope-123")
        )
    assert unknown.value.code == 403 and unknown.value.status == "PERMISSION_DENIED"

    response = await target.http.post(
        f"/v1beta/models/{MODEL}:generateContent",
        headers={"x-goog-api-key": KEY},
        json={
            "contents": [{"role": "user", "parts": [{"text": "Hi"}]}],
            "tools": [{"fileSearch": {"fileSearchStoreNames": ["fileSearchStores/x"], "k": 3}}],
        },
    )
    assert response.status_code == 400
    assert 'Unknown name "k"' in response.json()["error"]["message"]


async def test_stores_belong_to_their_project(target: Target) -> None:
    mine = target.sdk()
    theirs = target.sdk("key-b1")
    store = await mine.aio.file_search_stores.create(config={"display_name": "private"})
    assert store.name
    with pytest.raises(errors.ClientError) as hidden:
        await theirs.aio.file_search_stores.get(name=store.name)
    assert hidden.value.code == 403
    assert [s.name async for s in await theirs.aio.file_search_stores.list()] == []
    with pytest.raises(errors.ClientError):
        await theirs.aio.models.generate_content(
            model=MODEL, contents="Hi", config=_search_tool(store.name)
        )


async def test_the_library_sdk_reaches_file_search() -> None:
    async with AsyncGemini.emulated() as g:
        store = await g.sdk.aio.file_search_stores.create(config={"display_name": "library"})
        assert store.name
        operation = await g.sdk.aio.file_search_stores.upload_to_file_search_store(
            file_search_store_name=store.name,
            file=io.BytesIO(KEEPER.encode()),
            config=types.UploadToFileSearchStoreConfig(mime_type="text/plain"),
        )
        for _ in range(200):
            if operation.done:
                break
            await anyio.sleep(0.02)
            operation = await g.sdk.aio.operations.get(operation)
        assert operation.done and operation.response
        reply = await g.sdk.aio.models.generate_content(
            model=MODEL, contents="When is the lens cleaned?", config=_search_tool(store.name)
        )
        metadata = (reply.candidates or [])[0].grounding_metadata
        assert metadata and metadata.grounding_chunks
        await g.sdk.aio.file_search_stores.delete(name=store.name, config={"force": True})


async def test_store_keeps_its_embedding_model(target: Target) -> None:
    client = target.sdk()
    store = await client.aio.file_search_stores.create(
        config={"display_name": "embedded", "embedding_model": "gemini-embedding-001"}
    )
    assert store.embedding_model == "models/gemini-embedding-001"
    with pytest.raises(errors.ClientError) as wrong:
        await client.aio.file_search_stores.create(config={"embedding_model": MODEL})
    assert wrong.value.code == 400
