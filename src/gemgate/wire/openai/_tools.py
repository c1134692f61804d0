"""OpenAI ``tools`` / ``tool_choice`` → Gemini ``tools`` and ``toolConfig``.

OpenAI function tools (``{"type": "function", "function": {...}}``) become one Gemini
tool of ``functionDeclarations`` whose JSON Schema passes through as
``parametersJsonSchema``. An entry without ``type`` is taken as a Gemini ``Tool``
already (``{"functionDeclarations": [...]}``, ``{"googleSearch": {}}``) and passes
through. ``tool_choice`` maps to a ``functionCallingConfig`` mode; a Gemini
``tool_config`` may be given instead, not as well.

Example:
    >>> tool = {"type": "function", "function": {"name": "now", "parameters": {}}}
    >>> tools_to_gemini([tool], "required")
    {'tools': [{'functionDeclarations': [{'name': 'now', 'parametersJsonSchema': {}}]}], \
'toolConfig': {'functionCallingConfig': {'mode': 'ANY'}}}
"""

from __future__ import annotations

from typing import Any

from gemgate.wire.openai._checks import object_, sequence, string
from gemgate.wire.openai._errors import InvalidRequest

__all__ = ["tools_to_gemini"]

_MODES = {"auto": "AUTO", "none": "NONE", "required": "ANY"}
_FUNCTION_KEYS = frozenset({"name", "description", "parameters", "strict"})


def _declaration(value: Any, where: str) -> dict[str, Any]:
    function = object_(value, where)
    unknown = sorted(set(function) - _FUNCTION_KEYS)
    if unknown:
        raise InvalidRequest(f"unknown field in '{where}': {unknown[0]}", f"{where}.{unknown[0]}")
    declaration: dict[str, Any] = {"name": string(function.get("name"), f"{where}.name")}
    if function.get("description") is not None:
        declaration["description"] = string(function["description"], f"{where}.description")
    if function.get("parameters") is not None:
        parameters = object_(function["parameters"], f"{where}.parameters")
        declaration["parametersJsonSchema"] = dict(parameters)
    return declaration


def _tools(value: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    declarations: list[dict[str, Any]] | None = None
    for i, entry in enumerate(sequence(value, "tools")):
        tool = object_(entry, f"tools[{i}]")
        if "type" not in tool:  # a Gemini Tool already
            out.append(dict(tool))
            continue
        if tool["type"] != "function":
            raise InvalidRequest(f"unsupported tool type: {tool['type']!r}", f"tools[{i}].type")
        if declarations is None:
            declarations = []
            out.append({"functionDeclarations": declarations})
        declarations.append(_declaration(tool.get("function"), f"tools[{i}].function"))
    return out


def _calling(choice: Any) -> dict[str, Any]:
    """``tool_choice`` → a ``functionCallingConfig``."""
    if isinstance(choice, str):
        if choice not in _MODES:
            raise InvalidRequest(
                f"'tool_choice' must be 'auto', 'none', 'required' or a function: {choice!r}",
                "tool_choice",
            )
        return {"mode": _MODES[choice]}
    named = object_(choice, "tool_choice")
    if named.get("type", "function") != "function":
        raise InvalidRequest(f"unsupported tool_choice type: {named['type']!r}", "tool_choice.type")
    function = object_(named.get("function"), "tool_choice.function")
    name = string(function.get("name"), "tool_choice.function.name")
    return {"mode": "ANY", "allowedFunctionNames": [name]}


def tools_to_gemini(tools: Any, tool_choice: Any, tool_config: Any = None) -> dict[str, Any]:
    """``tools`` and ``tool_choice`` (or a Gemini ``tool_config``) → ``tools``/``toolConfig``.

    ``tool_choice`` takes effect only with tools; None means "not given" everywhere.

    Raises:
        InvalidRequest: A malformed tool, an unknown ``tool_choice``, or both
            ``tool_choice`` and ``tool_config``.
    """
    out: dict[str, Any] = {}
    declared = _tools(tools) if tools is not None else []
    if declared:
        out["tools"] = declared
    if tool_choice is not None and tool_config is not None:
        raise InvalidRequest("give 'tool_choice' or 'tool_config', not both", "tool_choice")
    if tool_config is not None:
        out["toolConfig"] = dict(object_(tool_config, "tool_config"))
    elif tool_choice is not None:
        calling = _calling(tool_choice)
        if declared:
            out["toolConfig"] = {"functionCallingConfig": calling}
    return out
