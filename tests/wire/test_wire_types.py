from __future__ import annotations

import typing
from typing import Any

import pytest
import typing_extensions
from pydantic import TypeAdapter, ValidationError

from gemgate.wire import types
from gemgate.wire.errors import error_body, retry_info
from gemgate.wire.types import (
    Blob,
    CachedContent,
    CountTokensRequest,
    ErrorEnvelope,
    File,
    FunctionCall,
    FunctionResponse,
    GenerateContentRequest,
    GenerateContentResponse,
    ListModelsResponse,
    SafetySetting,
)

REQUEST: dict[str, Any] = {
    "contents": [
        {
            "role": "user",
            "parts": [
                {"text": "What's in this?"},
                {"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}},
                {
                    "fileData": {
                        "mimeType": "application/pdf",
                        "fileUri": "https://generativelanguage.googleapis.com/v1beta/files/abc-123",
                    }
                },
            ],
        },
        {
            "role": "model",
            "parts": [
                {
                    "functionCall": {"name": "get_weather", "args": {"city": "Paris"}},
                    "thoughtSignature": "CikBcsjafF==",
                }
            ],
        },
        {
            "role": "user",
            "parts": [{"functionResponse": {"name": "get_weather", "response": {"result": "22C"}}}],
        },
    ],
    "systemInstruction": {"parts": [{"text": "Be terse."}]},
    "tools": [
        {
            "functionDeclarations": [
                {
                    "name": "get_weather",
                    "description": "Weather for a city",
                    "parametersJsonSchema": {"type": "object", "required": ["city"]},
                }
            ]
        },
        {"googleSearch": {}},
        {"codeExecution": {}},
    ],
    "toolConfig": {
        "functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["get_weather"]}
    },
    "safetySettings": [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_ONLY_HIGH"}],
    "generationConfig": {
        "temperature": 1.0,
        "topP": 0.95,
        "topK": 64,
        "maxOutputTokens": 8192,
        "stopSequences": ["END"],
        "responseMimeType": "application/json",
        "responseJsonSchema": {"type": "object"},
        "thinkingConfig": {"thinkingBudget": 1024, "includeThoughts": True},
    },
}

RESPONSE: dict[str, Any] = {
    "candidates": [
        {
            "content": {"role": "model", "parts": [{"text": "Hi!"}]},
            "finishReason": "STOP",
            "index": 0,
            "safetyRatings": [
                {"category": "HARM_CATEGORY_HARASSMENT", "probability": "NEGLIGIBLE"}
            ],
            "citationMetadata": {
                "citationSources": [
                    {"startIndex": 0, "endIndex": 40, "uri": "https://x", "license": "mit"}
                ]
            },
        }
    ],
    "usageMetadata": {
        "promptTokenCount": 83,
        "candidatesTokenCount": 14,
        "thoughtsTokenCount": 104,
        "totalTokenCount": 201,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 83}],
    },
    "modelVersion": "gemini-2.5-flash",
    "responseId": "qpc2afWVFJK4vr0Pq6WiyAU",
}


def test_every_shape_resolves_and_is_documented() -> None:
    for name in types.__all__:
        cls = getattr(types, name)
        assert typing_extensions.is_typeddict(cls), name
        assert cls.__doc__ and cls.__doc__.strip(), name
        assert typing.get_type_hints(cls, include_extras=True), name


def test_request_validates() -> None:
    assert TypeAdapter(GenerateContentRequest).validate_python(REQUEST) == REQUEST


def test_response_validates() -> None:
    assert TypeAdapter(GenerateContentResponse).validate_python(RESPONSE) == RESPONSE


def test_blocked_prompt_and_empty_candidate_validate() -> None:
    blocked = {"promptFeedback": {"blockReason": "SAFETY"}, "modelVersion": "m", "responseId": "r"}
    assert TypeAdapter(GenerateContentResponse).validate_python(blocked) == blocked
    starved = {"candidates": [{"content": {"role": "model"}, "finishReason": "MAX_TOKENS"}]}
    assert TypeAdapter(GenerateContentResponse).validate_python(starved) == starved


def test_error_envelope_matches_builder() -> None:
    body = error_body(429, "quota", details=[retry_info(2.5)])
    assert TypeAdapter(ErrorEnvelope).validate_python(body) == body


@pytest.mark.parametrize(
    ("shape", "value"),
    [
        (GenerateContentRequest, {"systemInstruction": {"parts": []}}),
        (Blob, {"mimeType": "image/png"}),
        (FunctionCall, {"args": {}}),
        (FunctionResponse, {"name": "f"}),
        (SafetySetting, {"category": "HARM_CATEGORY_HARASSMENT"}),
        (ErrorEnvelope, {}),
    ],
)
def test_required_fields_are_enforced(shape: Any, value: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        TypeAdapter(shape).validate_python(value)


@pytest.mark.parametrize(
    ("shape", "value"),
    [
        (
            File,
            {
                "name": "files/abc-123",
                "mimeType": "image/png",
                "sizeBytes": "20480",
                "state": "ACTIVE",
                "source": "UPLOADED",
                "error": {"code": 400, "message": "bad"},
            },
        ),
        (
            CachedContent,
            {
                "name": "cachedContents/4d2kd477o3pg",
                "model": "models/gemini-2.5-flash",
                "expireTime": "2025-07-01T11:00:00.100Z",
                "usageMetadata": {"totalTokenCount": 4120},
            },
        ),
        (CachedContent, {"ttl": "600s"}),
        (
            ListModelsResponse,
            {
                "models": [
                    {
                        "name": "models/gemini-2.5-flash",
                        "inputTokenLimit": 1048576,
                        "thinking": True,
                    }
                ],
                "nextPageToken": "t",
            },
        ),
        (CountTokensRequest, {"generateContentRequest": {"model": "models/m", "contents": []}}),
    ],
)
def test_resource_shapes_validate(shape: Any, value: dict[str, Any]) -> None:
    assert TypeAdapter(shape).validate_python(value) == value
