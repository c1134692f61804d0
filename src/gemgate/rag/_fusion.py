"""Reciprocal-rank fusion of the keyword and vector result lists."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from gemgate.rag._types import Hit

__all__ = ["RRF_K", "fuse"]

RRF_K = 60
"""The rank constant of Cormack, Clarke and Büttcher (2009): ``1 / (RRF_K + rank)``."""


def fuse(keyword: Sequence[Hit], vector: Sequence[Hit], k: int) -> list[Hit]:
    """The ``k`` best chunks of both lists by reciprocal-rank fusion.

    A chunk's score is the sum of ``1 / (RRF_K + rank)`` over the lists it is in; each
    hit keeps both ranks. Ties keep the keyword list's order, then the vector list's.
    """
    merged: dict[str, Hit] = {}
    scores: dict[str, float] = {}
    for rank, hit in enumerate(keyword, 1):
        merged[hit.chunk.id] = dataclasses.replace(hit, keyword_rank=rank, vector_rank=None)
        scores[hit.chunk.id] = 1.0 / (RRF_K + rank)
    for rank, hit in enumerate(vector, 1):
        known = merged.get(hit.chunk.id)
        merged[hit.chunk.id] = dataclasses.replace(
            known or hit, keyword_rank=known.keyword_rank if known else None, vector_rank=rank
        )
        scores[hit.chunk.id] = scores.get(hit.chunk.id, 0.0) + 1.0 / (RRF_K + rank)
    order = sorted(merged, key=lambda cid: -scores[cid])
    return [dataclasses.replace(merged[cid], score=scores[cid]) for cid in order[:k]]
