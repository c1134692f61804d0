"""``/v1/images/generations``, ``/v1/images/edits`` and ``/v1/audio/speech`` over Gemini.

OpenAI's request shapes, answered by Gemini's image and TTS models through the library's
``generate_image`` and ``speak``. OpenAI model names (``dall-e-3``, ``gpt-image-1``,
``tts-1`` …) stand for the ``image_model`` / ``speech_model`` settings; Gemini model names
are used as they are. Choices where Gemini and OpenAI differ:

- ``size`` picks the nearest of Gemini's aspect ratios (``1536x1024`` → ``3:2``); the
  image comes at Gemini's size for that ratio.
- ``response_format: "url"`` answers a ``data:image/png;base64,…`` URL: nothing is hosted.
- Speech is WAV unless ``response_format`` is ``pcm`` (24 kHz 16-bit mono, as OpenAI's);
  ``mp3``, ``opus``, ``aac`` and ``flac`` would need an encoder the gateway does not
  have, so they are a 400 (OpenAI's default is mp3: ask for ``wav``).
- OpenAI voices map to Gemini voices (``alloy`` → ``Kore`` …); Gemini voice names work too.

When the active ``/v1`` backend is an OpenAI-compatible server, generations and speech are
relayed to it as they are; edits (multipart) are always answered by Gemini.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from starlette.types import Receive, Scope, Send

from gemgate.client._media import Image
from gemgate.errors import GeminiResponseError, NotFoundError
from gemgate.gateway._asgi import send_bytes, send_json
from gemgate.gateway._faces import Problem, model_not_found
from gemgate.gateway._generate import GenerationRoute, check_model, gemini_model
from gemgate.gateway._multipart import Upload, is_multipart, read_form
from gemgate.wire._media import ASPECT_RATIOS, IMAGE_TYPES, VOICES, image_type

__all__ = ["OPENAI_VOICES", "MediaRoute", "aspect_ratio_of"]

_OPENAI_IMAGE_MODELS = frozenset(
    {"dall-e-2", "dall-e-3", "gpt-image-1", "gpt-image-1-mini", "gpt-image-1.5"}
)
_OPENAI_SPEECH_MODELS = frozenset({"tts-1", "tts-1-hd", "gpt-4o-mini-tts"})
OPENAI_VOICES: dict[str, str] = {
    "alloy": "Kore",
    "ash": "Orus",
    "ballad": "Algieba",
    "coral": "Aoede",
    "echo": "Charon",
    "fable": "Puck",
    "nova": "Leda",
    "onyx": "Fenrir",
    "sage": "Schedar",
    "shimmer": "Zephyr",
    "verse": "Sadachbia",
    "marin": "Achernar",
    "cedar": "Iapetus",
}
"""OpenAI's voices → the Gemini prebuilt voice that speaks for each."""
_GEMINI_VOICES = {v.lower(): v for v in VOICES}
_SPEECH_FORMATS = {"wav": "audio/wav", "pcm": "audio/pcm"}
_UNENCODABLE = frozenset({"mp3", "opus", "aac", "flac"})
_SIZE = re.compile(r"^(\d{1,5})x(\d{1,5})$")
_IMAGE_FIELDS = frozenset(
    {
        "prompt",
        "model",
        "n",
        "size",
        "response_format",
        "quality",
        "style",
        "background",
        "moderation",
        "output_format",
        "output_compression",
        "user",
    }
)
_SPEECH_FIELDS = frozenset(
    {"model", "input", "voice", "response_format", "speed", "instructions", "stream_format"}
)
_MAX_SPEECH_INPUT = 4096


_SIDES = (256, 4096)
"""The image sides a size may ask for, in pixels."""


def aspect_ratio_of(size: str) -> str | None:
    """The Gemini aspect ratio nearest an OpenAI ``WxH`` size; None for ``auto``.

    Raises:
        Problem: Not ``auto`` nor ``WxH`` with both sides from 256 to 4096 pixels.
    """
    if size == "auto":
        return None
    match = _SIZE.match(size)
    if not match or not all(_SIDES[0] <= int(side) <= _SIDES[1] for side in match.groups()):
        raise Problem(
            400,
            f"Invalid size '{size}': use WIDTHxHEIGHT with sides from {_SIDES[0]} to"
            f" {_SIDES[1]} pixels, such as 1024x1024, or auto.",
            "size",
        )
    wanted = int(match[1]) / int(match[2])
    return min(ASPECT_RATIOS, key=lambda r: abs(_ratio(r) - wanted))


