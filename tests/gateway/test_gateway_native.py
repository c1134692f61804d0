"""The native Gemini API under /gemini, driven by the official google-genai SDK and by hand.

Most tests run against `gemgate serve` (subprocess, emulator upstream); fault and
disconnect tests use the in-process stack, whose emulator takes injected faults.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx2
import pytest
from google import genai
from google.genai import errors, types

from gemgate.wire.jsonarray import JSONArrayDecoder
from gemgate.wire.sse import SSEDecoder

from .conftest import EMBEDDING, FLASH, Stack

PROMPT = "Name three colours of the sea at dawn."
ARCHIVE = (
    "Archive entry: the lighthouse on Elm Island was built in 1871 by the engineer Agnes "
    "Whitlock, who also designed its rotating lens and the keeper's cottage beside it."
)
NOTES = b"Meeting notes: the lighthouse lens will be cleaned on Friday.\n"


@pytest.fixture
def sdk(gateway_server: str) -> Iterator[genai.Client]:
    """The official SDK, unchanged, with its base URL at the gateway's /gemini."""
    client = genai.Client(
        api_key="any-key", http_options=types.HttpOptions(base_url=f"{gateway_server}/gemini")
    )
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def raw(gateway_server: str) -> Iterator[httpx2.Client]:
    with httpx2.Client(base_url=f"{gateway_server}/gemini", timeout=30) as client:
        yield client


def _body(text: str) -> dict[str, Any]:
    return {"contents": [{"role": "user", "parts": [{"text": text}]}]}


def _text(chunk: dict[str, Any]) -> str:
    parts = chunk.get("candidates", [{}])[0].get("content", {}).get("parts", [])
    return "".join(p.get("text", "") for p in parts if not p.get("thought"))


def _sse_events(data: bytes) -> list[dict[str, Any]]:
    decoder = SSEDecoder()
    events = decoder.feed(data) + decoder.flush()
    return [json.loads(e.data) for e in events]


# -- generation -----------------------------------------------------------------------


def test_generate_and_sse_stream_through_the_sdk(sdk: genai.Client) -> None:
    whole = sdk.models.generate_content(model=FLASH, contents=PROMPT)
    assert whole.text and PROMPT in whole.text  # the emulator quotes the prompt
    assert whole.usage_metadata and whole.usage_metadata.prompt_token_count
    chunks = list(sdk.models.generate_content_stream(model=FLASH, contents=PROMPT))
    assert len(chunks) > 1
    assert "".join(c.text or "" for c in chunks) == whole.text
    assert chunks[-1].candidates and chunks[-1].candidates[0].finish_reason == "STOP"


def test_both_stream_forms_are_relayed_as_bytes(raw: httpx2.Client) -> None:
    path = f"/v1beta/models/{FLASH}:streamGenerateContent"
    whole = raw.post(f"/v1beta/models/{FLASH}:generateContent", json=_body(PROMPT))
    assert whole.status_code == 200, whole.text
    expected = _text(whole.json())

    decoder = JSONArrayDecoder()
    elements: list[Any] = []
    with raw.stream("POST", path, json=_body(PROMPT)) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/json")
        for piece in response.iter_bytes():
            elements.extend(decoder.feed(piece))
    decoder.close()
    assert len(elements) > 1
    assert "".join(_text(e) for e in elements) == expected

    with raw.stream("POST", path, params={"alt": "sse"}, json=_body(PROMPT)) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = _sse_events(response.read())
    assert len(events) == len(elements)
    assert "".join(_text(e) for e in events) == expected
    assert events[-1]["usageMetadata"]["totalTokenCount"] > 0


def test_count_tokens_and_models(sdk: genai.Client) -> None:
    counted = sdk.models.count_tokens(model=FLASH, contents=PROMPT)
    assert counted.total_tokens and counted.total_tokens > 0
    longer = sdk.models.count_tokens(model=FLASH, contents=PROMPT + " " + PROMPT)
    assert longer.total_tokens and longer.total_tokens > counted.total_tokens

    names = [m.name for m in sdk.models.list()]
    assert f"models/{FLASH}" in names and f"models/{EMBEDDING}" in names
    model = sdk.models.get(model=FLASH)
    assert model.name == f"models/{FLASH}"
    assert model.input_token_limit and model.output_token_limit
    assert "generateContent" in (model.supported_actions or [])


