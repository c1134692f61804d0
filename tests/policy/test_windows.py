from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from gemgate.policy._windows import MINUTE, QuotaWindow, Refusal, next_pacific_midnight
from gemgate.projects import Limits
from gemgate.state._base import Candidate, Grant, Shortage
from gemgate.state._memory import MemoryQuotaState

pytestmark = pytest.mark.anyio

PACIFIC = ZoneInfo("America/Los_Angeles")
T0 = 1_750_000_000.0  # 2025-06-15 08:06:40 PDT
HOUR = 3600.0


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, sec: int = 0) -> float:
    return datetime(year, month, day, hour, minute, sec, tzinfo=UTC).timestamp()


def pacific(year: int, month: int, day: int, hour: int = 0, minute: int = 0, sec: int = 0) -> float:
    return datetime(year, month, day, hour, minute, sec, tzinfo=PACIFIC).timestamp()


# --- RPM: a sliding minute ---------------------------------------------------------------


def test_rpm_refuses_until_the_oldest_counted_request_leaves_the_minute() -> None:
    limits = Limits(rpm=3)
    window = QuotaWindow()
    for offset in (0.0, 10.0, 20.0):
        assert window.check(limits, 1, T0 + offset) is None
        window.record(1, T0 + offset)

    assert window.check(limits, 1, T0 + 30.0) == Refusal("rpm", T0 + 60.0)
    assert window.check(limits, 1, T0 + 59.999) == Refusal("rpm", T0 + 60.0)
    assert window.check(limits, 1, T0 + 60.0) is None  # the first request just expired

    window.record(1, T0 + 60.0)
    assert window.check(limits, 1, T0 + 61.0) == Refusal("rpm", T0 + 70.0)
    assert window.check(limits, 1, T0 + 70.0) is None


def test_rpm_retry_at_counts_back_limit_requests_when_over_the_limit() -> None:
    window = QuotaWindow()
    for offset in (0.0, 1.0, 2.0, 3.0, 4.0):  # recorded without limits (e.g. limits lowered)
        window.record(1, T0 + offset)
    # room for one more under rpm=2 appears once only one request (t=4) is left, i.e. when
    # the one at t=3 leaves the minute
    assert window.check(Limits(rpm=2), 1, T0 + 5.0) == Refusal("rpm", T0 + 3.0 + MINUTE)
    assert window.check(Limits(rpm=2), 1, T0 + 3.0 + MINUTE) is None


def test_rpm_is_not_consulted_when_unset() -> None:
    window = QuotaWindow()
    for i in range(1000):
        window.record(1, T0 + i * 0.01)
    assert window.check(Limits(tpm=10_000_000), 1, T0 + 10.0) is None


# --- TPM: estimates, corrections, oversized requests -----------------------------------


def test_tpm_retry_at_is_when_enough_tokens_have_left_the_minute() -> None:
    limits = Limits(tpm=100)
    window = QuotaWindow()
    window.record(60, T0)
    window.record(30, T0 + 10.0)
    window.record(10, T0 + 15.0)  # 100 used

    assert window.check(limits, 50, T0 + 20.0) == Refusal("tpm", T0 + 60.0)  # 40 + 50 fits
    assert window.check(limits, 80, T0 + 20.0) == Refusal("tpm", T0 + 70.0)  # 10 + 80 fits
    assert window.check(limits, 95, T0 + 20.0) == Refusal("tpm", T0 + 75.0)  # needs all gone
    assert window.check(limits, 50, T0 + 60.0) is None


def test_tpm_admits_a_request_that_exactly_fills_the_window() -> None:
    window = QuotaWindow()
    window.record(70, T0)
    assert window.check(Limits(tpm=100), 30, T0 + 1.0) is None
    assert window.check(Limits(tpm=100), 31, T0 + 1.0) == Refusal("tpm", T0 + MINUTE)


def test_a_request_larger_than_tpm_is_admitted_into_an_empty_window() -> None:
    """The client cannot split it; the service decides (it may answer 429 or 400)."""
    limits = Limits(tpm=100)
    window = QuotaWindow()
    assert window.check(limits, 500, T0) is None
    window.record(500, T0)
    # ...but it then fills the minute for everyone else
    assert window.check(limits, 1, T0 + 30.0) == Refusal("tpm", T0 + MINUTE)
    assert window.check(limits, 1, T0 + MINUTE) is None


def test_a_request_larger_than_tpm_waits_for_an_empty_window() -> None:
    limits = Limits(tpm=100)
    window = QuotaWindow()
    window.record(10, T0)
    window.record(10, T0 + 5.0)
    assert window.check(limits, 500, T0 + 6.0) == Refusal("tpm", T0 + 5.0 + MINUTE)
    assert window.check(limits, 500, T0 + 5.0 + MINUTE) is None


async def test_reconciled_token_counts_change_admission() -> None:
    state = MemoryQuotaState()
    only = [Candidate("p", Limits(tpm=100))]

    grant = await state.acquire("m", only, 90, T0)  # an overestimate
    assert isinstance(grant, Grant)
    refused = await state.acquire("m", only, 20, T0 + 1.0)
    assert isinstance(refused, Shortage)
    assert refused.retry_at == T0 + MINUTE

    await state.reconcile("m", grant, 10)  # promptTokenCount said 10
    assert isinstance(await state.acquire("m", only, 20, T0 + 2.0), Grant)


