"""``generate_image`` and ``speak``: through the engine, on the emulator, async and blocking."""

from __future__ import annotations

from pathlib import Path

import pytest

from gemgate import (
    AsyncGemini,
    BadRequestError,
    Gemini,
    GeminiResponseError,
    Image,
    UsageError,
    pcm_to_wav,
)
from tests.media_checks import png_size, wav_info

from .conftest import Start

pytestmark = pytest.mark.anyio


@pytest.fixture
def _emulated(emulator_opt_in: None) -> None:
    """No key: the built-in emulator answers."""


@pytest.mark.usefixtures("_emulated")
async def test_generate_image_sizes_counts_and_saves(tmp_path: Path) -> None:
    async with AsyncGemini() as g:
        (square,) = await g.generate_image("A lighthouse at dusk")
        wide = await g.generate_image("A lighthouse at dusk", aspect_ratio="16:9", n=2)
        (talky,) = await g.generate_image("A lighthouse at dusk", with_text=True)
    assert square.mime_type == "image/png" and png_size(square.data) == (1024, 1024)
    assert [png_size(i.data) for i in wide] == [(1344, 768), (1344, 768)]
    assert wide[0].data != wide[1].data  # n images are n samples
    assert square.text == "" and "lighthouse" in talky.text
    assert square.usage["candidatesTokensDetails"] == [{"modality": "IMAGE", "tokenCount": 1290}]
    saved = square.save(tmp_path)
    assert saved.name == "image.png" and saved.read_bytes() == square.data
    assert Image(b"x").b64() == "eA=="


@pytest.mark.usefixtures("_emulated")
async def test_edit_an_image() -> None:
    async with AsyncGemini() as g:
        (cat,) = await g.generate_image("A cat")
        (hat,) = await g.generate_image("Add a hat", images=[cat])
        (same,) = await g.generate_image("Add a hat", images=[cat.data])  # type sniffed
    assert png_size(hat.data) == (1024, 1024)
    assert hat.data == same.data != cat.data


@pytest.mark.usefixtures("_emulated")
async def test_generate_image_refuses_bad_input() -> None:
    async with AsyncGemini() as g:
        with pytest.raises(UsageError):
            await g.generate_image("x", images=[b"not an image"])
        with pytest.raises(UsageError):
            await g.generate_image("x", aspect_ratio="7:3")
        with pytest.raises(UsageError):
            await g.generate_image("x", n=0)
        with pytest.raises(BadRequestError) as caught:
            await g.generate_image("x", images=[Image(b"junk", "image/png")])
        with pytest.raises(GeminiResponseError) as blocked:
            await g.generate_image("A cat [[emulator:block]]")
    assert "Unable to process input image" in str(caught.value)
    assert "blockReason SAFETY" in str(blocked.value)


@pytest.mark.usefixtures("_emulated")
async def test_speak_gives_wav_or_pcm() -> None:
    async with AsyncGemini() as g:
        wav = await g.speak("Have a wonderful day by the sea", voice="Puck")
        pcm = await g.speak("Have a wonderful day by the sea", voice="Puck", format="pcm")
        dialogue = await g.speak(
            "Joe: Hello Jane.\nJane: Hello Joe.", speakers={"Joe": "Kore", "Jane": "Puck"}
        )
        with pytest.raises(BadRequestError) as caught:
            await g.speak("Hello", voice="alloy")
    assert wav_info(wav) == (1, 2, 24_000, len(pcm) // 2)
    assert wav == pcm_to_wav(pcm)
    assert wav_info(dialogue)[2] == 24_000
    assert "Voice name alloy is not supported" in str(caught.value)


@pytest.mark.usefixtures("_emulated")
def test_blocking_twin() -> None:
    with Gemini() as g:
        (image,) = g.generate_image("A blue boat", aspect_ratio="4:3")
        wav = g.speak("Ahoy")
    assert png_size(image.data) == (1184, 864)
    assert wav_info(wav)[:3] == (1, 2, 24_000)


async def test_media_goes_through_the_engine_with_retries(live: Start) -> None:
    config = [{"name": "p", "keys": ["k1"]}]
    emu = await live(config)
    await emu.faults({"kind": "status", "status": 503, "times": 1})
    async with emu.client(config) as g:
        (image,) = await g.generate_image("A kite", request_id="kite")
        history = g.get_request_history()
    assert png_size(image.data) == (1024, 1024)
    assert history["kite"]["attempts"] == 2 and history["kite"]["status"] == "success"
    assert g.get_token_usage()["completion_tokens"] >= 1290
