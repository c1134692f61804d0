"""The only code that talks to the Gemini API: drivers, the pipeline, tracking, SDK wiring."""

from __future__ import annotations

from gemgate.upstream._engine import Engine, EngineSource, engine_of

__all__ = ["Engine", "EngineSource", "engine_of"]
