"""Gemini's built-in tools through /v1: their sources come out as OpenAI annotations."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.gateway._rag_app import KEY_A, openai_of, rag_gateway

pytestmark = pytest.mark.anyio

QUESTION = "Who won the Tour de France in 2023?"


async def test_google_search_sources_are_url_citations(tmp_path: Path) -> None:
    async with rag_gateway(tmp_path) as app:
        client = openai_of(app, KEY_A)
        reply = await client.chat.completions.create(
            model="gemini-2.5-flash",
            messages=[{"role": "user", "content": QUESTION}],
            tools=[{"googleSearch": {}}],  # type: ignore[list-item]
        )
        message = reply.choices[0].message
        text = message.content or ""
        notes = [a.model_dump() for a in message.annotations or []]
        assert notes and {n["type"] for n in notes} == {"url_citation"}
        for note in notes:
            cited = note["url_citation"]
            assert cited["url"].startswith("https://www.example.") or cited["url"].startswith(
                "https://example."
            )
            assert 0 <= cited["start_index"] < cited["end_index"] <= len(text)

        chunks = await client.chat.completions.create(
            model="gemini-2.5-flash",
            messages=[{"role": "user", "content": QUESTION}],
            tools=[{"googleSearch": {}}],  # type: ignore[list-item]
            stream=True,
        )
        streamed = ""
        noted = []
        async for chunk in chunks:
            if chunk.choices:
                delta = chunk.choices[0].delta
                streamed += delta.content or ""
                extra = (delta.model_extra or {}).get("annotations")
                if extra:
                    noted.append(extra)
        assert streamed == text
        assert len(noted) == 1 and noted[0] == notes
