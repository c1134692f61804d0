"""The peer gateways `bench.gateway --peers` compares gemgate with: LiteLLM and Portkey.

Each is installed once into ~/.cache/gemgate-bench (outside the project and its .venv;
`$XDG_CACHE_HOME` moves it), reused by later runs, started on loopback against the same
`gemgate emulate`, and driven through its OpenAI-style /v1/chat/completions, which it
turns into native Gemini calls (`:generateContent`, `:streamGenerateContent`).

- LiteLLM: `litellm[proxy]` in its own venv, provider `gemini/` with `api_base` set to the
  emulator's `/v1beta` (LiteLLM appends `/models/{model}:{method}`), one worker.
- Portkey: `@portkey-ai/gateway` from npm, run with node, provider `google`; its custom
  host is the emulator's bare origin, because Portkey appends `/v1beta/models/...` itself.

A peer that cannot be installed or started is reported and left out; the run goes on.
Reading the numbers: LiteLLM runs one worker process, so its throughput is one core's.
Portkey waits 25 ms before it passes on a stream's first chunk (a `setTimeout` in its
stream reader, 1.15.2), which is most of its time to first event.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

from bench._harness import SetupError, Target, free_port, launch

# Exact pins, bumped deliberately: litellm 1.82.7/1.82.8 were hijacked releases (1.107.0 is
# reported as one too), and 1.109.x needs a certifi newer than the package index here has.
LITELLM = "litellm[proxy]==1.106.2"
PORTKEY = "@portkey-ai/gateway@1.15.2"
MODEL = "gemini-2.5-flash-lite"
CHAT = {"model": MODEL, "messages": [{"role": "user", "content": "Hello there"}]}
STREAM_CHAT = {**CHAT, "stream": True}
_KNOWN_PTH = {"distutils-precedence.pth"}  # setuptools' own start-up hook

Starter = Callable[[ExitStack, str, dict[str, str], Path], Target]


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "gemgate-bench"


def peer_targets(stack: ExitStack, emulator: str, env: dict[str, str], logs: Path) -> list[Target]:
    """Install (first run only) and start each peer; print why one is left out."""
    starters: list[tuple[str, Starter]] = [("LiteLLM", _litellm), ("Portkey", _portkey)]
    targets = []
    for name, start in starters:
        try:
            targets.append(start(stack, emulator, env, logs))
        except SetupError as exc:
            print(f"{name}: left out: {exc}")
    return targets


def _install(name: str, home: Path, spec: str, steps: list[list[str]]) -> None:
    """Run `steps` unless `home` already holds `spec`, and say how long it took."""
    marker = home / "gemgate-bench-spec.txt"
    if marker.is_file() and marker.read_text() == spec:
        print(f"{name}: reusing {spec} in {home}")
        return
    print(f"{name}: installing {spec} into {home} (first run only)...", flush=True)
    start = time.perf_counter()
    for step in steps:
        done = subprocess.run(step, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            lines = (done.stderr or done.stdout).strip().splitlines() or ["(no output)"]
            raise SetupError(f"`{' '.join(step[:4])} ...` failed: {lines[-1]}")
    marker.write_text(spec)
    print(f"{name}: installed in {time.perf_counter() - start:.1f} s")


def _litellm(stack: ExitStack, emulator: str, env: dict[str, str], logs: Path) -> Target:
    venv = cache_dir() / "litellm-venv"
    python = str(venv / "bin" / "python")
    _install(
        "LiteLLM",
        venv,
        LITELLM,
        [
            [sys.executable, "-m", "venv", "--clear", str(venv)],
            [python, "-m", "pip", "install", "-q", LITELLM],
        ],
    )
    _refuse_startup_hooks(venv)
    key = f"sk-{secrets.token_hex(24)}"
    config = logs / "litellm.yaml"
    config.write_text(_litellm_config(emulator, key))
    port = free_port()
    proc = launch(
        stack,
        "litellm",
        [str(venv / "bin" / "litellm"), "--config", str(config), "--host", "127.0.0.1"]
        + ["--port", str(port), "--num_workers", "1"],
        {**env, "LITELLM_LOCAL_MODEL_COST_MAP": "True"},  # no cost-map fetch at start
        f"http://127.0.0.1:{port}/health/liveliness",
        logs,
        timeout=180,
    )
    url = f"http://127.0.0.1:{port}/v1/chat/completions"
    headers = {"authorization": f"Bearer {key}"}
    return Target("LiteLLM", url, CHAT, headers, proc.pid, url, STREAM_CHAT)


def _litellm_config(emulator: str, master_key: str) -> str:
    # JSON is YAML; the proxy refuses to start without a master key.
    model = {
        "model_name": MODEL,
        "litellm_params": {
            "model": f"gemini/{MODEL}",
            "api_base": f"{emulator}/v1beta",
            "api_key": "bench-key",
        },
    }
    return json.dumps({"model_list": [model], "general_settings": {"master_key": master_key}})


def _refuse_startup_hooks(venv: Path) -> None:
    """Refuse a venv whose .pth files run code (how litellm 1.82.8 stole credentials)."""
    for pth in venv.glob("lib/python*/site-packages/*.pth"):
        if pth.name not in _KNOWN_PTH and "import" in pth.read_text(errors="replace"):
            raise SetupError(f"{pth} runs code at Python start-up; not starting LiteLLM")


def _portkey(stack: ExitStack, emulator: str, env: dict[str, str], logs: Path) -> Target:
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        raise SetupError("node and npm are needed (Debian packages nodejs, npm)")
    prefix = cache_dir() / "portkey"
    prefix.mkdir(parents=True, exist_ok=True)
    npm_install = [npm, "install", "--prefix", str(prefix), "--no-audit", "--no-fund", PORTKEY]
    _install("Portkey", prefix, PORTKEY, [npm_install])
    port = free_port()
    server = prefix / "node_modules" / "@portkey-ai" / "gateway" / "build" / "start-server.js"
    proc = launch(
        stack,
        "portkey",
        [node, str(server), f"--port={port}", "--headless"],
        env,
        f"http://127.0.0.1:{port}/",
        logs,
    )
    url = f"http://127.0.0.1:{port}/v1/chat/completions"
    headers = {
        "authorization": "Bearer bench-key",
        "x-portkey-provider": "google",
        "x-portkey-custom-host": emulator,
    }
    return Target("Portkey", url, CHAT, headers, proc.pid, url, STREAM_CHAT)
