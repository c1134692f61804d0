"""Embeddings via the official SDK (always ``:batchEmbedContents``) and raw ``:embedContent``."""

from __future__ import annotations

import math
from collections.abc import Sequence

import pytest
from google import genai
from google.genai import errors, types

from .conftest import KEY, Target

pytestmark = [
    pytest.mark.anyio,
    # google-genai subclasses aiohttp.ClientSession when aiohttp is installed.
]

GEMINI = "gemini-embedding-001"
LEGACY = "text-embedding-004"
QUERY = "How do I reset my router password?"
DOCS = {
    "router": "To reset the password of your router, hold the reset button for ten seconds "
    "and log in to the router admin page again.",
    "cake": "Chocolate cake recipe: mix flour, sugar, cocoa and eggs, then bake for forty minutes.",
    "rome": "The history of the Roman empire spans more than a thousand years.",
    "markets": "Stock markets fell sharply on Tuesday after the interest rate decision.",
}


def _norm(vector: Sequence[float]) -> float:
    return math.sqrt(sum(v * v for v in vector))


def _cosine(a: Sequence[float], b: Sequence[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True)) / (_norm(a) * _norm(b))


async def _embed(
    client: genai.Client,
    contents: str | list[str],
    model: str = GEMINI,
    config: types.EmbedContentConfig | None = None,
) -> list[list[float]]:
    response = await client.aio.models.embed_content(model=model, contents=contents, config=config)
    assert response.embeddings is not None
    vectors = [e.values for e in response.embeddings]
    assert all(v is not None for v in vectors)
    return [list(v) for v in vectors if v is not None]


async def test_single_text_has_default_dimensions_and_unit_length(target: Target) -> None:
    client = target.sdk()
    [vector] = await _embed(client, "The quick brown fox.")
    assert len(vector) == 3072
    assert _norm(vector) == pytest.approx(1.0, abs=1e-5)
    [legacy] = await _embed(client, "The quick brown fox.", model=LEGACY)
    assert len(legacy) == 768
    assert _norm(legacy) == pytest.approx(1.0, abs=1e-5)
    [prefixed] = await _embed(client, "The quick brown fox.", model=f"models/{LEGACY}")
    assert prefixed == legacy


async def test_list_of_texts_keeps_order_and_is_deterministic(target: Target) -> None:
    client = target.sdk()
    texts = ["first text about cats", "second text about dogs", "third text about birds"]
    batch = await _embed(client, texts)
    assert len(batch) == 3
    singles = [(await _embed(client, text))[0] for text in texts]
    assert batch == singles
    assert await _embed(client, texts) == batch
    assert batch[0] != batch[1] != batch[2]
    assert all(_norm(v) == pytest.approx(1.0, abs=1e-5) for v in batch)


async def test_output_dimensionality_truncates_like_matryoshka(target: Target) -> None:
    client = target.sdk()
    config = types.EmbedContentConfig(output_dimensionality=256, task_type="RETRIEVAL_DOCUMENT")
    [small] = await _embed(client, DOCS["router"], config=config)
    assert len(small) == 256
    assert _norm(small) == pytest.approx(1.0, abs=1e-5)
    [full] = await _embed(client, DOCS["router"])
    prefix = full[:256]
    scale = _norm(prefix)
    assert scale > 0
    assert [v / scale for v in prefix] == pytest.approx(small, abs=1e-5)
    titled = types.EmbedContentConfig(
        output_dimensionality=768, task_type="RETRIEVAL_DOCUMENT", title="Router manual"
    )
    [with_title] = await _embed(client, DOCS["router"], config=titled)
    assert len(with_title) == 768


async def test_shared_words_rank_above_unrelated_texts(target: Target) -> None:
    client = target.sdk()
    for model, dims in ((GEMINI, None), (GEMINI, 256), (LEGACY, None)):
        names = list(DOCS)
        as_docs = types.EmbedContentConfig(
            task_type="RETRIEVAL_DOCUMENT", output_dimensionality=dims
        )
        as_query = types.EmbedContentConfig(task_type="RETRIEVAL_QUERY", output_dimensionality=dims)
        docs = await _embed(client, [DOCS[n] for n in names], model=model, config=as_docs)
        [query] = await _embed(client, QUERY, model=model, config=as_query)
        scores = {name: _cosine(query, doc) for name, doc in zip(names, docs, strict=True)}
        ranked = sorted(scores, key=scores.__getitem__, reverse=True)
        assert ranked[0] == "router", (model, dims, scores)
        assert scores["router"] - scores["cake"] > 0.2, (model, dims, scores)
        assert scores["router"] - max(scores[n] for n in ranked[1:]) > 0.1, (model, dims)
    [a, b] = await _embed(client, ["router password reset", "Reset the router's password"])
    [c] = await _embed(client, "banana bread with walnuts")
    assert _cosine(a, b) > _cosine(a, c) + 0.3


