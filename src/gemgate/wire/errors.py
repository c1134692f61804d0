"""Google error bodies: a `google.rpc.Status` inside an ``{"error": ...}`` envelope.

`parse_error` turns any error response (JSON or not, wrapped in an array or not,
or a mid-stream SSE error payload) into a `GoogleError` and never raises. The
builders (`error_body`, `retry_info`, ...) produce the same shapes, so the
emulator and the client share one reading of the format.

Example:
    >>> body = error_body(429, "Quota exceeded.", details=[retry_info(26.5)])
    >>> parse_error(body, status_code=429).retry_delay
    26.5
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

from gemgate.wire._rpc import (
    BAD_REQUEST,
    CODE_FOR_STATUS,
    ERROR_INFO,
    HELP,
    LOCALIZED_MESSAGE,
    QUOTA_FAILURE,
    RETRY_INFO,
    STATUS_FOR_CODE,
    FieldViolation,
    GoogleError,
    QuotaViolation,
    bad_request,
    error_body,
    error_info,
    help_links,
    quota_failure,
    retry_info,
)
from gemgate.wire.durations import parse_duration

__all__ = [
    "BAD_REQUEST",
    "CODE_FOR_STATUS",
    "ERROR_INFO",
    "FieldViolation",
    "GoogleError",
    "HELP",
    "LOCALIZED_MESSAGE",
    "QUOTA_FAILURE",
    "QuotaViolation",
    "RETRY_INFO",
    "STATUS_FOR_CODE",
    "bad_request",
    "error_body",
    "error_info",
    "help_links",
    "parse_error",
    "quota_failure",
    "retry_info",
]


def parse_error(
    body: bytes | str | Mapping[str, Any] | Sequence[Any] | None,
    *,
    status_code: int,
    reason_phrase: str = "",
) -> GoogleError:
    """Parse an error response body; never raises.

    Accepts ``{"error": {...}}``, ``[{"error": {...}}]``, a bare Status, an SSE
    error payload (with or without its ``data:`` prefix), already-parsed JSON,
    and non-JSON or empty bodies (the message is then the text or `reason_phrase`).
    Malformed details are skipped.

    Args:
        body: The response body, raw or parsed.
        status_code: The HTTP status of the response.
        reason_phrase: The HTTP reason phrase, used when the body has no message.

    Returns:
        The parsed error.
    """
    payload, text = _load(body)
    status = _find_status(payload)
    if not isinstance(status, Mapping):
        message = status if isinstance(status, str) else text.strip()
        return GoogleError(
            code=status_code,
            status=STATUS_FOR_CODE.get(status_code),
            message=message or reason_phrase,
        )
    raw_code = status.get("code")
    code = raw_code if type(raw_code) is int else status_code
    raw_status = _str(status.get("status"))
    raw_details = status.get("details")
    details = tuple(d for d in _items(raw_details) if isinstance(d, Mapping))
    return GoogleError(
        code=code,
        status=raw_status or STATUS_FOR_CODE.get(code),
        message=_str(status.get("message")) or reason_phrase,
        details=details,
        **_read_details(details),
    )


def _load(body: object) -> tuple[object, str]:
    if isinstance(body, bytes):
        text = body.decode("utf-8", errors="replace")
    elif isinstance(body, str):
        text = body
    else:
        return body, ""
    stripped = text.strip()
    if stripped.startswith("data:"):  # a whole SSE frame rather than its payload
        lines = stripped.splitlines()
        stripped = "\n".join(line[5:].strip() for line in lines if line.startswith("data:"))
    try:
        return json.loads(stripped), text
    except (ValueError, RecursionError):
        return None, text


def _find_status(payload: object) -> object:
    """Return the Status mapping, an OAuth-style error string, or None."""
    if isinstance(payload, list | tuple):
        payload = next((item for item in payload if isinstance(item, Mapping)), None)
    if not isinstance(payload, Mapping):
        return None
    inner = payload.get("error")
    if isinstance(inner, Mapping):
        return inner
    if isinstance(inner, str):  # {"error": "invalid_grant", "error_description": "..."}
        return _str(payload.get("error_description")) or inner
    if any(key in payload for key in ("code", "message", "status")):
        return payload
    return None


def _read_details(details: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    retry_delay: float | None = None
    quotas: list[QuotaViolation] = []
    info: Mapping[str, Any] = {}
    fields: list[FieldViolation] = []
    for detail in details:
        kind = detail.get("@type")
        if kind == RETRY_INFO and retry_delay is None:
            retry_delay = _retry_delay(_pick(detail, "retryDelay", "retry_delay"))
        elif kind == QUOTA_FAILURE:
            quotas.extend(_quota_violation(v) for v in _mappings(detail.get("violations")))
        elif kind == ERROR_INFO and not info:
            info = detail
        elif kind == BAD_REQUEST:
            items = _mappings(_pick(detail, "fieldViolations", "field_violations"))
            fields.extend(
                FieldViolation(_str(i.get("field")), _str(i.get("description"))) for i in items
            )
    return {
        "retry_delay": retry_delay,
        "quota_violations": tuple(quotas),
        "reason": _str(info.get("reason")) or None,
        "domain": _str(info.get("domain")) or None,
        "metadata": _str_map(info.get("metadata")),
        "field_violations": tuple(fields),
    }


def _retry_delay(value: object) -> float | None:
    if isinstance(value, str):
        try:
            return parse_duration(value.strip())
        except ValueError:
            return None
    if not isinstance(value, Mapping):  # the proto form {"seconds": 2, "nanos": 500000000}
        return None
    seconds, nanos = _number(value.get("seconds", 0)), _number(value.get("nanos", 0))
    if seconds is None or nanos is None:
        return None
    total = seconds + nanos / 1e9
    return total if math.isfinite(total) and total >= 0 else None


def _quota_violation(item: Mapping[str, Any]) -> QuotaViolation:
    value = _pick(item, "quotaValue", "quota_value")
    return QuotaViolation(
        quota_metric=_str(_pick(item, "quotaMetric", "quota_metric")) or None,
        quota_id=_str(_pick(item, "quotaId", "quota_id")) or None,
        quota_dimensions=_str_map(_pick(item, "quotaDimensions", "quota_dimensions")),
        quota_value=str(value) if type(value) is int else (_str(value) or None),
    )


def _pick(mapping: Mapping[str, Any], camel: str, snake: str) -> Any:
    return mapping[camel] if camel in mapping else mapping.get(snake)


def _str(value: object) -> str:
    return value if isinstance(value, str) else ""


def _str_map(value: object) -> dict[str, str]:
    if not isinstance(value, Mapping):
        return {}
    return {k: v for k, v in value.items() if isinstance(k, str) and isinstance(v, str)}


def _items(value: object) -> tuple[object, ...]:
    return tuple(value) if isinstance(value, list | tuple) else ()


def _mappings(value: object) -> list[Mapping[str, Any]]:
    return [item for item in _items(value) if isinstance(item, Mapping)]


def _number(value: object) -> float | None:
    try:
        if type(value) is int or type(value) is float:
            return float(value)
        return float(int(value)) if isinstance(value, str) else None
    except (ValueError, OverflowError):
        return None
