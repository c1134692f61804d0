"""``/v1/images/generations``, ``/v1/images/edits`` and ``/v1/audio/speech`` with the openai SDK."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator

import httpx2
import openai
import pytest
from google import genai
from google.genai import types

from gemgate import AsyncGemini
from gemgate.config import Settings
from gemgate.gateway import create_app
from gemgate.gateway._faces import Problem
from gemgate.gateway._media_api import aspect_ratio_of
from tests.conftest import serve_in_loop, stop_serving
from tests.media_checks import png_size, wav_info

from .conftest import Stack

pytestmark = pytest.mark.anyio


@pytest.fixture
async def oai(stack: Stack) -> AsyncIterator[openai.AsyncOpenAI]:
    """The official OpenAI SDK, unchanged, on the gateway's /v1."""
    client = openai.AsyncOpenAI(api_key="any-key", base_url=f"{stack.url}/v1", max_retries=0)
    try:
        yield client
    finally:
        await client.close()


async def test_generate_b64_png(oai: openai.AsyncOpenAI) -> None:
    result = await oai.images.generate(
        model="dall-e-3", prompt="A lighthouse at dusk", size="1792x1024", n=2
    )
    assert result.created > 0 and result.data and len(result.data) == 2
    pictures = [base64.b64decode(d.b64_json or "") for d in result.data]
    assert [png_size(p) for p in pictures] == [(1344, 768), (1344, 768)]
    assert pictures[0] != pictures[1]
    assert result.usage and result.usage.output_tokens == 2 * 1290
    assert result.usage.total_tokens == result.usage.input_tokens + 2 * 1290
    same = await oai.images.generate(
        model="gemini-2.5-flash-image", prompt="A lighthouse at dusk", size="1792x1024"
    )
    assert same.data and png_size(base64.b64decode(same.data[0].b64_json or "")) == (1344, 768)


async def test_url_is_a_data_url(oai: openai.AsyncOpenAI) -> None:
    result = await oai.images.generate(prompt="A red kite", response_format="url")
    assert result.data and result.data[0].url
    head, _, data = result.data[0].url.partition(",")
    assert head == "data:image/png;base64"
    assert png_size(base64.b64decode(data)) == (1024, 1024)


async def test_edit_with_multipart_image(oai: openai.AsyncOpenAI) -> None:
    made = await oai.images.generate(prompt="A cat on a wall")
    assert made.data
    cat = base64.b64decode(made.data[0].b64_json or "")
    edited = await oai.images.edit(
        image=("cat.png", cat, "image/png"), prompt="Give the cat a hat", size="1024x1536"
    )
    assert edited.data
    hat = base64.b64decode(edited.data[0].b64_json or "")
    assert png_size(hat) == (832, 1248) and hat != cat
    with pytest.raises(openai.BadRequestError) as caught:
        await oai.images.edit(image=("x.png", b"plain text", "image/png"), prompt="Hat")
    assert caught.value.body and caught.value.body["param"] == "image"  # type: ignore[index]


async def test_speech_wav_and_pcm(oai: openai.AsyncOpenAI) -> None:
    wav = await oai.audio.speech.create(
        model="tts-1", voice="alloy", input="Have a wonderful day by the sea."
    )
    assert wav.response.headers["content-type"] == "audio/wav"
    channels, width, rate, frames = wav_info(wav.content)
    assert (channels, width, rate) == (1, 2, 24_000) and frames > 0
    pcm = await oai.audio.speech.create(
        model="gemini-2.5-flash-preview-tts",
        voice="Kore",  # a Gemini voice; alloy speaks as Kore too
        input="Have a wonderful day by the sea.",
        response_format="pcm",
    )
    assert pcm.response.headers["content-type"] == "audio/pcm"
    assert pcm.content == wav.content[44:]
    longer = await oai.audio.speech.create(
        model="tts-1", voice="echo", input="Have a wonderful day by the sea, and a calm night."
    )
    assert wav_info(longer.content)[3] > frames


@pytest.mark.parametrize(
    ("call", "param"),
    [
        ({"voice": "nobody", "input": "Hi"}, "voice"),
        ({"voice": "alloy", "input": "Hi", "response_format": "mp3"}, "response_format"),
        ({"voice": "alloy", "input": "Hi", "response_format": "opus"}, "response_format"),
        ({"voice": "alloy", "input": ""}, "input"),
        ({"voice": "alloy", "input": "x" * 4097}, "input"),
        ({"voice": "alloy", "input": "Hi", "speed": 9}, "speed"),
    ],
)
async def test_speech_bad_input_is_an_openai_400(
    oai: openai.AsyncOpenAI, call: dict[str, object], param: str
) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        await oai.audio.speech.create(model="tts-1", **call)  # type: ignore[arg-type]
    error = caught.value.body
    assert isinstance(error, dict) and error["param"] == param
    assert error["type"] == "invalid_request_error"


@pytest.mark.parametrize(
    ("call", "param"),
    [
        ({"prompt": ""}, "prompt"),
        ({"prompt": "A cat", "n": 11}, "n"),
        ({"prompt": "A cat", "size": "big"}, "size"),
        ({"prompt": "A cat", "response_format": "jpeg"}, "response_format"),
        ({"prompt": "A cat", "extra_body": {"colour": "red"}}, "colour"),
    ],
)
async def test_image_bad_input_is_an_openai_400(
    oai: openai.AsyncOpenAI, call: dict[str, object], param: str
) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        await oai.images.generate(**call)  # type: ignore[arg-type]
    error = caught.value.body
    assert isinstance(error, dict) and error["param"] == param


