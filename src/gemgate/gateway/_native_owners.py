"""Which gateway key made each resource created through ``/gemini``.

Batches, files, context caches and File Search stores made through the native relay live
in the gateway's Google projects, which every gateway key shares. With gateway keys, a
key sees only what it made: reading, changing or deleting another key's resource (or one
made outside the gateway) is Google's 404, and lists show only the caller's own.
Ownership is kept in the gateway's SQL database, so every process and restart agrees.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import sqlalchemy as sa

from gemgate.sessions._sql import SQLTables

__all__ = [
    "COLLECTIONS",
    "NativeOwners",
    "created_names",
    "deleted_resource",
    "filter_list",
    "finished_batch",
    "listed",
    "resource_of",
    "results_file",
    "upload_id",
    "used_names",
]

COLLECTIONS = {
    "batches": "operations",
    "files": "files",
    "cachedContents": "cachedContents",
    "fileSearchStores": "fileSearchStores",
}
"""The collections whose resources belong to a key, and the field their lists answer in."""

_metadata = sa.MetaData()
_owners = sa.Table(
    "gemgate_native_owners",
    _metadata,
    sa.Column("name", sa.String(255), primary_key=True),
    sa.Column("owner", sa.String(255), nullable=False),
    sa.Column("charged", sa.Boolean, nullable=False, default=False),
)


def _segments(path: str) -> list[str]:
    """``/v1beta/batches/x:cancel`` → ``["v1beta", "batches", "x:cancel"]`` (no ``upload``)."""
    parts = [p for p in urlsplit(path).path.split("/") if p]
    return parts[1:] if parts[:1] == ["upload"] else parts


def resource_of(path: str) -> str | None:
    """The owned resource a relayed path names (``batches/x``), if any.

    Example:
        >>> resource_of("/v1beta/fileSearchStores/s1/documents/d2")
        'fileSearchStores/s1'
        >>> resource_of("/v1beta/batches/b7:cancel")
        'batches/b7'
        >>> resource_of("/v1beta/models/gemini-2.5-flash:generateContent") is None
        True
    """
    parts = _segments(path)
    if len(parts) < 3 or parts[1] not in COLLECTIONS:
        return None
    return f"{parts[1]}/{parts[2].split(':', 1)[0]}"


def deleted_resource(method: str, path: str) -> str | None:
    """The resource a ``DELETE`` of ``path`` removes itself (not one of its documents).

    Example:
        >>> deleted_resource("DELETE", "/v1beta/files/f1")
        'files/f1'
        >>> deleted_resource("DELETE", "/v1beta/fileSearchStores/s1/documents/d2") is None
        True
    """
    parts = _segments(path)
    if method != "DELETE" or len(parts) != 3 or parts[1] not in COLLECTIONS:
        return None
    return f"{parts[1]}/{parts[2]}"


def listed(path: str) -> str | None:
    """The collection a ``GET`` of ``path`` lists (``files``), if it is one of ours."""
    parts = _segments(path)
    return parts[1] if len(parts) == 2 and parts[1] in COLLECTIONS else None


def created_names(body: Any) -> list[str]:
    """The owned resources an answer names: a created resource, operation or file.

    Example:
        >>> created_names({"file": {"name": "files/abc"}})
        ['files/abc']
        >>> created_names({"name": "batches/b1", "metadata": {}})
        ['batches/b1']
    """
    if not isinstance(body, dict):
        return []
    found = [body.get("name"), (body.get("file") or {}).get("name")]
    names = []
    for name in found:
        if isinstance(name, str) and name.split("/", 1)[0] in COLLECTIONS and "/" in name:
            names.append("/".join(name.split("/", 2)[:2]))
    return names


def results_file(answer: Any) -> str | None:
    """The ``responsesFile`` a succeeded batch wrote its results to, if it wrote one.

    Example:
        >>> results_file({"done": True, "response": {"responsesFile": "files/r1"}})
        'files/r1'
    """
    response = answer.get("response") if isinstance(answer, dict) else None
    name = response.get("responsesFile") if isinstance(response, dict) else None
    return name if isinstance(name, str) and name.startswith("files/") else None


def finished_batch(method: str, path: str, answer: Any) -> str | None:
    """The batch a ``GET`` answered as succeeded (its results can be charged), if any."""
    name = resource_of(path) if method == "GET" else None
    if name is None or not name.startswith("batches/") or not isinstance(answer, dict):
        return None
    metadata = answer.get("metadata")
    state = metadata.get("state") if isinstance(metadata, dict) else None
    return name if answer.get("done") and state == "BATCH_STATE_SUCCEEDED" else None


_USES = frozenset(
    {
        "cachedContent",
        "cached_content",
        "fileUri",
        "file_uri",
        "fileName",
        "file_name",
        "fileSearchStoreNames",
        "file_search_store_names",
    }
)
"""Fields, at any depth, whose value names a resource the request uses: a cache, a file (a
part's ``fileData``, a batch's ``inputConfig``, a store's ``importFile``), File Search stores."""

_MARKERS = (b"\\u", *(field.encode() for field in _USES))
"""Bytes one of which a body that uses a resource holds: a field's name, or an escape."""

_NAME = re.compile(
    r"^(?:[a-z][a-z0-9+.-]*://[^/]+(?:/[^/]+)?/v1[a-z0-9]*/)?"
    r"((?:files|cachedContents|fileSearchStores)/[^/?#:]+)"
)
"""A bare ``files/x``, or one in a Gemini API URL (``…/v1beta/files/x``); not any URL."""


def used_names(body: bytes) -> list[str]:
    r"""The files, caches and File Search stores a JSON request body uses.

    The body is decoded first, so that escapes (``"cached\u0043ontent"``, ``\/``) name
    what the upstream will read; a body that is not JSON uses nothing.

    Example:
        >>> used_names(b'{"cachedContent": "cachedContents/c1", "contents": [{"parts":'
        ...            b' [{"fileData": {"fileUri": "https://x/v1beta/files/f2"}}]}]}')
        ['cachedContents/c1', 'files/f2']
        >>> used_names(b'{"fileData": {"fileUri": "https://example.com/files/report.pdf"}}')
        []
    """
    if not any(marker in body for marker in _MARKERS):  # most bodies: no parse at all
        return []
    try:
        stack: list[Any] = [json.loads(body)]
    except (ValueError, RecursionError):
        return []
    names = []
    while stack:
        value = stack.pop()
        if isinstance(value, list):
            stack.extend(reversed(value))
        elif isinstance(value, dict):
            for key, item in value.items():
                if key in _USES:
                    given = item if isinstance(item, list) else [item]
                    names += [m[1] for v in given if isinstance(v, str) and (m := _NAME.search(v))]
                else:
                    stack.append(item)
    return names


def upload_id(url: str) -> str | None:
    """The ``upload_id`` of a resumable upload's URL."""
    return parse_qs(urlsplit(url).query).get("upload_id", [None])[0]


class NativeOwners(SQLTables):
    """Resource name → the gateway key that made it, in one SQL database."""

    def __init__(self, url: str) -> None:
        super().__init__(url, _metadata)

    async def owner(self, name: str) -> str | None:
        """The key that made ``name`` (``None``: not made through this gateway)."""
        await self._schema()
        async with self._engine.connect() as conn:
            row = (
                await conn.execute(sa.select(_owners.c.owner).where(_owners.c.name == name))
            ).first()
        return None if row is None else str(row[0])

    async def claim(self, names: Iterable[str], owner: str) -> None:
        """Record ``names`` as ``owner``'s (a name already recorded keeps its owner)."""
        await self._schema()
        async with self._engine.begin() as conn:
            for name in names:
                known = (
                    await conn.execute(sa.select(_owners.c.name).where(_owners.c.name == name))
                ).first()
                if known is None:
                    await conn.execute(_owners.insert().values(name=name, owner=owner))

    async def forget(self, name: str, owner: str) -> None:
        """Drop ``owner``'s record of ``name``, deleted upstream: a new one may take the name."""
        await self._schema()
        async with self._engine.begin() as conn:
            await conn.execute(
                _owners.delete().where(_owners.c.name == name, _owners.c.owner == owner)
            )

    async def first_charge(self, name: str) -> bool:
        """Whether this call is the first to charge the batch ``name`` (once, ever)."""
        await self._schema()
        update = (
            _owners.update()
            .where(_owners.c.name == name, _owners.c.charged.is_(False))
            .values(charged=True)
        )
        async with self._engine.begin() as conn:
            return bool((await conn.execute(update)).rowcount)

    async def release_charge(self, name: str) -> None:
        """Undo `first_charge` of a batch whose charge failed: a later read tries again."""
        await self._schema()
        async with self._engine.begin() as conn:
            await conn.execute(_owners.update().where(_owners.c.name == name).values(charged=False))

    async def mine(self, names: Iterable[str], owner: str) -> set[str]:
        """The names among ``names`` that ``owner`` made."""
        wanted = list(names)
        if not wanted:
            return set()
        await self._schema()
        query = sa.select(_owners.c.name).where(
            _owners.c.name.in_(wanted), _owners.c.owner == owner
        )
        async with self._engine.connect() as conn:
            return {str(row[0]) for row in (await conn.execute(query)).all()}


def filter_list(body: bytes, field: str, keep: set[str]) -> bytes:
    """A list answer with only the entries named in ``keep``."""
    data = json.loads(body)
    data[field] = [item for item in data.get(field) or [] if item.get("name") in keep]
    return json.dumps(data).encode()
