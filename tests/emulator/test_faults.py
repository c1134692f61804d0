"""Fault injection through ``/_emulator/faults``: kinds, filters, counts and validation."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx2
import pytest
from google import genai
from google.genai import errors, types

from gemgate.wire import parse_error

from .conftest import KEY, Target

pytestmark = [
    pytest.mark.anyio,
    # google-genai subclasses aiohttp.ClientSession when aiohttp is installed.
]
MODEL = "gemini-2.5-flash"
BODY = {"contents": [{"role": "user", "parts": [{"text": "Tell me about faults"}]}]}


async def _post(
    target: Target, method: str = "generateContent", model: str = MODEL, key: str = KEY
) -> httpx2.Response:
    return await target.http.post(
        f"/v1beta/models/{model}:{method}", json=BODY, headers={"x-goog-api-key": key}
    )


async def test_status_fault_with_retry_delay(target: Target) -> None:
    await target.faults({"kind": "status", "status": 429, "retry_delay": "2.5s"})
    client = target.sdk()
    with pytest.raises(errors.ClientError) as info:
        await client.aio.models.generate_content(model=MODEL, contents="hi")
    assert info.value.code == 429 and info.value.status == "RESOURCE_EXHAUSTED"
    parsed = parse_error(info.value.details, status_code=429)
    assert parsed.retry_delay == 2.5
    assert parsed.quota_violations == ()


@pytest.mark.parametrize(
    ("status", "name"), [(500, "INTERNAL"), (503, "UNAVAILABLE"), (504, "DEADLINE_EXCEEDED")]
)
async def test_status_fault_codes(target: Target, status: int, name: str) -> None:
    await target.faults({"kind": "status", "status": status, "message": "custom text"})
    response = await _post(target)
    assert response.status_code == status
    parsed = parse_error(response.content, status_code=status)
    assert (parsed.code, parsed.status, parsed.message) == (status, name, "custom text")
    assert parsed.retry_delay is None


async def test_times_limits_the_hits(target: Target) -> None:
    await target.faults({"kind": "status", "status": 503, "times": 2})
    codes = [(await _post(target)).status_code for _ in range(5)]
    assert codes == [503, 503, 200, 200, 200]
    listed = (await target.http.get("/_emulator/faults")).json()
    assert listed["faults"][0]["times"] == 2


async def _pattern(target: Target, rules: list[dict[str, Any]], count: int) -> list[bool]:
    assert (await target.http.post("/_emulator/reset")).status_code == 200
    await target.faults(*rules)
    return [(await _post(target)).status_code == 503 for _ in range(count)]


async def test_probability_is_seeded_and_reproducible(target: Target) -> None:
    rules = [{"kind": "status", "status": 503, "probability": 0.5}]
    first = await _pattern(target, rules, 40)
    assert 0 < sum(first) < 40
    assert 8 <= sum(first) <= 32  # a fair coin, not a stuck one
    again = await _pattern(target, rules, 40)
    assert again == first
    stats = await target.stats()
    assert stats["projects"]["proj-free"]["faults"] == sum(first)


async def test_filter_by_method(target: Target) -> None:
    await target.faults({"kind": "status", "status": 500, "method": "streamGenerateContent"})
    assert (await _post(target)).status_code == 200
    assert (await _post(target, "streamGenerateContent")).status_code == 500
    count = await _post(target, "countTokens")
    assert count.status_code == 200


async def test_filter_by_model(target: Target) -> None:
    await target.faults({"kind": "status", "status": 503, "model": "models/gemini-2.5-pro"})
    assert (await _post(target)).status_code == 200
    assert (await _post(target, model="gemini-2.5-pro")).status_code == 503
    # An alias resolves to the same model before the rule is matched.
    assert (await _post(target, model="gemini-pro-latest")).status_code == 503


async def test_filter_by_project(target: Target) -> None:
    await target.faults({"kind": "status", "status": 503, "project": "proj-a"})
    assert (await _post(target)).status_code == 200
    assert (await _post(target, key="key-a1")).status_code == 503
    assert (await _post(target, key="key-a2")).status_code == 503
    assert (await _post(target, key="key-b1", model="gemini-2.5-flash-lite")).status_code == 200


async def test_first_matching_rule_wins(target: Target) -> None:
    await target.faults(
        {"kind": "status", "status": 500, "model": "gemini-2.5-pro", "times": 1},
        {"kind": "status", "status": 504},
    )
    assert (await _post(target, model="gemini-2.5-pro")).status_code == 500
    assert (await _post(target, model="gemini-2.5-pro")).status_code == 504
    assert (await _post(target)).status_code == 504


async def test_delay_still_answers(target: Target) -> None:
    await target.faults({"kind": "delay", "delay_ms": 50, "times": 1})
    client = target.sdk()
    started = time.monotonic()
    response = await client.aio.models.generate_content(model=MODEL, contents="slowly")
    assert time.monotonic() - started >= 0.05
    assert response.text and "slowly" in response.text
    stats = await target.stats()
    assert stats["totals"]["faults"] == 1
    assert stats["totals"]["requests"] == stats["totals"]["admitted"] == 1


async def test_drop_closes_the_connection(target: Target) -> None:
    await target.faults({"kind": "drop", "times": 2})
    # An httpx2 transport in both modes: the SDK's aiohttp path would retry a drop silently.
    options = types.HttpOptions(base_url=target.base, httpx_async_client=target.http)
    client = genai.Client(api_key=KEY, http_options=options)
    expected: tuple[type[BaseException], ...] = (ConnectionResetError,)
    if target.mode == "server":
        expected = (httpx2.RemoteProtocolError, httpx2.ReadError)
    with pytest.raises(expected):
        await client.aio.models.generate_content(model=MODEL, contents="hi")
    with pytest.raises(expected):
        await _post(target)  # raw httpx2: no response at all
    assert (await client.aio.models.generate_content(model=MODEL, contents="hi")).text
    stats = await target.stats()
    assert stats["projects"]["proj-free"]["faults"] == 2
    assert stats["projects"]["proj-free"]["requests"] == 3
    assert stats["projects"]["proj-free"]["admitted"] == 1


async def test_malformed_body(target: Target) -> None:
    await target.faults({"kind": "malformed", "method": "generateContent"})
    raw = await _post(target)
    assert raw.status_code == 200
    assert raw.headers["content-type"].startswith("application/json")
    with pytest.raises(ValueError):
        json.loads(raw.content)
    client = target.sdk()
    with pytest.raises(Exception) as info:  # the SDK raises whatever it raises
        await client.aio.models.generate_content(model=MODEL, contents="hi")
    assert not isinstance(info.value, errors.APIError) or info.value.code != 200


async def test_malformed_stream_breaks_the_array(target: Target) -> None:
    await target.faults({"kind": "malformed", "method": "streamGenerateContent"})
    raw = await _post(target, "streamGenerateContent")
    assert raw.status_code == 200 and raw.content.startswith(b"[")
    with pytest.raises(ValueError):
        json.loads(raw.content)


async def test_midstream_only_hits_streams(target: Target) -> None:
    await target.faults({"kind": "midstream", "after_chunks": 1})
    client = target.sdk()
    assert (await client.aio.models.generate_content(model=MODEL, contents="hi")).text
    count = await client.aio.models.count_tokens(model=MODEL, contents="hi")
    assert count.total_tokens == 1
    await target.faults({"kind": "midstream", "method": "generateContent"})
    assert (await _post(target)).status_code == 200
    stats = await target.stats()
    assert stats["projects"]["proj-free"]["faults"] == 0


async def test_midstream_after_zero_chunks(target: Target) -> None:
    await target.faults({"kind": "midstream", "after_chunks": 0, "status": 503})
    raw = await _post(target, "streamGenerateContent")
    items = json.loads(raw.content)
    assert len(items) == 1
    assert parse_error(items, status_code=raw.status_code).code == 503


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"faults": [{"kind": "explode"}]}, "faults.0.kind"),
        ({"faults": [{"kind": "status", "colour": "red"}]}, "faults.0.colour"),
        ({"faults": [{"kind": "status", "retry_delay": "soon"}]}, "faults.0.retry_delay"),
        ({"faults": [{"kind": "status", "status": 200}]}, "faults.0.status"),
        ({"faults": [{"kind": "status", "probability": 1.5}]}, "faults.0.probability"),
        ({"faults": [{"kind": "status", "times": 0}]}, "faults.0.times"),
        ({"faults": [{"method": "generateContent"}]}, "faults.0.kind"),
        ({"faults": {"kind": "status"}}, "faults"),
        ({"rules": []}, "rules"),
    ],
)
async def test_invalid_fault_bodies(target: Target, body: Any, field: str) -> None:
    await target.faults({"kind": "status", "status": 503})
    response = await target.http.post("/_emulator/faults", json=body)
    assert response.status_code == 400
    parsed = parse_error(response.content, status_code=400)
    assert parsed.code == 400 and parsed.status == "INVALID_ARGUMENT"
    assert field in parsed.message
    assert field in [v.field for v in parsed.field_violations]
    # A refused update leaves the previous rules in place.
    listed = (await target.http.get("/_emulator/faults")).json()
    assert [r["kind"] for r in listed["faults"]] == ["status"]


@pytest.mark.parametrize("raw", [b"[1, 2]", b"{not json", b'"faults"'])
async def test_fault_body_must_be_a_json_object(target: Target, raw: bytes) -> None:
    response = await target.http.post(
        "/_emulator/faults", content=raw, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert parse_error(response.content, status_code=400).status == "INVALID_ARGUMENT"


async def test_get_lists_rules_and_empty_list_clears(target: Target) -> None:
    assert (await target.http.get("/_emulator/faults")).json() == {"faults": []}
    await target.faults(
        {"kind": "delay", "delay_ms": 1, "model": "models/gemini-2.5-pro"},
        {"kind": "status", "status": 504, "project": "proj-b", "times": 3},
    )
    listed = (await target.http.get("/_emulator/faults")).json()["faults"]
    assert [(r["kind"], r.get("model"), r.get("project")) for r in listed] == [
        ("delay", "gemini-2.5-pro", None),
        ("status", None, "proj-b"),
    ]
    assert listed[1]["status"] == 504 and listed[1]["times"] == 3
    await target.faults()
    assert (await target.http.get("/_emulator/faults")).json() == {"faults": []}
    await target.faults({"kind": "status"})
    assert (await target.http.post("/_emulator/reset")).status_code == 200
    assert (await target.http.get("/_emulator/faults")).json() == {"faults": []}


async def test_stats_count_faults(target: Target) -> None:
    await target.faults(
        {"kind": "status", "status": 503, "times": 2},
        {"kind": "midstream", "after_chunks": 1, "times": 1},
    )
    assert (await _post(target)).status_code == 503
    assert (await _post(target)).status_code == 503
    assert (await _post(target, "streamGenerateContent")).status_code == 200  # midstream
    assert (await _post(target)).status_code == 200
    got = (await target.stats())["projects"]["proj-free"]
    assert got["faults"] == 3
    assert got["requests"] == 4
    assert got["admitted"] == 2
    assert got["rate_limited"] == 0
