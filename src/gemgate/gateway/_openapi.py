"""The gateway's OpenAPI document, served at ``/openapi.json``, made from its route table.

Every route of the table is listed with its summary, path parameters, request body (the
schemas here) and its error responses, in the error shape of its face
(`gemgate.gateway._faces`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from gemgate.gateway._faces import FACES, face_of
from gemgate.gateway._routing import Route
from gemgate.gateway._sessions_api import IMAGE_TYPES

__all__ = [
    "CHAT",
    "CREATE_BATCH",
    "EMBEDDINGS",
    "LIVE_TOKEN",
    "FILE_UPLOAD",
    "IMAGE_EDIT",
    "IMAGE_GENERATION",
    "LOAD_BACKEND",
    "MESSAGES",
    "MESSAGES_COUNT",
    "NATIVE",
    "NEW_DOCUMENT",
    "NEW_SESSION",
    "NEW_STORE",
    "NEW_VECTOR_STORE",
    "NEW_VECTOR_STORE_FILE",
    "REGENERATE",
    "RENAME_SESSION",
    "RESPONSE",
    "SEARCH_STORE",
    "SESSION_MESSAGE",
    "SPEECH",
    "VECTOR_STORE_SEARCH",
    "spec",
]

_IDS = {"type": "array", "items": {"type": "string"}}
_CHAT_MESSAGE = {
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
        "reasoning_content": {"anyOf": [{"type": "string"}, {"type": "null"}]},
        "extra_content": {"type": "object"},
    },
}
CHAT = {
    "type": "object",
    "required": ["model", "messages"],
    "properties": {
        "model": {"type": "string"},
        "messages": {"type": "array", "minItems": 1, "items": _CHAT_MESSAGE},
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
        "google": {"type": "object"},
        "vector_store_ids": _IDS,
    },
}
EMBEDDINGS = {
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

RESPONSE = {
    "type": "object",
    "required": ["model", "input"],
    "properties": {
        "model": {"type": "string"},
        "input": {
            "anyOf": [
                {"type": "string"},
                {"type": "array", "minItems": 1, "items": {"type": "object"}},
            ]
        },
        "instructions": {"type": "string"},
        "tools": {"type": "array", "items": {"type": "object"}},
        "tool_choice": {"anyOf": [{"type": "string"}, {"type": "object"}]},
        "temperature": {"type": "number", "minimum": 0, "maximum": 2},
        "top_p": {"type": "number", "minimum": 0, "maximum": 1},
        "max_output_tokens": {"type": "integer", "minimum": 1},
        "reasoning": {
            "type": "object",
            "properties": {
                "effort": {"type": "string", "enum": ["none", "minimal", "low", "medium", "high"]},
                "summary": {"type": "string", "enum": ["auto", "concise", "detailed"]},
            },
        },
        "text": {"type": "object", "properties": {"format": {"type": "object"}}},
        "store": {"type": "boolean"},
        "stream": {"type": "boolean"},
        "previous_response_id": {"type": "string"},
        "metadata": {"type": "object", "additionalProperties": {"type": "string"}},
        "parallel_tool_calls": {"type": "boolean"},
    },
}


NEW_SESSION = {
    "type": "object",
    "properties": {"title": {"type": "string"}, "user": {"type": "string"}, "store_ids": _IDS},
}
_TURN_OPTIONS = {
    "stream": {"type": "boolean"},
    "model": {"type": "string"},
    "system": {"type": "string"},
}
SESSION_MESSAGE = {
    "type": "object",
    "properties": {
        "content": {"type": "string"},
        "images": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["mime_type", "data"],
                "properties": {
                    "mime_type": {"type": "string", "enum": sorted(IMAGE_TYPES)},
                    "data": {"type": "string", "format": "byte"},
                },
                "additionalProperties": False,
            },
        },
        "store_ids": _IDS,
        **_TURN_OPTIONS,
    },
}
REGENERATE = {"type": "object", "properties": _TURN_OPTIONS}
RENAME_SESSION = {
    "type": "object",
    "minProperties": 1,
    "properties": {"title": {"type": ["string", "null"]}, "store_ids": _IDS},
}
LOAD_BACKEND = {
    "type": "object",
    "required": ["backend_type"],
    "properties": {
        "backend_type": {"type": "string"},
        "model_name_or_path": {"type": "string"},
        "base_url": {"type": "string"},
    },
}
LIVE_TOKEN = {
    "type": "object",
    "properties": {
        "uses": {"type": "integer", "minimum": 1, "maximum": 100},
        "expire_seconds": {"type": "integer", "minimum": 1, "maximum": 72000},
        "new_session_expire_seconds": {"type": "integer", "minimum": 1},
        "model": {"type": "string"},
    },
}
_OBJECT = {"type": "object"}
_CHUNKING = {
    "type": "object",
    "properties": {
        "max_tokens": {"type": "integer", "minimum": 16},
        "overlap": {"type": "integer", "minimum": 0},
    },
    "additionalProperties": False,
}
NEW_STORE = {
    "type": "object",
    "required": ["name"],
    "properties": {"name": {"type": "string", "minLength": 1}, "metadata": _OBJECT},
}
_JSON_DOCUMENT = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "minLength": 1},
        "text": {"type": "string"},
        "data": {"type": "string", "format": "byte"},
        "url": {"type": "string", "format": "uri"},
        "mime_type": {"type": "string"},
        "metadata": _OBJECT,
        "chunking": _CHUNKING,
    },
}
_FORM_DOCUMENTS = {
    "type": "object",
    "required": ["file"],
    "properties": {
        "file": {"type": "array", "items": {"type": "string", "format": "binary"}},
        "metadata": {"type": "string", "description": "a JSON object"},
        "chunking": {"type": "string", "description": "a JSON object"},
    },
}
NEW_DOCUMENT = {
    "content": {
        "application/json": {"schema": _JSON_DOCUMENT},
        "multipart/form-data": {"schema": _FORM_DOCUMENTS},
    }
}
"""Both media types; `_operation` lists a body with ``content`` as it is."""
SEARCH_STORE = {
    "type": "object",
    "required": ["query"],
    "properties": {
        "query": {"type": "string", "minLength": 1},
        "k": {"type": "integer", "minimum": 1, "maximum": 100},
        "filter": _OBJECT,
        "mode": {"type": "string", "enum": ["hybrid", "keyword", "vector"]},
    },
}
FILE_UPLOAD = {
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["file", "purpose"],
                "properties": {
                    "file": {"type": "string", "format": "binary"},
                    "purpose": {"type": "string"},
                },
            }
        }
    }
}
CREATE_BATCH = {
    "type": "object",
    "required": ["input_file_id", "endpoint", "completion_window"],
    "properties": {
        "input_file_id": {"type": "string"},
        "endpoint": {"type": "string", "enum": ["/v1/chat/completions", "/v1/embeddings"]},
        "completion_window": {"type": "string", "enum": ["24h"]},
        "metadata": {"type": "object", "additionalProperties": {"type": "string"}},
    },
}
_IMAGE_OPTIONS = {
    "model": {"type": "string"},
    "n": {"type": "integer", "minimum": 1, "maximum": 10},
    "size": {"type": "string", "examples": ["1024x1024", "1536x1024", "auto"]},
    "response_format": {"type": "string", "enum": ["b64_json", "url"]},
}
IMAGE_GENERATION = {
    "type": "object",
    "required": ["prompt"],
    "properties": {"prompt": {"type": "string", "minLength": 1}, **_IMAGE_OPTIONS},
}
IMAGE_EDIT = {
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["image", "prompt"],
                "properties": {
                    "image": {"type": "string", "format": "binary"},
                    "prompt": {"type": "string", "minLength": 1},
                    **_IMAGE_OPTIONS,
                },
            }
        }
    }
}
SPEECH = {
    "type": "object",
    "required": ["input", "voice"],
    "properties": {
        "model": {"type": "string"},
        "input": {"type": "string", "minLength": 1, "maxLength": 4096},
        "voice": {"type": "string", "examples": ["alloy", "Kore"]},
        "response_format": {"type": "string", "enum": ["wav", "pcm"]},
        "speed": {"type": "number", "minimum": 0.25, "maximum": 4},
        "instructions": {"type": "string"},
    },
}
NEW_VECTOR_STORE = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "file_ids": _IDS, "metadata": _OBJECT},
}
NEW_VECTOR_STORE_FILE = {
    "type": "object",
    "required": ["file_id"],
    "properties": {
        "file_id": {"type": "string"},
        "attributes": _OBJECT,
        "chunking_strategy": _OBJECT,
    },
}
VECTOR_STORE_SEARCH = {
    "type": "object",
    "required": ["query"],
    "properties": {
        "query": {"anyOf": [{"type": "string"}, _IDS]},
        "max_num_results": {"type": "integer", "minimum": 1, "maximum": 50},
        "filters": _OBJECT,
        "rewrite_query": {"type": "boolean"},
        "ranking_options": _OBJECT,
    },
}
_ANTHROPIC_MESSAGE = {
    "type": "object",
    "required": ["role", "content"],
    "properties": {
        "role": {"type": "string", "enum": ["user", "assistant"]},
        "content": {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "object"}}]},
    },
}
_ANTHROPIC_INPUT = {
    "model": {"type": "string", "minLength": 1},
    "messages": {"type": "array", "minItems": 1, "items": _ANTHROPIC_MESSAGE},
    "system": {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "object"}}]},
    "tools": {"type": "array", "items": {"type": "object"}},
    "tool_choice": {"type": "object"},
    "thinking": {"type": "object"},
}
MESSAGES = {
    "type": "object",
    "required": ["model", "messages", "max_tokens"],
    "properties": {
        **_ANTHROPIC_INPUT,
        "max_tokens": {"type": "integer", "minimum": 1},
        "stream": {"type": "boolean"},
        "temperature": {"type": "number", "minimum": 0, "maximum": 1},
        "top_p": {"type": "number", "minimum": 0, "maximum": 1},
        "top_k": {"type": "integer", "minimum": 0},
        "stop_sequences": {"type": "array", "items": {"type": "string"}},
        "metadata": _OBJECT,
        "output_config": _OBJECT,
        "cache_control": _OBJECT,
        "service_tier": {"type": "string"},
    },
}
"""Anthropic's Messages body (``POST /v1/messages``)."""
MESSAGES_COUNT = {
    "type": "object",
    "required": ["model", "messages"],
    "properties": _ANTHROPIC_INPUT,
}
"""Anthropic's ``count_tokens`` body."""
NATIVE = {"type": "object"}
"""Native request bodies are Google's; the upstream checks them."""


def _operation(route: Route) -> dict[str, Any]:
    schema = {"$ref": f"#/components/schemas/{face_of(route.path).name}"}
    error = {"description": "Error", "content": {"application/json": {"schema": schema}}}
    operation: dict[str, Any] = {
        "summary": route.doc.summary,
        "responses": {str(route.doc.ok): {"description": "OK"}, "4XX": error, "5XX": error},
    }
    if route.params:
        operation["parameters"] = [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in route.params
        ]
    body = route.doc.body
    if body is not None:
        content = body.get("content", {"application/json": {"schema": body}})
        operation["requestBody"] = {"required": True, "content": content}
    return operation


def spec(routes: Iterable[Route]) -> dict[str, Any]:
    """The OpenAPI 3.1 document for ``routes``."""
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route)
    return {
        "openapi": "3.1.0",
        "info": {"title": "gemgate gateway", "version": "0.1.0"},
        "paths": paths,
        "components": {"schemas": {face.name: dict(face.schema) for face in FACES}},
    }
