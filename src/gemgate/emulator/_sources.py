"""Answers from numbered sources that a prompt carries, cited as ``[n]``.

A grounding prompt (gemgate's stores, or any RAG framework's) lists sources in the system
instruction as lines ``[n] title: text`` and asks the model to cite them. The emulated
model does what a real one would: it answers with the sentences of the sources that best
match the question, each followed by its ``[n]``, and says so when none matches.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from gemgate.emulator._words import best_sentence, terms

__all__ = ["NOT_IN_SOURCES", "cited_answer", "numbered_sources"]

NOT_IN_SOURCES = "The sources do not say."
_LINE = re.compile(r"^\[(\d+)\] (.+)$", re.MULTILINE)
_CITED = 2


def numbered_sources(request: Mapping[str, Any]) -> list[tuple[int, str]]:
    """The ``[n] …`` lines of the request's system instruction, as ``(n, text)``."""
    system = request.get("systemInstruction") or {}
    text = "\n".join(p.get("text", "") for p in system.get("parts", []) if "text" in p)
    return [(int(n), body) for n, body in _LINE.findall(text)]


def cited_answer(sources: list[tuple[int, str]], question: str) -> str:
    """The best-matching sentences of the best sources, each cited; or :data:`NOT_IN_SOURCES`."""
    query = set(terms(question))
    scored = []
    for n, body in sources:
        overlap = len(query & set(terms(body)))
        if overlap:
            scored.append((-overlap, n, body))
    if not scored:
        return NOT_IN_SOURCES
    sentences = []
    for _, n, body in sorted(scored)[:_CITED]:
        sentence = best_sentence(body.split(": ", 1)[-1], query).rstrip()
        sentences.append(
            f"{sentence} [{n}]" if sentence.endswith((".", "!", "?")) else f"{sentence}. [{n}]"
        )
    return " ".join(sentences)
