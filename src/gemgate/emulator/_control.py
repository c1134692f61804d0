"""The control API for tests: ``/_emulator/reset``, ``/_emulator/faults``, ``/_emulator/stats``.

Off unless the emulator is created with ``control=True`` (``gemgate emulate --control``).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError
from starlette.requests import Request
from starlette.responses import Response

from gemgate.emulator._errors import invalid_argument
from gemgate.emulator._faults import FaultRule
from gemgate.emulator._http import json_response, read_json
from gemgate.emulator._state import EmulatorState
from gemgate.wire.errors import FieldViolation

__all__ = ["get_faults", "reset", "set_faults", "stats"]

_COUNTERS = ("requests", "admitted", "rate_limited", "faults", "input_tokens")


class _FaultsBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    faults: list[FaultRule]


def _violation(loc: tuple[int | str, ...], msg: str) -> FieldViolation:
    where = ".".join(str(part) for part in loc)
    return FieldViolation(field=where, description=f"Invalid fault rule at '{where}': {msg}")


async def reset(state: EmulatorState, request: Request) -> Response:
    """Forget caches, files, quota windows, counters and fault rules."""
    state.reset()
    return json_response({})


async def set_faults(state: EmulatorState, request: Request) -> Response:
    """Replace the fault rules with ``{"faults": [rule, ...]}``."""
    try:
        body = _FaultsBody.model_validate(await read_json(request))
    except ValidationError as exc:
        violations = [_violation(error["loc"], error["msg"]) for error in exc.errors()]
        message = "\n".join(v.description for v in violations)
        raise invalid_argument(message, violations) from None
    state.faults.set_rules(body.faults)
    return json_response({"faults": [r.model_dump(exclude_none=True) for r in body.faults]})


async def get_faults(state: EmulatorState, request: Request) -> Response:
    """The active fault rules."""
    return json_response({"faults": [r.model_dump(exclude_none=True) for r in state.faults.rules]})


async def stats(state: EmulatorState, request: Request) -> Response:
    """Per-project counters and their totals."""
    projects: dict[str, Any] = {name: dict(c) for name, c in sorted(state.quota.stats.items())}
    totals = {key: sum(c[key] for c in projects.values()) for key in _COUNTERS}
    return json_response({"projects": projects, "totals": totals})
