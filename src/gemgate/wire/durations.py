"""Proto3-JSON durations (``"1.5s"``) and RFC 3339 timestamps, as pure conversions.

Gemini encodes `google.protobuf.Duration` as a decimal number of seconds with an
``s`` suffix and `google.protobuf.Timestamp` as an RFC 3339 UTC string. These
functions convert between those strings and plain floats (seconds, or seconds
since the Unix epoch). They never read a clock.

Example:
    >>> parse_duration("38.804097346s")
    38.804097346
    >>> format_duration(2.5)
    '2.5s'
    >>> format_timestamp(0.5)
    '1970-01-01T00:00:00.500000Z'
    >>> parse_timestamp("1970-01-01T01:00:00+01:00")
    0.0
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta

__all__ = ["format_duration", "format_timestamp", "parse_duration", "parse_timestamp"]

_DURATION_RE = re.compile(r"(-?)([0-9]+)(?:\.([0-9]{1,9}))?s", re.ASCII)
_TIMESTAMP_RE = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})"
    r"(?:\.([0-9]{3}|[0-9]{6}|[0-9]{9}))?"
    r"(?:(Z)|([+-])([0-9]{2}):([0-9]{2}))",
    re.ASCII,
)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def parse_duration(value: str) -> float:
    """Parse a proto3-JSON duration such as ``"26s"`` or ``"38.804097346s"``.

    Args:
        value: Decimal seconds (at most 9 fractional digits) followed by ``s``.

    Returns:
        The duration in seconds.

    Raises:
        ValueError: If `value` is not a duration string or is negative.

    Example:
        >>> parse_duration("3600s")
        3600.0
    """
    match = _DURATION_RE.fullmatch(value)
    if match is None:
        raise ValueError(
            f"invalid duration {value!r}: expected decimal seconds with an 's' suffix, like '1.5s'"
        )
    sign, whole, frac = match.groups()
    if sign:
        raise ValueError(f"invalid duration {value!r}: must not be negative")
    seconds = float(f"{whole}.{frac or '0'}")
    if not math.isfinite(seconds):
        raise ValueError(f"invalid duration {value!r}: out of range")
    return seconds


def format_duration(seconds: float) -> str:
    """Format seconds as a proto3-JSON duration string.

    Uses at most 9 fractional digits (nanoseconds), trailing zeros trimmed.

    Args:
        seconds: A finite, non-negative number of seconds.

    Returns:
        A string such as ``"26s"`` or ``"2.5s"``.

    Raises:
        ValueError: If `seconds` is negative, infinite or NaN.

    Example:
        >>> format_duration(26.0)
        '26s'
    """
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"invalid duration {seconds!r}: must be finite and not negative")
    text = f"{abs(seconds):.9f}".rstrip("0").rstrip(".")
    return f"{text}s"


def format_timestamp(epoch_seconds: float) -> str:
    """Format seconds since the Unix epoch as an RFC 3339 UTC timestamp.

    The result always has 6 fractional digits and a ``Z`` suffix.

    Args:
        epoch_seconds: Seconds since 1970-01-01T00:00:00Z (may be negative).

    Returns:
        A string such as ``"2025-07-01T10:00:00.123456Z"``.

    Raises:
        ValueError: If the value is not finite or is outside years 1-9999.

    Example:
        >>> format_timestamp(1751364000.123456)
        '2025-07-01T10:00:00.123456Z'
    """
    if not math.isfinite(epoch_seconds):
        raise ValueError(f"invalid timestamp {epoch_seconds!r}: must be finite")
    try:
        moment = _EPOCH + timedelta(seconds=epoch_seconds)
    except OverflowError as exc:
        raise ValueError(f"timestamp {epoch_seconds!r} is out of range") from exc
    return (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}"
        f"T{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}"
        f".{moment.microsecond:06d}Z"
    )


def parse_timestamp(value: str) -> float:
    """Parse an RFC 3339 timestamp into seconds since the Unix epoch.

    Accepts 0, 3, 6 or 9 fractional digits and either a ``Z`` suffix or a
    ``+hh:mm`` / ``-hh:mm`` offset.

    Args:
        value: A timestamp such as ``"2025-07-01T11:00:00.100Z"``.

    Returns:
        Seconds since 1970-01-01T00:00:00Z.

    Raises:
        ValueError: If `value` is not such a timestamp or names an impossible date.

    Example:
        >>> parse_timestamp("2025-07-01T10:00:00.123456Z")
        1751364000.123456
    """
    match = _TIMESTAMP_RE.fullmatch(value)
    if match is None:
        raise ValueError(
            f"invalid timestamp {value!r}: expected RFC 3339 like '2025-07-01T10:00:00.123Z'"
        )
    year, month, day, hour, minute, second, frac, zulu, sign, off_h, off_m = match.groups()
    try:
        moment = datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second), tzinfo=UTC
        )
        offset = timedelta(0)
        if not zulu:
            if int(off_h) > 23 or int(off_m) > 59:
                raise ValueError("offset out of range")
            offset = timedelta(hours=int(off_h), minutes=int(off_m))
            if sign == "-":
                offset = -offset
        delta = moment - offset - _EPOCH
    except (ValueError, OverflowError) as exc:
        raise ValueError(f"invalid timestamp {value!r}: {exc}") from exc
    whole = delta.days * 86_400 + delta.seconds
    fraction = int(frac) / 10 ** len(frac) if frac else 0.0
    return whole + fraction