async def test_raw_embed_content_endpoint(target: Target) -> None:
    client = target.sdk()
    headers = {"x-goog-api-key": KEY}
    raw = await target.http.post(
        f"/v1beta/models/{GEMINI}:embedContent",
        headers=headers,
        json={"content": {"parts": [{"text": DOCS["cake"]}]}, "taskType": "RETRIEVAL_QUERY"},
    )
    assert raw.status_code == 200, raw.text
    assert set(raw.json()) == {"embedding"}
    values = raw.json()["embedding"]["values"]
    assert values == (await _embed(client, DOCS["cake"]))[0]
    snake = await target.http.post(
        f"/v1beta/models/{GEMINI}:embedContent",
        headers=headers,
        json={"content": {"parts": [{"text": DOCS["cake"]}]}, "output_dimensionality": 64},
    )
    assert snake.status_code == 200, snake.text
    assert len(snake.json()["embedding"]["values"]) == 64
    batch = await target.http.post(
        f"/v1beta/models/{GEMINI}:batchEmbedContents",
        headers=headers,
        json={
            "requests": [
                {"model": f"models/{GEMINI}", "content": {"parts": [{"text": t}]}}
                for t in ("one", "two")
            ]
        },
    )
    assert batch.status_code == 200, batch.text
    assert [len(e["values"]) for e in batch.json()["embeddings"]] == [3072, 3072]


@pytest.mark.parametrize("size", [0, 3073])
async def test_output_dimensionality_out_of_range_is_refused(target: Target, size: int) -> None:
    client = target.sdk()
    with pytest.raises(errors.APIError) as bad:
        await _embed(client, "hello", config=types.EmbedContentConfig(output_dimensionality=size))
    assert bad.value.code == 400 and bad.value.status == "INVALID_ARGUMENT"
    raw = await target.http.post(
        f"/v1beta/models/{GEMINI}:embedContent",
        headers={"x-goog-api-key": KEY},
        json={"content": {"parts": [{"text": "hello"}]}, "outputDimensionality": size},
    )
    assert raw.status_code == 400


async def test_legacy_model_caps_dimensions_at_768(target: Target) -> None:
    client = target.sdk()
    with pytest.raises(errors.APIError) as bad:
        await _embed(
            client,
            "hello",
            model=LEGACY,
            config=types.EmbedContentConfig(output_dimensionality=769),
        )
    assert bad.value.code == 400


async def test_batch_limit_is_100(target: Target) -> None:
    client = target.sdk()
    assert len(await _embed(client, [f"text {i}" for i in range(100)])) == 100
    with pytest.raises(errors.APIError) as too_many:
        await _embed(client, [f"text {i}" for i in range(101)])
    assert too_many.value.code == 400


async def test_batch_request_for_another_model_is_refused(target: Target) -> None:
    response = await target.http.post(
        f"/v1beta/models/{GEMINI}:batchEmbedContents",
        headers={"x-goog-api-key": KEY},
        json={"requests": [{"model": f"models/{LEGACY}", "content": {"parts": [{"text": "x"}]}}]},
    )
    assert response.status_code == 400


async def test_generative_model_cannot_embed(target: Target) -> None:
    client = target.sdk()
    with pytest.raises(errors.APIError) as missing:
        await _embed(client, "hello", model="gemini-2.5-flash")
    assert missing.value.code == 404 and missing.value.status == "NOT_FOUND"
    assert missing.value.message and "batchEmbedContents" in missing.value.message
    raw = await target.http.post(
        "/v1beta/models/gemini-2.5-flash:embedContent",
        headers={"x-goog-api-key": KEY},
        json={"content": {"parts": [{"text": "hello"}]}},
    )
    assert raw.status_code == 404


async def test_embedding_model_cannot_generate(target: Target) -> None:
    with pytest.raises(errors.APIError) as missing:
        await target.sdk().aio.models.generate_content(model=GEMINI, contents="hello")
    assert missing.value.code == 404 and missing.value.status == "NOT_FOUND"
    assert missing.value.message and "generateContent" in missing.value.message


async def test_embedding_needs_a_valid_key(target: Target) -> None:
    with pytest.raises(errors.APIError) as invalid:
        await target.sdk(key="not-a-key").aio.models.embed_content(model=GEMINI, contents="hi")
    assert invalid.value.code == 400
