"""Reading a Live ``setup`` message into the session's configuration.

The setup is read strictly (unknown fields and bad enums close the connection with 1007,
like a REST 400), then checked the way the service checks it: the model must exist and
serve ``bidiGenerateContent`` (else 1008 with Google's "not found" text), one response
modality (AUDIO by default, and the only one native-audio models accept), none of the
generation settings the Live API lacks, and tools, system instruction and generation
settings valid as they would be in a ``generateContent`` request.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gemgate.emulator._config import ModelSpec
from gemgate.emulator._errors import ApiError
from gemgate.emulator._normalize import snake
from gemgate.emulator._signatures import Signer
from gemgate.emulator._state import EmulatorState
from gemgate.emulator._validate import check_generate_request
from gemgate.emulator.live._wire import INVALID, POLICY, LiveClose

__all__ = ["LiveConfig", "check_config", "read_setup"]

_UNSUPPORTED = (
    "responseLogprobs",
    "logprobs",
    "responseMimeType",
    "responseSchema",
    "responseJsonSchema",
    "stopSequences",
)
_LIVE_ONLY = (
    "responseModalities",
    "speechConfig",
    "mediaResolution",
    "enableAffectiveDialog",
    "translationConfig",
)
_PLACEHOLDER = [{"role": "user", "parts": [{"text": "setup"}]}]


@dataclass
class LiveConfig:
    """A session's effective configuration (system instruction and tools may change)."""

    model: ModelSpec
    setup: dict[str, Any]
    modality: str
    input_transcription: bool
    output_transcription: bool
    automatic_activity: bool
    interrupts: bool
    resumption: bool
    compression: tuple[int, int] | None

    def request(self, history: list[dict[str, Any]]) -> dict[str, Any]:
        """The ``generateContent`` request equivalent to this session and ``history``."""
        setup = self.setup
        request: dict[str, Any] = {"contents": history}
        if setup.get("systemInstruction"):
            request["systemInstruction"] = setup["systemInstruction"]
        if setup.get("tools"):
            request["tools"] = setup["tools"]
        if setup.get("safetySettings"):
            request["safetySettings"] = setup["safetySettings"]
        config = {k: v for k, v in setup.get("generationConfig", {}).items() if k not in _LIVE_ONLY}
        if config:
            request["generationConfig"] = config
        return request

    def update(self, change: Mapping[str, Any]) -> None:
        """Apply a ``contextUpdate`` (new system instruction and/or tools)."""
        if "systemInstruction" in change:
            self.setup["systemInstruction"] = change["systemInstruction"]
        if "tools" in change:
            self.setup["tools"] = change["tools"].get("tools", [])


def _model(state: EmulatorState, setup: Mapping[str, Any], version: str) -> ModelSpec:
    name = setup.get("model", "")
    if not name:
        raise LiveClose(INVALID, "Invalid setup: model is required (models/{model}).")
    spec = state.catalog.find(name)
    if spec is None or not state.catalog.supports(spec, "bidiGenerateContent"):
        error = state.model_not_found(name, "bidiGenerateContent", version)
        raise LiveClose(POLICY, error.message)
    return spec


def _modality(model: ModelSpec, config: Mapping[str, Any]) -> str:
    for key in _UNSUPPORTED:
        if key in config:
            raise LiveClose(
                INVALID, f"generation_config.{snake(key)} is not supported in the Live API."
            )
    modalities = config.get("responseModalities") or ["AUDIO"]
    if len(modalities) > 1:
        raise LiveClose(INVALID, "Only one response modality is supported per session.")
    modality: str = modalities[0]
    if modality not in ("TEXT", "AUDIO"):
        raise LiveClose(INVALID, f"Response modality {modality} is not supported in Live.")
    if model.native_audio and modality != "AUDIO":
        raise LiveClose(INVALID, "Cannot extract voices from a non-audio request.")
    return modality


def _compression(model: ModelSpec, setup: Mapping[str, Any]) -> tuple[int, int] | None:
    if "contextWindowCompression" not in setup:
        return None
    settings = setup["contextWindowCompression"]
    trigger = settings.get("triggerTokens") or model.input_token_limit * 4 // 5
    target = settings.get("slidingWindow", {}).get("targetTokens") or trigger // 2
    return trigger, min(target, trigger)


def check_config(config: LiveConfig, signer: Signer) -> None:
    """Refuse tools, system instruction or settings a ``generateContent`` call would refuse."""
    try:
        check_generate_request(config.request(_PLACEHOLDER), config.model, signer)
    except ApiError as exc:
        raise LiveClose.from_api_error(exc) from None


def read_setup(state: EmulatorState, setup: dict[str, Any], version: str) -> LiveConfig:
    """The configuration a normalized (and constrained) setup asks for."""
    model = _model(state, setup, version)
    generation = setup.get("generationConfig", {})
    realtime = setup.get("realtimeInputConfig", {})
    config = LiveConfig(
        model=model,
        setup=setup,
        modality=_modality(model, generation),
        input_transcription="inputAudioTranscription" in setup,
        output_transcription="outputAudioTranscription" in setup,
        automatic_activity=not realtime.get("automaticActivityDetection", {}).get("disabled"),
        interrupts=realtime.get("activityHandling") != "NO_INTERRUPTION",
        resumption="sessionResumption" in setup,
        compression=_compression(model, setup),
    )
    check_config(config, state.signer)
    return config
