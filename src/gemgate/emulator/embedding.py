"""Deterministic text embeddings in which texts sharing words lie close together.

Each word (lower-cased, plural ``s`` dropped) and each character trigram is hashed to
a few signed coordinates; the sum is L2-normalised. Identical texts embed identically,
texts with common words have a high cosine similarity, unrelated texts are nearly
orthogonal — enough for retrieval demos and tests without a model.
"""

from __future__ import annotations

import hashlib
import math
import re

__all__ = ["embed_text"]

_WORD = re.compile(r"\w+", re.UNICODE)
_WORD_WEIGHT = 1.0
_TRIGRAM_WEIGHT = 0.25


def _stem(word: str) -> str:
    word = word.lower()
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def _add(vector: list[float], feature: str, weight: float) -> None:
    digest = hashlib.blake2b(feature.encode(), digest_size=16).digest()
    size = len(vector)
    for i in range(0, 12, 4):
        index = int.from_bytes(digest[i : i + 3], "little") % size
        sign = 1.0 if digest[i + 3] & 1 else -1.0
        vector[index] += sign * weight


def embed_text(text: str, dimensions: int) -> list[float]:
    """A unit vector of ``dimensions`` floats for ``text``."""
    vector = [0.0] * dimensions
    words = [_stem(w) for w in _WORD.findall(text)]
    for word in words:
        _add(vector, f"w:{word}", _WORD_WEIGHT)
        padded = f" {word} "
        for i in range(len(padded) - 2):
            _add(vector, f"t:{padded[i : i + 3]}", _TRIGRAM_WEIGHT)
    if not words:
        _add(vector, f"empty:{text}", 1.0)
    norm = math.sqrt(sum(v * v for v in vector))
    return [round(v / norm, 7) for v in vector]
