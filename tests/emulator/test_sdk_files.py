"""The Files API through the official SDK and by hand: resumable uploads, use, isolation."""

from __future__ import annotations

import base64
import hashlib
import io

import httpx2
import pytest
from google.genai import errors, types

from gemgate.wire.durations import parse_timestamp

from .conftest import KEY, Target

pytestmark = [
    pytest.mark.anyio,
    # google-genai subclasses aiohttp.ClientSession when aiohttp is installed.
]

MODEL = "gemini-2.5-flash"
NOTES = b"Meeting notes: the lighthouse lens will be cleaned on Friday.\n"


async def _upload(
    target: Target,
    data: bytes = NOTES,
    mime: str = "text/plain",
    key: str = KEY,
    name: str | None = None,
    display_name: str | None = None,
) -> types.File:
    config = types.UploadFileConfig(mime_type=mime, name=name, display_name=display_name)
    return await target.sdk(key).aio.files.upload(file=io.BytesIO(data), config=config)


async def _start(target: Target, size: int, mime: str = "text/plain", **file: str) -> str:
    """A raw ``start`` request; returns the upload URL."""
    response = await target.http.post(
        "/upload/v1beta/files",
        headers={
            "x-goog-api-key": KEY,
            "X-Goog-Upload-Protocol": "resumable",
            "X-Goog-Upload-Command": "start",
            "X-Goog-Upload-Header-Content-Length": str(size),
            "X-Goog-Upload-Header-Content-Type": mime,
        },
        json={"file": file},
    )
    assert response.status_code == 200, response.text
    assert response.content == b""
    assert response.headers["x-goog-upload-status"] == "active"
    assert int(response.headers["x-goog-upload-chunk-granularity"]) > 0
    url: str = response.headers["x-goog-upload-url"]
    return url


async def _chunk(
    target: Target, url: str, data: bytes, offset: int, command: str
) -> httpx2.Response:
    # Chunk requests carry no API key, as the SDK sends them.
    return await target.http.post(
        url,
        content=data,
        headers={"X-Goog-Upload-Command": command, "X-Goog-Upload-Offset": str(offset)},
    )


def _file_uri(file: types.File) -> types.Part:
    assert file.uri and file.mime_type
    return types.Part.from_uri(file_uri=file.uri, mime_type=file.mime_type)


async def test_upload_get_list_delete(target: Target) -> None:
    client = target.sdk()
    uploaded = await _upload(target, display_name="notes.txt")
    assert uploaded.name and uploaded.name.startswith("files/")
    assert uploaded.display_name == "notes.txt"
    assert uploaded.mime_type == "text/plain"
    assert uploaded.size_bytes == len(NOTES)
    assert uploaded.state == types.FileState.ACTIVE
    assert uploaded.source == types.FileSource.UPLOADED
    assert uploaded.uri == f"{target.base}/v1beta/{uploaded.name}"
    assert uploaded.sha256_hash
    digest = base64.b64decode(uploaded.sha256_hash)
    assert digest in (hashlib.sha256(NOTES).digest(), hashlib.sha256(NOTES).hexdigest().encode())
    assert uploaded.create_time and uploaded.expiration_time
    assert (uploaded.expiration_time - uploaded.create_time).total_seconds() == 48 * 3600

    got = await client.aio.files.get(name=uploaded.name)
    assert got.name == uploaded.name and got.size_bytes == len(NOTES)
    assert got.sha256_hash == uploaded.sha256_hash
    assert [f.name async for f in await client.aio.files.list()] == [uploaded.name]

    raw = await target.http.get(f"/v1beta/{uploaded.name}", headers={"x-goog-api-key": KEY})
    resource = raw.json()
    assert resource["sizeBytes"] == str(len(NOTES))
    for key in ("createTime", "updateTime", "expirationTime"):
        assert resource[key].endswith("Z")
        parse_timestamp(resource[key])

    await client.aio.files.delete(name=uploaded.name)
    with pytest.raises(errors.APIError) as gone:
        await client.aio.files.get(name=uploaded.name)
    assert gone.value.code in (403, 404)
    assert [f.name async for f in await client.aio.files.list()] == []
    with pytest.raises(errors.APIError) as again:
        await client.aio.files.delete(name=uploaded.name)
    assert again.value.code in (403, 404)


async def test_upload_url_points_back_at_the_emulator(target: Target) -> None:
    url = await _start(target, len(NOTES), display_name="raw.txt")
    assert url.startswith(f"{target.base}/upload/v1beta/files?")
    assert "upload_id=" in url
    final = await _chunk(target, url, NOTES, 0, "upload, finalize")
    assert final.status_code == 200, final.text
    assert final.headers["x-goog-upload-status"] == "final"
    file = final.json()["file"]
    assert file["sizeBytes"] == str(len(NOTES))
    assert file["displayName"] == "raw.txt" and file["mimeType"] == "text/plain"
    assert file["state"] == "ACTIVE"
    assert file["uri"].startswith(target.base)
    # The finished session is gone.
    assert (await _chunk(target, url, b"x", len(NOTES), "upload, finalize")).status_code == 404
    listed = await target.sdk().aio.files.get(name=file["name"])
    assert listed.size_bytes == len(NOTES)