def test_embed_content_single_and_list(sdk: genai.Client) -> None:
    one = sdk.models.embed_content(model=EMBEDDING, contents="lighthouse")
    assert one.embeddings and len(one.embeddings) == 1
    assert one.embeddings[0].values and len(one.embeddings[0].values) > 100
    many = sdk.models.embed_content(
        model=EMBEDDING,
        contents=["lighthouse", "keeper's cottage"],
        config=types.EmbedContentConfig(output_dimensionality=256),
    )
    assert many.embeddings and len(many.embeddings) == 2
    assert [len(e.values or []) for e in many.embeddings] == [256, 256]
    assert many.embeddings[0].values != many.embeddings[1].values


# -- caches and files -----------------------------------------------------------------


def test_cache_lifecycle_and_use(sdk: genai.Client) -> None:
    document = "\n".join(f"{i}. {ARCHIVE}" for i in range(60))
    cache = sdk.caches.create(
        model=FLASH,
        config=types.CreateCachedContentConfig(
            contents=document, ttl="300s", display_name="gateway-archive"
        ),
    )
    assert cache.name and cache.name.startswith("cachedContents/")
    assert cache.usage_metadata and cache.usage_metadata.total_token_count
    tokens = cache.usage_metadata.total_token_count
    try:
        got = sdk.caches.get(name=cache.name)
        assert got.display_name == "gateway-archive" and got.model == f"models/{FLASH}"
        longer = sdk.caches.update(
            name=cache.name, config=types.UpdateCachedContentConfig(ttl="600s")
        )
        assert longer.expire_time and longer.update_time
        assert longer.expire_time - longer.update_time == timedelta(seconds=600)
        assert cache.name in [c.name for c in sdk.caches.list()]

        used = sdk.models.generate_content(
            model=FLASH,
            contents="Who built the lighthouse?",
            config=types.GenerateContentConfig(cached_content=cache.name),
        )
        assert used.text
        assert used.usage_metadata and used.usage_metadata.cached_content_token_count == tokens
    finally:
        sdk.caches.delete(name=cache.name)
    with pytest.raises(errors.APIError) as gone:
        sdk.caches.get(name=cache.name)
    assert gone.value.code in (403, 404)


def test_resumable_upload_urls_point_at_the_gateway(
    gateway_server: str, raw: httpx2.Client
) -> None:
    start = raw.post(
        "/upload/v1beta/files",
        headers={
            "x-goog-api-key": "any-key",
            "X-Goog-Upload-Protocol": "resumable",
            "X-Goog-Upload-Command": "start",
            "X-Goog-Upload-Header-Content-Length": str(len(NOTES)),
            "X-Goog-Upload-Header-Content-Type": "text/plain",
        },
        json={"file": {"displayName": "by-hand.txt"}},
    )
    assert start.status_code == 200, start.text
    url = start.headers["x-goog-upload-url"]
    assert url.startswith(f"{gateway_server}/gemini/upload/v1beta/files?"), url
    assert "upload_id=" in url
    half = len(NOTES) // 2
    first = raw.post(
        url,
        content=NOTES[:half],
        headers={"X-Goog-Upload-Command": "upload", "X-Goog-Upload-Offset": "0"},
    )
    assert first.status_code == 200, first.text
    done = raw.post(
        url,
        content=NOTES[half:],
        headers={"X-Goog-Upload-Command": "upload, finalize", "X-Goog-Upload-Offset": str(half)},
    )
    assert done.status_code == 200, done.text
    file = done.json()["file"]
    assert file["displayName"] == "by-hand.txt"
    assert int(file["sizeBytes"]) == len(NOTES)
    assert raw.delete(f"/v1beta/{file['name']}").status_code == 200


