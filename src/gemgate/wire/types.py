"""Gemini v1beta wire shapes as camelCase `TypedDict`s.

The shapes mirror the proto3-JSON bodies: every field Google may omit is
optional, and `Required` marks what a request must carry. Enumerations are
plain strings because clients must tolerate values added later; ``int64``
fields (``sizeBytes``) are strings, as on the wire. The classes come from
``typing_extensions`` so pydantic can validate them on Python 3.11.

Example:
    >>> part: Part = {"text": "Hi"}
    >>> request: GenerateContentRequest = {"contents": [{"role": "user", "parts": [part]}]}
    >>> request["contents"][0]["parts"][0]["text"]
    'Hi'
"""

from __future__ import annotations

from gemgate.wire._types_content import (
    Blob,
    CodeExecutionResult,
    Content,
    ExecutableCode,
    FileData,
    FunctionCall,
    FunctionCallingConfig,
    FunctionDeclaration,
    FunctionResponse,
    GenerateContentRequest,
    GenerationConfig,
    Part,
    SafetySetting,
    ThinkingConfig,
    Tool,
    ToolConfig,
    VideoMetadata,
)
from gemgate.wire._types_service import (
    BatchEmbedContentsRequest,
    BatchEmbedContentsResponse,
    CachedContent,
    CachedContentUsageMetadata,
    Candidate,
    CitationMetadata,
    CitationSource,
    ContentEmbedding,
    CountTokensRequest,
    CountTokensResponse,
    EmbedContentRequest,
    EmbedContentResponse,
    ErrorEnvelope,
    File,
    GenerateContentResponse,
    ListModelsResponse,
    ModalityTokenCount,
    Model,
    PromptFeedback,
    SafetyRating,
    Status,
    UsageMetadata,
)

__all__ = [
    "BatchEmbedContentsRequest",
    "BatchEmbedContentsResponse",
    "Blob",
    "CachedContent",
    "CachedContentUsageMetadata",
    "Candidate",
    "CitationMetadata",
    "CitationSource",
    "CodeExecutionResult",
    "Content",
    "ContentEmbedding",
    "CountTokensRequest",
    "CountTokensResponse",
    "EmbedContentRequest",
    "EmbedContentResponse",
    "ErrorEnvelope",
    "ExecutableCode",
    "File",
    "FileData",
    "FunctionCall",
    "FunctionCallingConfig",
    "FunctionDeclaration",
    "FunctionResponse",
    "GenerateContentRequest",
    "GenerateContentResponse",
    "GenerationConfig",
    "ListModelsResponse",
    "ModalityTokenCount",
    "Model",
    "Part",
    "PromptFeedback",
    "SafetyRating",
    "SafetySetting",
    "Status",
    "ThinkingConfig",
    "Tool",
    "ToolConfig",
    "UsageMetadata",
    "VideoMetadata",
]
