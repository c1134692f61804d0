"""The pipeline every call takes: pick key → admit → send → classify → retry/rotate → record.

Library calls, SDK calls and gateway requests all come through :class:`Upstream`, so
they share keys, quotas, cooldowns, breakers and tracking.
"""

from __future__ import annotations

import asyncio
import contextvars
import random
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from gemgate.config import Settings
from gemgate.errors import (
    APIStatusError,
    CircuitOpen,
    ConnectError,
    QuotaExhausted,
    TransportError,
    UpstreamTimeout,
    status_error,
)
from gemgate.policy._retry import Action, Backoff, classify_status, classify_transport
from gemgate.policy._selection import Rotation, order
from gemgate.projects import ProjectConfig, fingerprint
from gemgate.state._base import Candidate, Grant, OwnerStore, QuotaState
from gemgate.upstream._driver import Driver, Reply
from gemgate.upstream._endpoints import Endpoint
from gemgate.upstream._tracking import RequestRecord, Tracker
from gemgate.wire.errors import parse_error

__all__ = ["DEADLINE", "UPSTREAM_WAIT", "Call", "Upstream", "timeout_of"]

UPSTREAM_WAIT: contextvars.ContextVar[list[float] | None] = contextvars.ContextVar(
    "gemgate_upstream_wait", default=None
)
"""When set (to ``[0.0]``), seconds spent waiting for upstream answers are added to it."""

DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "gemgate_deadline", default=None
)
"""When set, the moment (on the engine's clock) by which calls made in this context must end.

The gateway sets it from ``x-gemgate-timeout``; the library from a ``timeout`` argument.
"""

SERVER_TIMEOUT = "x-server-timeout"
"""The deadline header (whole seconds) Google's SDKs send when given a timeout."""

MAX_HOPS = 64
"""Attempts of one call across cooldowns, rotations and retries, at most."""


@dataclass
class Call:
    """One logical request to the Gemini API."""

    method: str
    path: str
    """Path and query relative to the base URL (``/v1beta/models/x:generateContent``)."""
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    model: str | None = None
    """Bare model id when the call is quota-limited (generate, stream, embed, count)."""
    kind: str = "other"
    """``generate``, ``stream``, ``embed``, ``upload`` or ``other`` (picks the timeout)."""
    tokens: int = 0
    """Estimated input tokens, for TPM."""
    project: str | None = None
    """Required project: the call uses a file or cache that this project owns."""
    resources: list[str] = field(default_factory=list)
    """Project-owned resources the call uses (``cachedContents/…``, ``files/…``)."""
    excluded: set[str] = field(default_factory=set)
    """Projects that answered 403 for those resources: not theirs."""
    last_error: APIStatusError | None = None


@dataclass
class Sent:
    """A successful reply and what it cost."""

    reply: Reply
    project: str
    key: str
    """Fingerprint of the key that served it."""
    grant: Grant | None


def timeout_of(value: str | None) -> float | None:
    """Seconds from a timeout header; None when absent, not a number or not positive.

    Example:
        >>> timeout_of("2.5"), timeout_of("0"), timeout_of("soon"), timeout_of(None)
        (2.5, None, None, None)
    """
    try:
        seconds = float(value) if value is not None else None
    except ValueError:
        return None
    return seconds if seconds is not None and 0 < seconds < float("inf") else None


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds")


