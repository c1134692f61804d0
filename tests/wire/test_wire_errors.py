from __future__ import annotations

import json
import pickle
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gemgate.wire.errors import (
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
    parse_error,
    quota_failure,
    retry_info,
)
from gemgate.wire.sse import SSEDecoder, encode_sse

QUOTA_429 = {
    "error": {
        "code": 429,
        "message": "You exceeded your current quota, please check your plan and billing details.",
        "status": "RESOURCE_EXHAUSTED",
        "details": [
            {
                "@type": "type.googleapis.com/google.rpc.QuotaFailure",
                "violations": [
                    {
                        "quotaMetric": "generativelanguage.googleapis.com/"
                        "generate_content_free_tier_input_token_count",
                        "quotaId": "GenerateContentInputTokensPerModelPerMinute-FreeTier",
                        "quotaDimensions": {"location": "global", "model": "gemini-2.5-flash"},
                        "quotaValue": "250000",
                    }
                ],
            },
            {
                "@type": "type.googleapis.com/google.rpc.Help",
                "links": [
                    {
                        "description": "Learn more about Gemini API quotas",
                        "url": "https://ai.google.dev/gemini-api/docs/rate-limits",
                    }
                ],
            },
            {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "26s"},
        ],
    }
}

API_KEY_INVALID = {
    "error": {
        "code": 400,
        "message": "API key not valid. Please pass a valid API key.",
        "status": "INVALID_ARGUMENT",
        "details": [
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "API_KEY_INVALID",
                "domain": "googleapis.com",
                "metadata": {"service": "generativelanguage.googleapis.com"},
            },
            {
                "@type": "type.googleapis.com/google.rpc.LocalizedMessage",
                "locale": "en-US",
                "message": "API key not valid. Please pass a valid API key.",
            },
        ],
    }
}


def test_type_urls() -> None:
    prefix = "type.googleapis.com/google.rpc."
    assert prefix + "RetryInfo" == RETRY_INFO
    assert prefix + "QuotaFailure" == QUOTA_FAILURE
    assert prefix + "ErrorInfo" == ERROR_INFO
    assert prefix + "BadRequest" == BAD_REQUEST
    assert prefix + "Help" == HELP
    assert prefix + "LocalizedMessage" == LOCALIZED_MESSAGE


