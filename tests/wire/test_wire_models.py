"""The one model-id rule both faces use."""

from __future__ import annotations

import pickle

import pytest

from gemgate.errors import UsageError
from gemgate.wire._models import InvalidModel, backend_model, model_id


@pytest.mark.parametrize(
    ("name", "bare"),
    [
        ("gemini-2.5-flash", "gemini-2.5-flash"),
        ("models/gemini-2.5-flash", "gemini-2.5-flash"),
        ("gemini-2.5-flash-lite-001", "gemini-2.5-flash-lite-001"),
        ("text_embedding.v2", "text_embedding.v2"),
        ("a" * 128, "a" * 128),
    ],
)
def test_model_ids(name: str, bare: str) -> None:
    assert model_id(name) == bare


@pytest.mark.parametrize(
    "name",
    [
        "",
        "models/",
        " x",
        "-x",
        ".x",
        "a/b",
        "../files/abc",
        "gemini-2.5-flash:generateContent?alt=sse#",
        "models/models/x",
        "tunedModels/x",
        "x@001",
        "a" * 129,
    ],
)
def test_names_that_are_not_model_ids(name: str) -> None:
    with pytest.raises(InvalidModel) as caught:
        model_id(name)
    error = caught.value
    assert isinstance(error, UsageError) and isinstance(error, ValueError)
    assert error.name == name and error.param == "model"
    assert str(error) == f"The model {name!r} does not exist"
    again = pickle.loads(pickle.dumps(error))
    assert type(again) is InvalidModel and again.name == name


def test_a_model_id_must_be_a_string() -> None:
    with pytest.raises(InvalidModel):
        model_id(7)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("name", "split"),
    [
        ("ollama/llama3.2", ("ollama", "llama3.2")),
        ("vllm/meta-llama/Llama-3.1-8B", ("vllm", "meta-llama/Llama-3.1-8B")),
        ("local/qwen:7b", ("local", "qwen:7b")),
        ("models/gemini-2.5-flash", None),
        ("gemini-2.5-flash", None),
        ("/x", None),
        ("x/", None),
    ],
)
def test_backend_model_names(name: str, split: tuple[str, str] | None) -> None:
    assert backend_model(name) == split