class Upstream:
    """Sends calls with gemgate's keys, quotas, retries and tracking."""

    def __init__(
        self,
        settings: Settings,
        driver: Driver,
        state: QuotaState,
        tracker: Tracker,
        owners: OwnerStore,
        *,
        clock: Callable[[], float],
        sleep: Callable[[float], Awaitable[None]],
        draw: Callable[[], float] = random.random,
    ) -> None:
        self.settings = settings
        self.driver = driver
        self.state = state
        self.tracker = tracker
        self.clock = clock
        self.sleep = sleep
        self.draw = draw
        self.backoff = Backoff(settings.retry.backoff_base, settings.retry.backoff_cap)
        self.rotation = Rotation()
        self.inflight: dict[str, int] = {}
        self.key_requests: Counter[str] = Counter()
        """Attempts sent per key fingerprint."""
        self.key_errors: Counter[str] = Counter()
        """Attempts per key fingerprint that got an error status or no answer."""
        self._usable_cache: dict[tuple[str, frozenset[str]], list[ProjectConfig]] = {}
        self.owners = owners
        """Project that owns each cachedContents/files resource (or upload id)."""
        self.default = Endpoint("default", "default", None, list(settings.projects))
        self.default.breaker.threshold = settings.retry.breaker_threshold
        self.default.breaker.reset = settings.retry.breaker_reset

    def _timeouts(self, kind: str) -> tuple[float, float]:
        t = self.settings.timeouts
        if kind == "stream":
            return t.stream_first_byte, t.stream_idle
        single = {"generate": t.generate, "embed": t.embed, "upload": t.upload}.get(kind, t.other)
        return single, single

    async def send(
        self, call: Call, record: RequestRecord, endpoint: Endpoint | None = None
    ) -> Sent:
        """Send ``call``; return the first successful reply or raise a typed error."""
        endpoint = endpoint or self.default
        started = self.clock()
        deadline, asked = self._deadline(call, started)
        retries = 0
        if call.project is None and call.resources:  # a cache or file binds the call to its owner
            call.project = await self.owners.first(call.resources)
        async with endpoint:
            for _ in range(MAX_HOPS):
                project, key, grant = await self._admit(call, endpoint, deadline)
                record.attempts += 1
                record.project, record.key = project.name, fingerprint(key)
                try:
                    sent = await self._attempt(call, endpoint, project, key, grant, deadline)
                except _Retry as again:
                    if again.spend:
                        retries += 1
                        if retries > self.settings.retry.max_retries:
                            raise self._given_up(again.error, endpoint, retries) from None
                        delay = self.backoff.delay(retries - 1, self.draw)
                        endpoint.backoff = delay
                        await self._wait(delay, (started, deadline), again.error)
                    elif self.clock() >= deadline:
                        raise self._late(started, deadline, again.error) from None
                    continue
                endpoint.backoff = 0.0
                if asked and call.kind == "stream":  # the caller's deadline covers the body too
                    sent.reply.chunks = self._until(sent.reply.chunks, started, deadline)
                return sent
        raise QuotaExhausted(call.model or "-", None, f"gave up after {MAX_HOPS} attempts")

    async def admit(self, model: str, tokens: int = 0) -> tuple[ProjectConfig, str]:
        """A project and key with room for one ``model`` request, waiting for quota if needed.

        For connections the pipeline does not send itself, such as Live sessions.
        """
        call = Call("POST", "", model=model, kind="live", tokens=tokens)
        deadline = self.clock() + self.settings.timeouts.total
        project, key, _ = await self._admit(call, self.default, deadline)
        return project, key

    async def spend(self, project: str, model: str, tokens: int) -> None:
        """Count ``tokens`` used now on a connection :meth:`admit` let in (a Live turn)."""
        if tokens > 0:
            await self.state.spend(project, model, tokens, self.clock())

    async def _attempt(
        self,
        call: Call,
        endpoint: Endpoint,
        project: ProjectConfig,
        key: str,
        grant: Grant | None,
        deadline: float,
    ) -> Sent:
        now = self.clock()
        blocked = endpoint.breaker.blocked_until(now)
        if blocked is not None:  # fail fast: waiting out the breaker would hold the caller
            raise CircuitOpen(
                f"endpoint {endpoint.name} failed {endpoint.breaker.failures} times in a row;"
                f" closed to calls until {_iso(blocked)}",
                retry_after=max(blocked - now, 0.0),
            )
        first_byte, idle = self._timeouts(call.kind)
        left = deadline - now  # no attempt outlives the call's deadline
        if left <= 0:
            raise UpstreamTimeout("the call's deadline passed before it could be sent")
        first_byte = min(first_byte, left)
        idle = idle if call.kind == "stream" else min(idle, left)
        headers = {**call.headers, "x-goog-api-key": key}
        url = call.path if call.path.startswith("http") else self.driver.base_url + call.path
        self.inflight[project.name] = self.inflight.get(project.name, 0) + 1
        self.key_requests[fingerprint(key)] += 1
        waited = time.perf_counter()
        try:
            reply = await self.driver.send(
                call.method, url, headers, call.body, first_byte=first_byte, idle=idle
            )
        except TransportError as exc:
            self.key_errors[fingerprint(key)] += 1
            endpoint.breaker.failure(self.clock())
            raise _Retry(exc, spend=classify_transport().action is Action.RETRY) from exc
        finally:
            self.inflight[project.name] -= 1
            account = UPSTREAM_WAIT.get()
            if account is not None:
                account[0] += time.perf_counter() - waited
        if reply.status < 400:
            endpoint.breaker.success()
            for name in call.resources:
                await self.owners.set(name, project.name, replace=False)
            return Sent(reply, project.name, fingerprint(key), grant)
        self.key_errors[fingerprint(key)] += 1
        try:
            body = await reply.read()
        finally:
            await reply.aclose()  # a read cut short must not keep the connection
        raise await self._react(call, endpoint, project, key, reply.status, body)

    async def _react(
        self,
        call: Call,
        endpoint: Endpoint,
        project: ProjectConfig,
        key: str,
        status: int,
        body: bytes,
    ) -> Exception:
        """The exception that ends this attempt: a retry (spent or not) or the error."""
        now = self.clock()
        error = parse_error(body, status_code=status)
        scoped = call.project is not None or bool(call.resources)
        unknown = call.project is None and bool(call.resources)
        verdict = classify_status(status, error, now, scoped_resource=scoped, owner_unknown=unknown)
        typed = status_error(
            status,
            error.status,
            error.message,
            details=error.details,
            retry_after=error.retry_delay,
            key_fingerprint=fingerprint(key),
        )
        if verdict.action in (Action.COOL, Action.PARK) and verdict.until is not None:
            reason = "per-day quota" if verdict.action is Action.PARK else "per-minute quota"
            await self.state.cool(project.name, call.model or "*", verdict.until, reason)
            return _Retry(typed, spend=False)
        if verdict.action is Action.DISABLE_KEY:
            await self.state.disable_key(fingerprint(key), f"{status} {error.status}")
            return _Retry(typed, spend=False)
        if verdict.action is Action.OTHER_PROJECT:
            call.excluded.add(project.name)
            call.last_error = typed
            return _Retry(typed, spend=False)
        if verdict.action is Action.RETRY:
            if status >= 500:
                endpoint.breaker.failure(now)
            return _Retry(typed, spend=True)
        return typed

    async def _admit(
        self, call: Call, endpoint: Endpoint, deadline: float
    ) -> tuple[ProjectConfig, str, Grant | None]:
        model = call.model or "*"
        while True:
            disabled = await self.state.disabled_keys()
            projects = self._usable(endpoint, call, disabled)
            if not projects and call.last_error is not None:
                raise call.last_error
            if not projects:
                raise QuotaExhausted(model, None, "no usable key: every key is disabled")
            ordered = order(
                projects,
                self.settings.strategy,
                self.rotation.next(f"{endpoint.id}/{model}"),
                load=lambda p: self.inflight.get(p.name, 0),
                weight=lambda p: p.weight,
            )
            now = self.clock()
            candidates = [
                Candidate(p.name, p.limits_for(model) if call.model else None) for p in ordered
            ]
            result = await self.state.acquire(model, candidates, call.tokens, now)
            if isinstance(result, Grant):
                project = next(p for p in ordered if p.name == result.project)
                keys = [k for k in project.keys if fingerprint(k) not in disabled]
                key = keys[self.rotation.next(f"keys/{project.name}") % len(keys)]
                return project, key, result if call.model else None
            reasons = "; ".join(f"{name}: {why}" for name, why in sorted(result.reasons.items()))
            if result.retry_at is None or result.retry_at > deadline:
                until = f" until {_iso(result.retry_at)}" if result.retry_at else ""
                raise QuotaExhausted(
                    model, result.retry_at, f"every project is busy{until} ({reasons})"
                )
            endpoint.backoff = result.retry_at - now
            await self.sleep(max(result.retry_at - now, 0.0))

    def _usable(
        self, endpoint: Endpoint, call: Call, disabled: frozenset[str]
    ) -> list[ProjectConfig]:
        """Projects that may serve ``call``: owner, not excluded, with an enabled key."""
        if call.project is None and not call.excluded:
            key = (endpoint.id, disabled)
            cached = self._usable_cache.get(key)
            if cached is None:
                cached = [
                    p
                    for p in endpoint.projects
                    if any(fingerprint(k) not in disabled for k in p.keys)
                ]
                self._usable_cache[key] = cached  # a few entries: disabled sets rarely change
            return cached
        return [
            p
            for p in endpoint.projects
            if (call.project is None or p.name == call.project)
            and p.name not in call.excluded
            and any(fingerprint(k) not in disabled for k in p.keys)
        ]

    def _deadline(self, call: Call, started: float) -> tuple[float, bool]:
        """The settings' total, or sooner: the context's deadline, the call's header.

        The flag says whether the caller asked for a deadline (context or header): only
        then does it also bound a stream's body, which the total leaves to ``stream_idle``.
        """
        deadline = started + self.settings.timeouts.total
        context = DEADLINE.get()
        header = next((v for k, v in call.headers.items() if k.lower() == SERVER_TIMEOUT), None)
        seconds = timeout_of(header)
        header_deadline = None if seconds is None else started + seconds
        asked = [d for d in (context, header_deadline) if d is not None]
        return min([deadline, *asked]), bool(asked)

    async def _until(
        self, chunks: AsyncIterator[bytes], started: float, deadline: float
    ) -> AsyncIterator[bytes]:
        """A stream's chunks until ``deadline``; past it, an `UpstreamTimeout`."""
        while True:
            left = deadline - self.clock()
            try:
                if left <= 0:
                    raise TimeoutError
                # wait_for runs the read as its own task: a timeout cancels only that read
                chunk = await asyncio.wait_for(anext(chunks), left)
            except StopAsyncIteration:
                return
            except TimeoutError:
                spent = self.clock() - started
                raise UpstreamTimeout(
                    f"deadline reached after {spent:.2f} s, in the middle of the stream"
                ) from None
            yield chunk

    def _given_up(self, error: Exception, endpoint: Endpoint, retries: int) -> Exception:
        """The error that ends a call out of retries; an unreachable upstream says when to retry.

        That is when the endpoint's breaker lets a probe through if the failures opened it,
        else the longest wait the last backoff could have chosen.
        """
        if isinstance(error, ConnectError) and error.retry_after is None:
            wait = endpoint.breaker.reopens_in(self.clock())
            longest = self.backoff.delay(retries - 1, lambda: 1.0)
            error.retry_after = longest if wait is None else wait
        return error

    def _late(self, started: float, deadline: float, error: Exception) -> UpstreamTimeout:
        """The deadline passed (or the next wait would pass it): a timeout saying so."""
        spent = self.clock() - started
        return UpstreamTimeout(f"deadline reached after {spent:.2f} s (last error: {error})")

    async def _wait(self, delay: float, span: tuple[float, float], error: Exception) -> None:
        """Sleep ``delay`` before the next attempt, unless that passes the deadline.

        Past it, an upstream error status is raised as it is; a transport failure
        becomes a timeout that says how long the call took.
        """
        started, deadline = span
        if self.clock() + delay > deadline:
            if isinstance(error, TransportError):
                raise self._late(started, deadline, error)
            raise error
        await self.sleep(max(delay, 0.0))


class _Retry(Exception):
    """Internal: this attempt failed; try again (spending a retry or not)."""

    def __init__(self, error: TransportError | APIStatusError, *, spend: bool) -> None:
        super().__init__(str(error))
        self.error = error
        self.spend = spend
