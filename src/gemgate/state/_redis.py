"""Quota state in Redis, shared by every process: one Lua script per decision.

Admission is one round trip. The script reads the server's clock (``TIME``), so every
process measures windows against the same time; walks the candidates in order; skips
a cooling one; expires the minute window; checks RPD, RPM and TPM exactly as
`gemgate.policy.QuotaWindow` does; and records the request on the first candidate that
has room. Nothing else runs between the check and the record, so N processes together
admit exactly what one would.

Keys, under a prefix, per (project, model) ``{p}q:{project}:{model}``:

- ``…:req`` (sorted set): one member per request of the last minute, scored by its time;
- ``…:tok`` (hash): each of those requests' input tokens; ``…:sum`` their total;
- ``…:day:{end}``: the requests of the Pacific day ending at ``end`` (expires after it);
- ``…:cool`` (hash): ``until`` and ``reason`` of a cooldown (expires with it).

``{p}q:pairs`` maps each base key to its (project, model), ``{p}q:cooling`` indexes
cooldowns by their end, and ``{p}q:disabled`` holds disabled keys' fingerprints and why.
Minute keys expire two minutes after their last request, so a process killed with a
reservation leaks nothing beyond the window it was counted in.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis

from gemgate.policy._windows import Ticket, WindowCounts
from gemgate.projects import next_pacific_midnight
from gemgate.state._base import Candidate, Grant, Shortage

__all__ = [
    "RedisOwners",
    "RedisQuotaState",
    "RedisResponseCache",
    "RedisSpend",
    "RedisTicket",
    "midnights",
]

# The end of the Pacific day holding ``at``: the first of the three midnights passed in
# ARGV[first], ARGV[first + 1], ARGV[first + 2] that is after it (see `midnights`).
_DAY_END = """
local function day_end_of(at, first)
  for i = first, first + 2 do
    if tonumber(ARGV[i]) > at then return tonumber(ARGV[i]) end
  end
  return tonumber(ARGV[first + 2]) + 86400
end
"""

# KEYS: a base key per candidate, then pairs. ARGV: count, tokens, ticket id, three
# Pacific midnights (ascending), then rpm, tpm, rpd per candidate ('' for no limit; '-' as
# rpm for a candidate without limits), then a pair name per candidate.
# Returns {1, index, ticket, now} or {0, earliest or '', index, reason, index, reason …}.
_ADMIT = (
    _DAY_END
    + """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local n, tokens, id = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3]
