"""The request messages the emulator accepts, field by field (proto3-JSON names).

Each message maps its lowerCamelCase field names to a field type. A field type is a
scalar tag (``"string"``, ``"int"``, ``"float"``, ``"bool"``, ``"bytes"``, ``"int64"``,
``"duration"``, ``"timestamp"``, ``"object"`` for a ``google.protobuf.Struct``, ``"any"``
for a free JSON value), ``("msg", name)``, ``("enum", name)``, ``("list", type)`` or
``("map", type)``. Request keys may be spelt in camelCase or snake_case, as the real
service accepts both; anything else is an unknown field.
"""

from __future__ import annotations

from typing import Final, TypeAlias

__all__ = ["ENUMS", "MESSAGES", "FieldType"]

FieldType: TypeAlias = str | tuple[str, "FieldType"] | tuple[str, str]


def _msg(name: str) -> FieldType:
    return ("msg", name)


def _list(item: FieldType) -> FieldType:
    return ("list", item)


def _enum(name: str) -> FieldType:
    return ("enum", name)


ENUMS: Final[dict[str, frozenset[str]]] = {
    "Type": frozenset(
        {"TYPE_UNSPECIFIED", "STRING", "NUMBER", "INTEGER", "BOOLEAN", "ARRAY", "OBJECT", "NULL"}
    ),
    "HarmCategory": frozenset(
        {
            "HARM_CATEGORY_UNSPECIFIED",
            "HARM_CATEGORY_HARASSMENT",
            "HARM_CATEGORY_HATE_SPEECH",
            "HARM_CATEGORY_SEXUALLY_EXPLICIT",
            "HARM_CATEGORY_DANGEROUS_CONTENT",
            "HARM_CATEGORY_CIVIC_INTEGRITY",
        }
    ),
    "HarmBlockThreshold": frozenset(
        {
            "HARM_BLOCK_THRESHOLD_UNSPECIFIED",
            "BLOCK_LOW_AND_ABOVE",
            "BLOCK_MEDIUM_AND_ABOVE",
            "BLOCK_ONLY_HIGH",
            "BLOCK_NONE",
            "OFF",
        }
    ),
    "Mode": frozenset({"MODE_UNSPECIFIED", "AUTO", "ANY", "NONE", "VALIDATED"}),
    "TaskType": frozenset(
        {
            "TASK_TYPE_UNSPECIFIED",
            "RETRIEVAL_QUERY",
            "RETRIEVAL_DOCUMENT",
            "SEMANTIC_SIMILARITY",
            "CLASSIFICATION",
            "CLUSTERING",
            "QUESTION_ANSWERING",
            "FACT_VERIFICATION",
            "CODE_RETRIEVAL_QUERY",
        }
    ),
    "Modality": frozenset({"MODALITY_UNSPECIFIED", "TEXT", "IMAGE", "AUDIO"}),
    "MediaResolution": frozenset(
        {
            "MEDIA_RESOLUTION_UNSPECIFIED",
            "MEDIA_RESOLUTION_LOW",
            "MEDIA_RESOLUTION_MEDIUM",
            "MEDIA_RESOLUTION_HIGH",
        }
    ),
    "Behavior": frozenset({"UNSPECIFIED", "BLOCKING", "NON_BLOCKING"}),
    "Scheduling": frozenset({"SCHEDULING_UNSPECIFIED", "SILENT", "WHEN_IDLE", "INTERRUPT"}),
    "Language": frozenset({"LANGUAGE_UNSPECIFIED", "PYTHON"}),
    "Outcome": frozenset(
        {"OUTCOME_UNSPECIFIED", "OUTCOME_OK", "OUTCOME_FAILED", "OUTCOME_DEADLINE_EXCEEDED"}
    ),
    "PhishBlockThreshold": frozenset(
        {
            "PHISH_BLOCK_THRESHOLD_UNSPECIFIED",
            "BLOCK_LOW_AND_ABOVE",
            "BLOCK_MEDIUM_AND_ABOVE",
            "BLOCK_HIGH_AND_ABOVE",
            "BLOCK_HIGHER_AND_ABOVE",
            "BLOCK_VERY_HIGH_AND_ABOVE",
            "BLOCK_ONLY_EXTREMELY_HIGH",
        }
    ),
    "DynamicMode": frozenset({"MODE_UNSPECIFIED", "MODE_DYNAMIC"}),
    "ThinkingLevel": frozenset({"THINKING_LEVEL_UNSPECIFIED", "MINIMAL", "LOW", "MEDIUM", "HIGH"}),
    "StartSensitivity": frozenset(
        {"START_SENSITIVITY_UNSPECIFIED", "START_SENSITIVITY_HIGH", "START_SENSITIVITY_LOW"}
    ),
    "EndSensitivity": frozenset(
        {"END_SENSITIVITY_UNSPECIFIED", "END_SENSITIVITY_HIGH", "END_SENSITIVITY_LOW"}
    ),
    "ActivityHandling": frozenset(
        {"ACTIVITY_HANDLING_UNSPECIFIED", "START_OF_ACTIVITY_INTERRUPTS", "NO_INTERRUPTION"}
    ),
    "TurnCoverage": frozenset(
        {"TURN_COVERAGE_UNSPECIFIED", "TURN_INCLUDES_ONLY_ACTIVITY", "TURN_INCLUDES_ALL_INPUT"}
    ),
}

