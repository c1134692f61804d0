"""Context caching: ``CacheManager`` over an ``AsyncGemini``, and ``CacheConfig``.

Explicit caches are made, read, refreshed and deleted through the client's SDK (so they
use gemgate's keys and stay with the project that owns them). In automatic mode a system
instruction, tool set or document prefix is cached once per content hash and reused; a
cache that expired or was deleted is recreated, and content below the model's minimum
cache size is simply sent uncached.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from gemgate.errors import APIStatusError, BadRequestError, UsageError

if TYPE_CHECKING:
    from google.genai import types

    from gemgate.client.async_client import AsyncGemini

__all__ = ["CacheConfig", "CacheManager", "normalize_ttl"]

_TTL = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def normalize_ttl(ttl: str | float | int) -> str:
    """``"1h"`` → ``"3600s"``; also ``"30m"``, ``"90s"``, ``"2d"`` and plain seconds.

    Example:
        >>> normalize_ttl("1h"), normalize_ttl(90)
        ('3600s', '90s')
    """
    if isinstance(ttl, int | float):
        seconds = float(ttl)
    else:
        match = _TTL.match(ttl)
        if match is None:
            raise UsageError(f"invalid ttl {ttl!r}: use e.g. '300s', '30m', '1h' or seconds")
        seconds = float(match.group(1)) * _UNITS[match.group(2)]
    if seconds <= 0:
        raise UsageError("ttl must be positive")
    return f"{seconds:g}s" if seconds != int(seconds) else f"{int(seconds)}s"


class CacheConfig(BaseModel):
    """How a chat uses context caching.

    Attributes:
        cache_name: An existing cache (``cachedContents/…``) to use, or a display name
            for the cache gemgate makes from the system instruction and tools.
        auto_refresh_ttl: Push the expiry this far out every time the cache is used.
        ttl: Lifetime of caches gemgate creates.
    """

    model_config = ConfigDict(frozen=True)

    cache_name: str | None = None
    auto_refresh_ttl: str | None = None
    ttl: str = "1h"


class CacheManager:
    """Creates and maintains ``cachedContents`` for one client.

    Example::

        manager = CacheManager(client)
        name = await manager.create_cache(
            model="gemini-2.5-flash", content=long_manual, ttl="1h", cache_name="manual"
        )
        await manager.update_cache_ttl(name, "2h")
    """

    def __init__(self, client: AsyncGemini) -> None:
        self._client = client
        self._by_hash: dict[str, str | None] = {}

    async def create_cache(
        self,
        model: str,
        content: str | None = None,
        *,
        contents: Sequence[Any] | None = None,
        system_instruction: str | dict[str, Any] | None = None,
        tools: Sequence[dict[str, Any]] | None = None,
        tool_config: dict[str, Any] | None = None,
        ttl: str | float = "1h",
        display_name: str | None = None,
        cache_name: str | None = None,
    ) -> str:
        """Create a cache; returns its name (``cachedContents/…``).

        ``content`` is the seed's shortcut: a text cached as the system instruction.
        """
        system = system_instruction if system_instruction is not None else content
        config: dict[str, Any] = {"ttl": normalize_ttl(ttl)}
        if display_name or cache_name:
            config["display_name"] = display_name or cache_name
        if contents:
            config["contents"] = list(contents)
        if system is not None:
            config["system_instruction"] = system if isinstance(system, str) else _content(system)
        if tools:
            config["tools"] = list(tools)
        if tool_config:
            config["tool_config"] = tool_config
        cache = await self._client.sdk.aio.caches.create(model=model, config=config)  # type: ignore[arg-type]
        assert cache.name is not None
        return cache.name

    async def get_cache(self, name: str) -> types.CachedContent:
        """The SDK's ``CachedContent``."""
        return await self._client.sdk.aio.caches.get(name=name)

    async def list_caches(self) -> list[types.CachedContent]:
        """Every cache of the client's projects that this key can see."""
        return [c async for c in await self._client.sdk.aio.caches.list()]

    async def update_cache_ttl(self, name: str, ttl: str | float) -> types.CachedContent:
        """Set the expiry to ``ttl`` from now."""
        return await self._client.sdk.aio.caches.update(
            name=name, config={"ttl": normalize_ttl(ttl)}
        )

    async def get_and_refresh(self, name: str, ttl: str | float) -> types.CachedContent:
        """Refresh the TTL and return the cache."""
        return await self.update_cache_ttl(name, ttl)

    async def delete_cache(self, name: str) -> None:
        """Delete a cache."""
        await self._client.sdk.aio.caches.delete(name=name)
        self.forget(name)

    def forget(self, name: str) -> None:
        """Drop a cache from the automatic-mode index (it will be recreated on demand)."""
        for key, value in list(self._by_hash.items()):
            if value == name:
                del self._by_hash[key]

    async def ensure(
        self,
        model: str,
        *,
        system_instruction: dict[str, Any] | None = None,
        tools: Sequence[dict[str, Any]] | None = None,
        tool_config: dict[str, Any] | None = None,
        contents: Sequence[dict[str, Any]] = (),
        ttl: str | float = "1h",
        display_name: str | None = None,
    ) -> str | None:
        """A cache holding this content, made once per content hash.

        Returns None when the content cannot be cached (below the model's minimum size):
        the caller then sends it uncached.
        """
        key = hashlib.sha256(
            json.dumps(
                [model, system_instruction, tools, tool_config, list(contents)], sort_keys=True
            ).encode()
        ).hexdigest()
        if key in self._by_hash:
            return self._by_hash[key]
        try:
            name: str | None = await self.create_cache(
                model,
                contents=list(contents) or None,
                system_instruction=system_instruction,
                tools=tools,
                tool_config=tool_config,
                ttl=ttl,
                display_name=display_name or f"gemgate-{key[:12]}",
            )
        except Exception as exc:
            from google.genai import errors as sdk_errors

            if not isinstance(exc, BadRequestError | sdk_errors.APIError) or _status(exc) != 400:
                raise
            name = None  # below the model's minimum cache size: send it uncached
        self._by_hash[key] = name
        return name


def _content(value: dict[str, Any]) -> dict[str, Any]:
    return {"role": value.get("role", "user"), "parts": value.get("parts", [])}


def _status(exc: Exception) -> int | None:
    if isinstance(exc, APIStatusError):
        return exc.status_code
    code = getattr(exc, "code", None)
    return code if isinstance(code, int) else None
