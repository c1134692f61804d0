"""Generated media on the wire: image sizes, TTS voices, PCM audio and its WAV wrapping.

Gemini image models answer with ``inlineData`` parts (``image/png``, base64); the TTS
models answer with raw PCM, ``audio/L16;codec=pcm;rate=24000`` (16-bit signed,
little-endian, mono), which clients wrap into WAV themselves (:func:`pcm_to_wav`).
Sans-I/O: shared by the emulator, the library and the gateway.
"""

from __future__ import annotations

import struct

__all__ = [
    "ASPECT_RATIOS",
    "IMAGE_TYPES",
    "PCM_MIME",
    "PCM_RATE",
    "VOICES",
    "image_type",
    "pcm_rate",
    "pcm_to_wav",
]

ASPECT_RATIOS: dict[str, tuple[int, int]] = {
    "1:1": (1024, 1024),
    "2:3": (832, 1248),
    "3:2": (1248, 832),
    "3:4": (864, 1184),
    "4:3": (1184, 864),
    "4:5": (896, 1152),
    "5:4": (1152, 896),
    "9:16": (768, 1344),
    "16:9": (1344, 768),
    "21:9": (1536, 672),
}
"""``imageConfig.aspectRatio`` → the (width, height) Gemini 2.5 Flash Image answers with."""

VOICES: tuple[str, ...] = (
    "Zephyr",
    "Puck",
    "Charon",
    "Kore",
    "Fenrir",
    "Leda",
    "Orus",
    "Aoede",
    "Callirrhoe",
    "Autonoe",
    "Enceladus",
    "Iapetus",
    "Umbriel",
    "Algieba",
    "Despina",
    "Erinome",
    "Algenib",
    "Rasalgethi",
    "Laomedeia",
    "Achernar",
    "Alnilam",
    "Schedar",
    "Gacrux",
    "Pulcherrima",
    "Achird",
    "Zubenelgenubi",
    "Vindemiatrix",
    "Sadachbia",
    "Sadaltager",
    "Sulafat",
)
"""The prebuilt voices of the Gemini TTS models (names are matched case-insensitively)."""

PCM_RATE = 24_000
"""Sample rate of Gemini's generated speech, in Hz."""
PCM_MIME = f"audio/L16;codec=pcm;rate={PCM_RATE}"
"""The ``mimeType`` of Gemini's generated speech."""

IMAGE_TYPES: tuple[str, ...] = ("image/png", "image/jpeg", "image/webp", "image/heic", "image/heif")
"""The image types Gemini accepts as input."""


def image_type(data: bytes) -> str | None:
    """The image type ``data`` starts like (PNG, JPEG, WebP, HEIC/HEIF, GIF), or None."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[4:8] == b"ftyp":
        return "image/heif" if data[8:12] in (b"mif1", b"msf1", b"heif") else "image/heic"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    return None


def pcm_rate(mime_type: str, default: int = PCM_RATE) -> int:
    """The ``rate=`` parameter of an ``audio/L16`` MIME type (``default`` without one)."""
    for param in mime_type.split(";")[1:]:
        name, _, value = param.strip().partition("=")
        if name.lower() == "rate" and value.isdigit():
            return int(value)
    return default


def pcm_to_wav(pcm: bytes, rate: int = PCM_RATE, *, channels: int = 1, width: int = 2) -> bytes:
    """Wrap raw little-endian PCM in a RIFF/WAVE header.

    Example::

        wav = pcm_to_wav(part.inline_data.data)  # 24 kHz, 16-bit mono
        Path("hello.wav").write_bytes(wav)
    """
    block = channels * width
    header = struct.pack(
        "<4sI4s4sIHHIIHH4sI",
        b"RIFF",
        36 + len(pcm),
        b"WAVE",
        b"fmt ",
        16,
        1,  # PCM
        channels,
        rate,
        rate * block,
        block,
        width * 8,
        b"data",
        len(pcm),
    )
    return header + pcm
