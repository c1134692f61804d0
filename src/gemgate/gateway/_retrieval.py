"""Grounding gateway answers on retrieval stores: the stores a request names, citations.

A request names stores by id (``vector_store_ids``, a ``file_search`` tool, a session's
``store_ids``); every id must be one of the caller's stores, else the request is a 404
before anything runs.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

from gemgate.gateway._faces import Problem
from gemgate.rag import (
    GroundedStream,
    Hit,
    RetrievalStore,
    RetrievalStores,
    file_search_tool,
    retrieve,
)

__all__ = ["DEFAULT_K", "Retrieval", "grounded_stream", "store_ids", "stores_named"]

DEFAULT_K = 8
"""How many chunks ground an answer when the request does not say."""


def store_ids(value: Any, param: str) -> list[str]:
    """``value`` as a list of store ids (400 naming ``param`` when it is not one)."""
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise Problem(400, f"'{param}' must be an array of store ids", param)
    return list(dict.fromkeys(value))


async def stores_named(stores: RetrievalStores, ids: Sequence[str]) -> list[RetrievalStore]:
    """The stores with these ids (``StoreNotFound``, a 404, for any that is not the owner's)."""
    return [await stores.get(store_id) for store_id in ids]


@dataclass(frozen=True, slots=True)
class Retrieval:
    """The stores a chat completion searches, and how many chunks it takes."""

    stores: list[RetrievalStore]
    k: int = DEFAULT_K

    @classmethod
    async def of(cls, body: dict[str, Any], stores: RetrievalStores) -> Retrieval:
        """Take ``vector_store_ids`` and ``file_search`` tools out of ``body``; find the stores.

        The other tools stay for the model.
        """
        ids: list[str] = []
        k = DEFAULT_K
        if "vector_store_ids" in body:
            ids += store_ids(body.pop("vector_store_ids"), "vector_store_ids")
        tools = body.get("tools")
        if isinstance(tools, list):
            searches = [t for t in tools if isinstance(t, dict) and t.get("type") == "file_search"]
            for tool in searches:
                ids += store_ids(tool.get("vector_store_ids"), "tools")
                wanted = tool.get("max_num_results", k)
                if type(wanted) is not int or not 1 <= wanted <= 50:
                    raise Problem(400, "'max_num_results' must be an integer from 1 to 50", "tools")
                k = wanted
            if searches:
                kept = [t for t in tools if t not in searches]
                if kept:
                    body["tools"] = kept
                else:
                    body.pop("tools")
                    body.pop("tool_choice", None)
        return cls(await stores_named(stores, list(dict.fromkeys(ids))), k)

    async def hits(self, request: dict[str, Any]) -> list[Hit]:
        """The best chunks of the local stores for the request's last user message.

        File Search stores join the request as its ``fileSearch`` tool instead.
        """
        if not self.stores:
            return []
        searched = file_search_tool(self.stores, self.k)
        if searched is not None:
            request["tools"] = [*request.get("tools", []), searched]
        return await retrieve(self.stores, request.get("contents") or [], self.k)


async def grounded_stream(
    stream: AsyncIterator[dict[str, Any]], hits: Sequence[Hit]
) -> AsyncIterator[dict[str, Any]]:
    """``stream``'s chunks, the finishing one grounded on ``hits`` by all the text before it.

    The chunk that carries ``finishReason`` gets the ``groundingMetadata`` of the whole
    answer, so that the OpenAI converter puts ``annotations`` on its delta.
    """
    grounding = GroundedStream(hits)
    try:
        async for chunk in stream:
            yield grounding.feed(chunk)
    finally:
        aclose = getattr(stream, "aclose", None)
        if aclose is not None:
            await aclose()
