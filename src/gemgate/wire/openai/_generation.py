"""Generation parameters → Gemini ``generationConfig``.

OpenAI's names (``max_tokens``, ``stop``, ``n``, ``response_format``,
``reasoning_effort`` …) and the library's Gemini-flavoured ones (``top_k``,
``max_output_tokens``, ``stop_sequences``, ``response_schema``, ``thinking``) map to
one ``generationConfig``.

``reasoning_effort`` follows the table of Gemini's own OpenAI-compatibility layer: a
``thinkingBudget`` for Gemini 2.5 models (``none`` 0, ``minimal``/``low`` 1 024,
``medium`` 8 192, ``high`` 24 576) and a ``thinkingLevel`` for Gemini 3 and later
(Pro models have no ``MINIMAL``: ``none`` and ``minimal`` are ``LOW`` there; the others
cannot stop thinking, so ``none`` is ``MINIMAL``).

Example:
    >>> generation_config({"max_tokens": 64, "stop": "END", "reasoning_effort": "low"})
    {'maxOutputTokens': 64, 'stopSequences': ['END'], 'thinkingConfig': {'thinkingBudget': 1024}}
    >>> generation_config({"reasoning_effort": "none"}, model="gemini-3-flash-preview")
    {'thinkingConfig': {'thinkingLevel': 'MINIMAL'}}
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from gemgate.wire._names import camel
from gemgate.wire.openai._checks import integer, number, object_, string, strings
from gemgate.wire.openai._errors import InvalidRequest

__all__ = ["GENERATION_PARAMS", "generation_config"]

_NUMBERS = {
    "temperature": "temperature",
    "top_p": "topP",
    "presence_penalty": "presencePenalty",
    "frequency_penalty": "frequencyPenalty",
}
_INTEGERS = {"top_k": ("topK", 1), "n": ("candidateCount", 1), "seed": ("seed", None)}
_MAX_TOKENS = ("max_tokens", "max_completion_tokens", "max_output_tokens")  # the last wins
_EFFORT_BUDGET = {"none": 0, "minimal": 1024, "low": 1024, "medium": 8192, "high": 24576}
_EFFORT_LEVEL = {"none": "MINIMAL", "minimal": "MINIMAL", "low": "LOW", "medium": "MEDIUM"}
_EFFORT_LEVEL_PRO = {**_EFFORT_LEVEL, "none": "LOW", "minimal": "LOW"}
_GENERATION = re.compile(r"^(?:models/)?gemini-(?P<major>\d+)(?:\.\d+)?-(?P<rest>.*)$")
GENERATION_PARAMS = frozenset(
    {
        *_NUMBERS,
        *_INTEGERS,
        *_MAX_TOKENS,
        "stop",
        "stop_sequences",
        "response_format",
        "response_schema",
        "response_mime_type",
        "thinking",
        "reasoning_effort",
    }
)
"""The parameters :func:`generation_config` reads."""


def _thinking(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"thinkingBudget": -1 if value else 0, "includeThoughts": value}
    if isinstance(value, int):
        return {"thinkingBudget": value}
    if isinstance(value, Mapping):
        return {camel(k): v for k, v in value.items()}
    raise InvalidRequest(
        "'thinking' must be a bool, a token budget or a thinking_config object", "thinking"
    )


def _thinks_in_levels(model: str | None) -> tuple[bool, bool]:
    """Whether ``model`` takes a ``thinkingLevel`` (Gemini 3 and later), and is a Pro."""
    match = _GENERATION.match(model or "")
    if match is None or int(match["major"]) < 3:
        return False, False
    return True, match["rest"].startswith("pro")


def _effort(effort: Any, model: str | None) -> dict[str, Any]:
    """OpenAI ``reasoning_effort`` → a ``thinkingConfig`` (a level or a budget by model)."""
    if not isinstance(effort, str) or effort not in _EFFORT_BUDGET:
        raise InvalidRequest(
            f"'reasoning_effort' must be one of {sorted(_EFFORT_BUDGET)}: {effort!r}",
            "reasoning_effort",
        )
    levels, pro = _thinks_in_levels(model)
    if levels:
        return {"thinkingLevel": (_EFFORT_LEVEL_PRO if pro else _EFFORT_LEVEL).get(effort, "HIGH")}
    return {"thinkingBudget": _EFFORT_BUDGET[effort]}


def _response_format(value: Any) -> dict[str, Any]:
    """OpenAI ``response_format`` → ``responseMimeType`` (+ ``responseJsonSchema``)."""
    fmt = {"type": value} if isinstance(value, str) else object_(value, "response_format")
    kind = fmt.get("type")
    if kind not in ("text", "json_object", "json_schema"):
        raise InvalidRequest(
            "'response_format.type' must be 'text', 'json_object' or 'json_schema'",
            "response_format.type",
        )
    if kind == "text":
        return {}
    out: dict[str, Any] = {"responseMimeType": "application/json"}
    if kind == "json_schema":
        spec = object_(fmt.get("json_schema"), "response_format.json_schema")
        if spec.get("schema") is not None:
            out["responseJsonSchema"] = object_(
                spec["schema"], "response_format.json_schema.schema"
            )
    return out


def _scalars(params: Mapping[str, Any], config: dict[str, Any]) -> None:
    for name, target in _NUMBERS.items():
        if params.get(name) is not None:
            config[target] = number(params[name], name)
    for name, (target, minimum) in _INTEGERS.items():
        if params.get(name) is not None:
            config[target] = integer(params[name], name, minimum=minimum)
    for name in _MAX_TOKENS:
        if params.get(name) is not None:
            config["maxOutputTokens"] = integer(params[name], name)
    stop_name = "stop_sequences" if params.get("stop_sequences") is not None else "stop"
    if params.get(stop_name) is not None:
        config["stopSequences"] = strings(params[stop_name], stop_name)
    if params.get("response_mime_type") is not None:
        config["responseMimeType"] = string(params["response_mime_type"], "response_mime_type")


def generation_config(params: Mapping[str, Any], model: str | None = None) -> dict[str, Any]:
    """Generation parameters → Gemini ``generationConfig`` (None values are unset).

    ``model`` (the model id the request goes to) picks how ``reasoning_effort`` maps;
    without it, to a token budget.

    Raises:
        InvalidRequest: A value of the wrong type, an unknown ``response_format`` or
            ``reasoning_effort``, or both ``thinking`` and ``reasoning_effort``.
    """
    config: dict[str, Any] = {}
    _scalars(params, config)
    if params.get("response_format") is not None:
        config.update(_response_format(params["response_format"]))
    if params.get("response_schema") is not None:
        config.setdefault("responseMimeType", "application/json")
        config["responseJsonSchema"] = object_(params["response_schema"], "response_schema")
    thinking, effort = params.get("thinking"), params.get("reasoning_effort")
    if thinking is not None and effort is not None:
        raise InvalidRequest("give 'reasoning_effort' or 'thinking', not both", "reasoning_effort")
    if thinking is not None:
        config["thinkingConfig"] = _thinking(thinking)
    if effort is not None:
        config["thinkingConfig"] = _effort(effort, model)
    return config
