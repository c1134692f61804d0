"""The Lee corpus (Lee, Pincombe and Welsh, 2005) as gensim ships it, and the metrics on it.

50 news documents rated pairwise for similarity by people (mean of ~10 ratings, 0 to 1),
plus 300 unjudged documents of the same source used here as distractors.
"""

from __future__ import annotations

import importlib.util
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

__all__ = ["INSTALL", "Lee", "load_lee", "ndcg_at", "recall_at"]

INSTALL = "pip install -e '.[bench]'"
RELEVANT = 0.5
"""A judged document is relevant (for recall) when its rating is at least this."""


@dataclass(frozen=True)
class Lee:
    """The judged documents, their mirrored ratings and the background documents."""

    documents: list[str]
    background: list[str]
    ratings: npt.NDArray[np.float64]
    """``ratings[i, j]``: how similar people found documents ``i`` and ``j``."""


def _data_dir() -> Path | None:
    spec = importlib.util.find_spec("gensim")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "test" / "test_data"
    return folder if (folder / "lee.cor").exists() else None


def load_lee() -> Lee:
    """The corpus from the installed gensim package (``SystemExit`` naming the install)."""
    folder = _data_dir()
    if folder is None:
        raise SystemExit(f"the Lee corpus comes with gensim: install the bench extra: {INSTALL}")
    documents = _lines(folder / "lee.cor")
    background = _lines(folder / "lee_background.cor")
    upper = np.loadtxt(folder / "similarities0-1.txt")
    ratings = np.triu(upper) + np.triu(upper, 1).T
    if len(documents) != 50 or ratings.shape != (50, 50):
        raise SystemExit(f"{folder}: not the Lee corpus expected (50 documents, 50x50 ratings)")
    return Lee(documents, background, ratings)


def _lines(path: Path) -> list[str]:
    return [line.strip() for line in path.read_text(encoding="latin-1").splitlines() if line]


def ndcg_at(ranked: Sequence[int], gains: npt.NDArray[np.float64], k: int) -> float:
    """Graded nDCG@k: ``ranked`` document indexes (-1: unjudged, gain 0), ``gains`` by index."""
    dcg = sum(
        gains[doc] / math.log2(rank + 1) for rank, doc in enumerate(ranked[:k], 1) if doc >= 0
    )
    ideal = sorted(gains, reverse=True)[:k]
    best = sum(gain / math.log2(rank + 1) for rank, gain in enumerate(ideal, 1))
    return float(dcg / best) if best > 0 else 0.0


def recall_at(ranked: Sequence[int], relevant: set[int], k: int) -> float:
    """The share of ``relevant`` found in the first ``k`` of ``ranked``."""
    return len(relevant & set(ranked[:k])) / len(relevant)
