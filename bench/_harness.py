"""Processes, ports, targets and CPU accounting shared by the gateway benchmarks."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Mapping
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import httpx2


class SetupError(RuntimeError):
    """A gateway under test could not be installed, started or reached."""


@dataclass(frozen=True)
class Target:
    """One endpoint wrk drives, and the process tree whose CPU time it is charged."""

    name: str
    url: str
    body: Mapping[str, object]
    headers: dict[str, str]
    pid: int | None = None
    stream_url: str = ""
    stream_body: Mapping[str, object] = field(default_factory=dict)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def launch(
    stack: ExitStack,
    name: str,
    cmd: list[str],
    env: dict[str, str],
    probe: str,
    logs: Path,
    timeout: float = 60.0,
) -> subprocess.Popen[bytes]:
    """Start `cmd`, stop it when `stack` closes, and return once `probe` answers HTTP."""
    log_path = logs / f"{name}.log"
    log = stack.enter_context(log_path.open("wb"))
    try:
        proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=logs)
    except OSError as exc:
        raise SetupError(f"{name} cannot run: {exc}") from exc
    stack.callback(_stop, proc)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx2.get(probe, timeout=1)
            return proc
        except httpx2.TransportError:
            pass
        try:
            code = proc.wait(timeout=0.1)  # doubles as the poll interval
        except subprocess.TimeoutExpired:
            continue
        raise SetupError(f"{name} exited with status {code}: {_tail(log_path)}")
    raise SetupError(f"{name} did not answer {probe} in {timeout:.0f} s: {_tail(log_path)}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _tail(path: Path, chars: int = 400) -> str:
    text = path.read_text(errors="replace")[-chars:]
    return " | ".join(line.strip() for line in text.splitlines() if line.strip())


def tree_cpu_seconds(root: int) -> float:
    """User+system CPU of `root` and all its descendants, plus children it has reaped."""
    parents: dict[int, int] = {}
    ticks: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # exited while we looked
            continue
        pid = int(entry.name)
        parents[pid] = int(fields[1])
        # utime, stime, cutime, cstime: fields 14-17 of proc(5), 11-14 after the comm.
        ticks[pid] = sum(int(value) for value in fields[11:15])
    tree, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent]
        tree.update(children)
        frontier.extend(children)
    return sum(ticks.get(pid, 0) for pid in tree) / os.sysconf("SC_CLK_TCK")
