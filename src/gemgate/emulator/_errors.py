"""Errors the emulator answers with, always in Google's ``google.rpc.Status`` shape."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from gemgate.wire.errors import (
    LOCALIZED_MESSAGE,
    FieldViolation,
    bad_request,
    error_body,
    error_info,
)

__all__ = [
    "ApiError",
    "api_key_invalid",
    "failed_precondition",
    "invalid_argument",
    "not_found",
    "permission_denied",
]


class ApiError(Exception):
    """An error response: HTTP code, Google status, message and ``details``."""

    def __init__(
        self,
        code: int,
        message: str,
        *,
        status: str | None = None,
        details: Sequence[Mapping[str, Any]] = (),
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.details = list(details)
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        """The JSON body, ``{"error": {...}}``."""
        return error_body(self.code, self.message, status=self.status, details=self.details)


def invalid_argument(message: str, violations: Sequence[FieldViolation] = ()) -> ApiError:
    """400 INVALID_ARGUMENT, with BadRequest field violations when given."""
    details = [bad_request(violations)] if violations else []
    return ApiError(400, message, status="INVALID_ARGUMENT", details=details)


def failed_precondition(message: str) -> ApiError:
    """400 FAILED_PRECONDITION."""
    return ApiError(400, message, status="FAILED_PRECONDITION")


def not_found(message: str) -> ApiError:
    """404 NOT_FOUND."""
    return ApiError(404, message, status="NOT_FOUND")


def permission_denied(message: str) -> ApiError:
    """403 PERMISSION_DENIED."""
    return ApiError(403, message, status="PERMISSION_DENIED")


def api_key_invalid() -> ApiError:
    """400 INVALID_ARGUMENT with ErrorInfo ``API_KEY_INVALID``, as Google answers."""
    return ApiError(
        400,
        "API key not valid. Please pass a valid API key.",
        status="INVALID_ARGUMENT",
        details=[
            error_info(
                "API_KEY_INVALID",
                metadata={"service": "generativelanguage.googleapis.com"},
            ),
            {
                "@type": LOCALIZED_MESSAGE,
                "locale": "en-US",
                "message": "API key not valid. Please pass a valid API key.",
            },
        ],
    )