def _ratio(name: str) -> float:
    width, height = ASPECT_RATIOS[name]
    return width / height


def _unknown(body: Mapping[str, Any], known: frozenset[str]) -> None:
    for name in body:
        if name not in known:
            raise Problem(400, f"Unrecognized request argument supplied: {name}", name)


def _integer(body: Mapping[str, Any], name: str, low: int, high: int, default: int) -> int:
    value = body.get(name, default)
    if value is None:
        return default
    if isinstance(value, str) and value.isdigit():  # a form field
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise Problem(400, f"'{name}' must be an integer from {low} to {high}.", name)
    return value


def _string(body: Mapping[str, Any], name: str, *, required: bool = False) -> str | None:
    value = body.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or (required and not value.strip()):
        raise Problem(400, f"'{name}' is required and must be a non-empty string.", name)
    return value


def _required(body: Mapping[str, Any], name: str) -> str:
    value = _string(body, name, required=True)
    assert value is not None  # required: never None
    return value


def _voice(value: Any) -> str:
    name = value.get("id") if isinstance(value, Mapping) else value
    if isinstance(name, str):
        key = name.lower()
        voice = OPENAI_VOICES.get(key) or _GEMINI_VOICES.get(key)
        if voice is not None:
            return voice
    choices = ", ".join([*OPENAI_VOICES, *VOICES])
    raise Problem(400, f"Unsupported voice {name!r}: use one of {choices}.", "voice")


@contextmanager
def _generated(model: str, what: str) -> Iterator[None]:
    """Map a Gemini call's failures: the model's 404, and nothing made (a 400)."""
    try:
        yield
    except NotFoundError:
        raise model_not_found(model) from None
    except GeminiResponseError as exc:
        raise Problem(
            400, f"No {what} was generated: {exc}", code="content_policy_violation"
        ) from None


class MediaRoute(GenerationRoute):
    """Serves ``/v1/images/generations``, ``/v1/images/edits`` and ``/v1/audio/speech``."""

    def _model(
        self, scope: Scope, name: str | None, openai_names: frozenset[str], default: str
    ) -> str:
        if name is not None and not isinstance(name, str):
            raise Problem(400, "'model' must be a string.", "model")
        chosen = default if not name or name in openai_names else gemini_model(name)
        check_model(scope, chosen)  # the model that serves, OpenAI names resolved
        return chosen

    async def generations(self, scope: Scope, receive: Receive, send: Send) -> None:
        """``POST /v1/images/generations``."""
        body = await self.read_or_relay(scope, receive, send)
        if body is None:
            return
        _unknown(body, _IMAGE_FIELDS)
        await self._images(scope, send, body, [])

    async def edits(self, scope: Scope, receive: Receive, send: Send) -> None:
        """``POST /v1/images/edits``: multipart ``image`` (or ``image[]``) files and a prompt."""
        if not is_multipart(scope):
            raise Problem(400, "The request body must be multipart/form-data.")
        form = await read_form(scope, receive, self.max_body)
        if any(f.field == "mask" for f in form.files) or "mask" in form.fields:
            raise Problem(
                400, "'mask' is not supported: describe the change in the prompt.", "mask"
            )
        uploads = [f for f in form.files if f.field in ("image", "image[]")]
        if not uploads:
            raise Problem(400, "'image' is required: one or more image files.", "image")
        images = [_input_image(upload) for upload in uploads]
        fields: dict[str, Any] = dict(form.fields)
        _unknown(fields, _IMAGE_FIELDS | {"input_fidelity", "partial_images", "stream"})
        await self._images(scope, send, fields, images)

    async def _images(
        self, scope: Scope, send: Send, body: Mapping[str, Any], images: Sequence[Image]
    ) -> None:
        prompt = _required(body, "prompt")
        settings = self.client.settings
        model = self._model(scope, body.get("model"), _OPENAI_IMAGE_MODELS, settings.image_model)
        n = _integer(body, "n", 1, 10, 1)
        ratio = aspect_ratio_of(_string(body, "size") or "auto")
        answer = _string(body, "response_format") or "b64_json"
        if answer not in ("b64_json", "url"):
            raise Problem(400, "'response_format' must be 'b64_json' or 'url'.", "response_format")
        if (_string(body, "output_format") or "png") != "png":
            raise Problem(400, "Only 'png' output_format is available.", "output_format")
        with _generated(model, "image"):
            made = await self.client.generate_image(
                prompt, model=model, images=images, aspect_ratio=ratio, n=n
            )
        data = [
            {"b64_json": i.b64()}
            if answer == "b64_json"
            else {"url": f"data:{i.mime_type};base64,{i.b64()}"}
            for i in made
        ]
        answered = {"created": int(time.time()), "data": data, "usage": _usage(made)}
        await send_json(send, 200, answered)

    async def speech(self, scope: Scope, receive: Receive, send: Send) -> None:
        """``POST /v1/audio/speech``: WAV (default) or raw PCM."""
        body = await self.read_or_relay(scope, receive, send)
        if body is None:
            return
        text, voice, kind = _speech_request(body)
        settings = self.client.settings
        model = self._model(scope, body.get("model"), _OPENAI_SPEECH_MODELS, settings.speech_model)
        with _generated(model, "speech"):
            audio = await self.client.speak(
                text, voice=voice, model=model, format="pcm" if kind == "pcm" else "wav"
            )
        await send_bytes(send, 200, audio, [("content-type", _SPEECH_FORMATS[kind])])


