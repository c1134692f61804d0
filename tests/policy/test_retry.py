from __future__ import annotations

from typing import Any

import pytest

from gemgate.policy._retry import (
    DEFAULT_COOLDOWN,
    Action,
    Backoff,
    Verdict,
    classify_status,
    classify_transport,
)
from gemgate.policy._windows import next_pacific_midnight
from gemgate.wire.errors import (
    FieldViolation,
    GoogleError,
    QuotaViolation,
    bad_request,
    error_body,
    error_info,
    parse_error,
    quota_failure,
    retry_info,
)

NOW = 1_750_000_000.0  # 2025-06-15 08:06:40 PDT
MIDNIGHT = 1_750_057_200.0  # 2025-06-16 00:00 PDT

PER_MINUTE = QuotaViolation(
    quota_metric="generativelanguage.googleapis.com/generate_content_free_tier_requests",
    quota_id="GenerateRequestsPerMinutePerProjectPerModel-FreeTier",
    quota_dimensions={"location": "global", "model": "gemini-2.5-flash"},
    quota_value="10",
)
PER_DAY = QuotaViolation(
    quota_metric="generativelanguage.googleapis.com/generate_content_free_tier_requests",
    quota_id="GenerateRequestsPerDayPerProjectPerModel-FreeTier",
    quota_dimensions={"location": "global", "model": "gemini-2.5-flash"},
    quota_value="250",
)


def error(status: int, *details: dict[str, Any], message: str = "Something.") -> GoogleError:
    return parse_error(error_body(status, message, details=details), status_code=status)


def classify(status: int, *details: dict[str, Any], scoped: bool = False) -> Verdict:
    return classify_status(status, error(status, *details), NOW, scoped_resource=scoped)


# --- 429 ---------------------------------------------------------------------------------


def test_429_with_retry_info_cools_for_the_fractional_delay() -> None:
    verdict = classify(429, quota_failure([PER_MINUTE]), retry_info(2.5))
    assert verdict == Verdict(Action.COOL, NOW + 2.5)


def test_429_with_retry_info_alone_cools_for_its_delay() -> None:
    assert classify(429, retry_info(38.804097346)) == Verdict(Action.COOL, NOW + 38.804097346)


def test_429_per_day_parks_until_the_next_pacific_midnight() -> None:
    assert next_pacific_midnight(NOW) == MIDNIGHT
    assert classify(429, quota_failure([PER_DAY])) == Verdict(Action.PARK, MIDNIGHT)


def test_429_per_day_parks_even_when_retry_info_says_seconds() -> None:
    verdict = classify(429, quota_failure([PER_MINUTE, PER_DAY]), retry_info(26.0))
    assert verdict == Verdict(Action.PARK, MIDNIGHT)


def test_429_without_details_cools_for_the_default() -> None:
    assert DEFAULT_COOLDOWN > 0
    assert classify(429) == Verdict(Action.COOL, NOW + DEFAULT_COOLDOWN)


def test_429_per_minute_without_retry_info_cools_for_the_default() -> None:
    assert classify(429, quota_failure([PER_MINUTE])) == Verdict(
        Action.COOL, NOW + DEFAULT_COOLDOWN
    )


# --- keys ---------------------------------------------------------------------------------


def test_400_api_key_invalid_disables_the_key() -> None:
    invalid = error_info(
        "API_KEY_INVALID", metadata={"service": "generativelanguage.googleapis.com"}
    )
    assert classify(400, invalid) == Verdict(Action.DISABLE_KEY)


@pytest.mark.parametrize(
    "details",
    [
        (),
        (bad_request([FieldViolation("contents", "contents is not specified")]),),
        (error_info("SERVICE_DISABLED"),),
    ],
)
def test_other_400s_fail(details: tuple[dict[str, Any], ...]) -> None:
    assert classify(400, *details) == Verdict(Action.FAIL)


def test_403_disables_the_key() -> None:
    assert classify(403) == Verdict(Action.DISABLE_KEY)


def test_403_on_a_project_scoped_resource_fails_instead() -> None:
    assert classify(403, scoped=True) == Verdict(Action.FAIL)


def test_403_on_a_resource_of_unknown_owner_tries_the_other_projects() -> None:
    verdict = classify_status(403, error(403), NOW, scoped_resource=True, owner_unknown=True)
    assert verdict == Verdict(Action.OTHER_PROJECT)
    assert classify_status(401, error(401), NOW, scoped_resource=True, owner_unknown=True) == (
        Verdict(Action.DISABLE_KEY)  # a bad key is a bad key, whoever owns the file
    )


@pytest.mark.parametrize("scoped", [False, True])
def test_401_disables_the_key(scoped: bool) -> None:
    assert classify(401, scoped=scoped) == Verdict(Action.DISABLE_KEY)


# --- transient and final ------------------------------------------------------------------


@pytest.mark.parametrize("status", [408, 500, 502, 503, 504])
@pytest.mark.parametrize("scoped", [False, True])
def test_transient_statuses_retry(status: int, scoped: bool) -> None:
    assert classify(status, scoped=scoped) == Verdict(Action.RETRY)


@pytest.mark.parametrize("status", [404, 409, 413, 501])
def test_other_statuses_fail(status: int) -> None:
    assert classify(status) == Verdict(Action.FAIL)


def test_transport_failures_retry() -> None:
    assert classify_transport() == Verdict(Action.RETRY)


@pytest.mark.parametrize(
    "message",
    [
        "API key not valid. Please pass a valid API key.",
        "Quota exceeded for quota metric 'GenerateRequestsPerDayPerProjectPerModel'.",
        "The model is overloaded. Please try again later.",
    ],
)
def test_classification_ignores_the_message(message: str) -> None:
    def verdict(status: int) -> Verdict:
        return classify_status(status, error(status, message=message), NOW)

    assert verdict(400) == Verdict(Action.FAIL)
    assert verdict(429) == Verdict(Action.COOL, NOW + DEFAULT_COOLDOWN)
    assert verdict(503) == Verdict(Action.RETRY)
    assert verdict(404) == Verdict(Action.FAIL)


# --- backoff ------------------------------------------------------------------------------

ALMOST_ONE = 1.0 - 1e-9


@pytest.mark.parametrize("attempt", range(8))
def test_backoff_full_jitter_bounds(attempt: int) -> None:
    backoff = Backoff(base=0.5, cap=20.0)
    ceiling = min(20.0, 0.5 * 2**attempt)
    assert backoff.delay(attempt, draw=lambda: 0.0) == 0.0
    high = backoff.delay(attempt, draw=lambda: ALMOST_ONE)
    assert ceiling * 0.999 < high < ceiling
    assert backoff.delay(attempt, draw=lambda: 0.5) == pytest.approx(ceiling / 2)


def test_backoff_grows_exponentially_then_caps() -> None:
    backoff = Backoff(base=0.5, cap=8.0)
    ceilings = [backoff.delay(n, draw=lambda: 1.0) for n in range(7)]
    assert ceilings == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0]


def test_backoff_multiplier() -> None:
    backoff = Backoff(base=1.0, cap=100.0, multiplier=3.0)
    assert [backoff.delay(n, draw=lambda: 1.0) for n in range(5)] == [1, 3, 9, 27, 81]


def test_backoff_huge_attempt_numbers_stay_capped() -> None:
    assert Backoff(base=0.5, cap=20.0).delay(10_000, draw=lambda: 0.5) == 10.0
