"""The models the emulator serves, with the metadata ``models.list`` returns."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from gemgate.emulator._config import ModelSpec

__all__ = ["DEFAULT_MODELS", "Catalog"]

_GENERATE_METHODS = [
    "generateContent",
    "countTokens",
    "createCachedContent",
    "batchGenerateContent",
]
_EMBED_METHODS = ["embedContent", "countTextTokens", "countTokens", "asyncBatchEmbedContent"]
_LIVE_METHODS = ["bidiGenerateContent", "countTokens"]

DEFAULT_MODELS: tuple[ModelSpec, ...] = (
    ModelSpec(
        name="gemini-2.5-flash",
        display_name="Gemini 2.5 Flash",
        description="Stable version of Gemini 2.5 Flash, our mid-size multimodal model.",
        thinking=True,
        aliases=["gemini-flash-latest", "gemini-2.5-flash-001"],
    ),
    ModelSpec(
        name="gemini-2.5-pro",
        display_name="Gemini 2.5 Pro",
        description="Stable release of Gemini 2.5 Pro.",
        thinking=True,
        can_disable_thinking=False,
        cache_min_tokens=2048,
        aliases=["gemini-pro-latest", "gemini-2.5-pro-001"],
    ),
    ModelSpec(
        name="gemini-2.5-flash-lite",
        display_name="Gemini 2.5 Flash-Lite",
        description="Stable version of Gemini 2.5 Flash-Lite.",
        aliases=["gemini-flash-lite-latest", "gemini-2.5-flash-lite-001"],
    ),
    ModelSpec(
        name="gemini-3-flash-preview",
        display_name="Gemini 3 Flash Preview",
        description="Gemini 3 Flash Preview",
        version="3-flash-preview-12-2025",
        thinking=True,
        requires_thought_signatures=True,
    ),
    ModelSpec(
        name="gemini-2.5-flash-image",
        display_name="Nano Banana",
        description="Gemini 2.5 Flash Image: generates and edits images.",
        input_token_limit=32_768,
        output_token_limit=32_768,
        output_modalities=["TEXT", "IMAGE"],
        aliases=["gemini-2.5-flash-image-preview"],
    ),
    ModelSpec(
        name="gemini-2.5-flash-preview-tts",
        display_name="Gemini 2.5 Flash Preview TTS",
        description="Gemini 2.5 Flash Preview TTS: text to speech.",
        version="gemini-2.5-flash-exp-tts-2025-05-19",
        input_token_limit=8_192,
        output_token_limit=16_384,
        output_modalities=["AUDIO"],
    ),
    ModelSpec(
        name="gemini-2.5-pro-preview-tts",
        display_name="Gemini 2.5 Pro Preview TTS",
        description="Gemini 2.5 Pro Preview TTS: text to speech.",
        version="gemini-2.5-pro-preview-tts-2025-05-19",
        input_token_limit=8_192,
        output_token_limit=16_384,
        output_modalities=["AUDIO"],
    ),
    ModelSpec(
        name="gemini-embedding-001",
        display_name="Gemini Embedding 001",
        description="Obtain a distributed representation of a text.",
        kind="embed",
        input_token_limit=2048,
        output_token_limit=1,
        embedding_dimensions=3072,
    ),
    ModelSpec(
        name="text-embedding-004",
        display_name="Text Embedding 004",
        description="Obtain a distributed representation of a text.",
        version="004",
        kind="embed",
        input_token_limit=2048,
        output_token_limit=1,
        embedding_dimensions=768,
    ),
    ModelSpec(
        name="gemini-live-2.5-flash-preview",
        display_name="Gemini Live 2.5 Flash Preview",
        description="Gemini Live 2.5 Flash Preview: low-latency text and audio over the Live API.",
        kind="live",
        input_token_limit=131_072,
        output_token_limit=8_192,
    ),
    ModelSpec(
        name="gemini-2.0-flash-live-001",
        display_name="Gemini 2.0 Flash 001 Live",
        description="Gemini 2.0 Flash for the Live API.",
        kind="live",
        input_token_limit=131_072,
        output_token_limit=8_192,
    ),
    ModelSpec(
        name="gemini-2.5-flash-native-audio-preview-12-2025",
        display_name="Gemini 2.5 Flash Native Audio Preview 12-2025",
        description="Native audio dialog over the Live API (answers in AUDIO only).",
        version="2.5-flash-native-audio-preview-12-2025",
        kind="live",
        native_audio=True,
        input_token_limit=131_072,
        output_token_limit=8_192,
        aliases=[
            "gemini-2.5-flash-native-audio-latest",
            "gemini-2.5-flash-native-audio-preview-09-2025",
        ],
    ),
)


def _bare(name: str) -> str:
    return name.removeprefix("models/")


class Catalog:
    """Model lookup by id, ``models/`` name or alias."""

    def __init__(self, extra: Iterable[ModelSpec] = ()) -> None:
        specs = {spec.name: spec for spec in DEFAULT_MODELS}
        specs.update({spec.name: spec for spec in extra})
        self._specs = specs
        self._index: dict[str, ModelSpec] = {}
        for spec in specs.values():
            for alias in (spec.name, *spec.aliases):
                self._index[alias] = spec

    def __iter__(self) -> Any:
        return iter(self._specs.values())

    def __len__(self) -> int:
        return len(self._specs)

    def find(self, name: str) -> ModelSpec | None:
        """Return the model for ``name`` (with or without ``models/``), or None."""
        return self._index.get(_bare(name))

    @staticmethod
    def methods(spec: ModelSpec) -> list[str]:
        """The ``supportedGenerationMethods`` of a model."""
        if spec.kind == "live":
            return list(_LIVE_METHODS)
        return list(_EMBED_METHODS if spec.kind == "embed" else _GENERATE_METHODS)

    @staticmethod
    def supports(spec: ModelSpec, method: str) -> bool:
        """Whether ``method`` (``generateContent``, ``embedContent`` …) works on ``spec``."""
        if spec.kind == "embed":
            return method in ("embedContent", "batchEmbedContents", "countTokens")
        if spec.kind == "live":
            return method in ("bidiGenerateContent", "countTokens")
        return method in ("generateContent", "streamGenerateContent", "countTokens")

    @classmethod
    def describe(cls, spec: ModelSpec) -> dict[str, Any]:
        """The wire ``Model`` resource."""
        model: dict[str, Any] = {
            "name": f"models/{spec.name}",
            "version": spec.version,
            "displayName": spec.display_name or spec.name,
            "description": spec.description or spec.display_name or spec.name,
            "inputTokenLimit": spec.input_token_limit,
            "outputTokenLimit": spec.output_token_limit,
            "supportedGenerationMethods": cls.methods(spec),
        }
        if spec.kind != "embed":
            model.update(temperature=1, maxTemperature=2, topP=0.95, topK=64)
            if spec.thinking:
                model["thinking"] = True
        return model
