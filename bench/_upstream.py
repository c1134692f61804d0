"""Start a `gemgate emulate` process on a free port for a benchmark."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

from bench._harness import free_port, launch


@contextlib.contextmanager
def emulator() -> Iterator[str]:
    """The base URL of an emulator that runs until the block ends."""
    base = f"http://127.0.0.1:{(port := free_port())}"
    cmd = [sys.executable, "-m", "gemgate", "emulate", "--port", str(port)]
    with tempfile.TemporaryDirectory(prefix="gemgate-bench-") as logs, ExitStack() as stack:
        launch(stack, "emulator", cmd, dict(os.environ), f"{base}/v1beta/models", Path(logs))
        yield base
