"""Image generation and editing, and text-to-speech: ``generate_image`` and ``speak``.

Both send a GenerateContentRequest through the client's engine (keys, quotas, retries,
tracking), to the image model (``responseModalities: ["IMAGE"]``) or the TTS model
(``["AUDIO"]`` with a prebuilt voice); :class:`~gemgate.client.AsyncGemini` inherits them.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from gemgate.errors import GeminiResponseError, UsageError
from gemgate.upstream._calls import bare_model
from gemgate.upstream._engine import Engine
from gemgate.wire._media import ASPECT_RATIOS, PCM_RATE, image_type, pcm_rate, pcm_to_wav

__all__ = ["Image", "Media", "pcm_to_wav"]

_EXTENSIONS = {"image/png": ".png", "image/jpeg": ".jpg", "image/webp": ".webp"}


@dataclass(frozen=True)
class Image:
    """A generated (or input) image: its bytes and MIME type.

    Example::

        (image,) = await g.generate_image("A lighthouse at dusk", aspect_ratio="16:9")
        image.save("lighthouse.png")
    """

    data: bytes
    mime_type: str = "image/png"
    text: str = ""
    """Text the model said along with the image (empty when it said none)."""
    usage: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)
    """The ``usageMetadata`` of the response that brought the image."""

    def save(self, path: str | Path) -> Path:
        """Write the bytes to ``path`` (a directory gets ``image`` plus the right suffix)."""
        target = Path(path)
        if target.is_dir():
            target = target / ("image" + _EXTENSIONS.get(self.mime_type, ".bin"))
        target.write_bytes(self.data)
        return target

    def b64(self) -> str:
        """The bytes in base64, as the wire carries them."""
        return base64.b64encode(self.data).decode()


ImageInput = bytes | Image
"""An input image: raw bytes (its type sniffed) or an :class:`Image`."""


def _image_part(image: ImageInput) -> dict[str, Any]:
    if isinstance(image, Image):
        data, mime = image.data, image.mime_type
    else:
        data, mime = bytes(image), image_type(bytes(image)) or ""
        if not mime:
            raise UsageError("an input image must be PNG, JPEG, WebP, HEIC or HEIF bytes")
    return {"inlineData": {"mimeType": mime, "data": base64.b64encode(data).decode()}}


def _media(response: Mapping[str, Any], prefix: str) -> list[tuple[str, bytes, str]]:
    """``(mime type, bytes, text)`` of the first candidate's ``prefix*`` inline parts.

    Raises:
        GeminiResponseError: The response holds none (a blocked prompt or candidate).
    """
    candidates = response.get("candidates") or []
    parts = (candidates[0].get("content") or {}).get("parts", []) if candidates else []
    text = "".join(p.get("text", "") for p in parts if not p.get("thought"))
    found = [
        (blob.get("mimeType", ""), base64.b64decode(blob.get("data", "")), text)
        for p in parts
        if isinstance(blob := p.get("inlineData"), Mapping)
        and str(blob.get("mimeType", "")).startswith(prefix)
    ]
    if not found:
        block = (response.get("promptFeedback") or {}).get("blockReason")
        finish = candidates[0].get("finishReason") if candidates else None
        reason = f"blockReason {block}" if block else f"finishReason {finish}"
        raise GeminiResponseError(f"the model answered without {prefix[:-1]} ({reason})")
    return found


def _voice(name: str) -> dict[str, Any]:
    return {"prebuiltVoiceConfig": {"voiceName": name}}


class Media:
    """``generate_image`` and ``speak``; :class:`~gemgate.client.AsyncGemini` inherits them."""

    engine: Engine

    async def generate_image(
        self,
        prompt: str,
        *,
        model: str | None = None,
        images: Sequence[ImageInput] = (),
        aspect_ratio: str | None = None,
        n: int = 1,
        with_text: bool = False,
        request_id: str | None = None,
    ) -> list[Image]:
        """Generate ``n`` images from ``prompt``, or edit ``images`` as it says.

        Args:
            prompt: What to draw, or how to change the input images.
            model: An image model (default: the ``image_model`` setting).
            images: Input images to edit or combine (bytes or :class:`Image`).
            aspect_ratio: ``"1:1"``, ``"16:9"``, ``"9:16"``, ``"4:3"`` … (Gemini's list).
            n: How many images; each is one request (seeded ``0 … n-1`` when ``n > 1``).
            with_text: Ask for text along with each image (``Image.text``).
            request_id: Tracks the requests under this id.

        Raises:
            UsageError: ``n`` below 1, an unknown aspect ratio or an unknown image type.
            GeminiResponseError: The model answered without an image (a blocked prompt).

        Example::

            (image,) = await g.generate_image("A red bicycle", aspect_ratio="4:3")
            (edited,) = await g.generate_image("Make it blue", images=[image])
            edited.save("blue.png")
        """
        if n < 1:
            raise UsageError("n must be at least 1")
        if aspect_ratio is not None and aspect_ratio not in ASPECT_RATIOS:
            raise UsageError(f"aspect_ratio must be one of {', '.join(ASPECT_RATIOS)}")
        parts = [_image_part(image) for image in images] + [{"text": prompt}]
        config: dict[str, Any] = {
            "responseModalities": ["TEXT", "IMAGE"] if with_text else ["IMAGE"]
        }
        if aspect_ratio is not None:
            config["imageConfig"] = {"aspectRatio": aspect_ratio}
        name = bare_model(model or self.engine.settings.image_model)

        async def one(seed: int | None) -> list[Image]:
            generation = config if seed is None else {**config, "seed": seed}
            request = {
                "contents": [{"role": "user", "parts": parts}],
                "generationConfig": generation,
            }
            response = await self.engine.generate(request, name, request_id=request_id)
            usage = response.get("usageMetadata") or {}
            return [
                Image(data, mime, text, usage) for mime, data, text in _media(response, "image/")
            ]

        seeds: list[int | None] = [None] if n == 1 else list(range(n))
        found = await asyncio.gather(*(one(seed) for seed in seeds))
        return [image for images_of_one in found for image in images_of_one]

    async def speak(
        self,
        text: str,
        *,
        voice: str = "Kore",
        speakers: Mapping[str, str] | None = None,
        model: str | None = None,
        format: Literal["wav", "pcm"] = "wav",
        request_id: str | None = None,
    ) -> bytes:
        """Say ``text`` with a prebuilt voice; WAV bytes (or the raw PCM with ``format="pcm"``).

        Args:
            text: What to say; a style instruction may lead (``"Say cheerfully: …"``).
            voice: A prebuilt Gemini voice (``Kore``, ``Puck``, ``Charon``, ``Zephyr`` …).
            speakers: For a dialogue, speaker name → voice (two speakers, named in the text
                as ``Name: line``); ``voice`` is then unused.
            model: A TTS model (default: the ``speech_model`` setting).
            format: ``wav`` (a RIFF header on the PCM) or ``pcm`` (24 kHz, 16-bit mono).
            request_id: Tracks the request under this id.

        Raises:
            BadRequestError: An unknown voice, or a model that cannot speak.
            GeminiResponseError: The model answered without audio.

        Example::

            wav = await g.speak("Say cheerfully: have a wonderful day!", voice="Puck")
            Path("day.wav").write_bytes(wav)
        """
        if format not in ("wav", "pcm"):
            raise UsageError("format must be 'wav' or 'pcm'")
        speech: dict[str, Any] = {"voiceConfig": _voice(voice)}
        if speakers:
            speech = {
                "multiSpeakerVoiceConfig": {
                    "speakerVoiceConfigs": [
                        {"speaker": name, "voiceConfig": _voice(v)} for name, v in speakers.items()
                    ]
                }
            }
        request = {
            "contents": [{"role": "user", "parts": [{"text": text}]}],
            "generationConfig": {"responseModalities": ["AUDIO"], "speechConfig": speech},
        }
        name = bare_model(model or self.engine.settings.speech_model)
        response = await self.engine.generate(request, name, request_id=request_id)
        pieces = _media(response, "audio/")
        pcm = b"".join(data for _, data, _ in pieces)
        if format == "pcm":
            return pcm
        return pcm_to_wav(pcm, pcm_rate(pieces[0][0], PCM_RATE))
