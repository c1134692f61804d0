"""Embedders: texts in, unit vectors out, for documents and for queries."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal, Protocol

import numpy as np

from gemgate.errors import WireDecodeError
from gemgate.rag._backend import Vectors

if TYPE_CHECKING:
    from gemgate.upstream._engine import Engine

__all__ = ["Embedder", "GeminiEmbedder", "Task", "unit_rows"]

Task = Literal["document", "query"]
"""What the texts are: chunks to store, or a question to search with."""


class Embedder(Protocol):
    """Turns texts into unit vectors; ``model`` names the embedding space."""

    model: str

    async def embed(
        self, texts: Sequence[str], task: Task, *, titles: Sequence[str] | None = None
    ) -> Vectors:
        """A ``(len(texts), dimensions)`` float32 matrix of unit rows."""
        ...


def unit_rows(rows: Sequence[Sequence[float]] | np.ndarray) -> Vectors:
    """``rows`` as float32, each scaled to length 1 (zero rows stay zero)."""
    matrix = np.asarray(rows, dtype=np.float32)
    if matrix.ndim != 2:
        raise WireDecodeError(f"embeddings must be rows of equal length, got shape {matrix.shape}")
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    out: Vectors = matrix / norms
    return out


class GeminiEmbedder:
    """Embeddings from a Gemini model through the engine (keys, quotas, retries, batching).

    Chunks are embedded as ``RETRIEVAL_DOCUMENT`` with their document's name as title,
    questions as ``RETRIEVAL_QUERY``; ``dimensions`` asks for a shorter Matryoshka vector,
    renormalised here as Google advises for sizes below the full one. ``model`` names the
    space (``gemini-embedding-001@768``; ``emulator/…`` on the emulator, whose vectors must
    never be searched with Google's).
    """

    def __init__(self, engine: Engine, model: str, dimensions: int | None = 768) -> None:
        self._engine = engine
        space = f"emulator/{model}" if engine.emulated else model  # never mixed with Google's
        self.model = space if dimensions is None else f"{space}@{dimensions}"
        self._name = model
        self._dimensions = dimensions

    async def embed(
        self, texts: Sequence[str], task: Task, *, titles: Sequence[str] | None = None
    ) -> Vectors:
        """See :class:`Embedder`."""
        if not texts:
            return np.zeros((0, self._dimensions or 0), dtype=np.float32)
        rows = await self._engine.embed(
            texts,
            self._name,
            task_type="RETRIEVAL_DOCUMENT" if task == "document" else "RETRIEVAL_QUERY",
            dimensions=self._dimensions,
            titles=titles if task == "document" else None,
        )
        return unit_rows(rows)
