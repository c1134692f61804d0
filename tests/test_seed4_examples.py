"""The fourth seed's examples (examples/seeds/live_service) run on the built-in emulator."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.test_seed2_examples import _env

FOLDER = Path(__file__).parent.parent / "examples" / "seeds" / "live_service"


def _run(script: str, cwd: Path) -> str:
    cmd = [sys.executable, "-W", "error"]
    cmd += ["-W", "ignore:Inheritance class AiohttpClientSession:DeprecationWarning"]
    result = subprocess.run(
        [*cmd, str(FOLDER / script)],
        cwd=cwd,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_listed() -> None:
    readme = (FOLDER / "README.md").read_text()
    assert all(f"`{p.name}`" in readme for p in FOLDER.glob("*.py"))


def test_service_calls(tmp_path: Path) -> None:
    out = _run("service.py", tmp_path)
    first, second = (line for line in out.splitlines() if line.startswith("model"))
    assert "Hello, I am Mina." in first and "What did I just tell you?" in second
    assert "'status': 'healthy'" in out and "closed  : True" in out


def test_browser_conversation_is_stored(tmp_path: Path) -> None:
    out = _run("browser_client.py", tmp_path)
    stored = [line.split()[1:3] for line in out.splitlines() if line.startswith("stored:")]
    assert stored == [
        ["user", "text"],
        ["assistant", "text"],
        ["user", "image"],
        ["assistant", "text"],
        ["user", "audio"],
        ["assistant", "text"],
    ]
    assert "heard: <audio 100 ms>" in out
