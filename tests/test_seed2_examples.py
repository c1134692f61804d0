"""The second seed's examples (examples/seeds/fast_gemini) run on the built-in emulator."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

FOLDER = Path(__file__).parent.parent / "examples" / "seeds" / "fast_gemini"
SCRIPTS = sorted(p.name for p in FOLDER.glob("*.py"))


def _env() -> dict[str, str]:
    """The environment of a user with no key who opted in to the built-in emulator."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("GEMINI_API_KEY", "GOOGLE_API_KEY", "PYTHONWARNINGS")
        and not k.startswith(("GEMINI_API_KEY_", "GEMGATE_"))
    }
    env["GEMGATE_UPSTREAM"] = "emulator"
    return env


def _run(script: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-W", "error"]
    cmd += ["-W", "ignore:Inheritance class AiohttpClientSession:DeprecationWarning"]
    cmd.append(str(FOLDER / script))
    return subprocess.run(cmd, cwd=cwd, env=_env(), capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, subprocess.CompletedProcess[str]]:
    cwd = tmp_path_factory.mktemp("seed2")
    with ThreadPoolExecutor(max_workers=len(SCRIPTS)) as pool:
        futures = {name: pool.submit(_run, name, cwd) for name in SCRIPTS}
        return {name: future.result() for name, future in futures.items()}


def _up(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def test_all_listed() -> None:
    readme = (FOLDER / "README.md").read_text()
    assert len(SCRIPTS) == 5
    assert all(f"`{name}`" in readme for name in SCRIPTS)


@pytest.mark.parametrize("script", SCRIPTS)
def test_runs_cleanly(script: str, runs: dict[str, subprocess.CompletedProcess[str]]) -> None:
    result = runs[script]
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""  # no warning, no traceback


def test_weather_tool(runs: dict[str, subprocess.CompletedProcess[str]]) -> None:
    out = runs["weather_tool.py"].stdout
    assert "function_call {'name': 'get_weather'" in out
    assert "'temperature': '72°F'" in out
    assert out.index("function_call") < out.index("tool_result") < out.index("final_answer")
    assert "stored: ['text', 'function_call', 'function_response', 'text']" in out


def test_custom_executor(runs: dict[str, subprocess.CompletedProcess[str]]) -> None:
    lines = runs["custom_executor.py"].stdout.splitlines()
    assert lines[:3] == [
        "Progress: Starting tool execution",
        "Progress: Executing tool 1/1",
        "Result: Tool simple_tool completed",
    ]
    assert "simple_tool returned" in lines[3] and "Processed:" in lines[3]


def test_rate_limited_executor(runs: dict[str, subprocess.CompletedProcess[str]]) -> None:
    out = runs["rate_limited_executor.py"].stdout
    assert len(re.findall(r"^process_items_\d ", out, re.MULTILINE)) == 8
    assert "Peak concurrent tool calls: 5" in out


def test_chat_storages(runs: dict[str, subprocess.CompletedProcess[str]]) -> None:
    out = runs["chat_storages.py"].stdout
    backends = ["memory", "sqlite"]
    for name, port in (("redis", 6379), ("postgresql", 5432)):
        if _up(port) or os.environ.get("CI") == "true":
            backends.append(name)
    for name in backends:
        assert re.search(rf"^{name}: 4 messages, \d+ tokens", out, re.MULTILINE), out


def test_cache_manager(runs: dict[str, subprocess.CompletedProcess[str]]) -> None:
    out = runs["cache_manager.py"].stdout
    assert re.search(r"^created: cachedContents/\w+", out, re.MULTILINE)
    assert "display name: my_cache | expiry moved: True" in out
    cached = re.search(r"^cached tokens: (\d+)$", out, re.MULTILINE)
    assert cached is not None and int(cached.group(1)) > 1000
    assert "caches left: 0" in out
