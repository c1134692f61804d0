"""The operator's commands against a running gateway: ``chat``, ``quota``, ``keys``, ``usage``.

They talk HTTP to ``gemgate serve`` (``--url``, default ``GEMGATE_URL`` or
``http://127.0.0.1:8080``; ``--key`` or ``GEMGATE_KEY`` for a gateway key) and import no
gateway code. ``gemgate.cli`` registers them as commands.
"""

from __future__ import annotations

from gemgate.console._chat import chat
from gemgate.console._quota import keys, quota
from gemgate.console._usage import usage

__all__ = ["chat", "keys", "quota", "usage"]
