from __future__ import annotations

import pickle

import pytest

import gemgate.errors
from gemgate.errors import GemgateError, UsageError, WireDecodeError


def test_all_is_sorted_and_complete() -> None:
    assert gemgate.errors.__all__ == sorted(gemgate.errors.__all__)
    defined = {
        name
        for name, value in vars(gemgate.errors).items()
        if not name.startswith("_") and getattr(value, "__module__", None) == "gemgate.errors"
    }
    assert set(gemgate.errors.__all__) == defined


@pytest.mark.parametrize(
    ("cls", "builtin"),
    [(UsageError, RuntimeError), (WireDecodeError, ValueError)],
)
def test_hierarchy(cls: type[GemgateError], builtin: type[Exception]) -> None:
    assert issubclass(cls, GemgateError)
    assert issubclass(cls, builtin)
    with pytest.raises(GemgateError, match="boom"):
        raise cls("boom")


def test_docstring_tree_names_every_error() -> None:
    doc = gemgate.errors.__doc__ or ""
    for name in gemgate.errors.__all__:
        if isinstance(getattr(gemgate.errors, name), type):
            assert name in doc


@pytest.mark.parametrize("cls", [GemgateError, UsageError, WireDecodeError])
def test_pickle_round_trip(cls: type[GemgateError]) -> None:
    original = cls("something went wrong", 42)
    clone = pickle.loads(pickle.dumps(original))
    assert type(clone) is cls
    assert clone.args == original.args
    assert str(clone) == str(original)


def test_pickle_keeps_cause_chain_data() -> None:
    try:
        try:
            raise ValueError("inner")
        except ValueError as exc:
            raise WireDecodeError("outer") from exc
    except WireDecodeError as caught:
        clone = pickle.loads(pickle.dumps(caught))
    assert isinstance(clone, WireDecodeError)
    assert clone.args == ("outer",)


def test_status_errors_pickle_with_their_fields() -> None:
    from gemgate.errors import RateLimitedError, status_error

    err = status_error(
        429,
        "RESOURCE_EXHAUSTED",
        "quota",
        details=[{"@type": "x"}],
        retry_after=2.5,
        key_fingerprint="k:1a2b3c",
    )
    assert isinstance(err, RateLimitedError)
    clone = pickle.loads(pickle.dumps(err))
    assert type(clone) is RateLimitedError
    assert (clone.status_code, clone.status, clone.message) == (429, "RESOURCE_EXHAUSTED", "quota")
    assert clone.details == [{"@type": "x"}]
    assert (clone.retry_after, clone.key_fingerprint) == (2.5, "k:1a2b3c")
    assert str(clone) == str(err)


def test_quota_and_stream_errors_pickle() -> None:
    from gemgate.errors import QuotaExhausted, StreamInterrupted

    quota = pickle.loads(pickle.dumps(QuotaExhausted("gemini-2.5-flash", 123.0, "parked")))
    assert (quota.model, quota.until, quota.reason) == ("gemini-2.5-flash", 123.0, "parked")
    stream = pickle.loads(pickle.dumps(StreamInterrupted("cut", [{"a": 1}], ValueError("x"))))
    assert stream.received == [{"a": 1}]
    assert isinstance(stream.cause, ValueError)