def test_status_tables_agree() -> None:
    assert dict(STATUS_FOR_CODE) == {
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
    for code, status in STATUS_FOR_CODE.items():
        assert CODE_FOR_STATUS[status] == code
    assert len(CODE_FOR_STATUS) == 17  # every google.rpc.Code
    assert CODE_FOR_STATUS["FAILED_PRECONDITION"] == 400
    assert CODE_FOR_STATUS["OUT_OF_RANGE"] == 400
    assert CODE_FOR_STATUS["ALREADY_EXISTS"] == 409
    assert CODE_FOR_STATUS["UNKNOWN"] == 500
    assert CODE_FOR_STATUS["DATA_LOSS"] == 500


def test_tables_are_read_only() -> None:
    with pytest.raises(TypeError):
        STATUS_FOR_CODE[418] = "TEAPOT"  # type: ignore[index]


def test_quota_429() -> None:
    error = parse_error(json.dumps(QUOTA_429).encode(), status_code=429)
    assert (error.code, error.status) == (429, "RESOURCE_EXHAUSTED")
    assert error.message.startswith("You exceeded your current quota")
    assert error.retry_delay == 26.0
    (violation,) = error.quota_violations
    assert violation.quota_id == "GenerateContentInputTokensPerModelPerMinute-FreeTier"
    assert violation.quota_dimensions == {"location": "global", "model": "gemini-2.5-flash"}
    assert violation.quota_value == "250000"
    assert violation.per_minute and not violation.per_day
    assert not error.is_daily_quota
    assert error.details == tuple(QUOTA_429["error"]["details"])  # type: ignore[arg-type]


def test_fractional_retry_delay() -> None:
    body = error_body(
        429, "slow down", details=[{"@type": RETRY_INFO, "retryDelay": "38.804097346s"}]
    )
    assert parse_error(body, status_code=429).retry_delay == pytest.approx(38.804097346)


@pytest.mark.parametrize(
    ("delay", "seconds"),
    [
        ({"seconds": 2, "nanos": 500_000_000}, 2.5),
        ({"seconds": "3"}, 3.0),
        ({"nanos": 250_000_000}, 0.25),
        ({}, 0.0),
        (" 1.5s ", 1.5),
        ("abc", None),
        ("-1s", None),
        ("5", None),
        (5, None),
        ({"seconds": "x"}, None),
        ({"seconds": True}, None),
        ({"seconds": -3}, None),
        ({"seconds": 10**400}, None),
        ({"seconds": 2.5}, 2.5),
        ({"seconds": 1e308, "nanos": 0}, 1e308),
        ({"seconds": float("inf")}, None),
        ({"seconds": float("nan")}, None),
        ({"seconds": "9" * 5000}, None),
        (None, None),
    ],
)
def test_retry_delay_forms(delay: Any, seconds: float | None) -> None:
    body = {"error": {"code": 429, "details": [{"@type": RETRY_INFO, "retryDelay": delay}]}}
    assert parse_error(body, status_code=429).retry_delay == seconds


def test_first_valid_retry_info_wins() -> None:
    details = [
        {"@type": RETRY_INFO, "retryDelay": "bad"},
        {"@type": RETRY_INFO, "retryDelay": "4s"},
        {"@type": RETRY_INFO, "retryDelay": "9s"},
    ]
    assert parse_error(error_body(429, "x", details=details), status_code=429).retry_delay == 4.0


def test_daily_quota() -> None:
    violation = QuotaViolation(
        quota_metric="generativelanguage.googleapis.com/generate_content_free_tier_requests",
        quota_id="GenerateRequestsPerDayPerProjectPerModel-FreeTier",
        quota_dimensions={"location": "global", "model": "gemini-2.5-pro"},
        quota_value="50",
    )
    body = error_body(429, "quota", details=[quota_failure([violation]), retry_info(15.5)])
    error = parse_error(json.dumps(body), status_code=429)
    assert error.is_daily_quota
    assert error.quota_violations == (violation,)
    assert error.quota_violations[0].per_day and not error.quota_violations[0].per_minute


def test_quota_violation_without_id() -> None:
    assert not QuotaViolation().per_day
    assert not QuotaViolation().per_minute
    error = parse_error(
        error_body(429, "q", details=[quota_failure([QuotaViolation()])]), status_code=429
    )
    assert error.quota_violations == (QuotaViolation(),)
    assert not error.is_daily_quota


def test_quota_value_number_and_snake_case() -> None:
    detail = {
        "@type": QUOTA_FAILURE,
        "violations": [{"quota_id": "RequestsPerDay", "quota_value": 50}],
    }
    error = parse_error(error_body(429, "q", details=[detail]), status_code=429)
    assert error.quota_violations == (QuotaViolation(quota_id="RequestsPerDay", quota_value="50"),)


def test_api_key_invalid() -> None:
    error = parse_error(json.dumps(API_KEY_INVALID), status_code=400, reason_phrase="Bad Request")
    assert error.api_key_invalid
    assert (error.code, error.status, error.reason, error.domain) == (
        400,
        "INVALID_ARGUMENT",
        "API_KEY_INVALID",
        "googleapis.com",
    )
    assert error.metadata == {"service": "generativelanguage.googleapis.com"}
    assert error.message == "API key not valid. Please pass a valid API key."
    assert len(error.details) == 2
    assert error.details[1]["@type"] == LOCALIZED_MESSAGE


def test_other_reason_is_not_api_key_invalid() -> None:
    error = parse_error(
        error_body(403, "no", details=[error_info("API_KEY_SERVICE_BLOCKED")]), status_code=403
    )
    assert error.reason == "API_KEY_SERVICE_BLOCKED"
    assert not error.api_key_invalid


def test_bad_request_field_violations() -> None:
    body = {
        "error": {
            "code": 400,
            "message": 'Invalid JSON payload received. Unknown name "x": Cannot find field.',
            "status": "INVALID_ARGUMENT",
            "details": [
                {
                    "@type": BAD_REQUEST,
                    "fieldViolations": [
                        {
                            "field": "tools[0]",
                            "description": 'Invalid JSON payload received. Unknown name "x"',
                        },
                        {"field": "contents"},
                        "junk",
                    ],
                }
            ],
        }
    }
    error = parse_error(body, status_code=400)
    assert error.field_violations == (
        FieldViolation("tools[0]", 'Invalid JSON payload received. Unknown name "x"'),
        FieldViolation("contents", ""),
    )


def test_array_wrapped_body() -> None:
    raw = (
        b'[{\n  "error": {\n    "code": 503,\n    "message": "The model is overloaded.",\n'
        b'    "status": "UNAVAILABLE"\n  }\n}\n]'
    )
    error = parse_error(raw, status_code=503)
    assert (error.code, error.status, error.message) == (
        503,
        "UNAVAILABLE",
        "The model is overloaded.",
    )
    assert parse_error(json.loads(raw), status_code=503) == error
    assert parse_error(tuple(json.loads(raw)), status_code=503) == error


def test_array_wrapped_skips_non_objects() -> None:
    error = parse_error([1, "x", {"error": {"code": 404, "message": "gone"}}], status_code=404)
    assert (error.code, error.status, error.message) == (404, "NOT_FOUND", "gone")


def test_html_body() -> None:
    html = "<html><body><h1>502 Bad Gateway</h1></body></html>\n"
    error = parse_error(html.encode(), status_code=503, reason_phrase="Service Unavailable")
    assert error == GoogleError(code=503, status="UNAVAILABLE", message=html.strip())


def test_plain_text_with_unknown_code() -> None:
    error = parse_error(b"upstream connect error", status_code=502, reason_phrase="Bad Gateway")
    assert (error.code, error.status, error.message) == (502, None, "upstream connect error")


@pytest.mark.parametrize("body", [b"", "", b"   \r\n", None, {}, []])
def test_empty_body_uses_reason_phrase(body: Any) -> None:
    error = parse_error(body, status_code=500, reason_phrase="Internal Server Error")
    assert error == GoogleError(code=500, status="INTERNAL", message="Internal Server Error")


@pytest.mark.parametrize("body", [b"null", b"{}", b" [] ", b"42"])
def test_shapeless_json_body_keeps_its_text(body: bytes) -> None:
    error = parse_error(body, status_code=500, reason_phrase="Internal Server Error")
    assert error == GoogleError(code=500, status="INTERNAL", message=body.decode().strip())


def test_json_without_error_shape_uses_text() -> None:
    error = parse_error(b'{"foo": 1}', status_code=500, reason_phrase="Internal Server Error")
    assert error.message == '{"foo": 1}'


def test_mid_stream_sse_error() -> None:
    stream = encode_sse('{"candidates":[{"content":{"parts":[{"text":"Hi"}]}}]}') + encode_sse(
        json.dumps(error_body(503, "The model is overloaded. Please try again later."))
    )
    decoder = SSEDecoder()
    events = decoder.feed(stream) + decoder.flush()
    assert not events[0].data.startswith('{"error"')
    assert events[1].data.startswith('{"error"')
    error = parse_error(events[1].data, status_code=200)
    assert (error.code, error.status) == (503, "UNAVAILABLE")
    assert error.message == "The model is overloaded. Please try again later."


def test_whole_sse_frame_is_accepted() -> None:
    frame = encode_sse(json.dumps(error_body(500, "An internal error has occurred.")))
    error = parse_error(frame, status_code=200)
    assert (error.code, error.status, error.message) == (
        500,
        "INTERNAL",
        "An internal error has occurred.",
    )


def test_bare_status_without_envelope() -> None:
    error = parse_error({"code": 404, "message": "models/x is not found"}, status_code=400)
    assert (error.code, error.status, error.message) == (404, "NOT_FOUND", "models/x is not found")
    assert (
        parse_error('{"status": "FAILED_PRECONDITION"}', status_code=400).status
        == "FAILED_PRECONDITION"
    )


@pytest.mark.parametrize("code", ["429", 429.0, True, None, [429]])
def test_non_int_code_falls_back_to_status_code(code: Any) -> None:
    error = parse_error({"error": {"code": code, "message": "m"}}, status_code=503)
    assert (error.code, error.status) == (503, "UNAVAILABLE")


def test_body_code_wins_and_status_defaults_from_it() -> None:
    error = parse_error({"error": {"code": 429, "message": "m"}}, status_code=200)
    assert (error.code, error.status) == (429, "RESOURCE_EXHAUSTED")


def test_missing_message_uses_reason_phrase() -> None:
    error = parse_error(
        {"error": {"code": 500}}, status_code=500, reason_phrase="Internal Server Error"
    )
    assert error.message == "Internal Server Error"


def test_oauth_style_error_string() -> None:
    body = {"error": "invalid_grant", "error_description": "Token has been expired or revoked."}
    error = parse_error(body, status_code=400)
    assert (error.code, error.status, error.message) == (
        400,
        "INVALID_ARGUMENT",
        "Token has been expired or revoked.",
    )
    assert parse_error({"error": "unauthorized"}, status_code=401).message == "unauthorized"


def test_malformed_details_are_ignored() -> None:
    body = {
        "error": {
            "code": 429,
            "message": "m",
            "details": [
                "junk",
                17,
                None,
                {"no_type": True},
                {"@type": RETRY_INFO},
                {"@type": QUOTA_FAILURE, "violations": "nope"},
                {"@type": QUOTA_FAILURE, "violations": [1, {"quotaId": 5, "quotaDimensions": [1]}]},
                {"@type": ERROR_INFO, "reason": 3, "metadata": {"a": 1, "b": "ok"}},
                {"@type": BAD_REQUEST, "fieldViolations": {"field": "x"}},
                {"@type": ["unhashable"]},
            ],
        }
    }
    error = parse_error(body, status_code=429)
    assert error.retry_delay is None
    assert error.quota_violations == (QuotaViolation(),)
    assert error.reason is None
    assert error.metadata == {"b": "ok"}
    assert error.field_violations == ()
    assert len(error.details) == 7  # only the objects are kept
    assert parse_error({"error": {"code": 429, "details": "x"}}, status_code=429).details == ()


def test_deeply_nested_json_does_not_raise() -> None:
    error = parse_error(b"[" * 100_000, status_code=500, reason_phrase="Internal Server Error")
    assert error.message == "[" * 100_000


def test_invalid_utf8_does_not_raise() -> None:
    error = parse_error(b"\xff\xfe oops", status_code=500)
    assert "oops" in error.message


def test_google_error_pickles() -> None:
    error = parse_error(json.dumps(QUOTA_429), status_code=429)
    assert pickle.loads(pickle.dumps(error)) == error


# --- builders ---------------------------------------------------------------------------


def test_error_body_defaults() -> None:
    assert error_body(404, "Not found.") == {
        "error": {"code": 404, "message": "Not found.", "status": "NOT_FOUND"}
    }
    assert error_body(418, "teapot")["error"]["status"] == "UNKNOWN"
    assert (
        error_body(400, "x", status="FAILED_PRECONDITION")["error"]["status"]
        == "FAILED_PRECONDITION"
    )
    assert "details" not in error_body(400, "x", details=())["error"]


def test_builders_shapes() -> None:
    assert retry_info(26) == {"@type": RETRY_INFO, "retryDelay": "26s"}
    assert retry_info(38.804097346) == {"@type": RETRY_INFO, "retryDelay": "38.804097346s"}
    assert quota_failure([QuotaViolation(quota_id="X", quota_value="5")]) == {
        "@type": QUOTA_FAILURE,
        "violations": [{"quotaId": "X", "quotaValue": "5"}],
    }
    assert error_info("API_KEY_INVALID") == {
        "@type": ERROR_INFO,
        "reason": "API_KEY_INVALID",
        "domain": "googleapis.com",
    }
    assert bad_request([FieldViolation("a", "b")]) == {
        "@type": BAD_REQUEST,
        "fieldViolations": [{"field": "a", "description": "b"}],
    }
    assert help_links("https://x", "docs") == {
        "@type": HELP,
        "links": [{"description": "docs", "url": "https://x"}],
    }


def test_round_trip_every_detail_kind() -> None:
    quotas = [
        QuotaViolation(
            quota_metric="generativelanguage.googleapis.com/generate_content_free_tier_requests",
            quota_id="GenerateRequestsPerMinutePerProjectPerModel-FreeTier",
            quota_dimensions={"location": "global", "model": "gemini-2.5-flash"},
            quota_value="10",
        ),
        QuotaViolation(
            quota_id="GenerateRequestsPerDayPerProjectPerModel-FreeTier", quota_value="250"
        ),
    ]
    fields = [FieldViolation("contents", "contents is not specified"), FieldViolation("model", "")]
    details = [
        quota_failure(quotas),
        help_links("https://ai.google.dev/gemini-api/docs/rate-limits", "Learn more"),
        retry_info(38.804097346),
        error_info("API_KEY_INVALID", metadata={"service": "generativelanguage.googleapis.com"}),
        bad_request(fields),
    ]
    body = error_body(429, "You exceeded your current quota.", details=details)
    for form in (body, json.dumps(body), json.dumps(body).encode(), [body], json.dumps([body])):
        error = parse_error(form, status_code=200)
        assert error == GoogleError(
            code=429,
            status="RESOURCE_EXHAUSTED",
            message="You exceeded your current quota.",
            retry_delay=pytest.approx(38.804097346),  # type: ignore[arg-type]
            quota_violations=tuple(quotas),
            reason="API_KEY_INVALID",
            domain="googleapis.com",
            metadata={"service": "generativelanguage.googleapis.com"},
            field_violations=tuple(fields),
            details=tuple(details),
        )
        assert error.is_daily_quota and error.api_key_invalid


# --- never raises -----------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4)
    ),
    max_leaves=20,
)
detail_keys = st.sampled_from(
    [
        "retryDelay",
        "retry_delay",
        "violations",
        "reason",
        "domain",
        "metadata",
        "fieldViolations",
        "seconds",
        "nanos",
        "quotaId",
        "quotaValue",
        "quotaDimensions",
        "field",
        "description",
    ]
)
details = st.recursive(
    json_values,
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(
            detail_keys | st.just("@type"),
            children
            | st.sampled_from(
                [RETRY_INFO, QUOTA_FAILURE, ERROR_INFO, BAD_REQUEST, HELP, "26s", "1.5s"]
            ),
            max_size=5,
        )
    ),
    max_leaves=20,
)
status_codes = st.integers(min_value=-(10**6), max_value=10**6)


