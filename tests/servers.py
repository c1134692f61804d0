"""The machine's Redis and PostgreSQL for the tests that need them.

Locally a test skips with a reason when its server is down; under ``CI=true`` it fails.
"""

from __future__ import annotations

import os
import socket

import pytest

REDIS_URL = os.environ.get("GEMGATE_TEST_REDIS", "redis://127.0.0.1:6379/0")
POSTGRES_URL = os.environ.get("GEMGATE_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


def reachable(port: int) -> bool:
    """Whether something listens on 127.0.0.1:``port``."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def need_server(name: str, port: int) -> None:
    """Skip (locally) or fail (in CI) when a server is down."""
    if reachable(port):
        return
    message = f"{name} is not reachable on 127.0.0.1:{port}"
    if os.environ.get("CI") == "true":
        pytest.fail(message + " (CI must run these tests)")
    pytest.skip(message)
