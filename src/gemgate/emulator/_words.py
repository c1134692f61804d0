"""Words of the emulated model: stopwords, content terms and the best-matching sentence."""

from __future__ import annotations

import re

__all__ = ["STOPWORDS", "best_sentence", "terms"]

_WORD = re.compile(r"\w+", re.UNICODE)
_SENTENCE = re.compile(r"[^.!?\n]+[.!?]?")

STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "but",
        "by",
        "can",
        "do",
        "does",
        "for",
        "from",
        "get",
        "how",
        "i",
        "in",
        "is",
        "it",
        "me",
        "my",
        "of",
        "on",
        "or",
        "please",
        "tell",
        "that",
        "the",
        "this",
        "to",
        "was",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "will",
        "with",
        "you",
        "your",
    ]
)


def terms(text: str) -> list[str]:
    words = (w.lower() for w in _WORD.findall(text))
    return [
        w[:-1] if len(w) > 3 and w.endswith("s") and not w.endswith("ss") else w
        for w in words
        if w not in STOPWORDS
    ]


def best_sentence(text: str, query: set[str]) -> str:
    sentences: list[str] = [s.strip() for s in _SENTENCE.findall(text) if s.strip()]
    scored = [(len(query & set(terms(s))), -i, s) for i, s in enumerate(sentences)]
    if not scored:
        return ""
    overlap, _, sentence = max(scored)
    return sentence if overlap else sentences[0]