local day_end = day_end_of(now, 4)
local earliest, reasons = nil, {}
local function refuse(i, why, at)
  reasons[#reasons + 1] = i
  reasons[#reasons + 1] = why .. ' until ' .. string.format('%.3f', at)
  if earliest == nil or at < earliest then earliest = at end
end
for i = 1, n do
  local base = KEYS[i]
  local o = 7 + (i - 1) * 3
  local cool = redis.call('HMGET', base .. ':cool', 'until', 'reason')
  local cooling = tonumber(cool[1])
  if cooling and cooling > now then
    refuse(i, cool[2], cooling)
  elseif ARGV[o] == '-' then
    return {1, i, '', string.format('%.6f', now)}
  else
    local rpm, tpm, rpd = tonumber(ARGV[o]), tonumber(ARGV[o + 1]), tonumber(ARGV[o + 2])
    local req, use, tok, sum = base .. ':req', base .. ':use', base .. ':tok', base .. ':sum'
    for _, counted in ipairs({req, use}) do
      local old = redis.call('ZRANGEBYSCORE', counted, '-inf', now - 60)
      if #old > 0 then
        local freed = 0
        for _, v in ipairs(redis.call('HMGET', tok, unpack(old))) do
          freed = freed + (tonumber(v) or 0)
        end
        redis.call('HDEL', tok, unpack(old))
        redis.call('ZREMRANGEBYSCORE', counted, '-inf', now - 60)
        redis.call('DECRBY', sum, freed)
      end
    end
    local day_key = base .. ':day:' .. string.format('%d', day_end)
    local day = tonumber(redis.call('GET', day_key) or '0')
    local count = redis.call('ZCARD', req)
    local used = tonumber(redis.call('GET', sum) or '0')
    if rpd and day >= rpd then
      refuse(i, 'rpd', day_end)
    elseif rpm and count >= rpm then
      local oldest = redis.call('ZRANGE', req, count - rpm, count - rpm, 'WITHSCORES')
      refuse(i, 'rpm', tonumber(oldest[2]) + 60)
    elseif tpm and used > 0 and used + tokens > tpm then
      local all = {}
      for _, counted in ipairs({req, use}) do
        local items = redis.call('ZRANGE', counted, 0, -1, 'WITHSCORES')
        for j = 1, #items, 2 do
          all[#all + 1] = {tonumber(items[j + 1]), tonumber(redis.call('HGET', tok, items[j])) or 0}
        end
      end
      table.sort(all, function(a, b) return a[1] < b[1] end)
      local left, at = used, all[#all][1] + 60
      for _, counted in ipairs(all) do
        left = left - counted[2]
        if left + tokens <= tpm then at = counted[1] + 60; break end
      end
      refuse(i, 'tpm', at)
    else
      redis.call('ZADD', req, now, id)
      redis.call('HSET', tok, id, tokens)
      redis.call('INCRBY', sum, tokens)
      redis.call('INCR', day_key)
      redis.call('EXPIREAT', day_key, math.ceil(day_end) + 3600)
      redis.call('EXPIRE', req, 120)
      redis.call('EXPIRE', tok, 120)
      redis.call('EXPIRE', sum, 120)
      redis.call('HSET', KEYS[n + 1], base, ARGV[7 + n * 3 + i - 1])
      return {1, i, id, string.format('%.6f', now)}
    end
  end
end
return {0, earliest and string.format('%.6f', earliest) or '', unpack(reasons)}
"""
)

# KEYS: base. ARGV: ticket id, tokens. Corrects a request's tokens while it is counted.
_RECONCILE = """
local old = redis.call('HGET', KEYS[1] .. ':tok', ARGV[1])
if not old then return 0 end
redis.call('HSET', KEYS[1] .. ':tok', ARGV[1], ARGV[2])
redis.call('INCRBY', KEYS[1] .. ':sum', tonumber(ARGV[2]) - tonumber(old))
return 1
"""

# KEYS: base, pairs. ARGV: id, tokens, pair. Tokens used on an admitted connection (a Live
# turn): counted in the minute's TPM like a request's, without a request.
_SPEND = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
redis.call('ZADD', KEYS[1] .. ':use', now, ARGV[1])
redis.call('HSET', KEYS[1] .. ':tok', ARGV[1], ARGV[2])
redis.call('INCRBY', KEYS[1] .. ':sum', ARGV[2])
for _, suffix in ipairs({':use', ':tok', ':sum'}) do
  redis.call('EXPIRE', KEYS[1] .. suffix, 120)
end
redis.call('HSET', KEYS[2], KEYS[1], ARGV[3])
return 1
"""

# KEYS: base, cooling index, pairs. ARGV: until, reason, pair. Keeps the later cooldown.
_COOL = """
local current = tonumber(redis.call('HGET', KEYS[1] .. ':cool', 'until'))
local ends = tonumber(ARGV[1])
if current and current >= ends then return 0 end
redis.call('HSET', KEYS[1] .. ':cool', 'until', ARGV[1], 'reason', ARGV[2])
redis.call('EXPIREAT', KEYS[1] .. ':cool', math.ceil(ends) + 1)
redis.call('ZADD', KEYS[2], ends, KEYS[1])
redis.call('HSET', KEYS[3], KEYS[1], ARGV[3])
return 1
"""


# Bounded maps (resource owners, cached responses): one string key per entry and an index
# of recency. KEYS: entry, index, counter. ARGV: value, bound, replace (0/1), ttl ms or ''.
_LRU_SET = """
if ARGV[3] == '0' and redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
if ARGV[4] ~= '' then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[4])
else
  redis.call('SET', KEYS[1], ARGV[1])
end
redis.call('ZADD', KEYS[2], redis.call('INCR', KEYS[3]), KEYS[1])
local over = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[2])
if over > 0 then
  local old = redis.call('ZRANGE', KEYS[2], 0, over - 1)
  redis.call('DEL', unpack(old))
  redis.call('ZREM', KEYS[2], unpack(old))
end
return 1
"""
# KEYS: entry, index, counter. The value, now the most recently used; nil if gone.
_LRU_GET = """
local value = redis.call('GET', KEYS[1])
if not value then
  redis.call('ZREM', KEYS[2], KEYS[1])
  return false
end
redis.call('ZADD', KEYS[2], redis.call('INCR', KEYS[3]), KEYS[1])
return value
"""

# KEYS: base, pairs. ARGV: pair, three Pacific midnights, then id, time, tokens per request.
# Counts requests admitted elsewhere (a process that admitted on its own while Redis was
# away), without checking: they were already sent.
_RECORD = (
    _DAY_END
    + """
for k = 5, #ARGV, 3 do
  local at, tokens = tonumber(ARGV[k + 1]), tonumber(ARGV[k + 2])
  local day_end = day_end_of(at, 2)
  local day_key = KEYS[1] .. ':day:' .. string.format('%d', day_end)
  redis.call('ZADD', KEYS[1] .. ':req', at, ARGV[k])
  redis.call('HSET', KEYS[1] .. ':tok', ARGV[k], tokens)
  redis.call('INCRBY', KEYS[1] .. ':sum', tokens)
  redis.call('INCR', day_key)
  redis.call('EXPIREAT', day_key, math.ceil(day_end) + 3600)
end
for _, suffix in ipairs({':req', ':tok', ':sum'}) do
  redis.call('EXPIRE', KEYS[1] .. suffix, 120)
end
redis.call('HSET', KEYS[2], KEYS[1], ARGV[1])
return 1
"""
)

# KEYS: members. ARGV: member id, ttl. Beats for this member; returns the live members.
_BEAT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]))
return redis.call('ZCARD', KEYS[1])
"""


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def midnights(now: float) -> list[float]:
    """Three consecutive Pacific midnights around ``now``, the first at or before it.

    The admission script picks the first one after the server's clock, so a process
    whose clock is off by less than a day still counts the right day.
    """
    first = next_pacific_midnight(now - 86_400)
    second = next_pacific_midnight(first + 1)
    return [first, second, next_pacific_midnight(second + 1)]


@dataclass(frozen=True)
class RedisTicket:
    """An admitted request: where it is counted, so its tokens can be corrected."""

    base: str
    id: str


class RedisQuotaState:
    """`QuotaState` on Redis, exact across processes.

    Example::

        state = RedisQuotaState.from_url("redis://127.0.0.1:6379/0")
        grant = await state.acquire("gemini-2.5-flash", candidates, tokens=120, now=time.time())
    """

    def __init__(self, client: aioredis.Redis, *, prefix: str = "gemgate:") -> None:
        self._redis = client
        self._prefix = prefix
        self._admit = client.register_script(_ADMIT)
        self._reconcile = client.register_script(_RECONCILE)
        self._spend = client.register_script(_SPEND)
        self._cool = client.register_script(_COOL)
        self._record = client.register_script(_RECORD)
        self._beat = client.register_script(_BEAT)

    @classmethod
    def from_url(cls, url: str, *, prefix: str = "gemgate:") -> RedisQuotaState:
        """A state on ``redis://host:port/db``."""
        return cls(aioredis.from_url(url, decode_responses=True), prefix=prefix)

    def _base(self, project: str, model: str) -> str:
        return f"{self._prefix}q:{project}:{model}"

    async def acquire(
        self, model: str, candidates: Sequence[Candidate], tokens: int, now: float
    ) -> Grant | Shortage:
        """Admit on the first free candidate, atomically; ``now`` only picks the day."""
        if not candidates:
            return Shortage(None, {})
        keys = [self._base(c.project, model) for c in candidates]
        args: list[str | int | float] = [len(candidates), tokens, uuid.uuid4().hex]
        args += midnights(now)
        for candidate in candidates:
            limits = candidate.limits
            if limits is None:
                args += ["-", "", ""]
            else:
                args += [limits.rpm or "", limits.tpm or "", limits.rpd or ""]
        args += [json.dumps([c.project, model]) for c in candidates]
        result = await self._admit(keys=[*keys, f"{self._prefix}q:pairs"], args=args)
        if int(result[0]) == 1:
            index = int(result[1]) - 1
            ticket = RedisTicket(keys[index], result[2]) if result[2] else None
            return Grant(candidates[index].project, ticket)
        reasons = {
            candidates[int(result[i]) - 1].project: result[i + 1] for i in range(2, len(result), 2)
        }
        return Shortage(float(result[1]) if result[1] else None, reasons)

    async def reconcile(self, model: str, grant: Grant, tokens: int) -> None:
        """Replace the grant's token estimate while the request is still counted."""
        ticket = grant.ticket
        if isinstance(ticket, RedisTicket):
            await self._reconcile(keys=[ticket.base], args=[ticket.id, tokens])

    async def spend(self, project: str, model: str, tokens: int, now: float) -> None:
        """Count tokens used on an admitted connection, without a request (Redis's clock)."""
        keys = [self._base(project, model), f"{self._prefix}q:pairs"]
        await self._spend(keys=keys, args=[uuid.uuid4().hex, tokens, json.dumps([project, model])])

    async def cool(self, project: str, model: str, until: float, reason: str) -> None:
        """Cool ``project`` for ``model`` (keeps the later of two cooldowns)."""
        keys = [self._base(project, model), f"{self._prefix}q:cooling", f"{self._prefix}q:pairs"]
        await self._cool(keys=keys, args=[repr(until), reason, json.dumps([project, model])])

    async def disable_key(self, fingerprint: str, reason: str) -> None:
        """Disable a key in every process, keeping the first reason given."""
        await self._redis.hsetnx(f"{self._prefix}q:disabled", fingerprint, reason)

    async def disabled_keys(self) -> frozenset[str]:
        """Fingerprints of disabled keys."""
        return frozenset(_text(k) for k in await self._redis.hkeys(f"{self._prefix}q:disabled"))

    async def disabled_reasons(self) -> dict[str, str]:
        """Disabled keys and why."""
        found = await self._redis.hgetall(f"{self._prefix}q:disabled")
        return {_text(k): _text(v) for k, v in found.items()}

    async def cooldowns(self, now: float) -> dict[tuple[str, str], tuple[float, str]]:
        """Active cooldowns."""
        index = f"{self._prefix}q:cooling"
        bases = await self._redis.zrangebyscore(index, f"({now}", "+inf")
        found: dict[tuple[str, str], tuple[float, str]] = {}
        for base in map(_text, bases):
            until, reason = await self._redis.hmget(f"{base}:cool", ["until", "reason"])
            pair = await self._redis.hget(f"{self._prefix}q:pairs", base)
            if until is not None and pair is not None and float(until) > now:
                project, model = json.loads(pair)
                found[(project, model)] = (float(until), _text(reason or ""))
        await self._redis.zremrangebyscore(index, "-inf", now)
        return found

    async def usage(self, now: float) -> dict[tuple[str, str], WindowCounts]:
        """What each (project, model) window counts at ``now``, for reports."""
        pairs = await self._redis.hgetall(f"{self._prefix}q:pairs")
        day_end = next_pacific_midnight(now)
        found: dict[tuple[str, str], WindowCounts] = {}
        for base, pair in pairs.items():
            base = _text(base)
            members = await self._redis.zrangebyscore(
                f"{base}:req", f"({now - 60}", "+inf", withscores=True
            )
            scored = [(_text(item[0]), float(item[1])) for item in members]
            names = [member for member, _ in scored]
            spent = await self._redis.zrangebyscore(f"{base}:use", f"({now - 60}", "+inf")
            counted = names + [_text(member) for member in spent]
            tokens = await self._redis.hmget(f"{base}:tok", counted) if counted else []
            day = await self._redis.get(f"{base}:day:{int(day_end)}")
            project, model = json.loads(_text(pair))
            found[(project, model)] = WindowCounts(
                requests=len(names),
                tokens=sum(int(v) for v in tokens if v is not None),
                oldest=scored[0][1] if scored else None,
                day_requests=int(day or 0),
                day_end=day_end,
            )
        return found

    async def record(self, project: str, model: str, tickets: Sequence[Ticket]) -> None:
        """Count requests that were admitted without Redis (they were sent already)."""
        args: list[str | int | float] = [json.dumps([project, model]), *midnights(tickets[0].at)]
        for ticket in tickets:
            args += [uuid.uuid4().hex, ticket.at, ticket.tokens]
        keys = [self._base(project, model), f"{self._prefix}q:pairs"]
        await self._record(keys=keys, args=args)

    async def beat(self, member: str, *, ttl: float) -> int:
        """Mark ``member`` alive for ``ttl`` seconds; the number of live members."""
        return int(await self._beat(keys=[f"{self._prefix}members"], args=[member, ttl]))

    async def leave(self, member: str) -> None:
        """Take ``member`` out of the membership (a clean shutdown)."""
        await self._redis.zrem(f"{self._prefix}members", member)

    async def clear(self) -> None:
        """Forget every count, cooldown and disabled key under the prefix."""
        async for key in self._redis.scan_iter(match=f"{self._prefix}q:*", count=500):
            await self._redis.delete(key)

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._redis.aclose()


class _BoundedMap:
    """A map in Redis with a bound, dropping the least recently used entry first."""

    def __init__(
        self, client: aioredis.Redis, namespace: str, bound: int, ttl: float | None
    ) -> None:
        if bound < 1:
            raise ValueError("max_entries must be at least 1")
        self._redis = client
        self._ns = namespace
        self._bound = bound
        self._ttl_ms = "" if ttl is None else str(max(int(ttl * 1000), 1))
        self._set = client.register_script(_LRU_SET)
        self._get = client.register_script(_LRU_GET)

    def _keys(self, name: str) -> list[str]:
        return [f"{self._ns}:{name}", f"{self._ns}#index", f"{self._ns}#clock"]

    async def read(self, name: str) -> Any:
        return await self._get(keys=self._keys(name))

    async def write(self, name: str, value: str | bytes, *, replace: bool = True) -> None:
        args = [value, self._bound, "1" if replace else "0", self._ttl_ms]
        await self._set(keys=self._keys(name), args=args)

    async def clear(self) -> None:
        index = f"{self._ns}#index"
        entries = await self._redis.zrange(index, 0, -1)
        if entries:
            await self._redis.delete(*entries)
        await self._redis.delete(index, f"{self._ns}#clock")


class RedisOwners:
    """`OwnerStore` on Redis: every process knows which project owns a cache or file.

    Example::

        owners = RedisOwners(redis.asyncio.from_url(url, decode_responses=True))
    """

    def __init__(
        self, client: aioredis.Redis, *, prefix: str = "gemgate:", max_entries: int = 100_000
    ) -> None:
        self._map = _BoundedMap(client, f"{prefix}owner", max_entries, None)

    async def get(self, name: str) -> str | None:
        """The owner of ``name``, if known (and now the most recently used)."""
        found = await self._map.read(name)
        return None if found is None else _text(found)

    async def first(self, names: Sequence[str]) -> str | None:
        """The owner of the first of ``names`` whose owner is known."""
        for name in names:
            owner = await self.get(name)
            if owner is not None:
                return owner
        return None

    async def set(self, name: str, project: str, *, replace: bool = True) -> None:
        """Record the owner; beyond ``max_entries`` the least recently used is dropped."""
        await self._map.write(name, project, replace=replace)

    async def clear(self) -> None:
        """Forget every owner."""
        await self._map.clear()


class RedisResponseCache:
    """`ResponseCache` on Redis, shared by every process: bounded, with a TTL.

    ``client`` must return bytes (``decode_responses=False``).
    """

    def __init__(
        self,
        client: aioredis.Redis,
        *,
        prefix: str = "gemgate:",
        max_size: int = 1024,
        ttl: float | None = None,
    ) -> None:
        self._map = _BoundedMap(client, f"{prefix}cache", max_size, ttl)

    async def get(self, key: str) -> bytes | None:
        """The cached value, or None if absent or expired."""
        found = await self._map.read(key)
        return None if found is None else bytes(found)

    async def set(self, key: str, value: bytes) -> None:
        """Store a value (restarting its TTL)."""
        await self._map.write(key, value)

    async def clear(self) -> None:
        """Drop everything."""
        await self._map.clear()


class RedisSpend:
    """Spending in Redis, shared by every gateway process (kept 40 days after use)."""

    def __init__(self, client: aioredis.Redis, *, prefix: str = "gemgate:") -> None:
        self._redis = client
        self._prefix = prefix

    def _key(self, name: str, period: str) -> str:
        return f"{self._prefix}spend:{name}:{period}"

    async def spent(self, name: str, period: str) -> tuple[int, float]:
        """See :class:`Spend`."""
        tokens, usd = await self._redis.hmget(self._key(name, period), ["tokens", "usd"])
        return int(tokens or 0), float(usd or 0.0)

    async def add(self, name: str, period: str, tokens: int, usd: float) -> None:
        """See :class:`Spend` (one atomic transaction)."""
        key = self._key(name, period)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hincrby(key, "tokens", tokens)
            pipe.hincrbyfloat(key, "usd", usd)
            if period != "total":
                pipe.expire(key, 40 * 86_400)
            await pipe.execute()
