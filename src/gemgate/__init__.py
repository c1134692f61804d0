"""gemgate: run Google's Gemini API from Python in production.

Example::

    from gemgate import Gemini

    with Gemini() as g:  # no key configured: the built-in emulator answers
        print(g.chat([{"role": "user", "content": "Hello"}])["choices"][0]["message"])
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = ["AsyncGemini", "Gemini", "Settings", "__version__"]

if TYPE_CHECKING:
    from gemgate.client import AsyncGemini, Gemini
    from gemgate.config import Settings


def __getattr__(name: str) -> Any:
    """Import the heavy parts on first use, so ``import gemgate`` stays fast."""
    if name in ("AsyncGemini", "Gemini"):
        from gemgate import client

        return getattr(client, name)
    if name == "Settings":
        from gemgate.config import Settings

        return Settings
    raise AttributeError(f"module 'gemgate' has no attribute {name!r}")
