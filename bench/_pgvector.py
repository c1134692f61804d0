"""A throwaway PostgreSQL 16 cluster with pgvector, from the binaries ``pgserver`` bundles.

``synchronous_commit = off``: commits are not flushed one by one, as SQLite's WAL with
``synchronous = NORMAL`` does not either, so both lose at most the last commits on a crash.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["private_cluster"]


def _pginstall() -> Path | None:
    spec = importlib.util.find_spec("pgserver")
    if spec is None or not spec.submodule_search_locations:
        return None
    root = Path(next(iter(spec.submodule_search_locations))) / "pginstall"
    return root if (root / "bin" / "pg_ctl").exists() else None


def _run(args: list[str]) -> None:
    if os.geteuid() == 0:  # initdb refuses to run as root
        args = ["runuser", "-u", "postgres", "--", *args]
    done = subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{Path(args[-1]).name}: {done.stderr or done.stdout}")


@contextmanager
def private_cluster() -> Iterator[str | None]:
    """A ``postgresql://`` URL of a fresh cluster, stopped afterwards; None without pgserver."""
    pginstall = _pginstall()
    if pginstall is None:
        yield None
        return
    base = Path(tempfile.mkdtemp(prefix="gemgate-bench-pg-"))
    data, log = base / "data", base / "log"
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    pg_ctl = str(pginstall / "bin" / "pg_ctl")
    options = f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c synchronous_commit=off"
    base.chmod(0o755)
    if os.geteuid() == 0:
        shutil.chown(base, user="postgres", group="postgres")
    try:
        _run([str(pginstall / "bin" / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"])
        _run([pg_ctl, "-D", str(data), "-o", options, "-l", str(log), "-w", "start"])
        try:
            yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
        finally:
            _run([pg_ctl, "-D", str(data), "-m", "fast", "-w", "stop"])
    finally:
        shutil.rmtree(base, ignore_errors=True)
