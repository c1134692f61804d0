from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gemgate.wire.durations import (
    format_duration,
    format_timestamp,
    parse_duration,
    parse_timestamp,
)

# 2025-07-01T10:00:00Z
JULY_FIRST = 1751364000


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("26s", 26.0),
        ("1.5s", 1.5),
        ("38.804097346s", 38.804097346),
        ("0s", 0.0),
        ("3600s", 3600.0),
        ("0.000000001s", 1e-9),
        ("007s", 7.0),
    ],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds, abs=1e-12)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "5",
        "5m",
        "abc",
        "s",
        ".5s",
        "5.s",
        "1.5",
        "1,5s",
        " 5s",
        "5s ",
        "+5s",
        "1e3s",
        "0.1234567891s",
        "５s",
        "1.5S",
        "infs",
        "nans",
    ],
)
def test_parse_duration_rejects_garbage(text: str) -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration(text)


@pytest.mark.parametrize("text", ["-1s", "-0.5s", "-0s"])
def test_parse_duration_rejects_negative(text: str) -> None:
    with pytest.raises(ValueError, match="negative"):
        parse_duration(text)


def test_parse_duration_rejects_overflow() -> None:
    with pytest.raises(ValueError, match="out of range"):
        parse_duration("9" * 400 + "s")


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (26.0, "26s"),
        (26, "26s"),
        (2.5, "2.5s"),
        (0.1234567891, "0.123456789s"),
        (0.0, "0s"),
        (-0.0, "0s"),
        (1e-9, "0.000000001s"),
        (1e-10, "0s"),
        (3600.25, "3600.25s"),
        (0.9999999999, "1s"),
    ],
)
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


@pytest.mark.parametrize("seconds", [-1.0, -1e-12, math.inf, -math.inf, math.nan])
def test_format_duration_rejects(seconds: float) -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        format_duration(seconds)


@settings(max_examples=200, deadline=None)
@given(st.floats(min_value=0, max_value=1e9, allow_nan=False))
def test_duration_round_trip(seconds: float) -> None:
    text = format_duration(seconds)
    assert text.endswith("s")
    assert parse_duration(text) == pytest.approx(seconds, abs=1e-9, rel=1e-15)


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=10**12), st.integers(min_value=0, max_value=10**9 - 1))
def test_duration_text_round_trip(whole: int, nanos: int) -> None:
    text = f"{whole}.{nanos:09d}s".replace(".000000000s", "s")
    assert parse_duration(format_duration(parse_duration(text))) == parse_duration(text)


@pytest.mark.parametrize(
    ("epoch", "text"),
    [
        (JULY_FIRST + 0.123456, "2025-07-01T10:00:00.123456Z"),
        (0, "1970-01-01T00:00:00.000000Z"),
        (0.5, "1970-01-01T00:00:00.500000Z"),
        (-1.5, "1969-12-31T23:59:58.500000Z"),
        (JULY_FIRST + 3600, "2025-07-01T11:00:00.000000Z"),
        (-62135596800, "0001-01-01T00:00:00.000000Z"),
    ],
)
def test_format_timestamp(epoch: float, text: str) -> None:
    assert format_timestamp(epoch) == text


@pytest.mark.parametrize("epoch", [math.inf, math.nan, 1e20, -1e20, -62135596801])
def test_format_timestamp_rejects(epoch: float) -> None:
    with pytest.raises(ValueError, match="timestamp"):
        format_timestamp(epoch)


@pytest.mark.parametrize(
    ("text", "epoch"),
    [
        ("2025-07-01T10:00:00Z", JULY_FIRST),
        ("2025-07-01T10:00:00.100Z", JULY_FIRST + 0.1),
        ("2025-07-01T10:00:00.123456Z", JULY_FIRST + 0.123456),
        ("2025-07-01T10:00:00.123456789Z", JULY_FIRST + 0.123456789),
        ("2025-07-01T12:00:00+02:00", JULY_FIRST),
        ("2025-07-01T04:30:00.500-05:30", JULY_FIRST + 0.5),
        ("2025-07-01T10:00:00+00:00", JULY_FIRST),
        ("1970-01-01T00:00:00Z", 0),
        ("1969-12-31T23:59:59.000Z", -1),
        ("2024-02-29T00:00:00Z", 1709164800),
    ],
)
def test_parse_timestamp(text: str, epoch: float) -> None:
    assert parse_timestamp(text) == pytest.approx(epoch, abs=1e-6)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "2025-07-01",
        "2025-07-01T10:00:00",
        "2025-07-01T10:00:00.1Z",
        "2025-07-01T10:00:00.12Z",
        "2025-07-01T10:00:00.1234Z",
        "2025-07-01T10:00:00.1234567890Z",
        "2025-07-01 10:00:00Z",
        "2025-07-01T10:00:00+0200",
        "2025-07-01T10:00Z",
        "2025-13-01T10:00:00Z",
        "2025-02-29T10:00:00Z",
        "2025-07-01T24:00:00Z",
        "2025-07-01T10:00:60Z",
        "2025-07-01T10:00:00+24:00",
        "2025-07-01T10:00:00+02:60",
        "0000-01-01T00:00:00Z",
        "2025-07-01T10:00:00ZZ",
        "２０２５-07-01T10:00:00Z",
    ],
)
def test_parse_timestamp_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="invalid timestamp"):
        parse_timestamp(text)


@settings(max_examples=200, deadline=None)
@given(st.floats(min_value=-4e9, max_value=4e9, allow_nan=False))
def test_timestamp_round_trip(epoch: float) -> None:
    # Within +-4e9 s a float still resolves well below a microsecond.
    text = format_timestamp(epoch)
    assert text.endswith("Z")
    assert len(text) == len("2025-07-01T10:00:00.123456Z")
    assert parse_timestamp(text) == pytest.approx(epoch, abs=2e-6)
    assert format_timestamp(parse_timestamp(text)) == text


@settings(max_examples=200, deadline=None)
@given(st.floats(min_value=-62135596800, max_value=253402300799, allow_nan=False))
def test_timestamp_round_trip_whole_range(epoch: float) -> None:
    assert parse_timestamp(format_timestamp(epoch)) == pytest.approx(epoch, abs=1e-4)
