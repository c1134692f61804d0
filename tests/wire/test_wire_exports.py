from __future__ import annotations

import doctest
import importlib
import subprocess
import sys
from types import ModuleType

import pytest

import gemgate.errors
import gemgate.wire

SUBMODULES = ["durations", "errors", "jsonarray", "sse", "types"]
DOCUMENTED = [
    "gemgate.errors",
    "gemgate.wire",
    "gemgate.wire._rpc",
    "gemgate.wire.durations",
    "gemgate.wire.errors",
    "gemgate.wire.jsonarray",
    "gemgate.wire._models",
    "gemgate.wire.openai",
    "gemgate.wire.openai._batch",
    "gemgate.wire.openai._candidate",
    "gemgate.wire.openai._citations",
    "gemgate.wire.openai._errors",
    "gemgate.wire.openai._generation",
    "gemgate.wire.openai._google",
    "gemgate.wire.openai._messages",
    "gemgate.wire.openai._request",
    "gemgate.wire.openai._response",
    "gemgate.wire.openai._reverse",
    "gemgate.wire.openai._stream",
    "gemgate.wire.openai._tools",
    "gemgate.wire.sse",
    "gemgate.wire.types",
]


def submodule(name: str) -> ModuleType:
    return importlib.import_module(f"gemgate.wire.{name}")


def test_wire_all_is_sorted_and_complete() -> None:
    assert gemgate.wire.__all__ == sorted(gemgate.wire.__all__)
    expected = {name for module in SUBMODULES for name in submodule(module).__all__}
    assert set(gemgate.wire.__all__) == expected
    for name in gemgate.wire.__all__:
        assert getattr(gemgate.wire, name) is not None


@pytest.mark.parametrize("module", SUBMODULES)
def test_submodule_all_is_sorted_and_defined(module: str) -> None:
    names = submodule(module).__all__
    assert names == sorted(names)
    for name in names:
        assert hasattr(submodule(module), name)


def test_expected_public_names() -> None:
    for name in [
        "SSEDecoder",
        "SSEEvent",
        "encode_sse",
        "JSONArrayDecoder",
        "parse_duration",
        "format_duration",
        "parse_timestamp",
        "format_timestamp",
        "STATUS_FOR_CODE",
        "CODE_FOR_STATUS",
        "GoogleError",
        "parse_error",
        "error_body",
        "GenerateContentRequest",
        "GenerateContentResponse",
        "ErrorEnvelope",
    ]:
        assert name in gemgate.wire.__all__


def _loaded_by_wire() -> set[str]:
    code = (
        "import sys, gemgate.wire, gemgate.wire.openai, gemgate.wire._models, gemgate.errors;"
        " print('\\n'.join(sorted(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return set(out.stdout.split())


def test_wire_imports_no_io_or_sdk_modules() -> None:
    loaded = _loaded_by_wire()
    for banned in ("google.genai", "httpx", "socket", "asyncio", "anyio", "pydantic"):
        assert banned not in loaded, banned


@pytest.mark.parametrize("name", DOCUMENTED)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0


def test_openai_adapter_all_is_sorted_and_complete() -> None:
    import gemgate.wire.openai as adapter

    assert adapter.__all__ == sorted(adapter.__all__)
    parts = [
        "batch",
        "citations",
        "errors",
        "generation",
        "messages",
        "request",
        "response",
        "reverse",
        "stream",
        "tools",
    ]
    expected = {
        name
        for part in parts
        for name in importlib.import_module(f"gemgate.wire.openai._{part}").__all__
    }
    assert set(adapter.__all__) == expected
