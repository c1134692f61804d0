"""Which gateway key made each native resource, so another key cannot reach it.

Through ``/gemini`` every key shares the gateway's Google projects, so a file, cache,
batch or file search store one key makes would be visible to all. With gateway keys, the
key that creates one (a ``POST`` answered with its ``name``, or a resumable upload the key
started) is recorded in the engine's owner store; a request naming a resource recorded for
another key, or never recorded, is a 404, and lists keep only the caller's entries.

A resource the bounded owner store has forgotten is refused like another key's.
"""

from __future__ import annotations

import json
import re
from typing import Any

from gemgate.gateway._faces import Problem
from gemgate.state import OwnerStore
from gemgate.upstream._calls import referenced_resources

__all__ = ["NativeOwners"]

_NAMED = re.compile(r"(?:cachedContents|files|fileSearchStores|batches)/[A-Za-z0-9_-]+")
_LIST = re.compile(r"/v\w+/(cachedContents|files|fileSearchStores|batches)")
_ITEMS = {"batches": "operations"}
"""A list's field, where it is not named after the collection."""
_PREFIX = "gateway-key:"


class NativeOwners:
    """Records and checks which gateway key owns each native resource."""

    def __init__(self, owners: OwnerStore) -> None:
        self._owners = owners

    async def check(self, key: str, path: str, body: bytes) -> None:
        """Raise a 404 if the request names a resource that is not ``key``'s."""
        names = set(_NAMED.findall(path.partition("?")[0]) + referenced_resources(path, body))
        for name in names:
            if await self._owners.get(_PREFIX + name) != key:
                raise Problem(404, f"{name} not found")

    async def started(self, key: str, upload_id: str) -> None:
        """``key`` started the resumable upload ``upload_id``."""
        await self._owners.set(_PREFIX + upload_id, key)

    async def uploader(self, upload_id: str) -> str | None:
        """The key that started the upload ``upload_id``."""
        return await self._owners.get(_PREFIX + upload_id)

    async def created(self, key: str, body: bytes) -> None:
        """Record the resource a ``POST`` answered with (its ``name``) as ``key``'s."""
        answer = _json(body)
        for found in (answer, answer.get("file"), answer.get("metadata")):
            name = found.get("name") if isinstance(found, dict) else None
            if isinstance(name, str) and _NAMED.fullmatch(name):
                await self._owners.set(_PREFIX + name, key, replace=False)

    async def only_own(self, key: str, path: str, body: bytes) -> bytes:
        """A list's answer with only ``key``'s entries (other answers unchanged)."""
        listed = _LIST.fullmatch(path.partition("?")[0])
        answer = _json(body)
        if listed is None or not answer:
            return body
        field = _ITEMS.get(listed.group(1), listed.group(1))
        items = answer.get(field)
        if not isinstance(items, list):
            return body
        kept = []
        for item in items:
            name = item.get("name") if isinstance(item, dict) else None
            if isinstance(name, str) and await self._owners.get(_PREFIX + name) == key:
                kept.append(item)
        return json.dumps({**answer, field: kept}, separators=(",", ":")).encode()


def _json(body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(body)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
