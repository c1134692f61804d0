"""Semantic checks on normalized requests: what Google refuses after parsing."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from gemgate.emulator._builtin_tools import check_builtin_tools
from gemgate.emulator._config import ModelSpec
from gemgate.emulator._errors import invalid_argument
from gemgate.emulator._media import check_media_request
from gemgate.emulator._normalize import snake
from gemgate.emulator._signatures import Signer
from gemgate.wire.errors import FieldViolation

__all__ = ["check_contents", "check_generate_request"]

_DATA_FIELDS = (
    "text",
    "inlineData",
    "fileData",
    "functionCall",
    "functionResponse",
    "executableCode",
    "codeExecutionResult",
)
_FUNCTION_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.:\-]{0,63}$")
_SIGNATURE_DOCS = "https://ai.google.dev/gemini-api/docs/thought-signatures"


def _fail(field: str, message: str) -> None:
    raise invalid_argument(message, [FieldViolation(field=field, description=message)])


def check_contents(contents: Sequence[Mapping[str, Any]], path: str = "contents") -> None:
    """Roles and parts: one data member per part, no empty text."""
    for i, content in enumerate(contents):
        _check_content(content, f"{path}[{i}]", check_role=True)


def _check_content(content: Mapping[str, Any], path: str, *, check_role: bool) -> None:
    # Google names the request message in these errors only for generateContent paths.
    prefix = "GenerateContentRequest." if path.startswith(("contents", "system_")) else ""
    role = content.get("role", "")
    if check_role and role not in ("", "user", "model"):
        _fail(f"{path}.role", "Please use a valid role: user, model.")
    parts = content.get("parts", [])
    if not parts:
        _fail(f"{path}.parts", f"* {prefix}{path}.parts: contents.parts must not be empty.")
    for j, part in enumerate(parts):
        _check_part(part, f"{path}.parts[{j}]", prefix)


def _check_part(part: Mapping[str, Any], path: str, prefix: str) -> None:
    present = [name for name in _DATA_FIELDS if name in part]
    if not present:
        _fail(
            f"{path}.data",
            f"* {prefix}{path}.data: required oneof field 'data' must have one initialized field",
        )
    if len(present) > 1:
        _fail(
            path, f"* {prefix}{path}: oneof field 'data' is already set. Cannot set '{present[1]}'"
        )
    if present[0] == "text" and part["text"] == "" and "thoughtSignature" not in part:
        _fail(
            f"{path}.text",
            "Unable to submit request because it has an empty text parameter. "
            "Add a value to the parameter and try again.",
        )
    if present[0] == "functionResponse" and not part["functionResponse"].get("name"):
        _fail(
            f"{path}.function_response.name",
            f"* {prefix}{path}.function_response.name: Name cannot be empty.",
        )
    if present[0] == "functionCall" and not part["functionCall"].get("name"):
        _fail(
            f"{path}.function_call.name",
            f"* {prefix}{path}.function_call.name: Name cannot be empty.",
        )


def check_generate_request(request: Mapping[str, Any], model: ModelSpec, signer: Signer) -> None:
    """Everything the real service checks on a GenerateContentRequest after parsing it."""
    contents = request.get("contents", [])
    if not contents:
        _fail("contents", "* GenerateContentRequest.contents: contents is not specified")
    check_contents(contents)
    if "systemInstruction" in request:
        _check_content(request["systemInstruction"], "system_instruction", check_role=False)
    _check_tools(request.get("tools", []), request.get("toolConfig", {}))
    check_builtin_tools(request, model.name)
    _check_safety(request.get("safetySettings", []))
    _check_generation_config(request.get("generationConfig", {}), model)
    check_media_request(request, model)
    _check_function_turns(contents)
    _check_signatures(contents, model, signer)


def _check_tools(tools: Sequence[Mapping[str, Any]], tool_config: Mapping[str, Any]) -> None:
    seen: set[str] = set()
    for i, tool in enumerate(tools):
        for j, decl in enumerate(tool.get("functionDeclarations", [])):
            path = f"tools[{i}].function_declarations[{j}]"
            name = decl.get("name", "")
            if not _FUNCTION_NAME.match(name):
                _fail(
                    f"{path}.name",
                    f"* GenerateContentRequest.{path}.name: Invalid function "
                    "name. Must start with a letter or an underscore. Must be a-z, A-Z, 0-9, "
                    "or contain underscores, dots, colons and dashes, with a maximum length "
                    "of 64.",
                )
            if name in seen:
                _fail(f"{path}.name", f"Duplicate function declaration found: {name}")
            seen.add(name)
            for key in ("parametersJsonSchema", "responseJsonSchema"):
                if key in decl:
                    _check_json_schema(decl[key], f"{path}.{snake(key)}")
            if "parameters" in decl and "parametersJsonSchema" in decl:
                _fail(
                    f"{path}.parameters",
                    "parameters and parameters_json_schema are mutually exclusive; set only one.",
                )
    calling = tool_config.get("functionCallingConfig", {})
    if calling.get("allowedFunctionNames") and calling.get("mode") not in ("ANY", "VALIDATED"):
        _fail(
            "tool_config.function_calling_config.allowed_function_names",
            "allowed_function_names can only be set when function calling mode is ANY or "
            "VALIDATED.",
        )
    for name in calling.get("allowedFunctionNames", []):
        if name not in seen:
            _fail(
                "tool_config.function_calling_config.allowed_function_names",
                f"Function {name} in allowed_function_names is not declared in tools.",
            )


def _check_safety(settings: Sequence[Mapping[str, Any]]) -> None:
    seen: set[str] = set()
    for i, setting in enumerate(settings):
        category = setting.get("category", "HARM_CATEGORY_UNSPECIFIED")
        if category in seen or category == "HARM_CATEGORY_UNSPECIFIED":
            _fail(
                f"safety_settings[{i}].category",
                f"* GenerateContentRequest.safety_settings[{i}].category: Category "
                f"{category} is unspecified or listed more than once.",
            )
        seen.add(category)


def _range(config: Mapping[str, Any], name: str, low: float, high: float, label: str) -> None:
    value = config.get(name)
    if value is not None and not low <= value <= high:
        _fail(
            f"generation_config.{label}",
            f"Unable to submit request because it has a "
            f"{label} value of {value} but the supported range is from {low:g} (inclusive) "
            f"to {high:g} (inclusive). Update the value and try again.",
        )


def _check_generation_config(config: Mapping[str, Any], model: ModelSpec) -> None:
    _range(config, "temperature", 0, 2, "temperature")
    _range(config, "topP", 0, 1, "top_p")
    _range(config, "topK", 1, 1000, "top_k")
    _range(config, "candidateCount", 1, 8, "candidate_count")
    _range(config, "maxOutputTokens", 1, model.output_token_limit, "max_output_tokens")
    _range(config, "presencePenalty", -2, 2, "presence_penalty")
    _range(config, "frequencyPenalty", -2, 2, "frequency_penalty")
    _range(config, "logprobs", 0, 20, "logprobs")
    if len(config.get("stopSequences", [])) > 5:
        _fail(
            "generation_config.stop_sequences",
            "Unable to submit request because it has "
            "more than 5 stop sequences. Update the value and try again.",
        )
    if "logprobs" in config and not config.get("responseLogprobs"):
        _fail(
            "generation_config.logprobs", "logprobs can only be set when response_logprobs is true."
        )
    _check_response_schema(config)
    _check_thinking(config.get("thinkingConfig", {}), model)


def _check_response_schema(config: Mapping[str, Any]) -> None:
    if "responseSchema" in config and "responseJsonSchema" in config:
        _fail(
            "generation_config.response_schema",
            "response_schema and response_json_schema are mutually exclusive; set only one.",
        )
    if "responseJsonSchema" in config:
        _check_json_schema(config["responseJsonSchema"], "generation_config.response_json_schema")
    has_schema = "responseSchema" in config or "responseJsonSchema" in config
    mime = config.get("responseMimeType", "text/plain")
    if mime not in ("text/plain", "application/json", "text/x.enum"):
        _fail(
            "generation_config.response_mime_type",
            f"* GenerateContentRequest."
            f"generation_config.response_mime_type: allowed mimetypes are `text/plain`, "
            f"`application/json`, `text/x.enum`. Got: {mime}",
        )
    if has_schema and mime == "text/plain":
        _fail(
            "generation_config.response_mime_type",
            "* GenerateContentRequest."
            "generation_config.response_mime_type: response_mime_type must be "
            "`application/json` or `text/x.enum` when response_schema is set.",
        )


_SCHEMA_TYPES = frozenset({"string", "number", "integer", "boolean", "object", "array", "null"})
_SCHEMA_MAPS = ("properties", "$defs", "definitions")
_SCHEMA_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")
_SCHEMA_SINGLE = ("additionalProperties", "not")
_SCHEMA_COUNTS = (
    "minItems",
    "maxItems",
    "minLength",
    "maxLength",
    "minProperties",
    "maxProperties",
)
_SCHEMA_NUMBERS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf")
_SCHEMA_STRINGS = ("$ref", "$id", "$anchor", "$schema", "format", "title", "description", "pattern")
_SCHEMA_STRING_LISTS = ("required", "propertyOrdering")


def _check_json_schema(schema: Any, path: str) -> None:
    """Refuse a ``*JsonSchema`` whose keywords have the wrong JSON types."""
    problem = _json_schema_problem(schema, path, root=True)
    if problem is not None:
        where, text = problem
        _fail(where, f"Invalid JSON schema at '{where}': {text}.")


def _json_schema_problem(schema: Any, path: str, *, root: bool = False) -> tuple[str, str] | None:
    if isinstance(schema, bool) and not root:
        return None
    if not isinstance(schema, Mapping):
        return path, "a schema must be a JSON object"
    kind = schema.get("type")
    kinds = kind if isinstance(kind, list) else [kind] if kind is not None else []
    if not all(isinstance(k, str) and k.lower() in _SCHEMA_TYPES for k in kinds):
        return f"{path}.type", 'type must name JSON types such as "object" or "string"'
    children: list[tuple[Any, str]] = []
    for key in _SCHEMA_MAPS:
        value = schema.get(key, {})
        if not isinstance(value, Mapping):
            return f"{path}.{key}", f"{key} must be an object of schemas"
        children += [(item, f"{path}.{key}.{name}") for name, item in value.items()]
    for key in _SCHEMA_LISTS:
        value = schema.get(key, [])
        if not isinstance(value, list):
            return f"{path}.{key}", f"{key} must be a list of schemas"
        children += [(item, f"{path}.{key}[{i}]") for i, item in enumerate(value)]
    items = schema.get("items", True)
    if isinstance(items, list):
        children += [(item, f"{path}.items[{i}]") for i, item in enumerate(items)]
    else:
        children.append((items, f"{path}.items"))
    children += [(schema[key], f"{path}.{key}") for key in _SCHEMA_SINGLE if key in schema]
    problem = _json_schema_scalars(schema, path)
    if problem is not None:
        return problem
    for child, where in children:
        problem = _json_schema_problem(child, where)
        if problem is not None:
            return problem
    return None


def _json_schema_scalars(schema: Mapping[str, Any], path: str) -> tuple[str, str] | None:
    for key in _SCHEMA_COUNTS:
        value = schema.get(key, 0)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            return f"{path}.{key}", f"{key} must be a non-negative integer"
    for key in _SCHEMA_NUMBERS:
        value = schema.get(key, 0)
        if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
            return f"{path}.{key}", f"{key} must be a number"
        if isinstance(value, float) and value in (float("inf"), float("-inf")):
            return f"{path}.{key}", f"{key} must be a number"
    for key in _SCHEMA_STRINGS:
        if not isinstance(schema.get(key, ""), str):
            return f"{path}.{key}", f"{key} must be a string"
    for key in _SCHEMA_STRING_LISTS:
        value = schema.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            return f"{path}.{key}", f"{key} must be a list of strings"
    if not isinstance(schema.get("enum", []), list):
        return f"{path}.enum", "enum must be a list"
    return None


def _check_thinking(thinking: Mapping[str, Any], model: ModelSpec) -> None:
    budget = thinking.get("thinkingBudget")
    if budget is not None and "thinkingLevel" in thinking:
        _fail(
            "generation_config.thinking_config",
            "You can only set one of thinking_budget and thinking_level.",
        )
    if "thinkingLevel" in thinking and not model.requires_thought_signatures:
        _fail(
            "generation_config.thinking_config.thinking_level",
            "Thinking level is not supported for this model.",
        )
    if budget == 0 and not model.can_disable_thinking:
        _fail(
            "generation_config.thinking_config.thinking_budget",
            "Budget 0 is invalid. This model only works in thinking mode.",
        )
    if budget is not None and (budget < -1 or budget > 32768):
        _fail(
            "generation_config.thinking_config.thinking_budget",
            f"The thinking budget {budget} is invalid. Please choose a value between -1 and 32768.",
        )


def _check_function_turns(contents: Sequence[Mapping[str, Any]]) -> None:
    """A turn of function calls follows a user turn; the next turn answers every call."""
    for i, content in enumerate(contents):
        if content.get("role") != "model":
            continue
        calls = sum("functionCall" in p for p in content.get("parts", []))
        if not calls:
            continue
        if i == 0 or contents[i - 1].get("role", "user") != "user":
            raise invalid_argument(
                "Please ensure that function call turn comes immediately after a user turn "
                "or after a function response turn."
            )
        if i + 1 < len(contents):
            answers = sum("functionResponse" in p for p in contents[i + 1].get("parts", []))
            if answers != calls:
                raise invalid_argument(
                    "Please ensure that the number of function response parts is equal to "
                    "the number of function call parts of the function call turn."
                )


def _check_signatures(
    contents: Sequence[Mapping[str, Any]], model: ModelSpec, signer: Signer
) -> None:
    for i, content in enumerate(contents):
        for j, part in enumerate(content.get("parts", [])):
            if not signer.verify_part(part, model.name):
                _fail(f"contents[{i}].parts[{j}].thought_signature", "Corrupted thought signature.")
    if not model.requires_thought_signatures:
        return
    for i in range(_current_turn_start(contents), len(contents)):
        content = contents[i]
        calls = [p for p in content.get("parts", []) if "functionCall" in p]
        if content.get("role") == "model" and calls and "thoughtSignature" not in calls[0]:
            name = calls[0]["functionCall"].get("name", "")
            _fail(
                f"contents[{i}].parts",
                "Function call is missing a thought_signature in "
                "functionCall parts. This is required for tools to work correctly, and "
                "missing thought_signature may lead to degraded model performance. "
                f"Additional data, function call `default_api:{name}` , position {i + 1}. "
                f"Please refer to {_SIGNATURE_DOCS} for more details.",
            )


def _current_turn_start(contents: Sequence[Mapping[str, Any]]) -> int:
    for i in range(len(contents) - 1, -1, -1):
        content = contents[i]
        if content.get("role", "user") == "user" and any(
            "functionResponse" not in p for p in content.get("parts", [])
        ):
            return i
    return 0
