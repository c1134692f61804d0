"""Generated images and speech: what the emulated image and TTS models answer.

An image model answers with a real PNG (``image/png``) at the size of the requested
``imageConfig.aspectRatio``: a grid of coloured tiles derived from the prompt, and from
the input images when it edits. A TTS model answers with raw 24 kHz 16-bit mono PCM
(``audio/L16;codec=pcm;rate=24000``): one short tone per word, so the audio grows with
the text, and the tones depend on the voice. Everything is deterministic.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import math
import struct
import sys
import zlib
from array import array
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from gemgate.emulator._config import ModelSpec
from gemgate.emulator._errors import invalid_argument
from gemgate.emulator._normalize import decode_bytes
from gemgate.wire._media import ASPECT_RATIOS, IMAGE_TYPES, PCM_MIME, PCM_RATE, VOICES, image_type
from gemgate.wire.errors import FieldViolation

__all__ = [
    "IMAGE_TOKENS",
    "audio_pieces",
    "check_media_request",
    "media_parts",
    "modalities",
    "output_tokens",
    "png",
    "speech",
]

IMAGE_TOKENS = 1290
"""Output tokens of one generated image, as Gemini 2.5 Flash Image bills it."""
AUDIO_TOKENS_PER_SECOND = 25
"""Output tokens per second of generated speech."""
_TILES = 8
_WORD_SECONDS = 0.3
_VOICE_KEYS = {v.lower(): v for v in VOICES}
_UNABLE = (
    "Unable to process input image. Please retry or report in "
    "https://developers.generativeai.google/guide/troubleshooting"
)


def _get(config: Mapping[str, Any], camel: str) -> Any:
    """A ``Struct``-typed config's field, spelt in camelCase or snake_case."""
    if camel in config:
        return config[camel]
    return config.get("".join("_" + c.lower() if c.isupper() else c for c in camel))


def modalities(request: Mapping[str, Any], model: ModelSpec) -> list[str]:
    """The response modalities asked for, or the model's default ones."""
    asked = request.get("generationConfig", {}).get("responseModalities") or []
    asked = [m for m in asked if m != "MODALITY_UNSPECIFIED"]
    return list(asked) or list(model.output_modalities)


def _fail(field: str, message: str) -> None:
    raise invalid_argument(message, [FieldViolation(field=field, description=message)])


def check_media_request(request: Mapping[str, Any], model: ModelSpec) -> None:
    """What Google refuses about modalities, voices, aspect ratios and input images."""
    asked = modalities(request, model)
    supported = model.output_modalities
    if "AUDIO" in supported and asked != ["AUDIO"]:
        _fail(
            "generation_config.response_modalities",
            f"The requested combination of response modalities ({', '.join(asked)}) is not "
            f"supported by the model. models/{model.name} accepts the following combination "
            "of response modalities:\n* AUDIO\n",
        )
    missing = [m.lower() for m in asked if m not in supported]
    if missing:
        _fail(
            "generation_config.response_modalities",
            f"Model does not support the requested response modalities: {','.join(missing)}",
        )
    config = request.get("generationConfig", {})
    if "AUDIO" in asked:
        _check_speech(_get(config, "speechConfig") or {})
    if "IMAGE" in asked:
        ratio = _get(_get(config, "imageConfig") or {}, "aspectRatio")
        if ratio is not None and ratio not in ASPECT_RATIOS:
            _fail(
                "generation_config.image_config.aspect_ratio",
                f"Unsupported aspect ratio: {ratio}. Supported aspect ratios are: "
                f"{', '.join(ASPECT_RATIOS)}.",
            )
        _check_images(request.get("contents", []))


def _voice_name(voice_config: Any) -> str | None:
    if not isinstance(voice_config, Mapping):
        return None
    prebuilt = _get(voice_config, "prebuiltVoiceConfig")
    return _get(prebuilt, "voiceName") if isinstance(prebuilt, Mapping) else None


def _check_voice(name: Any, field: str) -> None:
    if not isinstance(name, str) or name.lower() not in _VOICE_KEYS:
        _fail(
            field,
            f"Voice name {name} is not supported. Allowed voice names are: "
            f"{', '.join(sorted(_VOICE_KEYS))}",
        )


def _check_speech(speech: Mapping[str, Any]) -> None:
    single = _get(speech, "voiceConfig")
    multi = _get(speech, "multiSpeakerVoiceConfig")
    if single is not None and multi is not None:
        _fail(
            "generation_config.speech_config",
            "voice_config and multi_speaker_voice_config cannot both be set.",
        )
    if single is not None:
        name = _voice_name(single)
        if name is not None:
            _check_voice(name, "generation_config.speech_config.voice_config")
    if multi is not None:
        speakers = _get(multi, "speakerVoiceConfigs") if isinstance(multi, Mapping) else None
        if not isinstance(speakers, list) or len(speakers) != 2:
            _fail(
                "generation_config.speech_config.multi_speaker_voice_config",
                "The number of enabled_voices must equal 2.",
            )
        for i, speaker in enumerate(speakers or []):
            field = f"generation_config.speech_config.multi_speaker_voice_config[{i}]"
            if not isinstance(speaker, Mapping) or not _get(speaker, "speaker"):
                _fail(field, "Speaker name must be set for every speaker voice config.")
            _check_voice(_voice_name(_get(speaker, "voiceConfig")), field)


