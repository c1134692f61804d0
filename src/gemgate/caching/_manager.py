"""Context caching: ``CacheManager`` over an engine, and ``CacheConfig``.

Explicit caches are made, read, refreshed and deleted through the engine's SDK client (so they
use gemgate's keys and stay with the project that owns them). In automatic mode a system
instruction, tool set or document prefix is cached once per content hash and reused; a
cache that expired or was deleted is recreated, and content below the model's minimum
cache size is simply sent uncached.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict

from gemgate.errors import APIStatusError, BadRequestError, UsageError
from gemgate.upstream._engine import Engine, EngineSource, engine_of
from gemgate.upstream._pipeline import Call
from gemgate.wire.durations import format_duration

if TYPE_CHECKING:
    from google.genai import types


__all__ = ["CacheConfig", "CacheManager", "is_cache_lost", "normalize_ttl", "resolve_cache"]

_TTL = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$", re.IGNORECASE)
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def normalize_ttl(ttl: str | float | int) -> str:
    """``"1h"`` → ``"3600s"``; also ``"30m"``, ``"90s"``, ``"2d"`` and plain seconds.

    The result is a protobuf ``Duration`` string: whole seconds, or up to nine decimals
    (never an exponent).

    Example:
        >>> normalize_ttl("1h"), normalize_ttl(90), normalize_ttl(2.5)
        ('3600s', '90s', '2.5s')
    """
    if isinstance(ttl, bool):
        raise UsageError(f"invalid ttl {ttl!r}: use e.g. '300s', '30m', '1h' or seconds")
    if isinstance(ttl, int | float):
        seconds = float(ttl)
    elif isinstance(ttl, str):
        match = _TTL.match(ttl)
        if match is None:
            raise UsageError(f"invalid ttl {ttl!r}: use e.g. '300s', '30m', '1h' or seconds")
        seconds = float(match.group(1)) * _UNITS[match.group(2).lower()]
    else:
        raise UsageError(f"invalid ttl {ttl!r}: use e.g. '300s', '30m', '1h' or seconds")
    if not math.isfinite(seconds):
        raise UsageError(f"invalid ttl {ttl!r}: it must be finite")
    seconds = round(seconds, 9)
    if seconds <= 0:
        raise UsageError("ttl must be positive")
    return format_duration(seconds)


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
    """Creates and maintains ``cachedContents`` for one engine (or client).

    Example::

        manager = CacheManager(client)          # or client.cache_manager
        name = await manager.create_cache(
            model="gemini-2.5-flash", content=long_manual, ttl="1h", cache_name="manual"
        )
        await manager.update_cache_ttl(name, "2h")
    """

    def __init__(self, engine: Engine | EngineSource) -> None:
        self._engine = engine_of(engine)
        self._by_hash: dict[str, str | None] = {}
        self._locks: dict[str, asyncio.Lock] = {}

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
        cache = await self._engine.sdk.aio.caches.create(model=model, config=config)  # type: ignore[arg-type]
        assert cache.name is not None
        return cache.name

    async def get_cache(self, name: str) -> types.CachedContent:
        """The SDK's ``CachedContent``."""
        await self.locate(name)
        return await self._engine.sdk.aio.caches.get(name=name)

    async def list_caches(self) -> list[types.CachedContent]:
        """Every live cache of every project the client has keys for.

        Each project is listed with its own key (a key only sees its project's caches),
        and the owner of each cache is remembered, so later calls that use it are sent
        with that project's keys.
        """
        from google.genai import types

        core = self._engine
        found: dict[str, types.CachedContent] = {}
        for project in core.settings.projects:
            token: str | None = None
            while True:
                query = "?pageSize=1000" + (f"&pageToken={quote(token)}" if token else "")
                page = await core.call_json(
                    Call("GET", f"/{core.version}/cachedContents{query}", project=project.name)
                )
                for item in page.get("cachedContents", []):
                    name = item.get("name") if isinstance(item, dict) else None
                    if isinstance(name, str) and name not in found:
                        await core.owners.set(name, project.name)
                        found[name] = types.CachedContent.model_validate(item)
                token = page.get("nextPageToken") or None
                if token is None:
                    break
        return list(found.values())

    async def locate(self, name: str) -> str | None:
        """The project owning cache ``name``; looked up by listing when not yet known.

        Only needed with several projects: a cache made by another client or process
        must be used with its owner's keys.
        """
        owner = await self._engine.owners.get(name)
        if owner is not None or len(self._engine.settings.projects) < 2:
            return owner
        await self.list_caches()
        return await self._engine.owners.get(name)

    async def update_cache_ttl(self, name: str, ttl: str | float) -> types.CachedContent:
        """Set the expiry to ``ttl`` from now."""
        ttl = normalize_ttl(ttl)
        await self.locate(name)
        return await self._engine.sdk.aio.caches.update(name=name, config={"ttl": ttl})

    async def get_and_refresh(self, name: str, ttl: str | float) -> types.CachedContent:
        """Refresh the TTL and return the cache."""
        return await self.update_cache_ttl(name, ttl)

    async def touch(self, name: str, ttl: str | float) -> bool:
        """Refresh the TTL of a cache that was just used; False when it is gone.

        A cache that expired or was deleted meanwhile is forgotten (automatic mode makes
        it again on next use) instead of failing the call that used it.
        """
        try:
            await self.update_cache_ttl(name, ttl)
        except Exception as exc:
            if not is_cache_lost(exc):
                raise
            self.forget(name)
            return False
        return True

    async def delete_cache(self, name: str) -> None:
        """Delete a cache."""
        await self.locate(name)
        await self._engine.sdk.aio.caches.delete(name=name)
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
        async with self._locks.setdefault(key, asyncio.Lock()):  # one creation per content
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

                known = isinstance(exc, BadRequestError | sdk_errors.APIError)
                if not known or _status(exc) != 400:
                    raise
                name = None  # below the model's minimum cache size: send it uncached
            self._by_hash[key] = name
            return name


def is_cache_lost(exc: BaseException) -> bool:
    """Whether ``exc`` says a cache is gone (403 or 404, from gemgate or the SDK)."""
    from google.genai import errors as sdk_errors

    if not isinstance(exc, APIStatusError | sdk_errors.APIError):
        return False
    return _status(exc) in (403, 404)


def _content(value: dict[str, Any]) -> dict[str, Any]:
    return {"role": value.get("role", "user"), "parts": value.get("parts", [])}


def _status(exc: BaseException) -> int | None:
    if isinstance(exc, APIStatusError):
        return exc.status_code
    code = getattr(exc, "code", None)
    return code if isinstance(code, int) else None


async def resolve_cache(
    config: CacheConfig | None, manager: CacheManager | None, model: str, fields: dict[str, Any]
) -> str | None:
    """The ``cachedContent`` a request should use, if any.

    An existing ``cachedContents/…`` name is used as it is (located, so the request goes
    to the project that owns it). Any other name is the display name of a cache of
    ``fields`` (``systemInstruction``, ``tools``, ``toolConfig``) that ``manager`` makes
    or reuses. ``None`` without a config, a manager, or anything to cache.
    """
    name = config.cache_name if config is not None else None
    if name is not None and name.startswith("cachedContents/"):
        if manager is not None:
            await manager.locate(name)
        return name
    if config is None or manager is None or not fields:
        return None
    return await manager.ensure(
        model,
        system_instruction=fields.get("systemInstruction"),
        tools=fields.get("tools"),
        tool_config=fields.get("toolConfig"),
        ttl=config.ttl,
        display_name=name,
    )
