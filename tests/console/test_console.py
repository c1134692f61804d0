r"""``gemgate quota``, ``keys`` and ``chat`` against a real gateway on 127.0.0.1.

An emulator (with projects, so it refuses a key it does not know, and limits, so it
answers 429s) and a gateway over an ``AsyncGemini`` aimed at it are served by uvicorn in a
portal thread's event loop; the commands run with typer's ``CliRunner`` (and once as a
real ``python -m gemgate chat`` with piped input) in the test's thread.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import pytest
from anyio.from_thread import start_blocking_portal
from typer.testing import CliRunner

from gemgate import AsyncGemini
from gemgate.cli import app
from gemgate.config import RetrySettings, Timeouts
from gemgate.emulator import EmulatorConfig
from gemgate.emulator import create_app as create_emulator
from gemgate.gateway import create_app as create_gateway
from gemgate.projects import GatewayKey, fingerprint, hash_secret
from gemgate.serving import serve_in_loop
from tests.conftest import free_port
from tests.gateway.conftest import SlowStreams

FLASH = "gemini-2.5-flash"
LITE = "gemini-2.5-flash-lite"
ROTTEN = "rotten-secret-0123456789"
"""A key the gateway holds and the emulator does not know: it is disabled on first use."""
GOOD = "good-secret-9876543210"
GATEWAY_SECRET = "operator-secret"
REPLY = re.compile(r"\(Reply ([0-9a-f]{6})\.\)")


@dataclass
class Running:
    url: str
    http: httpx2.Client

    def ask(self, n: int, model: str = FLASH) -> list[int]:
        """``n`` OpenAI chat completions through the gateway; their statuses."""
        body = {"model": model, "messages": [{"role": "user", "content": "hi"}]}
        return [self.http.post("/v1/chat/completions", json=body).status_code for _ in range(n)]


@asynccontextmanager
async def _serving(
    emulator_projects: list[dict[str, Any]],
    projects: list[dict[str, Any]],
    keys: list[GatewayKey],
    delay: float,
) -> AsyncIterator[str]:
    config = EmulatorConfig.model_validate({"projects": emulator_projects})
    slow = SlowStreams(create_emulator(config))
    slow.delay = delay
    emulator = await serve_in_loop(slow)
    try:
        client = AsyncGemini(
            projects=projects,
            base_url=emulator.base_url,
            retry=RetrySettings(max_retries=0),
            timeouts=Timeouts(total=5.0),  # a cooled project is not waited for
            gateway_keys=keys,
            sessions_url="memory://",
        )
        gateway = await serve_in_loop(create_gateway(client), lifespan="on")
        try:
            yield gateway.base_url
        finally:
            await gateway.stop()
    finally:
        await emulator.stop()


@pytest.fixture
def serve(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """``serve(emulator_projects, projects, keys=[], delay=0)`` runs a stack until the test ends.

    ``delay``: seconds the emulator waits before each streamed chunk.
    """
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith(("GEMINI_API_KEY", "GOOGLE_API_KEY", "GEMGATE_")):
            monkeypatch.delenv(name)
    with start_blocking_portal() as portal:
        stacks: list[Any] = []

        def start(
            emulator_projects: list[dict[str, Any]],
            projects: list[dict[str, Any]],
            keys: list[GatewayKey] | None = None,
            delay: float = 0.0,
        ) -> Running:
            cm = portal.wrap_async_context_manager(
                _serving(emulator_projects, projects, keys or [], delay)
            )
            url = cm.__enter__()
            stacks.append(cm)
            headers = {"authorization": f"Bearer {GATEWAY_SECRET}"} if keys else {}
            http = httpx2.Client(base_url=url, headers=headers, timeout=30, trust_env=False)
            stacks.append(http)
            return Running(url, http)

        try:
            yield start
        finally:
            for item in reversed(stacks):
                if isinstance(item, httpx2.Client):
                    item.close()
                else:
                    item.__exit__(None, None, None)


def run(*args: str, stdin: str | None = None, env: dict[str, str] | None = None) -> Any:
    result = CliRunner().invoke(app, list(args), input=stdin, env={"COLUMNS": "120", **(env or {})})
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result


def test_quota_counts_requests_against_each_window(serve: Any) -> None:
    limits = {FLASH: {"rpm": 50, "tpm": 100_000, "rpd": 500}}
    stack = serve(
        [{"name": "alpha", "keys": [GOOD]}], [{"name": "alpha", "keys": [GOOD], "limits": limits}]
    )
    before = run("quota", "--url", stack.url)
    assert before.exit_code == 0, before.output
    assert "project alpha" in before.stdout and FLASH in before.stdout
    assert "0/50" in before.stdout and "0/500" in before.stdout
    assert stack.ask(3) == [200, 200, 200]
    after = run("quota", "--url", stack.url)
    assert after.exit_code == 0
    assert "3/50" in after.stdout and "3/500" in after.stdout
    raw = run("quota", "--url", stack.url, "--json")
    (alpha,) = json.loads(raw.stdout)["projects"]
    (flash,) = alpha["models"]
    assert flash["rpm"] == {"used": 3, "limit": 50, "resets_in": flash["rpm"]["resets_in"]}
    assert 0 < flash["rpm"]["resets_in"] <= 60 and 0 < flash["tpm"]["used"] <= 100_000
    assert stack.ask(2) == [200, 200]
    assert "5/50" in run("quota", "--url", stack.url).stdout


def test_keys_show_a_rejected_key_disabled_and_never_a_secret(serve: Any) -> None:
    stack = serve(
        [{"name": "alpha", "keys": [GOOD], "limits": {FLASH: {"rpm": 1}}}],  # the real limit
        [{"name": "alpha", "keys": [GOOD, ROTTEN], "limits": {FLASH: {"rpm": 50}}}],
    )
    ok = run("keys", "--url", stack.url)
    assert ok.exit_code == 0
    assert ok.stdout.count(" ok ") == 2 and fingerprint(ROTTEN) in ok.stdout
    # 1st request: the good key. 2nd: the rotten key (400 API_KEY_INVALID: disabled), then
    # the good key again, over the emulator's real limit (429: the project cools).
    assert stack.ask(2) == [200, 429]
    keys = run("keys", "--url", stack.url)
    assert keys.exit_code == 0
    rows = {line.split("│")[1].strip(): line for line in keys.stdout.splitlines() if "│" in line}
    assert "disabled" in rows["alpha/2"] and "400 INVALID_ARGUMENT" in rows["alpha/2"]
    assert fingerprint(ROTTEN) in rows["alpha/2"]
    assert "cooling" in rows["alpha/1"] and "per-minute quota" in rows["alpha/1"]
    quota = run("quota", "--url", stack.url)
    assert "cooling" in quota.stdout and "per-minute quota" in quota.stdout
    raw = json.loads(run("keys", "--url", stack.url, "--json").stdout)
    states = {k["name"]: k["state"] for k in raw["projects"][0]["keys"]}
    assert states == {"alpha/1": "cooling", "alpha/2": "disabled"}
    for result in (ok, keys, quota):
        assert ROTTEN not in result.output and GOOD not in result.output
    assert ROTTEN not in json.dumps(raw) and GOOD not in json.dumps(raw)
    assert ROTTEN not in stack.http.get("/api/v1/quota").text


def test_a_gateway_key_is_needed_when_keys_are_configured(serve: Any) -> None:
    keys = [GatewayKey(name="ops", secret_sha256=hash_secret(GATEWAY_SECRET))]
    stack = serve([], [{"name": "alpha", "keys": [GOOD]}], keys)
    assert stack.http.get("/openapi.json").json()["paths"]["/api/v1/quota"]["get"]
    denied = run("keys", "--url", stack.url)
    assert denied.exit_code == 1 and denied.stdout == ""
    assert denied.stderr.count("\n") == 1
    assert f"error: {stack.url}: 401" in denied.stderr and "--key" in denied.stderr
    wrong = run("quota", "--url", stack.url, "--key", "nope")
    assert wrong.exit_code == 1 and "401" in wrong.stderr
    by_option = run("keys", "--url", stack.url, "--key", GATEWAY_SECRET)
    assert by_option.exit_code == 0 and "alpha/1" in by_option.stdout
    by_env = run("keys", env={"GEMGATE_URL": stack.url, "GEMGATE_KEY": GATEWAY_SECRET})
    assert by_env.exit_code == 0 and "alpha/1" in by_env.stdout
    chat = run("chat", "--url", stack.url, stdin="hello\n")
    assert chat.exit_code == 1 and "401" in chat.stderr
    chat = run(
        "chat",
        stdin="hello\n/quit\n",
        env={"GEMGATE_URL": stack.url, "GEMGATE_KEY": GATEWAY_SECRET},
    )
    assert chat.exit_code == 0 and 'You asked: "hello"' in chat.stdout


@pytest.mark.parametrize("command", ["quota", "keys", "chat"])
def test_an_unreachable_gateway_is_one_line_and_a_failure(command: str) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = run(command, "--url", url, stdin="hello\n")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == (
        f"error: cannot reach {url}: connection refused — is `gemgate serve` running?\n"
    )


CONVERSATION = """\
Hello, I am Ada\\
from London
What is my name?
/history
/sessions
/new
What is my name?
/history
/model nope-model
Are you there?
/model
/model gemini-2.5-flash-lite
Tell me more
/history
/bogus
/help
/quit
never sent
"""


def test_chat_keeps_context_switches_models_and_sessions(serve: Any) -> None:
    stack = serve([], [{"name": "alpha", "keys": [GOOD]}])
    result = run("chat", "--url", stack.url, "--model", FLASH, stdin=CONVERSATION)
    assert result.exit_code == 0, result.output
    out = result.stdout
    first, second = re.findall(r"session ([0-9a-f]{32})", out)[:2]
    assert first != second
    # Four answers; the same question answered differently with and without the first turn.
    answers = [line for line in out.splitlines() if line.startswith("You asked:")]
    assert [a.split('"')[1] for a in answers] == [
        "Hello, I am Ada from London",
        "What is my name?",
        "What is my name?",
        "Tell me more",
    ]
    replies = [REPLY.search(a).group(1) for a in answers]  # type: ignore[union-attr]
    assert replies[1] != replies[2]
    # /history printed both turns of the first session, then one turn of the second.
    assert "you: Hello, I am Ada\nfrom London\n" in out
    assert f'{FLASH}: You asked: "What is my name?"' in out
    assert f'{LITE}: You asked: "Tell me more"' in out
    # /sessions listed both... the first one at least, marked as the current one.
    assert re.search(rf"\*\s*│\s*{first}", out)
    # The error of an unknown model is one line; the chat went on.
    errors = result.stderr.splitlines()
    assert len(errors) == 2
    assert errors[0].startswith("error: 404") and "nope-model" in errors[0]
    assert errors[1] == "error: unknown command /bogus (/help lists them)"
    assert f"  {LITE}" in out and "/model NAME" in out  # the list, and the help
    assert "never sent" not in out
    # The stored messages name their model.
    session = stack.http.get(f"/api/v1/sessions/{second}").json()
    models = [m["metadata"].get("model") for m in session["messages"] if m["role"] == "model"]
    assert models == [FLASH, LITE]
    assert [m["parts"][0]["text"] for m in session["messages"] if m["role"] == "user"] == [
        "What is my name?",
        "Are you there?",
        "Tell me more",
    ]
    # --session resumes; the next turn sees the whole conversation.
    resumed = run("chat", "--url", stack.url, "--session", first, stdin="/history\n")
    assert resumed.exit_code == 0
    assert f"session {first} resumed (4 messages)" in resumed.stdout
    assert 'You asked: "Hello, I am Ada from London"' in resumed.stdout
    missing = run("chat", "--url", stack.url, "--session", "nope")
    assert missing.exit_code == 1 and "404" in missing.stderr


def test_chat_reads_piped_input_in_a_real_process(serve: Any) -> None:
    stack = serve([], [{"name": "alpha", "keys": [GOOD]}])
    done = subprocess.run(
        [sys.executable, "-m", "gemgate", "chat", "--url", stack.url],
        input="First question\nSecond question\n/history\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert done.stdout.count('You asked: "First question"') == 2  # the answer, then /history
    assert "you: Second question" in done.stdout


def test_ctrl_c_stops_an_answer_and_then_leaves_at_the_prompt(serve: Any) -> None:
    stack = serve([], [{"name": "alpha", "keys": [GOOD]}], delay=0.5)
    proc = subprocess.Popen(
        [sys.executable, "-m", "gemgate", "chat", "--url", stack.url],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdin is not None and proc.stdout is not None
    try:
        seen = b""
        while b"\n" not in seen:  # the session line
            seen += os.read(proc.stdout.fileno(), 4096)
        proc.stdin.write(b"Tell me a long story about lighthouses\n")
        proc.stdin.flush()
        while b"You asked" not in seen:  # the first chunk of the answer
            chunk = os.read(proc.stdout.fileno(), 4096)
            assert chunk, "the chat ended early"
            seen += chunk
        proc.send_signal(signal.SIGINT)
        proc.stdin.write(b"/history\n")
        proc.stdin.flush()
        while b"you: Tell me" not in seen:
            chunk = os.read(proc.stdout.fileno(), 4096)
            assert chunk, "the chat ended early"
            seen += chunk
        proc.send_signal(signal.SIGINT)  # at the prompt: leave
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = (seen + out).decode()
    assert proc.returncode == 0, err.decode()
    answer, rest = text.split("(answer stopped)\n")
    assert "(Reply " not in answer  # cut short: the last chunk never came
    assert "you: Tell me a long story about lighthouses" in rest
