"""Every script in examples/seeds runs as a user would run it, on the built-in emulator.

Each script runs in its own interpreter (``sys.executable``), from an empty directory, with
no key and no ``GEMGATE_*`` setting in its environment, and with warnings as errors. The
scripts run concurrently, once per session, and each test checks one script's output.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.test_seed2_examples import _env

SEEDS = Path(__file__).parent.parent / "examples" / "seeds"


def _lines(out: str) -> list[str]:
    return [line for line in out.splitlines() if line.strip()]


def _basic_chat(out: str) -> None:
    assert "capital of France" in out  # the emulator's answer names the question it got


def _multi_turn(out: str) -> None:
    assert "best time to visit" in out  # answered the last user turn


def _streaming(out: str) -> None:
    assert "short story about a robot" in out
    assert len(_lines(out)) == 1  # deltas joined on one line, as the seed prints them


def _image_analysis(out: str) -> None:
    assert "Describe what you see in this image in detail." in out


def _streaming_image(out: str) -> None:
    assert "focusing on all visible elements" in out
    assert len(_lines(out)) == 1


def _custom_parameters(out: str) -> None:
    assert "creative slogan for a coffee shop" in out
    assert "." not in out and "!" not in out  # stop_sequences cut the text before either


def _direct_generation(out: str) -> None:
    assert "quantum computing in simple terms" in out


def _embeddings(out: str) -> None:
    assert _lines(out) == ["Vector dimension: 3072"] * 3


def _batch(out: str) -> None:
    lines = _lines(out)
    assert [lines[i] for i in (0, 2, 4)] == [f"Prompt {n} result:" for n in (1, 2, 3)]
    # results come back in prompt order
    assert "haiku about mountains" in lines[1]
    assert "sunset in one sentence" in lines[3]
    assert "three facts about dolphins" in lines[5]


def _safety_settings(out: str) -> None:
    lines = _lines(out)
    assert lines[0] == "Finish reason: STOP"
    assert "conflict resolution" in lines[1]


def _caching(out: str) -> None:
    assert "'prompt_tokens'" in out and "'completion_tokens'" in out
    assert "Same answer: True" in out
    assert "Requests sent: 1" in out  # the second identical call came from the cache
    for name in ("Prompt", "Completion", "Total"):
        match = re.search(rf"^{name} tokens: (\d+)$", out, re.MULTILINE)
        assert match is not None and int(match.group(1)) > 0, name


def _endpoints(out: str) -> None:
    assert "Requests: 1, Error rate: 0.0" in out
    assert re.search(r"^ID: ep-\w+, Model: gemini-2\.5-flash, Active: True$", out, re.MULTILINE)
    assert "Model: gemini-2.5-flash, Success rate: 100.00%" in out
    spread = re.findall(r"^gemini-flash-endpoint-\d: (\d+) requests, queue 0$", out, re.MULTILINE)
    assert len(spread) == 3
    assert sum(map(int, spread)) == 100


def _request_tracking(out: str) -> None:
    assert re.fullmatch(
        r"ID: my-request-123, Model: gemini-2\.5-flash, Duration: \d+\.\d\ds\n", out
    )


EXPECT: dict[str, Callable[[str], None]] = {
    "basic_chat.py": _basic_chat,
    "multi_turn.py": _multi_turn,
    "streaming.py": _streaming,
    "image_analysis.py": _image_analysis,
    "streaming_image.py": _streaming_image,
    "custom_parameters.py": _custom_parameters,
    "direct_generation.py": _direct_generation,
    "embeddings.py": _embeddings,
    "batch.py": _batch,
    "safety_settings.py": _safety_settings,
    "caching.py": _caching,
    "endpoints.py": _endpoints,
    "request_tracking.py": _request_tracking,
}


def _clean_env() -> dict[str, str]:
    return {**_env(), "PYTHONIOENCODING": "utf-8"}


def _run(script: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-W", "error"]
    # The same single exception as pytest's own filterwarnings (google-genai's, not ours).
    cmd += ["-W", "ignore:Inheritance class AiohttpClientSession:DeprecationWarning"]
    cmd.append(str(SEEDS / script))
    return subprocess.run(
        cmd, cwd=cwd, env=_clean_env(), capture_output=True, text=True, timeout=120
    )


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, subprocess.CompletedProcess[str]]:
    cwd = tmp_path_factory.mktemp("seed-examples")
    with ThreadPoolExecutor(max_workers=len(EXPECT)) as pool:
        futures = {name: pool.submit(_run, name, cwd) for name in EXPECT}
        return {name: future.result() for name, future in futures.items()}


def test_every_example_is_tested_and_listed() -> None:
    scripts = {p.name for p in SEEDS.glob("*.py")}
    assert scripts == set(EXPECT)
    readme = (SEEDS / "README.md").read_text()
    assert all(f"`{name}`" in readme for name in scripts)


@pytest.mark.parametrize("script", sorted(EXPECT))
def test_example_runs_on_emulator(
    script: str, runs: dict[str, subprocess.CompletedProcess[str]]
) -> None:
    result = runs[script]
    assert result.returncode == 0, result.stderr
    assert result.stderr == "", result.stderr  # no warning, no traceback
    assert result.stdout.strip(), "printed nothing"
    EXPECT[script](result.stdout)


@pytest.mark.parametrize("script", sorted(EXPECT))
def test_example_has_docstring_and_closes(script: str) -> None:
    source = (SEEDS / script).read_text()
    assert source.startswith('"""')
    assert f"python examples/seeds/{script}" in source
    assert "gemini_api.close()" in source
