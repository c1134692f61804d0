"""The gateway face: native Gemini and OpenAI-compatible APIs over the upstream core."""

from __future__ import annotations

from gemgate.gateway._app import Gateway, create_app

__all__ = ["Gateway", "create_app"]
