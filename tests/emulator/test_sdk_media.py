"""Image generation, image editing and text-to-speech through the official SDK."""

from __future__ import annotations

import base64

import pytest
from google.genai import errors, types

from gemgate.emulator._media import png
from gemgate.wire._media import PCM_MIME, pcm_to_wav
from tests.media_checks import png_size, wav_info

from .conftest import Target

pytestmark = pytest.mark.anyio
IMAGE = "gemini-2.5-flash-image"
TTS = "gemini-2.5-flash-preview-tts"


def _images(response: types.GenerateContentResponse) -> list[types.Blob]:
    assert response.candidates and response.candidates[0].content
    parts = response.candidates[0].content.parts or []
    return [p.inline_data for p in parts if p.inline_data is not None]


def _speech(voice: str) -> types.GenerateContentConfig:
    return types.GenerateContentConfig(
        response_modalities=["AUDIO"],
        speech_config=types.SpeechConfig(
            voice_config=types.VoiceConfig(
                prebuilt_voice_config=types.PrebuiltVoiceConfig(voice_name=voice)
            )
        ),
    )


async def test_image_only_is_a_valid_deterministic_png(target: Target) -> None:
    client = target.sdk()
    config = types.GenerateContentConfig(response_modalities=["IMAGE"])
    first = await client.aio.models.generate_content(
        model=IMAGE, contents="A lighthouse at dusk", config=config
    )
    again = await client.aio.models.generate_content(
        model=IMAGE, contents="A lighthouse at dusk", config=config
    )
    other = await client.aio.models.generate_content(
        model=IMAGE, contents="A windmill at noon", config=config
    )
    (blob,) = _images(first)
    assert blob.mime_type == "image/png" and blob.data
    assert png_size(blob.data) == (1024, 1024)
    assert first.text is None  # IMAGE only: no text part
    assert _images(again)[0].data == blob.data
    assert _images(other)[0].data != blob.data
    usage = first.usage_metadata
    assert usage and usage.candidates_tokens_details
    assert [(d.modality, d.token_count) for d in usage.candidates_tokens_details] == [
        (types.MediaModality.IMAGE, 1290)
    ]
    assert usage.total_token_count == (usage.prompt_token_count or 0) + 1290


@pytest.mark.parametrize(("ratio", "size"), [("16:9", (1344, 768)), ("9:16", (768, 1344))])
async def test_aspect_ratio_sets_the_size_and_text_comes_along(
    inprocess: Target, ratio: str, size: tuple[int, int]
) -> None:
    response = await inprocess.sdk().aio.models.generate_content(
        model=IMAGE,
        contents="A red bicycle",
        config=types.GenerateContentConfig(
            response_modalities=["TEXT", "IMAGE"],
            image_config=types.ImageConfig(aspect_ratio=ratio),
        ),
    )
    assert "red bicycle" in (response.text or "")
    (blob,) = _images(response)
    assert blob.data and png_size(blob.data) == size


async def test_editing_depends_on_the_input_image(inprocess: Target) -> None:
    client = inprocess.sdk()
    config = types.GenerateContentConfig(response_modalities=["IMAGE"])
    made = _images(
        await client.aio.models.generate_content(model=IMAGE, contents="A cat", config=config)
    )[0]
    other = _images(
        await client.aio.models.generate_content(model=IMAGE, contents="A dog", config=config)
    )[0]
    assert made.data and other.data

    async def edit(picture: bytes) -> bytes:
        response = await client.aio.models.generate_content(
            model=IMAGE,
            contents=[
                types.Part.from_bytes(data=picture, mime_type="image/png"),
                "Add a hat",
            ],
            config=config,
        )
        data = _images(response)[0].data
        assert data is not None
        usage = response.usage_metadata
        assert usage and usage.prompt_tokens_details
        details = {d.modality: d.token_count for d in usage.prompt_tokens_details}
        assert details[types.MediaModality.IMAGE] == 258 and details[types.MediaModality.TEXT]
        return data

    edited = await edit(made.data)
    assert png_size(edited) == (1024, 1024)
    assert edited == await edit(made.data)
    assert edited != await edit(other.data)
    assert edited != made.data


