"""The gateway's OpenAPI document, served at ``/openapi.json``."""

from __future__ import annotations

from typing import Any

__all__ = ["spec"]

_ERROR = {"$ref": "#/components/schemas/Error"}
_MESSAGE = {
    "type": "object",
    "required": ["role"],
    "properties": {
        "role": {"type": "string", "enum": ["system", "developer", "user", "assistant", "tool"]},
        "content": {
            "anyOf": [
                {"type": "string"},
                {"type": "array", "items": {"type": "object"}},
                {"type": "null"},
            ]
        },
        "tool_calls": {"type": "array", "items": {"type": "object"}},
        "tool_call_id": {"type": "string"},
    },
}
_CHAT = {
    "type": "object",
    "required": ["model", "messages"],
    "properties": {
        "model": {"type": "string"},
        "messages": {"type": "array", "minItems": 1, "items": _MESSAGE},
        "stream": {"type": "boolean"},
        "stream_options": {"type": "object", "properties": {"include_usage": {"type": "boolean"}}},
        "temperature": {"type": "number", "minimum": 0, "maximum": 2},
        "top_p": {"type": "number", "minimum": 0, "maximum": 1},
        "top_k": {"type": "integer", "minimum": 1},
        "max_tokens": {"type": "integer", "minimum": 1},
        "max_completion_tokens": {"type": "integer", "minimum": 1},
        "stop": {
            "anyOf": [
                {"type": "string"},
                {"type": "array", "items": {"type": "string"}, "maxItems": 5},
            ]
        },
        "n": {"type": "integer", "minimum": 1, "maximum": 8},
        "seed": {"type": "integer"},
        "tools": {"type": "array", "items": {"type": "object"}},
        "tool_choice": {"anyOf": [{"type": "string"}, {"type": "object"}]},
        "response_format": {"type": "object"},
        "reasoning_effort": {
            "type": "string",
            "enum": ["none", "minimal", "low", "medium", "high"],
        },
        "extra_body": {"type": "object"},
    },
}
_EMBED = {
    "type": "object",
    "required": ["model", "input"],
    "properties": {
        "model": {"type": "string"},
        "input": {
            "anyOf": [
                {"type": "string"},
                {"type": "array", "items": {"type": "string"}, "minItems": 1},
            ]
        },
        "dimensions": {"type": "integer", "minimum": 1},
    },
}


def _op(summary: str, body: dict[str, Any] | None = None, ok: str = "200") -> dict[str, Any]:
    operation: dict[str, Any] = {
        "summary": summary,
        "responses": {
            ok: {"description": "OK"},
            "4XX": {
                "description": "Client error",
                "content": {"application/json": {"schema": _ERROR}},
            },
        },
    }
    if body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": body}},
        }
    return operation


def spec() -> dict[str, Any]:
    """The OpenAPI 3.1 document."""
    session_id = {
        "name": "session_id",
        "in": "path",
        "required": True,
        "schema": {"type": "string"},
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "gemgate gateway", "version": "0.1.0"},
        "paths": {
            "/v1/chat/completions": {"post": _op("OpenAI chat completions over Gemini", _CHAT)},
            "/v1/embeddings": {"post": _op("OpenAI embeddings over Gemini", _EMBED)},
            "/v1/models": {"get": _op("List models")},
            "/v1/models/{model}": {
                "get": {
                    **_op("Get a model"),
                    "parameters": [
                        {
                            "name": "model",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string"},
                        }
                    ],
                }
            },
            "/api/v1/sessions": {
                "get": _op("List chat sessions"),
                "post": _op(
                    "Create a chat session",
                    {
                        "type": "object",
                        "properties": {"title": {"type": "string"}, "user": {"type": "string"}},
                    },
                    ok="201",
                ),
            },
            "/api/v1/sessions/{session_id}": {
                "get": {**_op("A session with its messages"), "parameters": [session_id]},
                "delete": {**_op("Delete a session", ok="204"), "parameters": [session_id]},
            },
            "/api/v1/sessions/{session_id}/messages": {
                "post": {
                    **_op(
                        "Send a message",
                        {
                            "type": "object",
                            "required": ["content"],
                            "properties": {
                                "content": {"type": "string", "minLength": 1},
                                "stream": {"type": "boolean"},
                                "model": {"type": "string"},
                                "system": {"type": "string"},
                            },
                        },
                    ),
                    "parameters": [session_id],
                }
            },
            "/api/v1/models/status": {"get": _op("Active backend")},
            "/api/v1/models/load": {
                "post": _op(
                    "Switch the active backend",
                    {
                        "type": "object",
                        "required": ["backend_type"],
                        "properties": {
                            "backend_type": {"type": "string"},
                            "model_name_or_path": {"type": "string"},
                            "base_url": {"type": "string"},
                        },
                    },
                )
            },
            "/api/v1/live/tokens": {
                "post": _op(
                    "Mint an ephemeral Live API token",
                    {
                        "type": "object",
                        "properties": {
                            "uses": {"type": "integer", "minimum": 1, "maximum": 1000},
                            "expire_seconds": {"type": "integer", "minimum": 1},
                            "new_session_expire_seconds": {"type": "integer", "minimum": 1},
                            "model": {"type": "string"},
                        },
                    },
                )
            },
            "/api/v1/login": {"post": _op("Trade a gateway key for a session cookie")},
            "/gemini/v1beta/models/{model}:generateContent": {
                "post": {
                    **_op("Native Gemini generateContent (relayed)", {"type": "object"}),
                    "parameters": [
                        {
                            "name": "model",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string"},
                        }
                    ],
                }
            },
            "/healthz": {"get": _op("Liveness")},
            "/readyz": {"get": _op("Readiness: upstream and store")},
            "/metrics": {"get": _op("Prometheus metrics")},
        },
        "components": {"schemas": {"Error": {"type": "object"}}},
    }