async def test_unknown_model_and_model_without_images(oai: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.NotFoundError):
        await oai.images.generate(model="gemini-9-nothing", prompt="A cat")
    with pytest.raises(openai.BadRequestError) as caught:
        await oai.images.generate(model="gemini-2.5-flash", prompt="A cat")
    assert "response modalities" in caught.value.message


async def test_a_blocked_prompt_is_a_content_policy_400(oai: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        await oai.images.generate(prompt="A cat [[emulator:block]]")
    assert caught.value.code == "content_policy_violation"


async def test_edit_usage_counts_the_input_image(oai: openai.AsyncOpenAI) -> None:
    made = await oai.images.generate(prompt="A dog")
    assert made.data
    dog = base64.b64decode(made.data[0].b64_json or "")
    edited = await oai.images.edit(image=("dog.png", dog, "image/png"), prompt="Add a ball")
    assert edited.usage and edited.usage.input_tokens_details
    assert edited.usage.input_tokens_details.image_tokens == 258


async def test_routes_are_documented(stack: Stack) -> None:
    paths = (await stack.http.get("/openapi.json")).json()["paths"]
    for path in ("/v1/images/generations", "/v1/images/edits", "/v1/audio/speech"):
        assert "post" in paths[path]


def test_sizes_map_to_the_nearest_aspect_ratio() -> None:
    assert aspect_ratio_of("1024x1024") == "1:1"
    assert aspect_ratio_of("1536x1024") == "3:2"
    assert aspect_ratio_of("1024x1792") == "9:16"
    assert aspect_ratio_of("auto") is None
    for absurd in ("99999x1", "7x7", "1024x0", "1024", "0x0"):
        with pytest.raises(Problem) as refused:
            aspect_ratio_of(absurd)
        assert refused.value.status == 400 and refused.value.param == "size"


def test_served_gateway_with_both_official_clients(gateway_server: str) -> None:
    """`gemgate serve`: blocking openai on /v1 and google-genai on the native /gemini face."""
    with openai.OpenAI(api_key="k", base_url=f"{gateway_server}/v1", max_retries=0) as oai:
        result = oai.images.generate(model="gpt-image-1", prompt="A barn", size="1024x1024")
        assert result.data and png_size(base64.b64decode(result.data[0].b64_json or "")) == (
            1024,
            1024,
        )
        speech = oai.audio.speech.create(model="tts-1", voice="nova", input="Hello barn")
        assert wav_info(speech.content)[:3] == (1, 2, 24_000)
    client = genai.Client(
        api_key="k", http_options=types.HttpOptions(base_url=f"{gateway_server}/gemini")
    )
    response = client.models.generate_content(
        model="gemini-2.5-flash-image",
        contents="A barn",
        config=types.GenerateContentConfig(response_modalities=["IMAGE"]),
    )
    assert response.candidates and response.candidates[0].content
    (part,) = response.candidates[0].content.parts or []
    assert part.inline_data and part.inline_data.data
    assert png_size(part.inline_data.data) == (1024, 1024)


async def test_an_openai_compatible_backend_gets_the_json_routes_relayed() -> None:
    behind, ahead = (AsyncGemini(settings=Settings(upstream="emulator")) for _ in range(2))
    upstream, front = create_app(behind), create_app(ahead)
    servers = [await serve_in_loop(app, lifespan="on") for app in (upstream, front)]
    (_, _, upstream_url), (_, _, front_url) = servers
    try:
        async with httpx2.AsyncClient(base_url=front_url) as http:
            loaded = await http.post(
                "/api/v1/models/load",
                json={"backend_type": "openai_compatible", "base_url": f"{upstream_url}/v1"},
            )
            assert loaded.status_code == 200, loaded.text
        async with openai.AsyncOpenAI(api_key="k", base_url=f"{front_url}/v1") as oai:
            speech = await oai.audio.speech.create(model="tts-1", voice="onyx", input="Relayed")
            assert speech.response.headers["content-type"] == "audio/wav"
            assert wav_info(speech.content)[2] == 24_000
            image = await oai.images.generate(prompt="A relayed kite")
            assert image.data and png_size(base64.b64decode(image.data[0].b64_json or ""))
        answered = {h["model"] for h in behind.get_request_history().values()}
        assert {"gemini-2.5-flash-preview-tts", "gemini-2.5-flash-image"} <= answered
        assert not ahead.get_request_history()
    finally:
        for server, task, _ in servers:
            await stop_serving(server, task)


async def test_instructions_and_speed_reach_the_model(oai: openai.AsyncOpenAI) -> None:
    plain = await oai.audio.speech.create(model="tts-1", voice="sage", input="Good night")
    styled = await oai.audio.speech.create(
        model="gpt-4o-mini-tts",
        voice="sage",
        input="Good night",
        instructions="Whisper softly",
        speed=0.5,
    )
    assert wav_info(styled.content)[3] > wav_info(plain.content)[3]
    assert styled.content.endswith(plain.content[44:])  # the same words, said last
