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
    monkeypatch.chdir(tmp_path)
    code = BLOCKS[index].replace("http://127.0.0.1:8090", plain_emulator_server)
    namespace: dict[str, object] = {"__name__": "__readme__"}
    exec(compile(code, f"README.md block {index}", "exec"), namespace)
    out = capsys.readouterr().out
    if "print(" in code:
        assert out.strip()
