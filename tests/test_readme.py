"""Every Python block in the README runs (server addresses point at a test emulator)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

README = Path(__file__).parent.parent / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), re.DOTALL)


def test_readme_has_examples() -> None:
    assert len(BLOCKS) >= 3


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_block_runs(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    index: int,
    plain_emulator_server: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name in list(os.environ):
        if name.startswith(("GEMINI_API_KEY", "GOOGLE_API_KEY", "GEMGATE_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("GEMGATE_UPSTREAM", "emulator")  # as the README says, without a key
    monkeypatch.chdir(tmp_path)
    code = BLOCKS[index].replace("http://127.0.0.1:8090", plain_emulator_server)
    namespace: dict[str, object] = {"__name__": "__readme__"}
    exec(compile(code, f"README.md block {index}", "exec"), namespace)
    out = capsys.readouterr().out
    if "print(" in code:
        assert out.strip()


def _quick_start(face: str) -> str:
    return next(b for b in BLOCKS if f"from gemgate import {face}\n" in b)


def test_the_quick_start_is_the_same_with_both_faces(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in list(os.environ):
        if name.startswith(("GEMINI_API_KEY", "GOOGLE_API_KEY", "GEMGATE_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("GEMGATE_UPSTREAM", "emulator")
    monkeypatch.chdir(tmp_path)
    printed = {}
    for face in ("Gemini", "AsyncGemini"):
        exec(compile(_quick_start(face), f"README {face}", "exec"), {"__name__": "__readme__"})
        printed[face] = capsys.readouterr().out
    assert "capital of France" in printed["Gemini"]
    assert "prompt_tokens" in printed["Gemini"]  # get_token_usage() was printed
    assert printed["AsyncGemini"] == printed["Gemini"]


TOML_BLOCKS = re.findall(r"```toml\n(.*?)```", README.read_text(), re.DOTALL)


@pytest.mark.parametrize("index", range(len(TOML_BLOCKS)))
def test_readme_config_block_loads(tmp_path: Path, index: int) -> None:
    import tomllib

    from gemgate.config import STATE_TABLE, Settings
    from gemgate.emulator import EmulatorConfig

    path = tmp_path / "gemgate.toml"
    path.write_text(TOML_BLOCKS[index])
    data = tomllib.loads(TOML_BLOCKS[index])
    assert set(data) <= set(Settings.model_fields) | {"emulator", "state"}, "unknown settings"
    data.update({STATE_TABLE[k]: v for k, v in data.pop("state", {}).items()})
    settings = Settings.load(config=path, environ={})  # validates every value
    EmulatorConfig.from_toml(path)
    for name in set(data) - {"emulator", "projects"}:
        assert getattr(settings, name) != Settings.model_fields[name].get_default(
            call_default_factory=True
        )
