from __future__ import annotations

import pickle

import pytest

import gemgate.errors
from gemgate.errors import GemgateError, UsageError, WireDecodeError


def test_all_is_sorted_and_complete() -> None:
    assert gemgate.errors.__all__ == sorted(gemgate.errors.__all__)
    exported = {
        name for name in dir(gemgate.errors) if isinstance(getattr(gemgate.errors, name), type)
    }
    assert set(gemgate.errors.__all__) == exported


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