def check(error: GoogleError) -> None:
    assert isinstance(error, GoogleError)
    assert isinstance(error.code, int)
    assert isinstance(error.message, str)
    assert error.status is None or isinstance(error.status, str)
    assert error.retry_delay is None or error.retry_delay >= 0
    assert all(isinstance(v, QuotaViolation) for v in error.quota_violations)
    assert all(isinstance(v, FieldViolation) for v in error.field_violations)
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in error.metadata.items())
    assert isinstance(error.is_daily_quota, bool) and isinstance(error.api_key_invalid, bool)


@settings(max_examples=200, deadline=None)
@given(st.binary(), status_codes, st.text())
def test_arbitrary_bytes_never_raise(body: bytes, status_code: int, reason: str) -> None:
    check(parse_error(body, status_code=status_code, reason_phrase=reason))


@settings(max_examples=200, deadline=None)
@given(json_values, status_codes)
def test_arbitrary_json_never_raises(value: Any, status_code: int) -> None:
    check(parse_error(json.dumps(value), status_code=status_code))
    if isinstance(value, dict | list):
        check(parse_error(value, status_code=status_code))


@settings(max_examples=200, deadline=None)
@given(
    code=json_values,
    status=json_values,
    message=json_values,
    detail_list=st.lists(details, max_size=4) | details,
    wrap=st.booleans(),
    status_code=status_codes,
)
def test_arbitrary_error_envelopes_never_raise(
    code: Any, status: Any, message: Any, detail_list: Any, wrap: bool, status_code: int
) -> None:
    body: Any = {
        "error": {"code": code, "status": status, "message": message, "details": detail_list}
    }
    if wrap:
        body = [body]
    check(parse_error(body, status_code=status_code))
    check(parse_error(json.dumps(body).encode(), status_code=status_code))