@pytest.mark.parametrize(
    ("mime", "data", "needle"),
    [
        ("image/png", b"not an image at all", "Unable to process input image"),
        ("image/bmp", b"BM\x00\x00", "Unsupported MIME type: image/bmp"),
        ("image/jpeg", b"\x89PNG\r\n\x1a\n rest", "Unable to process input image"),
    ],
)
async def test_bad_input_images_are_refused(
    inprocess: Target, mime: str, data: bytes, needle: str
) -> None:
    with pytest.raises(errors.ClientError) as caught:
        await inprocess.sdk().aio.models.generate_content(
            model=IMAGE,
            contents=[types.Part.from_bytes(data=data, mime_type=mime), "Edit it"],
            config=types.GenerateContentConfig(response_modalities=["IMAGE"]),
        )
    assert caught.value.code == 400 and caught.value.status == "INVALID_ARGUMENT"
    assert needle in (caught.value.message or "")


async def test_bad_base64_is_refused(inprocess: Target) -> None:
    body = {
        "contents": [{"parts": [{"inlineData": {"mimeType": "image/png", "data": "@@@"}}]}],
        "generationConfig": {"responseModalities": ["IMAGE"]},
    }
    response = await inprocess.http.post(
        f"/v1beta/models/{IMAGE}:generateContent", json=body, headers={"x-goog-api-key": "k"}
    )
    assert response.status_code == 400
    assert response.json()["error"]["status"] == "INVALID_ARGUMENT"


@pytest.mark.parametrize(
    ("model", "modalities", "needle"),
    [
        ("gemini-2.5-flash", ["IMAGE"], "does not support the requested response modalities"),
        (IMAGE, ["AUDIO"], "does not support the requested response modalities: audio"),
        (TTS, ["TEXT"], "accepts the following combination of response modalities"),
    ],
)
async def test_unsupported_modalities_are_refused(
    inprocess: Target, model: str, modalities: list[str], needle: str
) -> None:
    with pytest.raises(errors.ClientError) as caught:
        await inprocess.sdk().aio.models.generate_content(
            model=model,
            contents="Hello",
            config=types.GenerateContentConfig(response_modalities=modalities),
        )
    assert caught.value.code == 400
    assert needle in (caught.value.message or "")


async def test_bad_aspect_ratio_is_refused(inprocess: Target) -> None:
    with pytest.raises(errors.ClientError) as caught:
        await inprocess.sdk().aio.models.generate_content(
            model=IMAGE,
            contents="A boat",
            config=types.GenerateContentConfig(
                response_modalities=["IMAGE"], image_config=types.ImageConfig(aspect_ratio="7:3")
            ),
        )
    assert caught.value.code == 400 and "aspect ratio" in (caught.value.message or "")


async def test_speech_is_24khz_pcm_growing_with_the_text(target: Target) -> None:
    client = target.sdk()
    short = await client.aio.models.generate_content(
        model=TTS, contents="Say cheerfully: have a wonderful day!", config=_speech("Kore")
    )
    long = await client.aio.models.generate_content(
        model=TTS,
        contents="Say cheerfully: have a wonderful day, and a calm evening by the sea!",
        config=_speech("Kore"),
    )
    (blob,) = _images(short)
    assert blob.mime_type == PCM_MIME and blob.data
    assert len(blob.data) % 2 == 0
    channels, width, rate, frames = wav_info(pcm_to_wav(blob.data))
    assert (channels, width, rate) == (1, 2, 24_000)
    assert frames == len(blob.data) // 2 and frames > 24_000  # over a second of speech
    long_data = _images(long)[0].data
    assert long_data and len(long_data) > len(blob.data)
    usage = short.usage_metadata
    assert usage and usage.candidates_tokens_details
    assert usage.candidates_tokens_details[0].modality == types.MediaModality.AUDIO