def test_files_upload_get_list_delete_and_use(sdk: genai.Client) -> None:
    uploaded = sdk.files.upload(
        file=io.BytesIO(NOTES),
        config=types.UploadFileConfig(mime_type="text/plain", display_name="notes.txt"),
    )
    assert uploaded.name and uploaded.name.startswith("files/")
    assert uploaded.size_bytes == len(NOTES) and uploaded.display_name == "notes.txt"
    assert uploaded.uri and uploaded.mime_type == "text/plain"
    got = sdk.files.get(name=uploaded.name)
    assert got.name == uploaded.name and got.state == "ACTIVE"
    assert uploaded.name in [f.name for f in sdk.files.list()]

    part = types.Part.from_uri(file_uri=uploaded.uri, mime_type="text/plain")
    question = "Summarize this file."
    with_file = sdk.models.generate_content(model=FLASH, contents=[part, question])
    without = sdk.models.generate_content(model=FLASH, contents=question)
    assert with_file.text
    assert with_file.usage_metadata and without.usage_metadata
    assert (with_file.usage_metadata.prompt_token_count or 0) > (
        without.usage_metadata.prompt_token_count or 0
    )

    sdk.files.delete(name=uploaded.name)
    with pytest.raises(errors.APIError) as gone:
        sdk.files.get(name=uploaded.name)
    assert gone.value.code in (403, 404)


# -- errors and the envelope ------------------------------------------------------------


