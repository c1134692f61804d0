"""Deterministic text embeddings in which texts sharing words lie close together.

Each word (lower-cased, plural ``s`` dropped) and each character trigram is hashed to
one signed coordinate in every *band* of the vector; the sum is L2-normalised. Identical
texts embed identically, texts with common words have a high cosine similarity,
unrelated texts are nearly orthogonal — enough for retrieval demos and tests without a
model.

Like Gemini's Matryoshka embeddings, a smaller ``outputDimensionality`` truncates the
vector: the bands have fixed boundaries (64, 128, 256, 512, 768, 1024, 1536, 2048,
3072, then every 1024), so the ``n``-dimensional vector is the first ``n`` coordinates
of any larger one, rescaled to unit length.
"""

from __future__ import annotations

import functools
import hashlib
import math
import re

__all__ = ["embed_text"]

_WORD = re.compile(r"\w+", re.UNICODE)
_WORD_WEIGHT = 1.0
_TRIGRAM_WEIGHT = 0.25
_BAND_ENDS = (64, 128, 256, 512, 768, 1024, 1536, 2048, 3072)
_LATER_BAND = 1024


def _bands(dimensions: int) -> list[tuple[int, int]]:
    """``(start, size)`` of every band that begins below ``dimensions``."""
    bands: list[tuple[int, int]] = []
    start = 0
    while start < dimensions:
        end = _BAND_ENDS[len(bands)] if len(bands) < len(_BAND_ENDS) else start + _LATER_BAND
        bands.append((start, end - start))
        start = end
    return bands


@functools.lru_cache(maxsize=65536)
def _coordinates(feature: str, band_count: int) -> tuple[tuple[int, float], ...]:
    """One ``(index, sign)`` per band for ``feature``; the same for every prefix length."""
    out: list[tuple[int, float]] = []
    digest = b""
    for band, (start, size) in enumerate(_bands(_band_limit(band_count))):
        if band % 16 == 0:
            digest = hashlib.blake2b(f"{band // 16}:{feature}".encode(), digest_size=64).digest()
        chunk = digest[(band % 16) * 4 : (band % 16) * 4 + 4]
        index = start + int.from_bytes(chunk[:3], "little") % size
        out.append((index, 1.0 if chunk[3] & 1 else -1.0))
    return tuple(out)


def _band_limit(band_count: int) -> int:
    """The end of the last of the first ``band_count`` bands."""
    if band_count <= len(_BAND_ENDS):
        return _BAND_ENDS[band_count - 1]
    return _BAND_ENDS[-1] + (band_count - len(_BAND_ENDS)) * _LATER_BAND


def _stem(word: str) -> str:
    word = word.lower()
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def _add(vector: list[float], feature: str, weight: float, band_count: int) -> None:
    size = len(vector)
    for index, sign in _coordinates(feature, band_count):
        if index < size:
            vector[index] += sign * weight


def embed_text(text: str, dimensions: int) -> list[float]:
    """A unit vector of ``dimensions`` floats for ``text``."""
    if dimensions < 1:
        raise ValueError(f"dimensions must be positive, got {dimensions}")
    vector = [0.0] * dimensions
    band_count = len(_bands(dimensions))
    words = [_stem(w) for w in _WORD.findall(text)]
    for word in words:
        _add(vector, f"w:{word}", _WORD_WEIGHT, band_count)
        padded = f" {word} "
        for i in range(len(padded) - 2):
            _add(vector, f"t:{padded[i : i + 3]}", _TRIGRAM_WEIGHT, band_count)
    if not words:
        _add(vector, f"empty:{text}", 1.0, band_count)
    norm = math.sqrt(sum(v * v for v in vector))
    if norm == 0.0:
        # A very short prefix that no feature reached: still a deterministic unit vector.
        first = hashlib.blake2b(text.encode(), digest_size=1).digest()[0]
        vector[0] = 1.0 if first & 1 else -1.0
        norm = 1.0
    return [round(v / norm, 7) for v in vector]