def _check_images(contents: Sequence[Mapping[str, Any]]) -> None:
    """Inline input images must be of a supported type and really be such an image."""
    for i, content in enumerate(contents):
        for j, part in enumerate(content.get("parts", [])):
            blob = part.get("inlineData")
            if not isinstance(blob, Mapping):
                continue
            field = f"contents[{i}].parts[{j}].inline_data"
            mime = str(blob.get("mimeType", "")).lower()
            if not mime.startswith("image/"):
                continue
            if mime not in IMAGE_TYPES:
                _fail(f"{field}.mime_type", f"Unsupported MIME type: {mime}")
            data = decode_bytes(blob.get("data", "")) or b""
            found = image_type(data)
            if found is None or (found != mime and {found, mime} != {"image/heic", "image/heif"}):
                _fail(f"{field}.data", _UNABLE)


def _stream(seed: bytes) -> Iterator[int]:
    """Bytes derived from ``seed``, without end."""
    counter = 0
    while True:
        yield from hashlib.sha256(seed + counter.to_bytes(4, "big")).digest()
        counter += 1


def png(width: int, height: int, seed: bytes) -> bytes:
    """A ``width`` x ``height`` RGB PNG of 8 x 8 coloured tiles derived from ``seed``."""
    source = _stream(seed)
    colours = [
        [bytes(next(source) for _ in range(3)) for _ in range(_TILES)] for _ in range(_TILES)
    ]
    edges = [width * k // _TILES for k in range(_TILES + 1)]
    rows = []
    for ty in range(_TILES):
        row = b"\x00" + b"".join(
            colours[ty][tx] * (edges[tx + 1] - edges[tx]) for tx in range(_TILES)
        )
        rows.append(row * (height * (ty + 1) // _TILES - height * ty // _TILES))
    raw = b"".join(rows)

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 6))
        + chunk(b"IEND", b"")
    )


@functools.lru_cache(maxsize=64)
def _tone(freq: int) -> bytes:
    """One word's tone: ``_WORD_SECONDS`` of a sine at ``freq`` Hz, faded in and out."""
    step = int(PCM_RATE * _WORD_SECONDS)
    fade = PCM_RATE // 100
    omega = 2 * math.pi * freq / PCM_RATE
    samples = array(
        "h",
        (
            int(8000 * min(1.0, n / fade, (step - n) / fade) * math.sin(omega * n))
            for n in range(step)
        ),
    )
    if sys.byteorder == "big":
        samples.byteswap()
    return samples.tobytes()


def speech(text: str, voice: str) -> bytes:
    """24 kHz 16-bit mono PCM: one tone per word of ``text``, pitched by ``voice``.

    There are 32 pitches, each computed once, so long texts cost little.
    """
    words = text.split() or [""]
    return b"".join(
        _tone(160 + 15 * (hashlib.sha256(f"{voice}/{word}".encode()).digest()[0] % 32))
        for word in words
    )


def output_tokens(part: Mapping[str, Any]) -> tuple[str, int] | None:
    """``(modality, tokens)`` of a generated media part; None for any other part."""
    blob = part.get("inlineData")
    if not isinstance(blob, Mapping):
        return None
    mime = blob.get("mimeType", "")
    if mime.startswith("image/"):
        return "IMAGE", IMAGE_TOKENS
    size = len(decode_bytes(blob.get("data", "")) or b"")
    return "AUDIO", math.ceil(size / 2 / PCM_RATE * AUDIO_TOKENS_PER_SECOND)


def audio_pieces(part: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A generated speech part cut into parts of one second each; [] for any other part."""
    blob = part.get("inlineData")
    if not isinstance(blob, Mapping) or not str(blob.get("mimeType", "")).startswith("audio/"):
        return []
    data = decode_bytes(blob.get("data", "")) or b""
    second = PCM_RATE * 2
    mime = blob["mimeType"]
    return [_inline(mime, data[i : i + second]) for i in range(0, len(data), second)] or [
        dict(part)
    ]


def _inline(mime: str, data: bytes) -> dict[str, Any]:
    return {"inlineData": {"mimeType": mime, "data": base64.b64encode(data).decode()}}


def _input_images(contents: Sequence[Mapping[str, Any]]) -> bytes:
    """The bytes of the last user turn's images: an edit's picture derives from them."""
    last = contents[-1] if contents else {}
    return b"".join(
        (p["inlineData"].get("data") or "").encode()
        for p in last.get("parts", [])
        if "inlineData" in p
    )


def media_parts(
    request: Mapping[str, Any], model: ModelSpec, prompt: str, digest: str
) -> list[dict[str, Any]] | None:
    """The parts a media model answers with; None when only text was asked for."""
    asked = modalities(request, model)
    config = request.get("generationConfig", {})
    if "AUDIO" in asked:
        speech_config = _get(config, "speechConfig") or {}
        voice = _voice_name(_get(speech_config, "voiceConfig")) or "Kore"
        return [_inline(PCM_MIME, speech(prompt, _VOICE_KEYS.get(voice.lower(), voice)))]
    if "IMAGE" not in asked:
        return None
    ratio = _get(_get(config, "imageConfig") or {}, "aspectRatio") or "1:1"
    width, height = ASPECT_RATIOS[ratio]
    images = _input_images(request.get("contents", []))
    sampled = f"/{config['seed']}" if "seed" in config else ""
    seed = hashlib.sha256(f"{digest}{sampled}".encode() + images).digest()
    parts: list[dict[str, Any]] = []
    if "TEXT" in asked:
        verb = "the edited image" if images else "an image"
        subject = " ".join(prompt.split()[:24]) or "your request"
        parts.append({"text": f"Here is {verb} for: {subject}"})
    parts.append(_inline("image/png", png(width, height, seed)))
    return parts
