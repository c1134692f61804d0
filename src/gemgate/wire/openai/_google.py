"""Google's extras (``extra_body.google``) → their place in a GenerateContentRequest.

Any field of a ``GenerateContentRequest`` or of its ``generationConfig`` may be given,
spelt in ``snake_case`` or ``camelCase``, as Gemini's own OpenAI-compatibility layer
takes them: ``cached_content``, ``safety_settings``, ``service_tier``, ``store``,
``labels``, ``tool_config``, ``tools`` and ``system_instruction`` go to the top of the
request (never over what the messages or OpenAI's fields already set there); ``thinking_config``,
``response_modalities``, ``speech_config``, ``media_resolution``, ``image_config`` … to
``generationConfig``. The keys inside message-typed values are camel-cased too; values
that hold names of their own (``labels``, schemas) pass as they are. An unknown field is
refused, naming it; ``thought_tag_marker`` (Google's option for thoughts inline in
``content``) shapes the answer, not the request.

Example:
    >>> request = {"contents": []}
    >>> apply_google(request, {"thinking_config": {"include_thoughts": True},
    ...     "service_tier": "flex", "labels": {"team_name": "a"}}, "extra_body.google")
    >>> request
    {'contents': [], 'generationConfig': {'thinkingConfig': {'includeThoughts': True}}, \
'serviceTier': 'flex', 'labels': {'team_name': 'a'}}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gemgate.wire._names import camel
from gemgate.wire.openai._errors import InvalidRequest

__all__ = ["RESPONSE_OPTIONS", "TOP_FIELDS", "GENERATION_FIELDS", "apply_google"]

_AS_IS = False
_CAMEL = True
TOP_FIELDS: dict[str, bool] = {
    "cachedContent": _AS_IS,
    "safetySettings": _CAMEL,
    "serviceTier": _AS_IS,
    "store": _AS_IS,
    "labels": _AS_IS,
    "toolConfig": _CAMEL,
    "tools": _AS_IS,
    "systemInstruction": _AS_IS,
}
"""GenerateContentRequest fields an extra may set, and whether their keys are camel-cased."""
GENERATION_FIELDS: dict[str, bool] = {
    "candidateCount": _AS_IS,
    "stopSequences": _AS_IS,
    "maxOutputTokens": _AS_IS,
    "temperature": _AS_IS,
    "topP": _AS_IS,
    "topK": _AS_IS,
    "seed": _AS_IS,
    "presencePenalty": _AS_IS,
    "frequencyPenalty": _AS_IS,
    "responseMimeType": _AS_IS,
    "responseSchema": _AS_IS,
    "responseJsonSchema": _AS_IS,
    "responseLogprobs": _AS_IS,
    "logprobs": _AS_IS,
    "enableEnhancedCivicAnswers": _AS_IS,
    "responseModalities": _AS_IS,
    "speechConfig": _CAMEL,
    "thinkingConfig": _CAMEL,
    "mediaResolution": _AS_IS,
    "imageConfig": _CAMEL,
}
"""``generationConfig`` fields an extra may set, and whether their keys are camel-cased."""
RESPONSE_OPTIONS = frozenset({"thoughtTagMarker"})
"""Extras that shape the OpenAI answer rather than the Gemini request."""


def _camel_keys(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {camel(k): _camel_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_camel_keys(v) for v in value]
    return value


def apply_google(request: dict[str, Any], google: Mapping[str, Any], where: str) -> None:
    """Put each of Google's extras where it belongs in ``request``.

    An object the request already has takes an extra's other keys: ``reasoning_effort``
    with ``thinking_config: {include_thoughts: true}`` is one ``thinkingConfig``.

    Raises:
        InvalidRequest: An extra no GenerateContentRequest has, or one that sets what
            the request already sets (``reasoning_effort`` and a thinking budget).
    """
    for key, value in google.items():
        name = camel(key) if isinstance(key, str) else ""
        if name in RESPONSE_OPTIONS:
            continue
        if name in TOP_FIELDS:
            target, nested = request, TOP_FIELDS[name]
        elif name in GENERATION_FIELDS:
            target, nested = request.setdefault("generationConfig", {}), GENERATION_FIELDS[name]
        else:
            raise InvalidRequest(
                f"Unrecognized request argument: '{where}.{key}' is no field of a Gemini "
                "GenerateContentRequest or of its generationConfig",
                f"{where}.{key}",
            )
        wire = _camel_keys(value) if nested else value
        given = target.get(name)
        if isinstance(given, dict) and isinstance(wire, dict) and given.keys().isdisjoint(wire):
            target[name] = {**given, **wire}  # reasoning_effort + include_thoughts
        elif name in target:
            raise InvalidRequest(
                f"'{where}.{key}' sets what the request already sets", f"{where}.{key}"
            )
        else:
            target[name] = wire
