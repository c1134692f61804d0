"""chunk_pages(): spans of the whole text, token bounds, overlap, boundaries and pages."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gemgate.documents._chunk import Chunking, chunk_pages, count_tokens
from gemgate.documents._parse import document_text
from gemgate.documents._types import Chunk, Page
from gemgate.errors import UsageError

SMALL = Chunking(max_tokens=16, overlap=4)


def check(pages: list[Page], chunking: Chunking) -> list[Chunk]:
    """Chunk and assert every invariant that holds for any input."""
    chunks = chunk_pages(pages, chunking)
    whole = document_text(pages)
    for index, chunk in enumerate(chunks):
        assert chunk.index == index
        assert (chunk.id, chunk.document_id) == ("", "")
        assert chunk.text == whole[chunk.start : chunk.end]
        assert chunk.text and chunk.text == chunk.text.strip()
        assert chunk.tokens == count_tokens(chunk.text) <= chunking.max_tokens
    for before, after in zip(chunks, chunks[1:], strict=False):
        assert before.start < after.start and before.end < after.end
        assert after.start <= before.end + len(whole[before.end : after.start])
    gaps_are_whitespace(pages, chunks)
    return chunks


def gaps_are_whitespace(pages: list[Page], chunks: list[Chunk]) -> None:
    """Every non-whitespace character of the text is in some chunk."""
    whole = document_text(pages)
    position = 0
    for chunk in chunks:
        assert not whole[position : chunk.start].strip() or chunk.start < position
        position = max(position, chunk.end)
    assert not whole[position:].strip()


texts = st.text(
    alphabet=st.sampled_from(list("ab xyz.,!?'\n\t") + ["\u00e9", "\u4e16", "\u3002"]),
    max_size=600,
)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(texts, min_size=1, max_size=4),
    st.integers(min_value=16, max_value=40),
    st.data(),
)
def test_invariants_on_random_texts(page_texts: list[str], size: int, data: st.DataObject) -> None:
    overlap = data.draw(st.integers(min_value=0, max_value=size // 2 - 1))
    pages = [Page(text, number) for number, text in enumerate(page_texts, start=1)]
    chunks = check(pages, Chunking(size, overlap))
    whole = document_text(pages)
    for chunk in chunks:
        page = max(p for p, start in _page_starts(pages) if start <= chunk.start)
        assert chunk.page == page
    assert bool(chunks) == bool(whole.strip())


def _page_starts(pages: list[Page]) -> list[tuple[int, int]]:
    starts, offset = [], 0
    for page in pages:
        starts.append((page.number, offset))
        offset += len(page.text) + 2
    return starts


def test_count_tokens() -> None:
    assert count_tokens("") == 0
    assert count_tokens("Hello, world!") == 4
    assert count_tokens("short words only") == 3
    assert count_tokens("internationalization") == 5
    assert count_tokens("a" * 400) == 100


def test_empty_and_whitespace_give_no_chunks() -> None:
    assert chunk_pages([]) == []
    assert chunk_pages([Page("  \n\n \t ")]) == []


def test_short_text_is_one_chunk_without_surrounding_whitespace() -> None:
    [chunk] = chunk_pages([Page("\n\n  Hello there, world.  \n")])
    assert (chunk.text, chunk.start, chunk.end, chunk.tokens) == ("Hello there, world.", 4, 23, 5)


def test_chunks_respect_max_tokens_and_overlap() -> None:
    words = [f"w{i}" for i in range(1000)]
    pages = [Page(" ".join(words))]
    chunks = check(pages, Chunking(max_tokens=100, overlap=20))
    assert all(50 <= chunk.tokens <= 100 for chunk in chunks[:-1])
    for before, after in zip(chunks, chunks[1:], strict=False):
        shared = set(before.text.split()) & set(after.text.split())
        assert 10 <= len(shared) <= 20
        assert after.text.startswith(before.text.split()[-len(shared)])
    assert chunks[-1].text.endswith("w999")


def test_no_overlap_partitions_the_words() -> None:
    words = [f"w{i}" for i in range(500)]
    chunks = check([Page(" ".join(words))], Chunking(max_tokens=64, overlap=0))
    assert " ".join(chunk.text for chunk in chunks).split() == words


def test_prefers_paragraph_breaks() -> None:
    paragraph = "Alpha beta gamma delta. Epsilon zeta eta theta."
    text = "\n\n".join([paragraph] * 6)
    chunks = check([Page(text)], Chunking(max_tokens=40, overlap=0))
    assert all(chunk.text.endswith("theta.") for chunk in chunks)
    assert all(chunk.text.startswith("Alpha") for chunk in chunks)


def test_prefers_sentence_ends_over_spaces() -> None:
    text = " ".join(["One two three four five six seven."] * 20)
    chunks = check([Page(text)], Chunking(max_tokens=30, overlap=0))
    assert all(chunk.text.endswith("seven.") for chunk in chunks)


def test_never_cuts_inside_a_word_when_space_exists() -> None:
    rng = random.Random(7)
    vocabulary = ["internationalization", "a", "of", "reasonably", "x"]
    text = " ".join(rng.choice(vocabulary) for _ in range(2000))
    for chunk in check([Page(text)], Chunking(max_tokens=24, overlap=5)):
        assert set(chunk.text.split()) <= set(vocabulary)


def test_a_word_longer_than_max_tokens_is_cut() -> None:
    word = "x" * 200
    chunks = check([Page(f"start {word} end")], Chunking(max_tokens=16, overlap=0))
    assert "".join(chunk.text for chunk in chunks).replace(" ", "") == f"start{word}end"
    assert any(0 < len(chunk.text) < len(word) and "x" in chunk.text for chunk in chunks)


def test_page_numbers_follow_chunk_starts() -> None:
    pages = [Page(" ".join(f"p{n}w{i}" for i in range(60)), n) for n in (1, 2, 3)]
    chunks = check(pages, SMALL)
    for chunk in chunks:
        assert chunk.text.split()[0].startswith(f"p{chunk.page}w")
    assert [chunk.page for chunk in chunks] == sorted(chunk.page for chunk in chunks)
    assert {chunk.page for chunk in chunks} == {1, 2, 3}


def test_page_offsets_are_derived_from_the_texts() -> None:
    pages = [Page("first page", 1, offset=999), Page("second page", 2, offset=-5)]
    [chunk] = chunk_pages(pages)
    assert (chunk.start, chunk.end, chunk.page) == (0, 23, 1)


def test_deterministic() -> None:
    text = " ".join(random.Random(1).choice(["a.", "bb", "\n\n", "ccc"]) for _ in range(3000))
    assert chunk_pages([Page(text)], SMALL) == chunk_pages([Page(text)], SMALL)


def test_one_megabyte() -> None:
    rng = random.Random(3)
    vocabulary = ["the", "quick", "brown", "fox", "jumps", "dogs.", "Really?", "yes!", "\n\n"]
    parts: list[str] = []
    size = 0
    while size < 1_000_000:
        word = rng.choice(vocabulary)
        parts.append(word)
        size += len(word) + 1
    text = " ".join(parts)
    pages = [Page(text)]
    chunks = check(pages, Chunking())
    total = count_tokens(text)
    assert total / 400 < len(chunks) < total / (200 - 80) + 1
    assert sum(chunk.tokens for chunk in chunks) > total


@pytest.mark.parametrize(
    ("max_tokens", "overlap"),
    [(0, 0), (1, 1), (8193, 0), (100, 50), (100, -1), (16, 8), (True, 0), (100, 1.5)],
)
def test_invalid_chunking_is_a_usage_error(max_tokens: object, overlap: object) -> None:
    with pytest.raises(UsageError):
        Chunking(max_tokens=max_tokens, overlap=overlap)  # type: ignore[arg-type]


def test_valid_chunking_bounds() -> None:
    assert Chunking() == Chunking(400, 80)
    assert Chunking(16, 7).overlap == 7
    assert Chunking(8192, 0).max_tokens == 8192


def test_overlap_starts_at_a_sentence() -> None:
    text = " ".join(f"Sentence {n} has a few more words." for n in range(60))
    chunks = check([Page(text)], Chunking(max_tokens=60, overlap=20))
    assert len(chunks) > 5
    for before, after in zip(chunks, chunks[1:], strict=False):
        assert after.text.startswith("Sentence")
        assert before.start < after.start < before.end


def test_sentence_ends_without_spaces() -> None:
    text = "\u4e16\u754c\u548c\u5e73\u3002" * 40
    chunks = check([Page(text)], Chunking(max_tokens=16, overlap=0))
    assert all(chunk.text.endswith("\u3002") for chunk in chunks)
    assert "".join(chunk.text for chunk in chunks) == text


@settings(max_examples=300, deadline=None)
@given(
    text=st.text(alphabet=st.sampled_from(list("ab .,!\n")), min_size=1, max_size=200),
    size=st.integers(min_value=1, max_value=15),
    data=st.data(),
)
def test_tiny_chunk_sizes_still_cover_the_text_and_end(
    text: str, size: int, data: st.DataObject
) -> None:
    overlap = data.draw(st.integers(0, max(0, size // 2 - 1)))
    pages = [Page(text)]
    whole = document_text(pages)
    chunks = chunk_pages(pages, Chunking(max_tokens=size, overlap=overlap))
    covered: set[int] = set()
    for chunk in chunks:
        assert whole[chunk.start : chunk.end] == chunk.text == chunk.text.strip() != ""
        assert chunk.tokens <= size
        covered.update(range(chunk.start, chunk.end))
    assert all(i in covered for i, c in enumerate(whole) if not c.isspace())
