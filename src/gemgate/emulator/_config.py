"""Emulator configuration: projects, keys, quotas, scripted rules and extra models.

The file format is shared with the rest of gemgate: ``[[projects]]`` entries name a
Google project, its API keys and per-model limits, exactly as the client reads them.
Emulator-only settings live under an ``[emulator]`` table; the gateway's and client's
settings are ignored so one file can configure them all, but a key that none of them
reads is a :class:`~gemgate.errors.ConfigError`, as is a malformed file.

Example::

    [[projects]]
    name = "proj-a"
    keys = ["key-a1", "key-a2"]
    [projects.limits."gemini-2.5-flash"]
    rpm = 10
    tpm = 100000
    rpd = 500

    [[emulator.rules]]
    match = "weather"
    function_call = { name = "get_weather", args = { city = "Paris" } }
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from gemgate.config import Settings, config_error, read_toml
from gemgate.projects import Limits, ProjectConfig

__all__ = [
    "EmulatorConfig",
    "EmulatorSettings",
    "FunctionCallReply",
    "Limits",
    "ModelSpec",
    "ProjectConfig",
    "Rule",
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FunctionCallReply(_Strict):
    """A function call the model makes when a rule matches."""

    name: str
    args: dict[str, Any] = Field(default_factory=dict)


class Rule(_Strict):
    """A scripted reply: when ``match`` occurs in the latest user text, answer with it.

    ``match`` is a case-insensitive substring. A rule with ``function_call`` only fires
    when the request declares that function and function calling is not disabled. With
    ``after_function`` instead of ``match``, the rule fires when the latest turn answers
    that function, so multi-step tool conversations can be scripted.
    """

    match: str | None = Field(default=None, min_length=1)
    after_function: str | None = None
    reply: str | None = None
    function_call: FunctionCallReply | None = None
    model: str | None = None
    """Only for this model id, if given."""

    @model_validator(mode="after")
    def _one_action(self) -> Rule:
        if (self.reply is None) == (self.function_call is None):
            raise ValueError("a rule needs exactly one of 'reply' or 'function_call'")
        if (self.match is None) == (self.after_function is None):
            raise ValueError("a rule needs exactly one of 'match' or 'after_function'")
        return self


class ModelSpec(_Strict):
    """A model the emulator serves."""

    name: str
    """Model id without the ``models/`` prefix."""
    display_name: str = ""
    description: str = ""
    version: str = "001"
    kind: str = Field(default="generate", pattern="^(generate|embed|live)$")
    """``generate`` (REST generation), ``embed`` (embeddings) or ``live`` (Live API only)."""
    input_token_limit: int = 1_048_576
    output_token_limit: int = 65_536
    thinking: bool = False
    """Thinks before answering and returns thought signatures."""
    can_disable_thinking: bool = True
    requires_thought_signatures: bool = False
    """Gemini 3 behaviour: history without signatures on current-turn calls is a 400."""
    native_audio: bool = False
    """A Live model that only answers in AUDIO."""
    output_modalities: list[str] = Field(default_factory=lambda: ["TEXT"])
    """What ``generateContent`` may answer with (``TEXT``, ``IMAGE``, ``AUDIO``); the
    default ``responseModalities``. An ``AUDIO`` model (TTS) answers in AUDIO only."""
    embedding_dimensions: int = 768
    cache_min_tokens: int = 1024
    aliases: list[str] = Field(default_factory=list)


class EmulatorSettings(_Strict):
    """Settings read only by the emulator (the ``[emulator]`` table)."""

    rules: list[Rule] = Field(default_factory=list)
    models: list[ModelSpec] = Field(default_factory=list)
    """Extra models, or replacements for built-in ones with the same name."""
    block_phrase: str = "[[emulator:block]]"
    """A prompt containing this is blocked (``promptFeedback.blockReason``)."""
    safety_phrase: str = "[[emulator:safety]]"
    """A prompt containing this ends with ``finishReason: SAFETY``."""
    file_processing_seconds: dict[str, float] = Field(default_factory=lambda: {"video/": 2.0})
    """How long uploaded files stay PROCESSING, by MIME type prefix."""
    max_file_bytes: int = Field(default=2 * 1024 * 1024 * 1024, ge=1)
    """The largest file the Files API takes (the service: 2 GB), a batch's input file too."""
    file_search_processing_seconds: float = Field(default=0.2, ge=0)
    """How long a File Search import or upload runs before its operation is done."""
    batch_start_seconds: float = Field(default=0.05, ge=0)
    """How long a batch stays ``BATCH_STATE_PENDING`` before it runs."""
    batch_seconds_per_request: float = Field(default=0.01, ge=0)
    """How long a running batch spends on each request."""
    batch_expiry_seconds: float = Field(default=48 * 3600.0, gt=0)
    """A batch still unfinished this long after its creation is ``BATCH_STATE_EXPIRED``."""
    seed: int = 0
    """Seed for probabilistic fault rules."""
    signature_secret: str = "gemgate-emulator"
    """Key used to sign and verify thought signatures."""
    live_connection_seconds: float = Field(default=600.0, gt=0)
    """How long one Live connection lives before the server closes it (the service: ~10 min)."""
    live_goaway_seconds: float = Field(default=60.0, ge=0)
    """How long before that end the server sends ``goAway``."""
    live_chunk_seconds: float = Field(default=0.0, ge=0, le=60)
    """Pause between streamed Live reply chunks; input arriving meanwhile interrupts the turn."""
    live_resumption_seconds: float = Field(default=7200.0, gt=0)
    """How long a ``sessionResumptionUpdate.newHandle`` can be used to resume."""


class EmulatorConfig(BaseModel):
    """Everything the emulator reads; the gateway's and client's settings are ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    projects: list[ProjectConfig] = Field(default_factory=list)
    emulator: EmulatorSettings = Field(default_factory=EmulatorSettings)

    @model_validator(mode="after")
    def _unique_keys(self) -> EmulatorConfig:
        seen: dict[str, str] = {}
        for project in self.projects:
            for key in project.keys:
                if key in seen:
                    raise ValueError(
                        f"an API key is listed in both {seen[key]!r} and {project.name!r}"
                    )
                seen[key] = project.name
        return self

    @classmethod
    def from_toml(cls, path: str | Path) -> EmulatorConfig:
        """Read a TOML configuration file; :class:`~gemgate.errors.ConfigError` if it is wrong."""
        data = read_toml(Path(path), set(cls.model_fields) | set(Settings.model_fields) | {"state"})
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise config_error(exc, cls, source=str(path)) from None
