"""Error responses as the official SDK and `gemgate.wire.parse_error` see them."""

from __future__ import annotations

import json
from typing import Any

import pytest
from google.genai import errors, types

from gemgate.wire import parse_error
from gemgate.wire.errors import BAD_REQUEST, ERROR_INFO, QUOTA_FAILURE, RETRY_INFO

from .conftest import KEY, Target

pytestmark = [
    pytest.mark.anyio,
    # google-genai subclasses aiohttp.ClientSession when aiohttp is installed.
]
MODEL = "gemini-2.5-flash"
LIMITED = "gemini-2.5-flash-lite"
STORY = "Tell me a long story about a lighthouse keeper"
BODY = {"contents": [{"role": "user", "parts": [{"text": STORY}]}]}


def _types(error: errors.APIError) -> list[str]:
    detail_list = error.details["error"].get("details", [])
    return [d["@type"] for d in detail_list]


async def test_sdk_400_out_of_range_temperature(target: Target) -> None:
    client = target.sdk()
    with pytest.raises(errors.ClientError) as info:
        await client.aio.models.generate_content(
            model=MODEL, contents="hi", config=types.GenerateContentConfig(temperature=5)
        )
    error = info.value
    assert error.code == 400
    assert error.status == "INVALID_ARGUMENT"
    assert error.message is not None and "temperature value of 5" in error.message
    assert error.details["error"]["code"] == 400
    assert BAD_REQUEST in _types(error)
    parsed = parse_error(error.details, status_code=400)
    assert [v.field for v in parsed.field_violations] == ["generation_config.temperature"]


async def test_raw_400_unknown_field(target: Target) -> None:
    response = await target.http.post(
        f"/v1beta/models/{MODEL}:generateContent",
        json={**BODY, "generationConfig": {"temperature": 1, "frobnicate": True}},
        headers={"x-goog-api-key": KEY},
    )
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/json")
    parsed = parse_error(response.content, status_code=400)
    assert parsed.code == 400 and parsed.status == "INVALID_ARGUMENT"
    expected = (
        'Invalid JSON payload received. Unknown name "frobnicate" at '
        "'generation_config': Cannot find field."
    )
    assert parsed.message == expected
    assert [(v.field, v.description) for v in parsed.field_violations] == [
        ("generation_config", expected)
    ]


async def test_raw_403_without_key(target: Target) -> None:
    response = await target.http.post(f"/v1beta/models/{MODEL}:generateContent", json=BODY)
    assert response.status_code == 403
    parsed = parse_error(response.content, status_code=403)
    assert parsed.status == "PERMISSION_DENIED"
    assert parsed.message.startswith("Method doesn't allow unregistered callers")
    assert "Please use API Key" in parsed.message


async def test_sdk_403_without_key_is_a_client_error(target: Target) -> None:
    client = target.sdk()
    with pytest.raises(errors.ClientError) as info:
        await client.aio.models.generate_content(
            model=MODEL,
            contents="hi",
            config=types.GenerateContentConfig(
                http_options=types.HttpOptions(headers={"x-goog-api-key": ""})
            ),
        )
    assert info.value.code == 403
    assert info.value.status == "PERMISSION_DENIED"


async def test_sdk_400_api_key_invalid(target: Target) -> None:
    client = target.sdk(key="not-a-configured-key")
    with pytest.raises(errors.ClientError) as info:
        await client.aio.models.generate_content(model=MODEL, contents="hi")
    error = info.value
    assert error.code == 400
    assert error.status == "INVALID_ARGUMENT"
    assert error.message == "API key not valid. Please pass a valid API key."
    infos = [d for d in error.details["error"]["details"] if d["@type"] == ERROR_INFO]
    assert infos and infos[0]["reason"] == "API_KEY_INVALID"
    assert infos[0]["metadata"]["service"] == "generativelanguage.googleapis.com"
    parsed = parse_error(error.details, status_code=error.code)
    assert parsed.reason == "API_KEY_INVALID" and parsed.api_key_invalid
    assert parsed.domain == "googleapis.com"


async def test_sdk_404_unknown_model(target: Target) -> None:
    client = target.sdk()
    with pytest.raises(errors.ClientError) as info:
        await client.aio.models.generate_content(model="gemini-foo", contents="hi")
    error = info.value
    assert error.code == 404 and error.status == "NOT_FOUND"
    assert error.message == (
        "models/gemini-foo is not found for API version v1beta, or is not supported for "
        "generateContent. Call ListModels to see the list of available models and their "
        "supported methods."
    )