async def test_upload_in_chunks_with_offsets_and_query(target: Target) -> None:
    data = bytes(range(256)) * 4
    url = await _start(target, len(data), mime="application/octet-stream")
    first = await _chunk(target, url, data[:300], 0, "upload")
    assert first.status_code == 200 and first.content == b""
    assert first.headers["x-goog-upload-status"] == "active"
    query = await target.http.post(url, headers={"X-Goog-Upload-Command": "query"})
    assert query.status_code == 200
    assert query.headers["x-goog-upload-size-received"] == "300"
    # Resending from a wrong offset is refused and changes nothing.
    wrong = await _chunk(target, url, data[200:600], 200, "upload")
    assert wrong.status_code == 400
    assert wrong.json()["error"]["status"] == "INVALID_ARGUMENT"
    query = await target.http.post(url, headers={"X-Goog-Upload-Command": "query"})
    assert query.headers["x-goog-upload-size-received"] == "300"
    second = await _chunk(target, url, data[300:700], 300, "upload")
    assert second.headers["x-goog-upload-status"] == "active"
    final = await _chunk(target, url, data[700:], 700, "upload, finalize")
    assert final.status_code == 200, final.text
    assert final.headers["x-goog-upload-status"] == "final"
    file = final.json()["file"]
    assert file["sizeBytes"] == str(len(data))
    assert file["mimeType"] == "application/octet-stream"
    got = await target.sdk().aio.files.get(name=file["name"])
    assert got.size_bytes == len(data)
    assert got.sha256_hash == file["sha256Hash"]


async def test_upload_that_ends_short_of_the_declared_size_fails(target: Target) -> None:
    url = await _start(target, 100)
    short = await _chunk(
        target, url, b"only forty bytes of the hundred declared", 0, "upload, finalize"
    )
    assert short.status_code == 400
    assert [f.name async for f in await target.sdk().aio.files.list()] == []


async def test_upload_needs_the_resumable_protocol_and_a_key(target: Target) -> None:
    plain = await target.http.post(
        "/upload/v1beta/files", headers={"x-goog-api-key": KEY}, json={"file": {}}
    )
    assert plain.status_code == 400
    anonymous = await target.http.post(
        "/upload/v1beta/files",
        headers={"X-Goog-Upload-Protocol": "resumable", "X-Goog-Upload-Command": "start"},
        json={"file": {}},
    )
    assert anonymous.status_code == 403


async def test_named_upload_and_name_rules(target: Target) -> None:
    named = await _upload(target, name="files/meeting-notes")
    assert named.name == "files/meeting-notes"
    bare = await _upload(target, name="other-notes")
    assert bare.name == "files/other-notes"
    with pytest.raises(errors.APIError) as taken:
        await _upload(target, name="files/meeting-notes")
    assert taken.value.code == 409
    for bad in ("files/Bad_Name", "files/-dash", "files/" + "a" * 41):
        with pytest.raises(errors.APIError) as invalid:
            await _upload(target, name=bad)
        assert invalid.value.code == 400, bad


async def test_concurrent_uploads_of_one_name_do_not_overwrite(target: Target) -> None:
    first = await _start(target, 5, name="files/shared-name")
    second = await _start(target, 6, name="files/shared-name")
    assert (await _chunk(target, second, b"second", 0, "upload, finalize")).status_code == 200
    late = await _chunk(target, first, b"first", 0, "upload, finalize")
    assert late.status_code == 409
    kept = await target.sdk().aio.files.get(name="files/shared-name")
    assert kept.size_bytes == 6


async def test_files_list_pages_newest_first(target: Target) -> None:
    names = []
    for i in range(3):
        uploaded = await _upload(target, data=f"file {i}".encode(), display_name=f"f{i}")
        names.append(uploaded.name)
        if target.clock is not None:
            target.clock.advance(1)
    newest_first = names[::-1]
    headers = {"x-goog-api-key": KEY}
    first = await target.http.get("/v1beta/files", params={"pageSize": 2}, headers=headers)
    assert [f["name"] for f in first.json()["files"]] == newest_first[:2]
    second = await target.http.get(
        "/v1beta/files",
        params={"pageSize": 2, "pageToken": first.json()["nextPageToken"]},
        headers=headers,
    )
    assert [f["name"] for f in second.json()["files"]] == newest_first[2:]
    assert "nextPageToken" not in second.json()
    pager = await target.sdk().aio.files.list(config=types.ListFilesConfig(page_size=1))
    assert [f.name async for f in pager] == newest_first


async def test_files_list_ties_are_newest_first(inprocess: Target) -> None:
    names = [(await _upload(inprocess, data=f"{i}".encode())).name for i in range(3)]
    listed = [f.name async for f in await inprocess.sdk().aio.files.list()]
    assert listed == names[::-1]