def _speech_request(body: Mapping[str, Any]) -> tuple[str, str, str]:
    """What to say (style first), the Gemini voice and ``wav`` or ``pcm``, from the body.

    Raises:
        Problem: A field OpenAI would refuse, or a format the gateway cannot encode.
    """
    _unknown(body, _SPEECH_FIELDS)
    text = _required(body, "input")
    if len(text) > _MAX_SPEECH_INPUT:
        raise Problem(400, f"'input' is longer than {_MAX_SPEECH_INPUT} characters.", "input")
    if "voice" not in body:
        raise Problem(400, "'voice' is required.", "voice")
    voice = _voice(body["voice"])
    kind = _string(body, "response_format") or "wav"
    if kind in _UNENCODABLE:
        raise Problem(
            400,
            f"response_format '{kind}' is not available on this gateway (no {kind} "
            "encoder): use 'wav' or 'pcm'.",
            "response_format",
        )
    if kind not in _SPEECH_FORMATS:
        raise Problem(400, "'response_format' must be 'wav' or 'pcm'.", "response_format")
    if (_string(body, "stream_format") or "audio") != "audio":
        raise Problem(400, "Only stream_format 'audio' is available.", "stream_format")
    speed = body.get("speed", 1.0)
    if isinstance(speed, bool) or not isinstance(speed, int | float) or not 0.25 <= speed <= 4:
        raise Problem(400, "'speed' must be a number from 0.25 to 4.0.", "speed")
    style = [_string(body, "instructions") or ""]
    if speed != 1:
        style.append(f"at {speed:g} times the normal pace")
    said = " ".join(s for s in style if s)
    return (f"{said}: {text}" if said else text), voice, kind


def _usage(images: Sequence[Image]) -> dict[str, Any]:
    """OpenAI's image ``usage`` from the Gemini responses (one per image, or shared)."""
    seen: dict[int, Mapping[str, Any]] = {id(i.usage): i.usage for i in images}
    sums = {"input": 0, "output": 0, "text": 0, "image": 0}
    for usage in seen.values():
        sums["input"] += int(usage.get("promptTokenCount", 0))
        sums["output"] += int(usage.get("candidatesTokenCount", 0))
        for detail in usage.get("promptTokensDetails", []):
            kind = "image" if detail.get("modality") == "IMAGE" else "text"
            sums[kind] += int(detail.get("tokenCount", 0))
    return {
        "total_tokens": sums["input"] + sums["output"],
        "input_tokens": sums["input"],
        "output_tokens": sums["output"],
        "input_tokens_details": {"text_tokens": sums["text"], "image_tokens": sums["image"]},
    }


def _input_image(upload: Upload) -> Image:
    kind = image_type(upload.data)
    if kind not in IMAGE_TYPES:
        raise Problem(
            400,
            f"Invalid image file '{upload.filename}': use PNG, JPEG or WebP.",
            "image",
            code="invalid_image_format",
        )
    return Image(upload.data, kind)