async def test_voices_differ_and_unknown_voices_are_refused(inprocess: Target) -> None:
    client = inprocess.sdk()
    text = "Good morning"
    kore = await client.aio.models.generate_content(
        model=TTS, contents=text, config=_speech("Kore")
    )
    puck = await client.aio.models.generate_content(
        model=TTS, contents=text, config=_speech("Puck")
    )
    assert _images(kore)[0].data != _images(puck)[0].data
    with pytest.raises(errors.ClientError) as caught:
        await client.aio.models.generate_content(model=TTS, contents=text, config=_speech("Alloy"))
    assert caught.value.code == 400
    assert "Voice name Alloy is not supported" in (caught.value.message or "")
    assert "zephyr" in (caught.value.message or "")


async def test_multi_speaker_speech(inprocess: Target) -> None:
    def speaker(name: str, voice: str) -> types.SpeakerVoiceConfig:
        return types.SpeakerVoiceConfig(
            speaker=name,
            voice_config=types.VoiceConfig(
                prebuilt_voice_config=types.PrebuiltVoiceConfig(voice_name=voice)
            ),
        )

    def config(*speakers: types.SpeakerVoiceConfig) -> types.GenerateContentConfig:
        return types.GenerateContentConfig(
            response_modalities=["AUDIO"],
            speech_config=types.SpeechConfig(
                multi_speaker_voice_config=types.MultiSpeakerVoiceConfig(
                    speaker_voice_configs=list(speakers)
                )
            ),
        )

    client = inprocess.sdk()
    text = "Joe: How's it going today Jane?\nJane: Not too bad, how about you?"
    response = await client.aio.models.generate_content(
        model=TTS, contents=text, config=config(speaker("Joe", "Kore"), speaker("Jane", "Puck"))
    )
    assert _images(response)[0].mime_type == PCM_MIME
    with pytest.raises(errors.ClientError):
        await client.aio.models.generate_content(
            model=TTS, contents=text, config=config(speaker("Joe", "Kore"), speaker("Jane", "X"))
        )


async def test_media_streams(inprocess: Target) -> None:
    client = inprocess.sdk()
    chunks = [
        chunk
        async for chunk in await client.aio.models.generate_content_stream(
            model=IMAGE,
            contents="A green kite over a beach",
            config=types.GenerateContentConfig(response_modalities=["TEXT", "IMAGE"]),
        )
    ]
    blobs = [b for c in chunks if c.candidates for b in _images(c)]
    assert len(blobs) == 1 and blobs[0].data and png_size(blobs[0].data) == (1024, 1024)
    assert "".join(c.text or "" for c in chunks).startswith("Here is an image")
    final = chunks[-1].usage_metadata
    assert final and final.candidates_tokens_details
    text = "one two three four five six seven eight nine ten"  # 3 s: a tone per word
    spoken = [
        chunk
        async for chunk in await client.aio.models.generate_content_stream(
            model=TTS, contents=text, config=_speech("Charon")
        )
    ]
    pieces = [b.data or b"" for c in spoken if c.candidates for b in _images(c)]
    whole = await client.aio.models.generate_content(
        model=TTS, contents=text, config=_speech("Charon")
    )
    assert [len(p) for p in pieces] == [48_000, 48_000, 48_000]  # a second each
    assert b"".join(pieces) == _images(whole)[0].data
    last = spoken[-1].usage_metadata
    assert last and last.candidates_token_count == 75  # 25 tokens a second


async def test_catalog_lists_the_media_models(inprocess: Target) -> None:
    names = [m.name async for m in await inprocess.sdk().aio.models.list()]
    assert f"models/{IMAGE}" in names and f"models/{TTS}" in names


def test_png_data_round_trips_base64() -> None:
    data = png(10, 7, b"seed")
    assert png_size(base64.b64decode(base64.b64encode(data))) == (10, 7)


async def test_count_tokens_splits_images(inprocess: Target) -> None:
    picture = png(4, 4, b"x")
    counted = await inprocess.sdk().aio.models.count_tokens(
        model=IMAGE, contents=[types.Part.from_bytes(data=picture, mime_type="image/png"), "Hat"]
    )
    assert counted.total_tokens == 259
