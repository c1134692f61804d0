"""A faithful local Gemini API: REST, SSE, Live, files, caches, File Search, quotas and faults.

Example::

    from gemgate.emulator import EmulatorConfig, create_app

    app = create_app(EmulatorConfig(), control=True)  # any ASGI server or transport
"""

from __future__ import annotations

from gemgate.emulator._app import Emulator, create_app
from gemgate.emulator._config import (
    EmulatorConfig,
    EmulatorSettings,
    FunctionCallReply,
    Limits,
    ModelSpec,
    ProjectConfig,
    Rule,
)
from gemgate.emulator._faults import FaultRule

__all__ = [
    "Emulator",
    "EmulatorConfig",
    "EmulatorSettings",
    "FaultRule",
    "FunctionCallReply",
    "Limits",
    "ModelSpec",
    "ProjectConfig",
    "Rule",
    "create_app",
]