async def test_reconciling_upwards_refuses_what_the_estimate_allowed() -> None:
    state = MemoryQuotaState()
    only = [Candidate("p", Limits(tpm=100))]
    grant = await state.acquire("m", only, 10, T0)  # an underestimate
    assert isinstance(grant, Grant)
    await state.reconcile("m", grant, 95)

    refused = await state.acquire("m", only, 10, T0 + 1.0)
    assert isinstance(refused, Shortage)
    assert refused.retry_at == T0 + MINUTE
    assert refused.reasons == {"p": f"tpm until {T0 + MINUTE:.3f}"}


# --- RPD: the Pacific day -----------------------------------------------------------------


def test_rpd_refuses_until_pacific_midnight_then_resets() -> None:
    limits = Limits(rpd=2)
    window = QuotaWindow()
    window.record(1, T0)
    window.record(1, T0 + 600.0)
    midnight = utc(2025, 6, 16, 7)  # 2025-06-16 00:00 PDT

    assert window.check(limits, 1, T0 + 3 * HOUR) == Refusal("rpd", midnight)
    assert window.check(limits, 1, midnight - 0.001) == Refusal("rpd", midnight)
    assert window.check(limits, 1, midnight) is None
    assert window.day_count == 0


def test_rpd_is_checked_before_rpm() -> None:
    window = QuotaWindow()
    window.record(1, T0)
    refusal = window.check(Limits(rpm=1, rpd=1), 1, T0 + 1.0)
    assert refusal is not None
    assert refusal.metric == "rpd"


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (pacific(2025, 6, 15, 8, 6, 40), utc(2025, 6, 16, 7)),
        (pacific(2025, 1, 15, 23, 59, 59), utc(2025, 1, 16, 8)),
        (pacific(2025, 1, 16), utc(2025, 1, 17, 8)),  # strictly after a midnight
        (utc(2025, 1, 16, 7, 59, 59), utc(2025, 1, 16, 8)),  # 23:59:59 PST
    ],
)
def test_next_pacific_midnight(now: float, expected: float) -> None:
    assert next_pacific_midnight(now) == expected


@pytest.mark.parametrize(
    ("day", "hours", "start_utc", "end_utc"),
    [
        ((2025, 3, 9), 23, (2025, 3, 9, 8), (2025, 3, 10, 7)),  # spring forward
        ((2025, 11, 2), 25, (2025, 11, 2, 7), (2025, 11, 3, 8)),  # fall back
        ((2025, 6, 15), 24, (2025, 6, 15, 7), (2025, 6, 16, 7)),
    ],
)
def test_pacific_days_around_dst(
    day: tuple[int, int, int],
    hours: int,
    start_utc: tuple[int, int, int, int],
    end_utc: tuple[int, int, int, int],
) -> None:
    start = next_pacific_midnight(utc(*start_utc) - 1.0)
    assert start == utc(*start_utc)
    end = next_pacific_midnight(start)
    assert end == utc(*end_utc)
    assert end - start == hours * HOUR
    noon = pacific(*day, 12)
    assert next_pacific_midnight(noon) == end


def test_rpd_day_lasts_25_hours_when_the_clocks_fall_back() -> None:
    limits = Limits(rpd=1)
    window = QuotaWindow()
    start = utc(2025, 11, 2, 7, 30)  # 00:30 PDT, the first of 25 hours
    window.record(1, start)
    reset = utc(2025, 11, 3, 8)  # 00:00 PST
    assert window.check(limits, 1, start + 24 * HOUR) == Refusal("rpd", reset)
    assert window.check(limits, 1, reset) is None
    assert reset - start == 24.5 * HOUR


# --- tokens used on an open connection (Live turns) ------------------------------------


def test_spent_tokens_count_against_tpm_but_make_no_request() -> None:
    limits = Limits(rpm=2, tpm=100)
    window = QuotaWindow()
    window.record(10, T0)
    window.spend(70, T0 + 10.0)
    counts = window.counts(T0 + 20.0)
    assert (counts.requests, counts.tokens) == (1, 80)
    assert window.check(limits, 20, T0 + 20.0) is None  # 80 + 20 fits, and rpm has room
    assert window.check(limits, 21, T0 + 20.0) == Refusal("tpm", T0 + 60.0)  # the request's 10
    assert window.check(limits, 31, T0 + 20.0) == Refusal("tpm", T0 + 70.0)  # and the spend's 70
    window.spend(20, T0 + 30.0)
    assert window.check(limits, 10, T0 + 40.0) == Refusal("tpm", T0 + 60.0)
    assert window.check(limits, 11, T0 + 40.0) == Refusal("tpm", T0 + 70.0)
    assert window.check(limits, 100, T0 + 90.0) is None  # all of it has left the minute


async def test_memory_state_spends_tokens_on_the_projects_window() -> None:
    state = MemoryQuotaState()
    only = [Candidate("p", Limits(tpm=100))]
    assert isinstance(await state.acquire("m", only, 0, T0), Grant)
    await state.spend("p", "m", 90, T0 + 1.0)
    shortage = await state.acquire("m", only, 20, T0 + 2.0)
    assert isinstance(shortage, Shortage) and shortage.retry_at == T0 + 61.0
    assert (await state.usage(T0 + 2.0))[("p", "m")].tokens == 90
