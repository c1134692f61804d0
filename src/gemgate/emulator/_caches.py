"""``cachedContents``: explicit context caches with expiry, owned by a project."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from gemgate.emulator._errors import ApiError, invalid_argument, permission_denied
from gemgate.emulator._tokens import count_request
from gemgate.wire.durations import format_timestamp, parse_duration, parse_timestamp

__all__ = ["CacheStore", "CachedEntry"]

DEFAULT_TTL = 3600.0
_LATEST = 253402300799.0  # 9999-12-31T23:59:59Z, the last RFC 3339 timestamp


@dataclass
class CachedEntry:
    """A stored cache: its resource fields, the input-only parts, and its owner."""

    name: str
    project: str
    model: str
    display_name: str
    create_time: float
    update_time: float
    expire_time: float
    tokens: int
    contents: list[dict[str, Any]] = field(default_factory=list)
    system_instruction: dict[str, Any] | None = None
    tools: list[dict[str, Any]] = field(default_factory=list)
    tool_config: dict[str, Any] | None = None

    def resource(self) -> dict[str, Any]:
        """The wire resource; input-only fields are never returned."""
        out: dict[str, Any] = {
            "name": self.name,
            "model": f"models/{self.model}",
            "createTime": format_timestamp(self.create_time),
            "updateTime": format_timestamp(self.update_time),
            "expireTime": format_timestamp(self.expire_time),
            "usageMetadata": {"totalTokenCount": self.tokens},
        }
        if self.display_name:
            out["displayName"] = self.display_name
        return out


def _missing(name: str) -> ApiError:
    return permission_denied(f"CachedContent not found (or permission denied): {name}")


class CacheStore:
    """In-memory cachedContents with expiry by an injected clock."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._entries: dict[str, CachedEntry] = {}

    def reset(self) -> None:
        """Delete every cache."""
        self._entries.clear()

    def _expiry(self, body: Mapping[str, Any], now: float) -> float:
        """The expiry a ``ttl`` or ``expireTime`` asks for; it must lie in the future."""
        if "ttl" in body and "expireTime" in body:
            raise invalid_argument("Only one of ttl and expire_time can be set.")
        try:
            if "expireTime" in body:
                expire = parse_timestamp(body["expireTime"])
            else:
                expire = now + (parse_duration(body["ttl"]) if "ttl" in body else DEFAULT_TTL)
        except ValueError as exc:
            raise invalid_argument(f"Invalid expiration: {exc}") from None
        if expire <= now:
            raise invalid_argument("expire_time must be in the future.")
        if expire >= _LATEST:
            raise invalid_argument("expire_time must be before the year 10000.")
        return expire

    def create(
        self, project: str, model: str, body: Mapping[str, Any], min_tokens: int
    ) -> CachedEntry:
        """Create a cache from a normalized CachedContent body."""
        now = self._clock()
        display = body.get("displayName", "")
        if len(display) > 128:
            raise invalid_argument("display_name must be at most 128 characters.")
        contents = body.get("contents", [])
        system = body.get("systemInstruction")
        tools = body.get("tools", [])
        tokens = count_request(body)
        if tokens < min_tokens:
            raise invalid_argument(
                f"Cached content is too small. total_token_count={tokens}, "
                f"min_total_token_count={min_tokens}"
            )
        expire = self._expiry(body, now)
        entry = CachedEntry(
            name=f"cachedContents/{secrets.token_hex(6)}",
            project=project,
            model=model,
            display_name=display,
            create_time=now,
            update_time=now,
            expire_time=expire,
            tokens=tokens,
            contents=contents,
            system_instruction=system,
            tools=tools,
            tool_config=body.get("toolConfig"),
        )
        self._entries[entry.name] = entry
        return entry

    def get(self, project: str, name: str) -> CachedEntry:
        """The live cache ``name`` owned by ``project``."""
        entry = self._entries.get(name)
        if entry is not None and entry.expire_time <= self._clock():
            del self._entries[name]
            entry = None
        if entry is None or entry.project != project:
            raise _missing(name)
        return entry

    def list(self, project: str) -> list[CachedEntry]:
        """The project's live caches, oldest first."""
        now = self._clock()
        return [e for e in self._entries.values() if e.project == project and e.expire_time > now]

    def update(self, project: str, name: str, body: Mapping[str, Any], mask: str) -> CachedEntry:
        """Change the expiry (``updateMask`` ``ttl`` or ``expireTime``)."""
        entry = self.get(project, name)
        fields = {f.strip() for f in mask.split(",") if f.strip()} or {
            k for k in ("ttl", "expireTime") if k in body
        }
        allowed = {"ttl", "expireTime", "expire_time"}
        if not fields or not fields <= allowed:
            raise invalid_argument(
                "update_mask must be ttl or expire_time; only the expiration can be changed."
            )
        now = self._clock()
        wanted = {"ttl" if f == "ttl" else "expireTime" for f in fields}
        chosen = {key: body[key] for key in wanted if key in body}
        if not chosen:
            raise invalid_argument("The field named in update_mask is missing from the body.")
        entry.expire_time = self._expiry(chosen, now)
        entry.update_time = now
        return entry

    def delete(self, project: str, name: str) -> None:
        """Delete a cache."""
        self.get(project, name)
        del self._entries[name]
