"""The `google.rpc` error model: codes, detail type URLs, parsed errors and builders.

Import these from `gemgate.wire.errors` (or `gemgate.wire`), which adds the
parser; this module only keeps the data model and the builders apart from it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from gemgate.wire.durations import format_duration

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
    "quota_failure",
    "retry_info",
]

RETRY_INFO = "type.googleapis.com/google.rpc.RetryInfo"
QUOTA_FAILURE = "type.googleapis.com/google.rpc.QuotaFailure"
ERROR_INFO = "type.googleapis.com/google.rpc.ErrorInfo"
BAD_REQUEST = "type.googleapis.com/google.rpc.BadRequest"
HELP = "type.googleapis.com/google.rpc.Help"
LOCALIZED_MESSAGE = "type.googleapis.com/google.rpc.LocalizedMessage"

#: The canonical ``status`` Google sends with each HTTP error code.
STATUS_FOR_CODE: Mapping[int, str] = MappingProxyType(
    {
        400: "INVALID_ARGUMENT",
        401: "UNAUTHENTICATED",
        403: "PERMISSION_DENIED",
        404: "NOT_FOUND",
        409: "ABORTED",
        429: "RESOURCE_EXHAUSTED",
        499: "CANCELLED",
        500: "INTERNAL",
        501: "UNIMPLEMENTED",
        503: "UNAVAILABLE",
        504: "DEADLINE_EXCEEDED",
    }
)

#: The HTTP code for every `google.rpc.Code` name.
CODE_FOR_STATUS: Mapping[str, int] = MappingProxyType(
    {
        "OK": 200,
        "CANCELLED": 499,
        "UNKNOWN": 500,
        "INVALID_ARGUMENT": 400,
        "DEADLINE_EXCEEDED": 504,
        "NOT_FOUND": 404,
        "ALREADY_EXISTS": 409,
        "PERMISSION_DENIED": 403,
        "UNAUTHENTICATED": 401,
        "RESOURCE_EXHAUSTED": 429,
        "FAILED_PRECONDITION": 400,
        "ABORTED": 409,
        "OUT_OF_RANGE": 400,
        "UNIMPLEMENTED": 501,
        "INTERNAL": 500,
        "UNAVAILABLE": 503,
        "DATA_LOSS": 500,
    }
)


@dataclass(frozen=True, slots=True)
class QuotaViolation:
    """One `google.rpc.QuotaFailure` violation.

    Example:
        >>> QuotaViolation(quota_id="GenerateRequestsPerDayPerProjectPerModel-FreeTier").per_day
        True
    """

    quota_metric: str | None = None
    quota_id: str | None = None
    quota_dimensions: Mapping[str, str] = dataclasses.field(default_factory=dict)
    quota_value: str | None = None

    @property
    def per_day(self) -> bool:
        """Whether this is a daily quota (retrying soon is futile)."""
        return self.quota_id is not None and "PerDay" in self.quota_id

    @property
    def per_minute(self) -> bool:
        """Whether this is a per-minute quota."""
        return self.quota_id is not None and "PerMinute" in self.quota_id


@dataclass(frozen=True, slots=True)
class FieldViolation:
    """One `google.rpc.BadRequest` field violation.

    Example:
        >>> FieldViolation("contents", "contents is not specified").field
        'contents'
    """

    field: str
    description: str


@dataclass(frozen=True, slots=True)
class GoogleError:
    """A parsed Google error response.

    Attributes:
        code: The HTTP code (from the body when it carries an int, else the response).
        status: The `google.rpc.Code` name, such as ``"RESOURCE_EXHAUSTED"``.
        message: The human-readable message.
        retry_delay: `RetryInfo.retryDelay` in seconds.
        quota_violations: All `QuotaFailure` violations.
        reason: `ErrorInfo.reason`, such as ``"API_KEY_INVALID"``.
        domain: `ErrorInfo.domain`.
        metadata: `ErrorInfo.metadata`.
        field_violations: All `BadRequest` field violations.
        details: The raw detail objects, including kinds not parsed above.

    Example:
        >>> error = GoogleError(code=429, status="RESOURCE_EXHAUSTED", message="slow down")
        >>> error.is_daily_quota, error.api_key_invalid
        (False, False)
    """

    code: int
    status: str | None
    message: str
    retry_delay: float | None = None
    quota_violations: tuple[QuotaViolation, ...] = ()
    reason: str | None = None
    domain: str | None = None
    metadata: Mapping[str, str] = dataclasses.field(default_factory=dict)
    field_violations: tuple[FieldViolation, ...] = ()
    details: tuple[Mapping[str, Any], ...] = ()

    @property
    def is_daily_quota(self) -> bool:
        """Whether any quota violation is a daily one."""
        return any(violation.per_day for violation in self.quota_violations)

    @property
    def api_key_invalid(self) -> bool:
        """Whether Google rejected the API key (``ErrorInfo.reason == "API_KEY_INVALID"``)."""
        return self.reason == "API_KEY_INVALID"


def error_body(
    code: int,
    message: str,
    *,
    status: str | None = None,
    details: Sequence[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    """Build a Google error body.

    Args:
        code: The HTTP code.
        message: The human-readable message.
        status: The `google.rpc.Code` name; defaults from `STATUS_FOR_CODE`
            (``"UNKNOWN"`` for codes it does not list).
        details: Detail objects, such as those from `retry_info`; omitted when empty.

    Returns:
        ``{"error": {"code": ..., "message": ..., "status": ..., "details": [...]}}``.

    Example:
        >>> error_body(404, "Not found.")
        {'error': {'code': 404, 'message': 'Not found.', 'status': 'NOT_FOUND'}}
    """
    error: dict[str, Any] = {
        "code": code,
        "message": message,
        "status": status or STATUS_FOR_CODE.get(code, "UNKNOWN"),
    }
    if details:
        error["details"] = [dict(detail) for detail in details]
    return {"error": error}


def retry_info(delay_seconds: float) -> dict[str, Any]:
    """Build a `google.rpc.RetryInfo` detail.

    Args:
        delay_seconds: How long the client should wait before retrying.

    Returns:
        The detail object, e.g. ``{"@type": RETRY_INFO, "retryDelay": "26s"}``.
    """
    return {"@type": RETRY_INFO, "retryDelay": format_duration(delay_seconds)}


def quota_failure(violations: Sequence[QuotaViolation]) -> dict[str, Any]:
    """Build a `google.rpc.QuotaFailure` detail (camelCase keys, None fields omitted).

    Args:
        violations: The violated quotas.

    Returns:
        The detail object.
    """
    items: list[dict[str, Any]] = []
    for violation in violations:
        item: dict[str, Any] = {}
        if violation.quota_metric is not None:
            item["quotaMetric"] = violation.quota_metric
        if violation.quota_id is not None:
            item["quotaId"] = violation.quota_id
        if violation.quota_dimensions:
            item["quotaDimensions"] = dict(violation.quota_dimensions)
        if violation.quota_value is not None:
            item["quotaValue"] = str(violation.quota_value)
        items.append(item)
    return {"@type": QUOTA_FAILURE, "violations": items}


def error_info(
    reason: str,
    *,
    domain: str = "googleapis.com",
    metadata: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Build a `google.rpc.ErrorInfo` detail.

    Args:
        reason: The machine-readable reason, such as ``"API_KEY_INVALID"``.
        domain: The service domain.
        metadata: Extra string pairs; omitted when empty.

    Returns:
        The detail object.
    """
    detail: dict[str, Any] = {"@type": ERROR_INFO, "reason": reason, "domain": domain}
    if metadata:
        detail["metadata"] = dict(metadata)
    return detail


def bad_request(violations: Sequence[FieldViolation]) -> dict[str, Any]:
    """Build a `google.rpc.BadRequest` detail.

    Google leaves ``field`` out for a violation of the request as a whole (an empty
    ``field`` here).

    Args:
        violations: The offending request fields.

    Returns:
        The detail object.
    """
    items = [
        {"field": v.field, "description": v.description}
        if v.field
        else {"description": v.description}
        for v in violations
    ]
    return {"@type": BAD_REQUEST, "fieldViolations": items}


def help_links(url: str, description: str) -> dict[str, Any]:
    """Build a `google.rpc.Help` detail with one link.

    Args:
        url: The link target.
        description: What the link explains.

    Returns:
        The detail object.
    """
    return {"@type": HELP, "links": [{"description": description, "url": url}]}