def test_upstream_errors_pass_through_in_googles_shape(
    sdk: genai.Client, raw: httpx2.Client
) -> None:
    with pytest.raises(errors.ClientError) as bad:
        sdk.models.generate_content(
            model=FLASH, contents=PROMPT, config=types.GenerateContentConfig(temperature=5.0)
        )
    assert bad.value.code == 400 and bad.value.status == "INVALID_ARGUMENT"
    assert "temperature" in (bad.value.message or "")

    with pytest.raises(errors.ClientError) as missing:
        sdk.models.generate_content(model="gemini-no-such-model", contents=PROMPT)
    assert missing.value.code == 404 and missing.value.status == "NOT_FOUND"

    with pytest.raises(errors.ClientError) as stream_missing:
        list(sdk.models.generate_content_stream(model="gemini-no-such-model", contents=PROMPT))
    assert stream_missing.value.code == 404

    response = raw.post(
        f"/v1beta/models/{FLASH}:generateContent",
        json={**_body(PROMPT), "generationConfig": {"temperature": 5}},
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == 400 and error["status"] == "INVALID_ARGUMENT" and error["message"]


HEADER_CASES = [
    ("GET", "/gemini/v1beta/models", None),
    ("POST", f"/gemini/v1beta/models/{FLASH}:generateContent", _body("hi")),
    ("POST", f"/gemini/v1beta/models/{FLASH}:streamGenerateContent?alt=sse", _body("hi")),
    ("POST", "/gemini/v1beta/models/gemini-no-such-model:generateContent", _body("hi")),
    ("GET", "/v1/models", None),
    ("POST", "/v1/chat/completions", {"model": FLASH, "messages": "not a list"}),
    ("GET", "/healthz", None),
    ("GET", "/no/such/route", None),
]


@pytest.mark.parametrize(("method", "path", "body"), HEADER_CASES)
def test_every_response_has_request_id_and_overhead(
    gateway_server: str, method: str, path: str, body: Any
) -> None:
    with httpx2.Client(base_url=gateway_server, timeout=30) as http:
        given = http.request(method, path, json=body, headers={"x-request-id": "req-abc-123"})
        made = http.request(method, path, json=body)
    assert given.headers["x-request-id"] == "req-abc-123"
    assert made.headers["x-request-id"] and made.headers["x-request-id"] != "req-abc-123"
    for response in (given, made):
        assert float(response.headers["x-gemgate-overhead-ms"]) >= 0


def test_sdk_responses_carry_the_envelope(sdk: genai.Client) -> None:
    response = sdk.models.generate_content(model=FLASH, contents=PROMPT)
    assert response.sdk_http_response and response.sdk_http_response.headers
    headers = {k.lower(): v for k, v in response.sdk_http_response.headers.items()}
    assert headers["x-request-id"]
    assert float(headers["x-gemgate-overhead-ms"]) >= 0


# -- faults: mid-stream errors and disconnects (in-process stack) -----------------------


@pytest.mark.anyio
async def test_midstream_error_reaches_the_sse_client(stack: Stack) -> None:
    path = f"/gemini/v1beta/models/{FLASH}:streamGenerateContent"
    await stack.faults({"kind": "midstream", "after_chunks": 2, "status": 500})
    response = await stack.http.post(path, params={"alt": "sse"}, json=_body(PROMPT))
    assert response.status_code == 200  # the error arrives after the stream started
    events = _sse_events(response.content)
    assert len(events) == 3
    assert all("candidates" in e for e in events[:2])
    assert events[-1]["error"]["code"] == 500 and events[-1]["error"]["status"] == "INTERNAL"

    client = genai.Client(
        api_key="any-key", http_options=types.HttpOptions(base_url=f"{stack.url}/gemini")
    )
    try:
        received: list[str] = []
        with pytest.raises(errors.APIError) as failed:
            async for chunk in await client.aio.models.generate_content_stream(
                model=FLASH, contents=PROMPT
            ):
                received.append(chunk.text or "")
        assert failed.value.code == 500
        assert len(received) == 2
    finally:
        await client.aio.aclose()
        client.close()
    await stack.idle()


@pytest.mark.anyio
async def test_upstream_failure_is_502_in_googles_shape(stack: Stack) -> None:
    await stack.faults({"kind": "drop"})  # the emulator hangs up; the stack does not retry
    path = f"/gemini/v1beta/models/{FLASH}:generateContent"
    response = await stack.http.post(path, json=_body(PROMPT))
    assert response.status_code == 502, response.text
    error = response.json()["error"]
    assert error["code"] == 502 and error["status"] and "upstream" in error["message"]
    assert response.headers["x-request-id"]
    await stack.faults()
    assert (await stack.http.post(path, json=_body(PROMPT))).status_code == 200


@pytest.mark.anyio
async def test_client_disconnect_stops_the_upstream_stream(stack: Stack) -> None:
    stack.slow.delay = 0.3  # each upstream chunk takes 0.3 s: the whole stream ~2 s
    path = f"/gemini/v1beta/models/{FLASH}:streamGenerateContent"
    async with stack.http.stream(
        "POST", path, params={"alt": "sse"}, json=_body(PROMPT)
    ) as response:
        assert response.status_code == 200
        decoder = SSEDecoder()
        async for piece in response.aiter_bytes():
            if decoder.feed(piece):
                break  # one event received; hang up
    [upstream] = stack.slow.streams
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(upstream.done.wait(), 1.5)
    assert upstream.done.is_set(), "the upstream request still runs after the client left"
    assert not upstream.finished, "the upstream stream ran to its end after the client left"
    assert upstream.chunks < 4
    await stack.idle(2.0)
    assert stack.client.get_active_requests() == {}

    stack.slow.delay = 0.0
    health = await stack.http.get("/healthz")
    assert health.status_code == 200
    again = await stack.http.post(path, params={"alt": "sse"}, json=_body(PROMPT))
    assert again.status_code == 200
    assert "".join(_text(e) for e in _sse_events(again.content))


@pytest.mark.anyio
async def test_the_upstreams_date_and_server_headers_are_not_passed_on() -> None:
    from gemgate import AsyncGemini
    from gemgate.emulator import create_app as create_emulator
    from gemgate.gateway import create_app
    from tests.conftest import serve_in_loop, stop_serving

    emulator, emulator_task, upstream = await serve_in_loop(create_emulator())
    client = AsyncGemini(api_key="k", base_url=upstream)
    gateway, gateway_task, base = await serve_in_loop(create_app(client), lifespan="on")
    try:
        async with httpx2.AsyncClient(base_url=f"{base}/gemini") as http:
            direct = await http.post(
                f"{upstream}/v1beta/models/{FLASH}:generateContent",
                json=_body(PROMPT),
                headers={"x-goog-api-key": "k"},
            )
            assert direct.headers.get_list("date")  # the upstream does send them
            answer = await http.post(f"/v1beta/models/{FLASH}:generateContent", json=_body(PROMPT))
        assert answer.status_code == 200
        for name in ("date", "server", "content-length"):  # ours only, once
            assert len(answer.headers.get_list(name)) == 1, answer.headers
    finally:
        await stop_serving(gateway, gateway_task)
        await stop_serving(emulator, emulator_task)
