"""Answers grounded on stores, through every chat call of the library (on the emulator)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gemgate import AsyncGemini
from gemgate.rag import Source, Store
from gemgate.sessions import ChatManager, MemoryChatStorage

pytestmark = pytest.mark.anyio

REFUNDS = b"Refunds are paid within 14 days of the returned item's arrival."
HOURS = b"The shop opens at nine in the morning and closes at six."


@pytest.fixture
async def g(tmp_path: Path) -> AsyncIterator[AsyncGemini]:
    async with AsyncGemini.emulated(stores_url=f"sqlite:///{tmp_path}/s.db") as client:
        yield client


@pytest.fixture
async def store(g: AsyncGemini) -> Store:
    made = await g.stores.create("shop")
    await made.add(Source("refunds.txt", REFUNDS), Source("hours.txt", HOURS))
    return made


def _segments(text: str, grounding: dict) -> list[str]:
    data = text.encode()
    return [
        data[s["segment"].get("startIndex", 0) : s["segment"]["endIndex"]].decode()
        for s in grounding["groundingSupports"]
    ]


async def test_chat_cites_the_document_that_answers(g: AsyncGemini, store: Store) -> None:
    reply = await g.chat(
        [{"role": "user", "content": "How long until refunds are paid?"}], stores=[store]
    )
    message = reply["choices"][0]["message"]
    assert "14 days" in message["content"]
    notes = message["annotations"]
    assert [n["file_citation"]["filename"] for n in notes] == ["refunds.txt"]
    cited = notes[0]["file_citation"]
    assert "14 days" in message["content"][cited["start_index"] : cited["end_index"]]
    plain = await g.chat([{"role": "user", "content": "How long until refunds are paid?"}])
    assert "annotations" not in plain["choices"][0]["message"]


async def test_stream_chat_puts_annotations_on_the_last_delta(g: AsyncGemini, store: Store) -> None:
    chunks = [
        c
        async for c in g.stream_chat(
            [{"role": "user", "content": "When does the shop open?"}], stores=[store]
        )
    ]
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    noted = [
        c["choices"][0]["delta"]["annotations"]
        for c in chunks
        if c["choices"] and "annotations" in c["choices"][0]["delta"]
    ]
    assert len(noted) == 1
    (note,) = noted[0]
    assert note["file_citation"]["filename"] == "hours.txt"
    assert "nine" in text[note["file_citation"]["start_index"] : note["file_citation"]["end_index"]]


async def test_chat_with_tools_grounds_and_stores_the_sources(g: AsyncGemini, store: Store) -> None:
    manager = ChatManager(MemoryChatStorage())
    events = [
        e
        async for e in g.chat_with_tools(
            "How long until refunds are paid?", stores=[store], chat_id="c1", chat_manager=manager
        )
    ]
    final = events[-1]
    assert final.type == "final_answer"
    grounding = final.grounding_metadata
    assert grounding is not None
    titles = [c["retrievedContext"]["title"] for c in grounding["groundingChunks"]]
    assert set(titles) == {"refunds.txt", "hours.txt"}
    segments = _segments(final.text, grounding)
    assert segments and "14 days" in segments[0]
    (index,) = grounding["groundingSupports"][0]["groundingChunkIndices"]
    assert titles[index] == "refunds.txt"
    history = await manager.get_history("c1")
    assert [m.role for m in history] == ["user", "model"]
    assert history[0].text == "How long until refunds are paid?"  # sources never stored
    assert history[1].metadata["grounding_metadata"] == grounding


async def test_a_question_the_sources_do_not_answer(g: AsyncGemini, store: Store) -> None:
    events = [e async for e in g.chat_with_tools("Which planet has rings?", stores=[store])]
    final = events[-1]
    assert final.text == "The sources do not say."
    assert final.grounding_metadata is not None
    assert final.grounding_metadata["groundingSupports"] == []


async def test_several_stores_are_searched_together(g: AsyncGemini, store: Store) -> None:
    other = await g.stores.create("garden")
    await other.add(Source("roses.txt", b"Roses are pruned in late winter."))
    reply = await g.chat(
        [{"role": "user", "content": "When are roses pruned?"}], stores=[store, other]
    )
    notes = reply["choices"][0]["message"]["annotations"]
    assert [n["file_citation"]["filename"] for n in notes] == ["roses.txt"]