_CONTENT = _msg("Content")
_SCHEMA = _msg("Schema")

MESSAGES: Final[dict[str, dict[str, FieldType]]] = {
    "GenerateContentRequest": {
        "model": "string",
        "contents": _list(_CONTENT),
        "systemInstruction": _CONTENT,
        "tools": _list(_msg("Tool")),
        "toolConfig": _msg("ToolConfig"),
        "safetySettings": _list(_msg("SafetySetting")),
        "generationConfig": _msg("GenerationConfig"),
        "cachedContent": "string",
        "serviceTier": "string",
        "store": "bool",
    },
    "Content": {"role": "string", "parts": _list(_msg("Part"))},
    "Part": {
        "text": "string",
        "inlineData": _msg("Blob"),
        "fileData": _msg("FileData"),
        "functionCall": _msg("FunctionCall"),
        "functionResponse": _msg("FunctionResponse"),
        "executableCode": _msg("ExecutableCode"),
        "codeExecutionResult": _msg("CodeExecutionResult"),
        "thought": "bool",
        "thoughtSignature": "bytes",
        "videoMetadata": _msg("VideoMetadata"),
        "partMetadata": "object",
        "mediaResolution": "any",
    },
    "Blob": {"mimeType": "string", "data": "bytes"},
    "FileData": {"mimeType": "string", "fileUri": "string"},
    "FunctionCall": {"id": "string", "name": "string", "args": "object"},
    "FunctionResponse": {
        "id": "string",
        "name": "string",
        "response": "object",
        "parts": _list(_msg("FunctionResponsePart")),
        "willContinue": "bool",
        "scheduling": _enum("Scheduling"),
    },
    "FunctionResponsePart": {"inlineData": _msg("Blob"), "fileData": _msg("FileData")},
    "ExecutableCode": {"id": "string", "language": _enum("Language"), "code": "string"},
    "CodeExecutionResult": {"id": "string", "outcome": _enum("Outcome"), "output": "string"},
    "VideoMetadata": {"startOffset": "duration", "endOffset": "duration", "fps": "float"},
    "Tool": {
        "functionDeclarations": _list(_msg("FunctionDeclaration")),
        "googleSearch": _msg("GoogleSearch"),
        "googleSearchRetrieval": _msg("GoogleSearchRetrieval"),
        "codeExecution": _msg("CodeExecution"),
        "urlContext": _msg("UrlContext"),
        "googleMaps": "object",
        "fileSearch": _msg("FileSearch"),
        "computerUse": "object",
    },
    "GoogleSearch": {
        "timeRangeFilter": _msg("Interval"),
        "excludeDomains": _list("string"),
        "searchTypes": _msg("SearchTypes"),
        "blockingConfidence": _enum("PhishBlockThreshold"),
    },
    "Interval": {"startTime": "timestamp", "endTime": "timestamp"},
    "SearchTypes": {"webSearch": _msg("Empty"), "imageSearch": _msg("Empty")},
    "GoogleSearchRetrieval": {"dynamicRetrievalConfig": _msg("DynamicRetrievalConfig")},
    "DynamicRetrievalConfig": {"mode": _enum("DynamicMode"), "dynamicThreshold": "float"},
    "CodeExecution": {},
    "UrlContext": {},
    "Empty": {},
    "FileSearch": {
        "fileSearchStoreNames": _list("string"),
        "topK": "int",
        "metadataFilter": "string",
    },
    "FunctionDeclaration": {
        "name": "string",
        "description": "string",
        "parameters": _SCHEMA,
        "parametersJsonSchema": "any",
        "response": _SCHEMA,
        "responseJsonSchema": "any",
        "behavior": _enum("Behavior"),
    },
    "Schema": {
        "type": _enum("Type"),
        "format": "string",
        "title": "string",
        "description": "string",
        "nullable": "bool",
        "enum": _list("string"),
        "items": _SCHEMA,
        "maxItems": "int64",
        "minItems": "int64",
        "properties": ("map", _SCHEMA),
        "required": _list("string"),
        "minProperties": "int64",
        "maxProperties": "int64",
        "minimum": "float",
        "maximum": "float",
        "minLength": "int64",
        "maxLength": "int64",
        "pattern": "string",
        "example": "any",
        "anyOf": _list(_SCHEMA),
        "propertyOrdering": _list("string"),
        "default": "any",
        "additionalProperties": "any",
        "$defs": ("map", _SCHEMA),
        "$ref": "string",
    },
    "ToolConfig": {
        "functionCallingConfig": _msg("FunctionCallingConfig"),
        "retrievalConfig": "object",
    },
    "FunctionCallingConfig": {"mode": _enum("Mode"), "allowedFunctionNames": _list("string")},
    "SafetySetting": {
        "category": _enum("HarmCategory"),
        "threshold": _enum("HarmBlockThreshold"),
    },
    "GenerationConfig": {
        "candidateCount": "int",
        "stopSequences": _list("string"),
        "maxOutputTokens": "int",
        "temperature": "float",
        "topP": "float",
        "topK": "int",
        "seed": "int",
        "presencePenalty": "float",
        "frequencyPenalty": "float",
        "responseMimeType": "string",
        "responseSchema": _SCHEMA,
        "responseJsonSchema": "any",
        "responseLogprobs": "bool",
        "logprobs": "int",
        "enableEnhancedCivicAnswers": "bool",
        "responseModalities": _list(_enum("Modality")),
        "speechConfig": "object",
        "thinkingConfig": _msg("ThinkingConfig"),
        "mediaResolution": _enum("MediaResolution"),
        "imageConfig": "object",
    },
    "ThinkingConfig": {
        "includeThoughts": "bool",
        "thinkingBudget": "int",
        "thinkingLevel": _enum("ThinkingLevel"),
    },
    "CountTokensRequest": {
        "contents": _list(_CONTENT),
        "generateContentRequest": _msg("GenerateContentRequest"),
    },
    "EmbedContentRequest": {
        "model": "string",
        "content": _CONTENT,
        "taskType": _enum("TaskType"),
        "title": "string",
        "outputDimensionality": "int",
    },
    "BatchEmbedContentsRequest": {"requests": _list(_msg("EmbedContentRequest"))},
    # A batch's envelope; each inlined request is checked on its own, as its own result.
    "CreateBatchRequest": {"batch": _msg("Batch")},
    "Batch": {
        "name": "string",
        "model": "string",
        "displayName": "string",
        "inputConfig": _msg("BatchInputConfig"),
        "priority": "int64",
    },
    "BatchInputConfig": {"fileName": "string", "requests": _msg("InlinedRequests")},
    "InlinedRequests": {"requests": _list(_msg("InlinedRequest"))},
    "InlinedRequest": {"request": "any", "metadata": "object"},
    "CachedContent": {
        "name": "string",
        "model": "string",
        "displayName": "string",
        "contents": _list(_CONTENT),
        "systemInstruction": _CONTENT,
        "tools": _list(_msg("Tool")),
        "toolConfig": _msg("ToolConfig"),
        "ttl": "duration",
        "expireTime": "timestamp",
    },
    "CreateFileRequest": {"file": _msg("File")},
    "File": {
        "name": "string",
        "displayName": "string",
        "mimeType": "string",
        "sizeBytes": "int64",
        "source": "string",
    },
    "CreateFileSearchStoreRequest": {"displayName": "string", "embeddingModel": "string"},
    "UploadToFileSearchStoreRequest": {
        "displayName": "string",
        "customMetadata": _list(_msg("CustomMetadata")),
        "chunkingConfig": _msg("ChunkingConfig"),
        "mimeType": "string",
    },
    "ImportFileRequest": {
        "fileName": "string",
        "customMetadata": _list(_msg("CustomMetadata")),
        "chunkingConfig": _msg("ChunkingConfig"),
    },
    "CustomMetadata": {
        "key": "string",
        "stringValue": "string",
        "stringListValue": _msg("StringList"),
        "numericValue": "float",
    },
    "StringList": {"values": _list("string")},
    "ChunkingConfig": {"whiteSpaceConfig": _msg("WhiteSpaceConfig")},
    "WhiteSpaceConfig": {"maxTokensPerChunk": "int", "maxOverlapTokens": "int"},
    # Live API (BidiGenerateContent over WebSocket) and its ephemeral tokens.
    "BidiGenerateContentClientMessage": {
        "setup": _msg("BidiGenerateContentSetup"),
        "clientContent": _msg("BidiGenerateContentClientContent"),
        "realtimeInput": _msg("BidiGenerateContentRealtimeInput"),
        "toolResponse": _msg("BidiGenerateContentToolResponse"),
        "contextUpdate": _msg("BidiGenerateContentContextUpdate"),
    },
    "BidiGenerateContentSetup": {
        "model": "string",
        "generationConfig": _msg("LiveGenerationConfig"),
        "systemInstruction": _CONTENT,
        "tools": _list(_msg("Tool")),
        "realtimeInputConfig": _msg("RealtimeInputConfig"),
        "sessionResumption": _msg("SessionResumptionConfig"),
        "contextWindowCompression": _msg("ContextWindowCompressionConfig"),
        "inputAudioTranscription": "object",
        "outputAudioTranscription": "object",
        "proactivity": "object",
        "historyConfig": "object",
        "safetySettings": _list(_msg("SafetySetting")),
    },
    "RealtimeInputConfig": {
        "automaticActivityDetection": _msg("AutomaticActivityDetection"),
        "activityHandling": _enum("ActivityHandling"),
        "turnCoverage": _enum("TurnCoverage"),
    },
    "AutomaticActivityDetection": {
        "disabled": "bool",
        "startOfSpeechSensitivity": _enum("StartSensitivity"),
        "endOfSpeechSensitivity": _enum("EndSensitivity"),
        "prefixPaddingMs": "int",
        "silenceDurationMs": "int",
    },
    "SessionResumptionConfig": {"handle": "string", "transparent": "bool"},
    "ContextWindowCompressionConfig": {
        "triggerTokens": "int64",
        "slidingWindow": _msg("SlidingWindow"),
    },
    "SlidingWindow": {"targetTokens": "int64"},
    "BidiGenerateContentClientContent": {"turns": _list(_CONTENT), "turnComplete": "bool"},
    "BidiGenerateContentRealtimeInput": {
        "mediaChunks": _list(_msg("Blob")),
        "audio": _msg("Blob"),
        "video": _msg("Blob"),
        "text": "string",
        "audioStreamEnd": "bool",
        "activityStart": "object",
        "activityEnd": "object",
    },
    "BidiGenerateContentToolResponse": {"functionResponses": _list(_msg("FunctionResponse"))},
    "BidiGenerateContentContextUpdate": {
        "systemInstruction": _CONTENT,
        "tools": _msg("ContextUpdateTools"),
    },
    "ContextUpdateTools": {"tools": _list(_msg("Tool"))},
    "AuthToken": {
        "name": "string",
        "expireTime": "timestamp",
        "newSessionExpireTime": "timestamp",
        "uses": "int",
        "bidiGenerateContentSetup": _msg("BidiGenerateContentSetup"),
        "fieldMask": "string",
    },
}
MESSAGES["LiveGenerationConfig"] = {
    **MESSAGES["GenerationConfig"],
    "enableAffectiveDialog": "bool",
    "translationConfig": "object",
}
"""A Live ``setup.generationConfig``: a GenerationConfig plus the Live-only fields."""
