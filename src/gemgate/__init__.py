"""gemgate: run Google's Gemini API from Python in production.

This namespace is gemgate's public API: every name a user needs, from the clients to the
tools, chat storage, context caching, Live sessions and the errors. The sub-packages
(``gemgate.sessions``, ``gemgate.tools``, …) hold the same names by subject; their
modules are implementation. Names are imported on first use, so ``import gemgate`` stays
fast and loads no server, database or SDK code.

Example::

    from gemgate import Gemini

    with Gemini() as g:  # a key from GEMINI_API_KEY (or Gemini.emulated() offline)
        print(g.chat([{"role": "user", "content": "Hello"}])["choices"][0]["message"])
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS: dict[str, tuple[str, ...]] = {
    "gemgate.client": (
        "AsyncGemini",
        "Gemini",
        "Image",
        "pcm_to_wav",
    ),
    "gemgate.config": ("Settings",),
    "gemgate.projects": (
        "GatewayKey",
        "Limits",
        "ProjectConfig",
        "fingerprint",
        "hash_secret",
    ),
    "gemgate.policy": (
        "Cooldown",
        "KeyReport",
        "ModelQuota",
        "ProjectReport",
        "QuotaReport",
        "WindowUsage",
    ),
    "gemgate.upstream": ("Engine",),
    "gemgate.errors": (
        "APIStatusError",
        "AuthError",
        "BadRequestError",
        "BatchError",
        "BatchTimeout",
        "CircuitOpen",
        "ConfigError",
        "ConfigWarning",
        "ConnectError",
        "GemgateError",
        "GeminiAPIError",
        "GeminiClientError",
        "GeminiResponseError",
        "GeminiToolExecutionError",
        "LiveSessionLost",
        "NotFoundError",
        "ProtocolError",
        "QuotaExhausted",
        "RateLimitedError",
        "ServerError",
        "StorageError",
        "StreamInterrupted",
        "TransportError",
        "DocumentError",
        "EmbeddingMismatch",
        "RetrievalError",
        "StoreNotFound",
        "UpstreamTimeout",
        "UsageError",
        "WireDecodeError",
    ),
    "gemgate.sessions": (
        "ChatExists",
        "ChatInfo",
        "ChatManager",
        "ChatMessage",
        "ChatNotFound",
        "ChatStorage",
        "CorruptRecord",
        "LocalChatStorage",
        "MemoryChatStorage",
        "PostgresChatStorage",
        "RedisChatStorage",
        "SQLiteChatStorage",
        "StorageUnavailable",
    ),
    "gemgate.tools": (
        "AsyncToolExecutor",
        "ChatEvent",
        "FinalAnswer",
        "FunctionCall",
        "FunctionCallData",
        "FunctionCallEvent",
        "FunctionTool",
        "MaxIterationsReached",
        "RateLimitingAsyncExecutor",
        "SequentialToolExecutor",
        "TextDelta",
        "Tool",
        "ToolDefinitionError",
        "ToolEvent",
        "ToolExecutor",
        "ToolResult",
        "ToolsExecutionResult",
        "UsageEvent",
        "tool",
    ),
    "gemgate.rag": (
        "Chunking",
        "Citation",
        "DocumentInfo",
        "Hit",
        "IngestReport",
        "Source",
        "Store",
        "StoreInfo",
        "Stores",
    ),
    "gemgate.caching": (
        "CacheConfig",
        "CacheManager",
    ),
    "gemgate.batch": (
        "BatchItemError",
        "BatchJob",
        "BatchRecord",
        "Batches",
    ),
    "gemgate.live": (
        "LiveEvent",
        "LivePool",
        "LivePoolFull",
        "LiveReply",
        "LiveSession",
        "LiveText",
        "LiveToolCalls",
        "LiveTranscription",
        "LiveTurnComplete",
    ),
}
_HOME = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = [
    "APIStatusError",
    "AsyncGemini",
    "AsyncToolExecutor",
    "AuthError",
    "BadRequestError",
    "BatchError",
    "BatchItemError",
    "BatchJob",
    "BatchRecord",
    "BatchTimeout",
    "Batches",
    "CacheConfig",
    "CacheManager",
    "ChatEvent",
    "ChatExists",
    "ChatInfo",
    "ChatManager",
    "ChatMessage",
    "ChatNotFound",
    "ChatStorage",
    "Chunking",
    "CircuitOpen",
    "Citation",
    "ConfigError",
    "ConfigWarning",
    "ConnectError",
    "Cooldown",
    "CorruptRecord",
    "DocumentError",
    "DocumentInfo",
    "EmbeddingMismatch",
    "Engine",
    "FinalAnswer",
    "FunctionCall",
    "FunctionCallData",
    "FunctionCallEvent",
    "FunctionTool",
    "GatewayKey",
    "GemgateError",
    "Gemini",
    "GeminiAPIError",
    "GeminiClientError",
    "GeminiResponseError",
    "GeminiToolExecutionError",
    "Hit",
    "Image",
    "IngestReport",
    "KeyReport",
    "Limits",
    "LiveEvent",
    "LivePool",
    "LivePoolFull",
    "LiveReply",
    "LiveSession",
    "LiveSessionLost",
    "LiveText",
    "LiveToolCalls",
    "LiveTranscription",
    "LiveTurnComplete",
    "LocalChatStorage",
    "MaxIterationsReached",
    "MemoryChatStorage",
    "ModelQuota",
    "NotFoundError",
    "PostgresChatStorage",
    "ProjectConfig",
    "ProjectReport",
    "ProtocolError",
    "QuotaExhausted",
    "QuotaReport",
    "RateLimitedError",
    "RateLimitingAsyncExecutor",
    "RedisChatStorage",
    "RetrievalError",
    "SQLiteChatStorage",
    "SequentialToolExecutor",
    "ServerError",
    "Settings",
    "Source",
    "StorageError",
    "StorageUnavailable",
    "Store",
    "StoreInfo",
    "StoreNotFound",
    "Stores",
    "StreamInterrupted",
    "TextDelta",
    "Tool",
    "ToolDefinitionError",
    "ToolEvent",
    "ToolExecutor",
    "ToolResult",
    "ToolsExecutionResult",
    "TransportError",
    "UpstreamTimeout",
    "UsageError",
    "UsageEvent",
    "WindowUsage",
    "WireDecodeError",
    "__version__",
    "fingerprint",
    "hash_secret",
    "pcm_to_wav",
    "tool",
]

if TYPE_CHECKING:
    from gemgate.batch import (
        Batches,
        BatchItemError,
        BatchJob,
        BatchRecord,
    )
    from gemgate.caching import (
        CacheConfig,
        CacheManager,
    )
    from gemgate.client import (
        AsyncGemini,
        Gemini,
        Image,
        pcm_to_wav,
    )
    from gemgate.config import (
        Settings,
    )
    from gemgate.errors import (
        APIStatusError,
        AuthError,
        BadRequestError,
        BatchError,
        BatchTimeout,
        CircuitOpen,
        ConfigError,
        ConfigWarning,
        ConnectError,
        DocumentError,
        EmbeddingMismatch,
        GemgateError,
        GeminiAPIError,
        GeminiClientError,
        GeminiResponseError,
        GeminiToolExecutionError,
        LiveSessionLost,
        NotFoundError,
        ProtocolError,
        QuotaExhausted,
        RateLimitedError,
        RetrievalError,
        ServerError,
        StorageError,
        StoreNotFound,
        StreamInterrupted,
        TransportError,
        UpstreamTimeout,
        UsageError,
        WireDecodeError,
    )
    from gemgate.live import (
        LiveEvent,
        LivePool,
        LivePoolFull,
        LiveReply,
        LiveSession,
        LiveText,
        LiveToolCalls,
        LiveTranscription,
        LiveTurnComplete,
    )
    from gemgate.policy import (
        Cooldown,
        KeyReport,
        ModelQuota,
        ProjectReport,
        QuotaReport,
        WindowUsage,
    )
    from gemgate.projects import (
        GatewayKey,
        Limits,
        ProjectConfig,
        fingerprint,
        hash_secret,
    )
    from gemgate.rag import (
        Chunking,
        Citation,
        DocumentInfo,
        Hit,
        IngestReport,
        Source,
        Store,
        StoreInfo,
        Stores,
    )
    from gemgate.sessions import (
        ChatExists,
        ChatInfo,
        ChatManager,
        ChatMessage,
        ChatNotFound,
        ChatStorage,
        CorruptRecord,
        LocalChatStorage,
        MemoryChatStorage,
        PostgresChatStorage,
        RedisChatStorage,
        SQLiteChatStorage,
        StorageUnavailable,
    )
    from gemgate.tools import (
        AsyncToolExecutor,
        ChatEvent,
        FinalAnswer,
        FunctionCall,
        FunctionCallData,
        FunctionCallEvent,
        FunctionTool,
        MaxIterationsReached,
        RateLimitingAsyncExecutor,
        SequentialToolExecutor,
        TextDelta,
        Tool,
        ToolDefinitionError,
        ToolEvent,
        ToolExecutor,
        ToolResult,
        ToolsExecutionResult,
        UsageEvent,
        tool,
    )
    from gemgate.upstream import (
        Engine,
    )


def __getattr__(name: str) -> Any:
    """Import a public name's module on first use."""
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module 'gemgate' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
