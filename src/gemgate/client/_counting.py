"""Embeddings and token counts of a client: OpenAI-shaped answers over Gemini's calls."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from gemgate.upstream._calls import bare_model, estimate_tokens
from gemgate.upstream._engine import Engine
from gemgate.upstream._pipeline import Call

__all__ = ["Counting", "contents_of"]


class Counting:
    """``generate_embeddings`` and ``count_tokens``; ``AsyncGemini`` inherits them."""

    engine: Engine

    async def generate_embeddings(
        self,
        texts: str | Sequence[str],
        *,
        model: str | None = None,
        task_type: str | None = None,
        dimensions: int | None = None,
        **params: Any,
    ) -> dict[str, Any]:
        """OpenAI-format embeddings: ``{"data": [{"embedding": [...], "index": i}], ...}``."""
        items = [texts] if isinstance(texts, str) else list(texts)
        name = bare_model(model or self.engine.settings.embedding_model)
        vectors = await self.engine.embed(
            items,
            name,
            task_type=task_type,
            dimensions=dimensions,
            request_id=params.get("request_id"),
            endpoint_id=params.get("endpoint_id"),
        )
        data = [
            {"object": "embedding", "index": i, "embedding": vector}
            for i, vector in enumerate(vectors)
        ]
        tokens = sum(estimate_tokens(t.encode()) for t in items)
        return {
            "object": "list",
            "data": data,
            "model": name,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }

    async def count_tokens(
        self, content: str | Sequence[Mapping[str, Any]], *, model: str | None = None
    ) -> dict[str, Any]:
        """``{"total_tokens": n}`` as the upstream counts them."""
        contents = contents_of(content)
        name = bare_model(model or self.engine.settings.default_model)
        body = json.dumps({"contents": contents}).encode()
        call = Call(
            "POST",
            self.engine.path(name, "countTokens"),
            body,
            {"content-type": "application/json"},
            kind="other",
        )
        response = await self.engine.call_json(call)
        return {"total_tokens": int(response.get("totalTokens", 0)), "response": response}


def contents_of(prompt: str | Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """A text prompt as one user turn; Gemini contents as they are (copied)."""
    if isinstance(prompt, str):
        return [{"role": "user", "parts": [{"text": prompt}]}]
    return [dict(c) for c in prompt]