async def test_404_names_the_method_and_version(target: Target) -> None:
    headers = {"x-goog-api-key": KEY}
    embed = await target.http.post(
        "/v1/models/text-embedding-004:generateContent", json=BODY, headers=headers
    )
    assert embed.status_code == 404
    message = parse_error(embed.content, status_code=404).message
    assert message.startswith("models/text-embedding-004 is not found for API version v1,")
    assert "not supported for generateContent" in message
    odd = await target.http.post(f"/v1beta/models/{MODEL}:fooBar", json=BODY, headers=headers)
    assert odd.status_code == 404
    assert "not supported for fooBar" in parse_error(odd.content, status_code=404).message


async def test_sdk_429_from_quota(target: Target) -> None:
    client = target.sdk(key="key-a1")
    for _ in range(3):
        assert (await client.aio.models.generate_content(model=LIMITED, contents="hi")).text
        if target.clock is not None:
            target.clock.advance(0.25)
    with pytest.raises(errors.ClientError) as info:
        await client.aio.models.generate_content(model=LIMITED, contents="hi")
    error = info.value
    assert error.code == 429 and error.status == "RESOURCE_EXHAUSTED"
    assert error.message is not None and error.message.startswith("You exceeded your current quota")
    assert {QUOTA_FAILURE, RETRY_INFO} <= set(_types(error))
    parsed = parse_error(error.details, status_code=429)
    violation = parsed.quota_violations[0]
    assert violation.quota_id is not None and "PerMinute" in violation.quota_id
    assert violation.per_minute and not parsed.is_daily_quota
    assert violation.quota_dimensions["model"] == LIMITED
    assert violation.quota_value == "3"
    assert parsed.retry_delay is not None and 0 < parsed.retry_delay <= 60
    assert parsed.retry_delay != int(parsed.retry_delay)  # fractional, like Google's


async def test_sdk_503_from_fault(target: Target) -> None:
    await target.faults({"kind": "status", "status": 503, "times": 1})
    client = target.sdk()
    with pytest.raises(errors.ServerError) as info:
        await client.aio.models.generate_content(model=MODEL, contents="hi")
    error = info.value
    assert error.code == 503 and error.status == "UNAVAILABLE"
    assert error.message == "The model is overloaded. Please try again later."
    assert (await client.aio.models.generate_content(model=MODEL, contents="hi")).text


async def test_sdk_midstream_error_after_two_chunks(target: Target) -> None:
    await target.faults({"kind": "midstream", "after_chunks": 2, "status": 500})
    client = target.sdk()
    seen: list[types.GenerateContentResponse] = []
    stream = await client.aio.models.generate_content_stream(model=MODEL, contents=STORY)
    with pytest.raises(errors.ServerError) as info:
        async for chunk in stream:
            seen.append(chunk)
    assert len(seen) == 2
    assert all(chunk.text for chunk in seen)
    assert info.value.code == 500 and info.value.status == "INTERNAL"
    # The same fault is not applied to the unary method.
    whole = await client.aio.models.generate_content(model=MODEL, contents=STORY)
    assert whole.text and whole.text.startswith("".join(c.text or "" for c in seen))


async def test_midstream_error_in_json_array_mode(target: Target) -> None:
    await target.faults({"kind": "midstream", "after_chunks": 2, "status": 500})
    response = await target.http.post(
        f"/v1beta/models/{MODEL}:streamGenerateContent",
        json=BODY,
        headers={"x-goog-api-key": KEY},
    )
    assert response.status_code == 200
    items: list[Any] = json.loads(response.content)
    assert isinstance(items, list) and len(items) == 3
    assert all("candidates" in item for item in items[:2])
    parsed = parse_error(items[-1], status_code=200)
    assert set(items[-1]) == {"error"}
    assert parsed.code == 500 and parsed.status == "INTERNAL"


async def test_midstream_error_in_sse_mode_is_a_data_event(target: Target) -> None:
    await target.faults({"kind": "midstream", "after_chunks": 1, "status": 503})
    response = await target.http.post(
        f"/v1beta/models/{MODEL}:streamGenerateContent",
        params={"alt": "sse"},
        json=BODY,
        headers={"x-goog-api-key": KEY},
    )
    assert response.status_code == 200
    events = [e for e in response.text.split("\r\n\r\n") if e]
    assert len(events) == 2
    assert all(e.startswith("data: ") for e in events)
    parsed = parse_error(events[-1], status_code=200)
    assert parsed.code == 503 and parsed.status == "UNAVAILABLE"
