"""Gemini wire shapes of responses and of the other endpoints (tokens, embeddings, ...).

Import these from `gemgate.wire.types`; this module only keeps that file small.
"""

from __future__ import annotations

from typing import Any, Required

from typing_extensions import TypedDict

from gemgate.wire._types_content import Content, GenerateContentRequest, Tool, ToolConfig

__all__ = [
    "BatchEmbedContentsRequest",
    "BatchEmbedContentsResponse",
    "CachedContent",
    "CachedContentUsageMetadata",
    "Candidate",
    "CitationMetadata",
    "CitationSource",
    "ContentEmbedding",
    "CountTokensRequest",
    "CountTokensResponse",
    "EmbedContentRequest",
    "EmbedContentResponse",
    "ErrorEnvelope",
    "File",
    "GenerateContentResponse",
    "ListModelsResponse",
    "ModalityTokenCount",
    "Model",
    "PromptFeedback",
    "SafetyRating",
    "Status",
    "UsageMetadata",
]


class SafetyRating(TypedDict, total=False):
    """The harm probability of one category."""

    category: Required[str]
    probability: Required[str]
    blocked: bool


class CitationSource(TypedDict, total=False):
    """A cited source; the indexes are byte offsets into the candidate text."""

    startIndex: int
    endIndex: int
    uri: str
    license: str


class CitationMetadata(TypedDict, total=False):
    """The sources cited by a candidate."""

    citationSources: list[CitationSource]


class Candidate(TypedDict, total=False):
    """One generated answer."""

    content: Content
    finishReason: str
    finishMessage: str
    index: int
    safetyRatings: list[SafetyRating]
    citationMetadata: CitationMetadata
    tokenCount: int
    groundingMetadata: dict[str, Any]
    urlContextMetadata: dict[str, Any]
    avgLogprobs: float
    logprobsResult: dict[str, Any]


class PromptFeedback(TypedDict, total=False):
    """Why a prompt was blocked (then the response has no candidates)."""

    blockReason: str
    blockReasonMessage: str
    safetyRatings: list[SafetyRating]


class ModalityTokenCount(TypedDict, total=False):
    """A token count for one modality (``TEXT``, ``IMAGE``, ...)."""

    modality: str
    tokenCount: int


class UsageMetadata(TypedDict, total=False):
    """Token accounting of a generation (running totals while streaming)."""

    promptTokenCount: int
    cachedContentTokenCount: int
    candidatesTokenCount: int
    thoughtsTokenCount: int
    toolUsePromptTokenCount: int
    totalTokenCount: int
    promptTokensDetails: list[ModalityTokenCount]
    cacheTokensDetails: list[ModalityTokenCount]
    candidatesTokensDetails: list[ModalityTokenCount]
    toolUsePromptTokensDetails: list[ModalityTokenCount]


class GenerateContentResponse(TypedDict, total=False):
    """A ``generateContent`` response, or one chunk of a stream."""

    candidates: list[Candidate]
    promptFeedback: PromptFeedback
    usageMetadata: UsageMetadata
    modelVersion: str
    responseId: str
    modelStatus: dict[str, Any]


class CountTokensRequest(TypedDict, total=False):
    """The body of ``countTokens``: `contents` or `generateContentRequest`, not both."""

    contents: list[Content]
    generateContentRequest: GenerateContentRequest


class CountTokensResponse(TypedDict, total=False):
    """The result of ``countTokens``."""

    totalTokens: int
    cachedContentTokenCount: int
    promptTokensDetails: list[ModalityTokenCount]
    cacheTokensDetails: list[ModalityTokenCount]


class EmbedContentRequest(TypedDict, total=False):
    """The body of ``embedContent``, and one item of ``batchEmbedContents``."""

    model: str
    content: Required[Content]
    taskType: str
    title: str
    outputDimensionality: int


class BatchEmbedContentsRequest(TypedDict):
    """The body of ``batchEmbedContents``."""

    requests: list[EmbedContentRequest]


class ContentEmbedding(TypedDict, total=False):
    """One embedding vector."""

    values: list[float]


class EmbedContentResponse(TypedDict, total=False):
    """The result of ``embedContent``."""

    embedding: ContentEmbedding
    usageMetadata: dict[str, Any]


class BatchEmbedContentsResponse(TypedDict, total=False):
    """The result of ``batchEmbedContents``, in request order."""

    embeddings: list[ContentEmbedding]
    usageMetadata: dict[str, Any]


class Model(TypedDict, total=False):
    """A model resource (``models/gemini-2.5-flash``)."""

    name: Required[str]
    baseModelId: str
    version: str
    displayName: str
    description: str
    inputTokenLimit: int
    outputTokenLimit: int
    supportedGenerationMethods: list[str]
    temperature: float
    maxTemperature: float
    topP: float
    topK: int
    thinking: bool


class ListModelsResponse(TypedDict, total=False):
    """One page of ``models.list``."""

    models: list[Model]
    nextPageToken: str


class CachedContentUsageMetadata(TypedDict, total=False):
    """The size of a cached content."""

    totalTokenCount: int


class CachedContent(TypedDict, total=False):
    """A ``cachedContents/...`` resource; the content fields are input-only."""

    name: str
    model: str
    displayName: str
    systemInstruction: Content
    contents: list[Content]
    tools: list[Tool]
    toolConfig: ToolConfig
    ttl: str
    expireTime: str
    createTime: str
    updateTime: str
    usageMetadata: CachedContentUsageMetadata


class Status(TypedDict, total=False):
    """A ``google.rpc.Status`` with Google's extra ``status`` name."""

    code: int
    message: str
    status: str
    details: list[dict[str, Any]]


class File(TypedDict, total=False):
    """A ``files/...`` resource of the Files API."""

    name: str
    displayName: str
    mimeType: str
    sizeBytes: str
    createTime: str
    updateTime: str
    expirationTime: str
    sha256Hash: str
    uri: str
    downloadUri: str
    state: str
    source: str
    error: Status
    videoMetadata: dict[str, Any]


class ErrorEnvelope(TypedDict):
    """An error body: ``{"error": Status}``."""

    error: Status