async def test_uploaded_file_is_used_in_generation(target: Target) -> None:
    client = target.sdk()
    uploaded = await _upload(target, display_name="notes.txt")
    question = "Summarize this file."
    with_file = await client.aio.models.generate_content(
        model=MODEL, contents=[_file_uri(uploaded), question]
    )
    again = await client.aio.models.generate_content(
        model=MODEL, contents=[_file_uri(uploaded), question]
    )
    without = await client.aio.models.generate_content(model=MODEL, contents=question)
    assert with_file.text and with_file.text == again.text
    # The file part is billed on top of the question, as countTokens measures it.
    file_only = await client.aio.models.count_tokens(model=MODEL, contents=[_file_uri(uploaded)])
    assert file_only.total_tokens and file_only.total_tokens > 0
    assert with_file.usage_metadata and without.usage_metadata
    assert without.usage_metadata.prompt_token_count is not None
    assert (
        with_file.usage_metadata.prompt_token_count
        == without.usage_metadata.prompt_token_count + file_only.total_tokens
    )
    assert uploaded.name
    await client.aio.files.delete(name=uploaded.name)
    with pytest.raises(errors.APIError) as deleted:
        await client.aio.models.generate_content(
            model=MODEL, contents=[_file_uri(uploaded), question]
        )
    assert deleted.value.code in (403, 404)


async def test_video_stays_processing_until_the_clock_moves(inprocess: Target) -> None:
    assert inprocess.clock is not None
    client = inprocess.sdk()
    video = await _upload(
        inprocess, data=b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 64, mime="video/mp4"
    )
    assert video.name and video.state == types.FileState.PROCESSING
    contents = [_file_uri(video), "Describe the video."]
    with pytest.raises(errors.APIError) as early:
        await client.aio.models.generate_content(model=MODEL, contents=contents)
    assert early.value.code == 400 and early.value.status == "FAILED_PRECONDITION"
    inprocess.clock.advance(1.9)
    assert (await client.aio.files.get(name=video.name)).state == types.FileState.PROCESSING
    text = await _upload(inprocess)
    assert text.state == types.FileState.ACTIVE
    inprocess.clock.advance(0.2)
    ready = await client.aio.files.get(name=video.name)
    assert ready.state == types.FileState.ACTIVE
    assert ready.update_time and video.update_time and ready.update_time > video.update_time
    response = await client.aio.models.generate_content(model=MODEL, contents=contents)
    assert response.text


async def test_another_project_cannot_access_the_file(target: Target) -> None:
    uploaded = await _upload(target, key="key-a1")
    assert uploaded.name
    outsider = target.sdk("key-b1")
    with pytest.raises(errors.APIError) as get:
        await outsider.aio.files.get(name=uploaded.name)
    assert get.value.code in (403, 404)
    with pytest.raises(errors.APIError) as use:
        await outsider.aio.models.generate_content(
            model=MODEL, contents=[_file_uri(uploaded), "What is in it?"]
        )
    assert use.value.code in (403, 404)
    with pytest.raises(errors.APIError) as delete:
        await outsider.aio.files.delete(name=uploaded.name)
    assert delete.value.code in (403, 404)
    assert [f.name async for f in await outsider.aio.files.list()] == []
    same_project = target.sdk("key-a2")
    assert (await same_project.aio.files.get(name=uploaded.name)).size_bytes == len(NOTES)
    response = await same_project.aio.models.generate_content(
        model=MODEL, contents=[_file_uri(uploaded), "What is in it?"]
    )
    assert response.text


async def test_files_expire_after_48_hours(inprocess: Target) -> None:
    assert inprocess.clock is not None
    client = inprocess.sdk()
    uploaded = await _upload(inprocess)
    assert uploaded.name
    inprocess.clock.advance(48 * 3600 - 1)
    assert (await client.aio.files.get(name=uploaded.name)).name == uploaded.name
    inprocess.clock.advance(1)
    with pytest.raises(errors.APIError) as expired:
        await client.aio.files.get(name=uploaded.name)
    assert expired.value.code in (403, 404)
    assert [f.name async for f in await client.aio.files.list()] == []


async def test_sync_client_upload_against_server(emulator_server: str) -> None:
    from google import genai

    client = genai.Client(api_key=KEY, http_options={"base_url": emulator_server})
    try:
        uploaded = client.files.upload(
            file=io.BytesIO(NOTES),
            config=types.UploadFileConfig(mime_type="text/plain", display_name="sync.txt"),
        )
        assert uploaded.name and uploaded.uri and uploaded.uri.startswith(emulator_server)
        assert uploaded.size_bytes == len(NOTES)
        assert client.files.get(name=uploaded.name).display_name == "sync.txt"
        response = client.models.generate_content(
            model=MODEL, contents=[_file_uri(uploaded), "What does the file say?"]
        )
        assert response.text
        client.files.delete(name=uploaded.name)
        with pytest.raises(errors.APIError):
            client.files.get(name=uploaded.name)
    finally:
        client.close()
