"""Semantic checks on normalized requests: what Google refuses after parsing."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from gemgate.emulator.config import ModelSpec
from gemgate.emulator.errors import invalid_argument
from gemgate.emulator.signatures import Signer
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
        role = content.get("role", "")
        if role not in ("", "user", "model"):
            _fail(f"{path}[{i}].role", "Please use a valid role: user, model.")
        parts = content.get("parts", [])
        if not parts:
            _fail(f"{path}[{i}].parts", f"* {path}[{i}].parts: contents.parts must not be empty.")
        for j, part in enumerate(parts):
            _check_part(part, f"{path}[{i}].parts[{j}]")


def _check_part(part: Mapping[str, Any], path: str) -> None:
    present = [name for name in _DATA_FIELDS if name in part]
    if not present:
        _fail(f"{path}.data", f"* {path}.data: required oneof field 'data' must have one "
              "initialized field")
    if len(present) > 1:
        _fail(path, f"* {path}: oneof field 'data' is already set. Cannot set '{present[1]}'")
    if present[0] == "text" and part["text"] == "" and "thoughtSignature" not in part:
        _fail(f"{path}.text", "Unable to submit request because it has an empty text parameter. "
              "Add a value to the parameter and try again.")
    if present[0] == "functionResponse" and not part["functionResponse"].get("name"):
        _fail(f"{path}.function_response.name", "* GenerateContentRequest."
              f"{path}.function_response.name: Name cannot be empty.")
    if present[0] == "functionCall" and not part["functionCall"].get("name"):
        _fail(f"{path}.function_call.name", "* GenerateContentRequest."
              f"{path}.function_call.name: Name cannot be empty.")


def check_generate_request(request: Mapping[str, Any], model: ModelSpec, signer: Signer) -> None:
    """Everything the real service checks on a GenerateContentRequest after parsing it."""
    contents = request.get("contents", [])
    if not contents:
        _fail("contents", "* GenerateContentRequest.contents: contents is not specified")
    check_contents(contents)
    if "systemInstruction" in request:
        check_contents([request["systemInstruction"]], "system_instruction")
    _check_tools(request.get("tools", []), request.get("toolConfig", {}))
    _check_safety(request.get("safetySettings", []))
    _check_generation_config(request.get("generationConfig", {}), model)
    _check_signatures(contents, model, signer)


def _check_tools(tools: Sequence[Mapping[str, Any]], tool_config: Mapping[str, Any]) -> None:
    seen: set[str] = set()
    for i, tool in enumerate(tools):
        for j, decl in enumerate(tool.get("functionDeclarations", [])):
            path = f"tools[{i}].function_declarations[{j}]"
            name = decl.get("name", "")
            if not _FUNCTION_NAME.match(name):
                _fail(f"{path}.name", f"* GenerateContentRequest.{path}.name: Invalid function "
                      "name. Must start with a letter or an underscore. Must be a-z, A-Z, 0-9, "
                      "or contain underscores, dots, colons and dashes, with a maximum length "
                      "of 64.")
            if name in seen:
                _fail(f"{path}.name", f"Duplicate function declaration found: {name}")
            seen.add(name)
            if "parameters" in decl and "parametersJsonSchema" in decl:
                _fail(f"{path}.parameters", "parameters and parameters_json_schema are mutually "
                      "exclusive; set only one.")
    calling = tool_config.get("functionCallingConfig", {})
    if calling.get("allowedFunctionNames") and calling.get("mode") not in ("ANY", "VALIDATED"):
        _fail("tool_config.function_calling_config.allowed_function_names",
              "allowed_function_names can only be set when function calling mode is ANY or "
              "VALIDATED.")
    for name in calling.get("allowedFunctionNames", []):
        if name not in seen:
            _fail("tool_config.function_calling_config.allowed_function_names",
                  f"Function {name} in allowed_function_names is not declared in tools.")


def _check_safety(settings: Sequence[Mapping[str, Any]]) -> None:
    seen: set[str] = set()
    for i, setting in enumerate(settings):
        category = setting.get("category", "HARM_CATEGORY_UNSPECIFIED")
        if category in seen or category == "HARM_CATEGORY_UNSPECIFIED":
            _fail(f"safety_settings[{i}].category",
                  f"* GenerateContentRequest.safety_settings[{i}].category: Category "
                  f"{category} is unspecified or listed more than once.")
        seen.add(category)


def _range(config: Mapping[str, Any], name: str, low: float, high: float, label: str) -> None:
    value = config.get(name)
    if value is not None and not low <= value <= high:
        _fail(f"generation_config.{label}", f"Unable to submit request because it has a "
              f"{label} value of {value} but the supported range is from {low:g} (inclusive) "
              f"to {high:g} (inclusive). Update the value and try again.")


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
        _fail("generation_config.stop_sequences", "Unable to submit request because it has "
              "more than 5 stop sequences. Update the value and try again.")
    if "logprobs" in config and not config.get("responseLogprobs"):
        _fail("generation_config.logprobs", "logprobs can only be set when response_logprobs "
              "is true.")
    _check_response_schema(config)
    _check_thinking(config.get("thinkingConfig", {}), model)


def _check_response_schema(config: Mapping[str, Any]) -> None:
    if "responseSchema" in config and "responseJsonSchema" in config:
        _fail("generation_config.response_schema", "response_schema and response_json_schema "
              "are mutually exclusive; set only one.")
    has_schema = "responseSchema" in config or "responseJsonSchema" in config
    mime = config.get("responseMimeType", "text/plain")
    if mime not in ("text/plain", "application/json", "text/x.enum"):
        _fail("generation_config.response_mime_type", f"* GenerateContentRequest."
              f"generation_config.response_mime_type: allowed mimetypes are `text/plain`, "
              f"`application/json`, `text/x.enum`. Got: {mime}")
    if has_schema and mime == "text/plain":
        _fail("generation_config.response_mime_type", "* GenerateContentRequest."
              "generation_config.response_mime_type: response_mime_type must be "
              "`application/json` or `text/x.enum` when response_schema is set.")


def _check_thinking(thinking: Mapping[str, Any], model: ModelSpec) -> None:
    budget = thinking.get("thinkingBudget")
    if budget is not None and "thinkingLevel" in thinking:
        _fail("generation_config.thinking_config", "You can only set one of thinking_budget "
              "and thinking_level.")
    if "thinkingLevel" in thinking and not model.requires_thought_signatures:
        _fail("generation_config.thinking_config.thinking_level",
              "Thinking level is not supported for this model.")
    if budget == 0 and not model.can_disable_thinking:
        _fail("generation_config.thinking_config.thinking_budget",
              "Budget 0 is invalid. This model only works in thinking mode.")
    if budget is not None and (budget < -1 or budget > 32768):
        _fail("generation_config.thinking_config.thinking_budget",
              f"The thinking budget {budget} is invalid. Please choose a value between -1 and "
              "32768.")


def _check_signatures(
    contents: Sequence[Mapping[str, Any]], model: ModelSpec, signer: Signer
) -> None:
    for i, content in enumerate(contents):
        for j, part in enumerate(content.get("parts", [])):
            if not signer.verify_part(part):
                _fail(f"contents[{i}].parts[{j}].thought_signature",
                      "Corrupted thought signature.")
    if not model.requires_thought_signatures:
        return
    for i in range(_current_turn_start(contents), len(contents)):
        content = contents[i]
        calls = [p for p in content.get("parts", []) if "functionCall" in p]
        if content.get("role") == "model" and calls and "thoughtSignature" not in calls[0]:
            name = calls[0]["functionCall"].get("name", "")
            _fail(f"contents[{i}].parts", "Function call is missing a thought_signature in "
                  "functionCall parts. This is required for tools to work correctly, and "
                  "missing thought_signature may lead to degraded model performance. "
                  f"Additional data, function call `default_api:{name}` , position {i + 1}. "
                  f"Please refer to {_SIGNATURE_DOCS} for more details.")


def _current_turn_start(contents: Sequence[Mapping[str, Any]]) -> int:
    for i in range(len(contents) - 1, -1, -1):
        content = contents[i]
        if content.get("role", "user") == "user" and any(
            "functionResponse" not in p for p in content.get("parts", [])
        ):
            return i
    return 0
