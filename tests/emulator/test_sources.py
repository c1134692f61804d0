"""The emulated model answers from numbered sources in the system instruction."""

from __future__ import annotations

from gemgate.emulator._sources import NOT_IN_SOURCES, cited_answer, numbered_sources


def test_numbered_lines_are_read_from_the_system_instruction_only() -> None:
    request = {
        "systemInstruction": {
            "parts": [{"text": "Cite.\n\nSources:\n[1] a.txt: Cats purr.\n[2] b.txt: Dogs bark."}]
        },
        "contents": [{"role": "user", "parts": [{"text": "[3] c.txt: not a source"}]}],
    }
    assert numbered_sources(request) == [(1, "a.txt: Cats purr."), (2, "b.txt: Dogs bark.")]
    assert numbered_sources({"contents": []}) == []


def test_the_best_sources_are_quoted_and_cited() -> None:
    sources = [(1, "a.txt: Cats purr when content. They sleep a lot."), (2, "b.txt: Dogs bark.")]
    assert cited_answer(sources, "Why do dogs bark?") == "Dogs bark. [2]"
    assert cited_answer(sources, "How long do they sleep?") == "They sleep a lot. [1]"
    assert cited_answer(sources, "Weather on Mars?") == NOT_IN_SOURCES
