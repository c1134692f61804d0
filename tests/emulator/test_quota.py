"""Per-project, per-model quotas: RPM, input-token TPM and RPD, plus the stats counters."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from google import genai
from google.genai import errors, types

from gemgate.emulator._config import Limits
from gemgate.emulator._quota import QuotaTracker, next_pacific_midnight
from gemgate.wire import parse_error
from gemgate.wire.errors import GoogleError
from tests.conftest import FakeClock

from .conftest import KEY, Target

pytestmark = [
    pytest.mark.anyio,
    # google-genai subclasses aiohttp.ClientSession when aiohttp is installed.
]
LITE = "gemini-2.5-flash-lite"
PRO = "gemini-2.5-pro"
EMBED = "text-embedding-004"
PACIFIC = ZoneInfo("America/Los_Angeles")


async def _generate(
    client: genai.Client, model: str = LITE, text: str = "hi"
) -> GoogleError | None:
    """None on success, the parsed error on a 429 (anything else fails the test)."""
    try:
        response = await client.aio.models.generate_content(model=model, contents=text)
    except errors.APIError as exc:
        assert exc.code == 429, exc
        return parse_error(exc.details, status_code=exc.code)
    assert response.text
    return None


def _clock(target: Target) -> FakeClock:
    assert target.clock is not None
    return target.clock


# -- through the API ------------------------------------------------------------------------


async def test_rpm_basic_429(target: Target) -> None:
    client = target.sdk(key="key-b1")  # proj-b: gemini-2.5-flash-lite rpm = 1
    assert await _generate(client) is None
    refused = await _generate(client)
    assert refused is not None
    assert refused.status == "RESOURCE_EXHAUSTED"
    assert refused.quota_violations[0].quota_id == "GenerateRequestsPerMinutePerProjectPerModel"
    assert refused.retry_delay is not None and 0 < refused.retry_delay <= 60
    stats = await target.stats()
    assert stats["projects"]["proj-b"]["rate_limited"] == 1


async def test_rpm_is_shared_by_the_keys_of_a_project(inprocess: Target) -> None:
    a1, a2 = inprocess.sdk(key="key-a1"), inprocess.sdk(key="key-a2")
    for client in (a1, a2, a1):
        assert await _generate(client) is None
    for client in (a2, a1):
        refused = await _generate(client)
        assert refused is not None and refused.quota_violations[0].per_minute
        assert refused.quota_violations[0].quota_value == "3"
    # Another project, and another model of the same project, are unaffected.
    assert await _generate(inprocess.sdk(key="key-b1")) is None
    assert await _generate(inprocess.sdk(key=KEY)) is None
    assert await _generate(a1, model="gemini-2.5-flash") is None
    assert await _generate(a2, model=PRO) is None


async def test_rpm_window_slides_and_retry_delay_is_exact(inprocess: Target) -> None:
    clock = _clock(inprocess)
    client = inprocess.sdk(key="key-a1")
    for _ in range(3):
        assert await _generate(client) is None
        clock.advance(10)  # requests at t=0, 10, 20
    refused = await _generate(client)  # t=30: the t=0 request frees the window at t=60
    assert refused is not None and refused.retry_delay == pytest.approx(30)
    clock.advance(29.5)
    refused = await _generate(client)
    assert refused is not None and refused.retry_delay == pytest.approx(0.5)
    clock.advance(0.5)  # t=60
    assert await _generate(client) is None
    refused = await _generate(client)  # window now holds t=10, 20, 60
    assert refused is not None and refused.retry_delay == pytest.approx(10)
    clock.advance(10)
    assert await _generate(client) is None


async def test_rpm_full_minute_frees_everything(inprocess: Target) -> None:
    client = inprocess.sdk(key="key-a2")
    for _ in range(3):
        assert await _generate(client) is None
    refused = await _generate(client)
    assert refused is not None and refused.retry_delay == pytest.approx(60)
    _clock(inprocess).advance(60)
    for _ in range(3):
        assert await _generate(client) is None
    assert await _generate(client) is not None


async def test_tpm_counts_input_tokens(inprocess: Target) -> None:
    client = inprocess.sdk(key="key-a1")  # proj-a: gemini-2.5-pro tpm = 60
    prompt = "word " * 50
    counted = await client.aio.models.count_tokens(model=PRO, contents=prompt)
    assert counted.total_tokens == 50
    response = await client.aio.models.generate_content(model=PRO, contents=prompt)
    assert response.usage_metadata and response.usage_metadata.prompt_token_count == 50
    _clock(inprocess).advance(15)
    refused = await _generate(client, model=PRO, text=prompt)
    assert refused is not None
    violation = refused.quota_violations[0]
    assert violation.quota_id is not None and "InputTokens" in violation.quota_id
    assert violation.per_minute and violation.quota_value == "60"
    assert violation.quota_metric is not None and "input_token_count" in violation.quota_metric
    assert refused.retry_delay == pytest.approx(45)
    # A small prompt still fits in the remaining 10 tokens.
    assert await _generate(client, model=PRO, text="a few small words") is None
    _clock(inprocess).advance(45)
    assert await _generate(client, model=PRO, text=prompt) is None


async def test_rpd_on_embeddings_ends_at_pacific_midnight(inprocess: Target) -> None:
    clock = _clock(inprocess)
    client = inprocess.sdk(key="key-a1")  # proj-a: text-embedding-004 rpd = 2
    for _ in range(2):
        result = await client.aio.models.embed_content(model=EMBED, contents="embed me")
        assert result.embeddings and len(result.embeddings[0].values or []) == 768
    clock.advance(3600)  # an hour later: still the same Pacific day
    with pytest.raises(errors.ClientError) as info:
        await client.aio.models.embed_content(model=EMBED, contents="embed me")
    parsed = parse_error(info.value.details, status_code=info.value.code)
    assert parsed.code == 429 and parsed.is_daily_quota
    violation = parsed.quota_violations[0]
    assert violation.quota_id is not None and "PerDay" in violation.quota_id
    assert violation.quota_value == "2"
    local = datetime.fromtimestamp(clock.now, PACIFIC)
    midnight = datetime.combine(local.date() + timedelta(days=1), datetime.min.time(), PACIFIC)
    assert parsed.retry_delay == pytest.approx(midnight.timestamp() - clock.now)
    clock.advance((parsed.retry_delay or 0) - 1)
    with pytest.raises(errors.ClientError):
        await client.aio.models.embed_content(model=EMBED, contents="embed me")
    clock.advance(1)
    assert (await client.aio.models.embed_content(model=EMBED, contents="embed me")).embeddings


async def test_count_tokens_is_not_rate_limited(inprocess: Target) -> None:
    client = inprocess.sdk(key="key-b1")  # rpm = 1
    assert await _generate(client) is None
    for _ in range(10):
        counted = await client.aio.models.count_tokens(model=LITE, contents="count me")
        assert counted.total_tokens == 2
    assert await _generate(client) is not None
    stats = await inprocess.stats()
    assert stats["projects"]["proj-b"]["requests"] == 2


async def test_stats_agree_with_what_clients_saw(inprocess: Target) -> None:
    seen: dict[str, Counter[str]] = {}
    plan = [
        ("proj-a", "key-a1", LITE, 3),
        ("proj-a", "key-a2", LITE, 2),
        ("proj-a", "key-a2", "gemini-2.5-flash", 2),
        ("proj-b", "key-b1", LITE, 3),
        ("proj-free", KEY, "gemini-2.5-flash", 4),
    ]
    for project, key, model, count in plan:
        client = inprocess.sdk(key=key)
        tally = seen.setdefault(project, Counter())
        for i in range(count):
            text = f"request number {i} for {model}"
            try:
                response = await client.aio.models.generate_content(model=model, contents=text)
            except errors.APIError as exc:
                assert exc.code == 429
                tally["rate_limited"] += 1
                continue
            tally["admitted"] += 1
            assert response.usage_metadata and response.usage_metadata.prompt_token_count
            tally["input_tokens"] += response.usage_metadata.prompt_token_count
    # A stream is one request; invalid requests never reach the quota.
    free = inprocess.sdk()
    chunks = [
        c
        async for c in await free.aio.models.generate_content_stream(
            model="gemini-2.5-flash", contents="stream this"
        )
    ]
    usage = chunks[-1].usage_metadata
    assert usage and usage.prompt_token_count
    seen["proj-free"]["admitted"] += 1
    seen["proj-free"]["input_tokens"] += usage.prompt_token_count
    with pytest.raises(errors.ClientError):
        await free.aio.models.generate_content(
            model=LITE, contents="x", config=types.GenerateContentConfig(top_p=3)
        )
    with pytest.raises(errors.ClientError):
        await free.aio.models.generate_content(model="gemini-nope", contents="x")

    stats = await inprocess.stats()
    assert set(stats["projects"]) == set(seen)
    for project, tally in seen.items():
        got = stats["projects"][project]
        assert got["admitted"] == tally["admitted"], project
        assert got["rate_limited"] == tally["rate_limited"], project
        assert got["requests"] == tally["admitted"] + tally["rate_limited"], project
        assert got["input_tokens"] == tally["input_tokens"], project
        assert got["faults"] == 0
    assert seen["proj-a"]["rate_limited"] == 2 and seen["proj-b"]["rate_limited"] == 2
    for counter in ("requests", "admitted", "rate_limited", "input_tokens", "faults"):
        assert stats["totals"][counter] == sum(p[counter] for p in stats["projects"].values())

    assert (await inprocess.http.post("/_emulator/reset")).status_code == 200
    cleared = await inprocess.stats()
    assert cleared["projects"] == {}
    assert set(cleared["totals"].values()) == {0}
    # The reset also cleared the windows: proj-b may send again at once.
    assert await _generate(inprocess.sdk(key="key-b1")) is None


# -- QuotaTracker and the Pacific day, directly ---------------------------------------------


def test_tracker_rpm_sliding_window() -> None:
    clock = FakeClock(1_000.0)
    tracker = QuotaTracker(clock)
    limits = Limits(rpm=2)
    assert tracker.admit("p", "m", limits, 5, family="Generate") is None
    clock.advance(20)
    assert tracker.admit("p", "m", limits, 5, family="Generate") is None
    clock.advance(10)
    refusal = tracker.admit("p", "m", limits, 5, family="Generate")
    assert refusal is not None
    assert refusal.retry_after == pytest.approx(30)
    assert refusal.violation.quota_id == "GenerateRequestsPerMinutePerProjectPerModel"
    assert refusal.violation.quota_dimensions == {"location": "global", "model": "m"}
    # Other models and other projects have their own windows.
    assert tracker.admit("p", "other", limits, 5, family="Generate") is None
    assert tracker.admit("q", "m", limits, 5, family="Generate") is None
    clock.advance(30)
    assert tracker.admit("p", "m", limits, 5, family="Generate") is None
    assert tracker.stats["p"] == {
        "requests": 5,
        "admitted": 4,
        "rate_limited": 1,
        "input_tokens": 20,
        "faults": 0,
    }


def test_tracker_tpm_waits_for_enough_tokens_to_free() -> None:
    clock = FakeClock(0.0)
    tracker = QuotaTracker(clock)
    limits = Limits(tpm=100)
    assert tracker.admit("p", "m", limits, 40, family="Generate") is None
    clock.advance(10)
    assert tracker.admit("p", "m", limits, 40, family="Generate") is None
    clock.advance(10)
    refusal = tracker.admit("p", "m", limits, 70, family="Generate")
    assert refusal is not None
    # 80 used; 70 more fits only once both earlier requests (t=0, t=10) have left.
    assert refusal.retry_after == pytest.approx(50)
    assert refusal.violation.quota_id == "GenerateContentInputTokensPerModelPerMinute"
    assert refusal.violation.quota_value == "100"
    assert tracker.admit("p", "m", limits, 20, family="Generate") is None
    embed = tracker.admit("p", "e", limits, 101, family="EmbedContent")
    assert embed is not None
    assert embed.violation.quota_id == "EmbedContentInputTokensPerModelPerMinute"
    assert tracker.stats["p"]["input_tokens"] == 100


def test_tracker_rpd_and_unlimited() -> None:
    clock = FakeClock(1_750_000_000.0)
    tracker = QuotaTracker(clock)
    limits = Limits(rpd=1)
    assert tracker.admit("p", "m", limits, 1, family="EmbedContent") is None
    refusal = tracker.admit("p", "m", limits, 1, family="EmbedContent")
    assert refusal is not None and refusal.violation.per_day
    assert refusal.retry_after == pytest.approx(next_pacific_midnight(clock.now) - clock.now)
    clock.advance(refusal.retry_after)
    assert tracker.admit("p", "m", limits, 1, family="EmbedContent") is None
    for _ in range(1000):
        assert tracker.admit("p", "m", None, 1, family="Generate") is None
    tracker.record_fault("p", before_admission=True)
    tracker.record_fault("p", before_admission=False)
    assert tracker.stats["p"]["requests"] == 1004
    assert tracker.stats["p"]["faults"] == 2
    tracker.reset()
    assert dict(tracker.stats) == {}
    assert tracker.admit("p", "m", limits, 1, family="EmbedContent") is None


def _utc(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


@pytest.mark.parametrize(
    ("now", "midnight", "hours"),
    [
        # An ordinary summer day (PDT, UTC-7).
        ("2025-06-15T15:06:40+00:00", "2025-06-16T07:00:00+00:00", None),
        # Spring forward, 2025-03-09: that local day has only 23 hours.
        ("2025-03-09T08:00:00+00:00", "2025-03-10T07:00:00+00:00", 23),
        ("2025-03-09T08:30:00+00:00", "2025-03-10T07:00:00+00:00", 22.5),
        # The evening before: still PST, midnight of 2025-03-09 is 08:00 UTC.
        ("2025-03-09T07:59:59+00:00", "2025-03-09T08:00:00+00:00", None),
        # Fall back, 2025-11-02: that local day has 25 hours.
        ("2025-11-02T07:00:00+00:00", "2025-11-03T08:00:00+00:00", 25),
        ("2025-11-02T09:30:00+00:00", "2025-11-03T08:00:00+00:00", 22.5),
        # Exactly at midnight the next one is a full day away.
        ("2025-01-01T08:00:00+00:00", "2025-01-02T08:00:00+00:00", 24),
    ],
)
def test_next_pacific_midnight(now: str, midnight: str, hours: float | None) -> None:
    start = _utc(now)
    result = next_pacific_midnight(start)
    assert result == _utc(midnight)
    if hours is not None:
        assert result - start == hours * 3600
    local = datetime.fromtimestamp(result, PACIFIC)
    assert (local.hour, local.minute, local.second) == (0, 0, 0)
    assert result > start
