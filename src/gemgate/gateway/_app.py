"""The gateway's ASGI application: the per-request envelope around the route table.

Every response carries ``x-request-id`` and ``x-gemgate-overhead-ms`` (time spent in the
gateway, upstream waits excluded). Routes come from `gemgate.gateway._table`; a failure,
wherever it is raised, is answered here by the face of the path
(`gemgate.gateway._faces`); unexpected ones become a 500 and are logged without request
bodies or keys.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from starlette.types import Message, Receive, Scope, Send

from gemgate._heap import Trimmer, start_trimming
from gemgate.client._async_client import AsyncGemini
from gemgate.config import Settings
from gemgate.errors import GemgateError
from gemgate.gateway._asgi import BodyTooLarge, header, send_bytes, send_json
from gemgate.gateway._backends import Registry
from gemgate.gateway._backends_api import BackendsRoute
from gemgate.gateway._batches import Batches
from gemgate.gateway._batches_api import BatchesRoute, batch_entry
from gemgate.gateway._budgets import Budgets
from gemgate.gateway._faces import GOOGLE, Answer, Face, Problem, expected, face_of
from gemgate.gateway._files import Files
from gemgate.gateway._files_api import FilesRoute
from gemgate.gateway._keys import GatewayKey, KeyCheck, Keyring
from gemgate.gateway._live_api import LiveRoute, Logins
from gemgate.gateway._media_api import MediaRoute
from gemgate.gateway._messages_api import MessagesRoute
from gemgate.gateway._metrics import CONTENT_TYPE as METRICS_TYPE
from gemgate.gateway._metrics import Metrics
from gemgate.gateway._native import PREFIX, NativeRoute
from gemgate.gateway._native_owners import NativeOwners
from gemgate.gateway._openai_api import OpenAIRoute
from gemgate.gateway._openapi import spec
from gemgate.gateway._responses import StoredResponses
from gemgate.gateway._responses_api import ResponsesRoute
from gemgate.gateway._routing import Router
from gemgate.gateway._sessions_api import SessionsRoute
from gemgate.gateway._sockets import refuse
from gemgate.gateway._stores_api import StoresRoute
from gemgate.gateway._table import routes
from gemgate.gateway._usage_api import UsageRoute
from gemgate.gateway._vector_stores_api import VectorStoresRoute
from gemgate.gateway._ws_chat import ChatSocket
from gemgate.gateway._ws_live import Charge, LiveSocket
from gemgate.rag import stores_url_of
from gemgate.serving import settle_gc
from gemgate.upstream._calls import model_method
from gemgate.upstream._pipeline import DEADLINE, UPSTREAM_WAIT, timeout_of
from gemgate.upstream._tracking import CALLER
from gemgate.usage import PriceTable, UsageEntry, entry_of

__all__ = ["Gateway", "create_app"]

logger = logging.getLogger("gemgate.gateway")
access = logging.getLogger("gemgate.access")
"""One ``key=value`` line per response; paths only (a ``?key=`` query is never logged)."""
_PAGE = Path(__file__).parent / "static" / "index.html"


@functools.cache
def _page() -> bytes:
    """The web chat page (read once)."""
    return _PAGE.read_bytes()


class Gateway:
    """``gemgate serve``'s app: ``/gemini`` (native), ``/v1`` (OpenAI, Anthropic), ``/healthz``.

    Example::

        app = create_app()                      # no key: the built-in emulator upstream
        uvicorn.run(app, host="127.0.0.1", port=8080)
    """

    def __init__(
        self, client: AsyncGemini, *, max_body: int | None = None, own_process: bool = False
    ) -> None:
        max_body = max_body or client.settings.max_body_bytes
        self.max_body = max_body
        """The cap on request bodies; a larger ``Content-Length`` is refused unread."""
        self.own_process = own_process
        """The process serves only this app (``gemgate serve``): it may tune the GC and trim
        its heap (`gemgate._heap`)."""
        self._trimmer: Trimmer | None = None
        self.client = client
        self.backends = Registry(client)
        self.backends_api = BackendsRoute(self.backends)
        owners = NativeOwners(_files_url(client.settings)) if client.settings.gateway_keys else None
        self.native = NativeRoute(client.engine, max_body, owners, self._charge_native_batch)
        self.openai = OpenAIRoute(client, max_body, self.backends)
        self.messages = MessagesRoute(client, max_body, self.backends)
        self.media = MediaRoute(client, max_body, self.backends)
        self.sessions = SessionsRoute(client, client.settings.sessions_url, max_body)
        self.stores = StoresRoute(client, max_body)
        files = Files(_files_url(client.settings))
        batches = Batches(_files_url(client.settings))
        self.files = FilesRoute(files, max_body, reader=batches.reading)  # not a batch's input
        self.vector_stores = VectorStoresRoute(client, files)
        stored = StoredResponses(_files_url(client.settings))
        self.responses = ResponsesRoute(client, max_body, self.backends, stored)
        self.keyring = Keyring(
            client.settings.gateway_keys, client.engine.state, client.engine.clock
        )
        self.metrics = Metrics(client)
        self.chat_socket = ChatSocket(client, self.sessions.manager)
        self.live_socket = LiveSocket(client, self.sessions.manager)
        secret = client.settings.login_secret
        self.logins = Logins(
            client.engine.clock, secret=secret.get_secret_value().encode() if secret else None
        )
        self.live = LiveRoute(client)
        self.usage = UsageRoute(client.settings)
        self.budgets = Budgets(client.settings.gateway_keys, client.engine.shared.spend)
        prices = PriceTable.from_settings(client.settings)
        self.batches = BatchesRoute(
            client.batches,
            files,
            batches,
            prices,
            self._account,
            max_body,
        )
        if self.usage.log is not None or self.budgets.active:  # one priced entry per call
            client.engine.tracker.listeners.append(
                lambda record: self._account(entry_of(record, prices))
            )
        self.router = Router(routes(self))
        """Every HTTP route; ``/openapi.json`` is made from it."""
        self._spec: bytes | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one ASGI connection."""
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] == "websocket":
            await self._socket(scope, receive, send)
            return
        if scope["type"] != "http":
            return
        request_id = _incoming_id(scope) or os.urandom(16).hex()
        path: str = scope["path"]
        started = time.perf_counter()
        waited = [0.0]
        UPSTREAM_WAIT.set(waited)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                elapsed = time.perf_counter() - started
                overhead = (elapsed - waited[0]) * 1000
                self._record(scope, int(message["status"]), elapsed, overhead, request_id)
                extra = [
                    (b"x-request-id", request_id.encode()),
                    (b"x-gemgate-overhead-ms", f"{max(overhead, 0):.3f}".encode()),
                ]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        face = face_of(path)
        try:
            match = self.router.match(scope["method"], path)
            DEADLINE.set(self._deadline(scope))
            if not match.public:
                await self._authorize(scope, face)
            if match.handler is None:
                raise _no_route(scope, match.allowed)
            if int(header(scope, b"content-length") or 0) > self.max_body:
                raise BodyTooLarge(f"request body exceeds {self.max_body} bytes")
            scope["path_params"] = match.params
            await match.handler(scope, receive, send_with_headers)
        except ConnectionResetError:
            return
        except Exception as exc:
            if not expected(exc):
                logger.exception(
                    "gateway error on %s %s (request %s)", scope["method"], path, request_id
                )
            await _fail(send_with_headers, face.answer(exc, self.client.engine.clock()))

    def _deadline(self, scope: Scope) -> float | None:
        """When the request's upstream calls must end, from ``x-gemgate-timeout`` (seconds)."""
        raw = header(scope, TIMEOUT_HEADER)
        if raw is None:
            return None
        seconds = timeout_of(raw)
        if seconds is None:
            raise Problem(
                400, f"{TIMEOUT_HEADER.decode()} must be a positive number of seconds, not {raw!r}"
            )
        return self.client.engine.clock() + seconds

    async def page(self, scope: Scope, receive: Receive, send: Send) -> None:
        """``GET /``: the web chat page."""
        await send_bytes(send, 200, _page(), [("content-type", "text/html; charset=utf-8")])

    async def health(self, scope: Scope, receive: Receive, send: Send) -> None:
        """``GET /healthz``: the process answers."""
        await send_json(send, 200, {"status": "ok"})

    async def _charge_native_batch(self, owner: str, batch: str) -> None:
        """A batch made through ``/gemini`` succeeded: its results, at batch prices, to ``owner``.

        Called once per batch (the first read that sees it done). A failure to read the
        results is logged, not passed on: the caller's read of its batch still succeeds,
        nothing is charged, and the next read that sees the batch done tries again.
        """
        prices = PriceTable.from_settings(self.client.settings)
        now = self.client.engine.clock()
        entries = []
        try:
            job = await self.client.batches.get(batch)
            model = job.model.removeprefix("models/")
            async for key, result in self.client.batches.iter_results(batch):
                usage = result.get("usageMetadata") if isinstance(result, dict) else None
                entries.append(
                    batch_entry(
                        prices,
                        model,
                        usage if isinstance(usage, dict) else {},
                        at=now,
                        request_id=f"{batch}#{key}",
                        caller=owner,
                        project=None,
                        ok=isinstance(result, dict),
                    )
                )
        except GemgateError:
            logger.exception("could not charge the results of %s to %s", batch, owner)
            if self.native.owners is not None:
                await self.native.owners.release_charge(batch)
            return
        for entry in entries:  # all of them or, above, none
            self._account(entry)

    def _account(self, entry: UsageEntry) -> None:
        """A finished upstream call: into the request log, and onto its key's budget."""
        self.usage.record(entry)
        self.budgets.charge(entry)

    async def ready(self, scope: Scope, receive: Receive, send: Send) -> None:
        """``GET /readyz``: 200 when the upstream and the session store work, else 503."""
        checks = await self._readiness()
        ready = all(v == "ok" or v.startswith("degraded") for v in checks.values())
        await send_json(send, 200 if ready else 503, {"ready": ready, "checks": checks})

    async def describe(self, scope: Scope, receive: Receive, send: Send) -> None:
        """``GET /openapi.json``: the route table as an OpenAPI document (built once)."""
        if self._spec is None:
            document = spec(self.router.routes)
            self._spec = json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()
        await send_bytes(send, 200, self._spec, [("content-type", "application/json")])

    async def export_metrics(self, scope: Scope, receive: Receive, send: Send) -> None:
        """``GET /metrics``: the Prometheus exposition."""
        await send_bytes(send, 200, self.metrics.render(), [("content-type", METRICS_TYPE)])

    async def _readiness(self) -> dict[str, str]:
        checks: dict[str, str] = {}
        try:
            await self.client.count_tokens("ready?")
            checks["upstream"] = "ok"
        except Exception as exc:  # any failure means not ready
            checks["upstream"] = f"failed: {type(exc).__name__}"
        try:
            probe = await self.sessions.manager.create_chat(title="readyz probe")
            await self.sessions.manager.delete_chat(probe.id)
            checks["store"] = "ok"
        except Exception as exc:  # any failure means not ready
            checks["store"] = f"failed: {type(exc).__name__}"
        checks["state"] = await self.client.engine.state.health()
        return checks

    def _record(
        self, scope: Scope, status: int, elapsed: float, overhead: float, request_id: str
    ) -> None:
        """Metrics and the access log line for one response."""
        self.metrics.observe(scope["path"], status, elapsed)
        if access.isEnabledFor(logging.INFO):
            access.info(
                "method=%s path=%s status=%s ms=%.2f overhead_ms=%.3f request_id=%s",
                scope["method"],
                scope["path"],
                status,
                elapsed * 1000,
                overhead,
                request_id,
            )

    async def _socket(self, scope: Scope, receive: Receive, send: Send) -> None:
        connect = await receive()
        if connect["type"] != "websocket.connect":
            return
        opener = {"/ws/chat": self._chat_socket, "/ws/live": self._live_socket}.get(scope["path"])
        if opener is None:
            await refuse(send, "no such endpoint")
            return
        user = await self._socket_user(scope)
        if isinstance(user, KeyCheck):
            await refuse(send, user.message)
            return
        refusal = self._foreign_origin(scope)
        if refusal:
            await refuse(send, refusal)
            return
        key = self.keyring.named(user) if self.keyring.enabled else None
        if key is not None:
            try:
                await self.budgets.check(key)
            except Problem as over:
                await refuse(send, over.message)
                return
            CALLER.set(key.name)  # the request log names the key of this socket's calls
        await opener(scope, receive, send, user)

    async def _chat_socket(self, scope: Scope, receive: Receive, send: Send, user: str) -> None:
        """``/ws/chat``: a chat session over a WebSocket."""
        owner = user if self.keyring.enabled else None
        await self.chat_socket(scope, receive, send, user, owner)

    async def _live_socket(self, scope: Scope, receive: Receive, send: Send, user: str) -> None:
        """``/ws/live``: a Live conversation, if the user's key may use the Live model."""
        key = self.keyring.named(user)
        model = self.client.settings.live_model
        if key is not None and not key.allows(model):
            await refuse(send, f"this gateway key may not use {model}")
            return
        owner = user if self.keyring.enabled else None
        await self.live_socket(scope, receive, send, user, owner, self._biller(key))

    def _biller(self, key: GatewayKey | None) -> Charge | None:
        """Charges Live turns to ``key``'s budget (none without a key or budget)."""
        if key is None or not (key.rpm or key.tpm):
            return None
        return functools.partial(self.keyring.charge, key)

    def _foreign_origin(self, scope: Scope) -> str:
        """Why a browser page from another origin may not open this socket ('' if it may).

        Without this, any web page the user visits could drive the gateway on the user's
        behalf. Clients that are not browsers send no ``Origin``.
        """
        origin = header(scope, b"origin")
        if origin is None or origin in self.client.settings.allowed_origins:
            return ""
        if urlsplit(origin).netloc == (header(scope, b"host") or ""):
            return ""
        return "this origin may not open the gateway's sockets"

    async def _socket_user(self, scope: Scope) -> str | KeyCheck:
        """Who opens this WebSocket: a gateway key (header, ``?key=``) or login cookie.

        Without gateway keys the gateway is open (loopback only) and ``?user=`` names
        the user. A refusal comes back as the failed :class:`KeyCheck`.
        """
        if not self.keyring.enabled:
            query = scope.get("query_string", b"").decode("latin-1")
            named = [p[5:] for p in query.split("&") if p.startswith("user=")]
            return named[0][:64] if named and named[0] else "local"
        check = await self._check(scope, 0)
        if check.status == 200 and check.key is not None:
            return check.key.name
        return check

    async def _check(self, scope: Scope, tokens: int) -> KeyCheck:
        """The request's key (a secret it sends, else its login cookie), charged."""
        secret = _secret(scope)
        logged_in = self.logins.user(scope) if secret is None else None
        key = self.keyring.named(logged_in) if logged_in is not None else None
        if key is not None:
            return await self.keyring.charge(key, tokens)
        return await self.keyring.check(secret, tokens)

    async def _authorize(self, scope: Scope, face: Face) -> None:
        """Check the gateway key (when keys are configured); raise 401/403/429 if refused."""
        if not self.keyring.enabled or await self._resumed_upload(scope, face):
            return
        size = int(header(scope, b"content-length") or 0)
        check = await self._check(scope, size // 4)
        if check.status != 200:
            code = "rate_limit_exceeded" if check.status == 429 else None
            raise Problem(check.status, check.message, code=code, retry_after=check.retry_after)
        if face is GOOGLE:
            model, _ = model_method(scope["path"][len(PREFIX) :])
            if check.key is not None and not check.key.allows(model):
                raise Problem(403, f"this gateway key may not use {model}")
        scope["gemgate.key"] = check.key
        if check.key is not None:
            await self.budgets.check(check.key)
            CALLER.set(check.key.name)  # the request log names the key of this request's calls

    async def _resumed_upload(self, scope: Scope, face: Face) -> bool:
        """Whether this continues an upload the gateway started for a caller with a key.

        As with Google, a resumable upload's URL is its credential: the official SDK sends
        no key with the chunks, only the ``upload_id`` the gateway handed out (which the
        engine remembers, in Redis too, so any process takes the next chunk).
        """
        if face is not GOOGLE or not scope["path"].startswith(PREFIX + "/upload/"):
            return False
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        upload_id = query.get("upload_id", [""])[0]
        return bool(upload_id) and await self.client.engine.owners.get(upload_id) is not None

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await self.backends.startup()
                await self.client.engine.shared.start()
                if self.own_process:
                    settle_gc()
                    self._trimmer = start_trimming()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def aclose(self) -> None:
        """Close the backends, the stores and the client (the ASGI lifespan's shutdown).

        An application run without a lifespan (``httpx.ASGITransport``, tests) calls it.
        """
        await self.backends.aclose()
        await self.sessions.manager.close()
        await self.usage.aclose()
        await self.files.files.aclose()
        await self.batches.batches.aclose()
        await self.responses.stored.aclose()
        if self.native.owners is not None:
            await self.native.owners.aclose()
        await self.client.aclose()
        if self._trimmer is not None:
            self._trimmer.stop()


async def _fail(send: Send, answer: Answer) -> None:
    with contextlib.suppress(RuntimeError):  # the response had already started
        await send_bytes(send, answer.status, answer.body, answer.headers)


def _no_route(scope: Scope, allowed: tuple[str, ...]) -> Problem:
    """404 for a path not in the table; 405 (with ``Allow``) for a method not in it."""
    method, path = scope["method"], scope["path"]
    if allowed:
        methods = ", ".join(allowed)
        return Problem(
            405, f"{method} is not allowed on {path} (use {methods})", headers=[("allow", methods)]
        )
    return Problem(404, f"Invalid URL ({method} {path})")


def _files_url(settings: Settings) -> str:
    """Where ``/v1/files`` keeps files: the sessions database if SQL, else the stores'."""
    if settings.sessions_url.startswith(("sqlite", "postgres")):
        return settings.sessions_url
    return stores_url_of(settings.stores_url, settings.sessions_url)


def _secret(scope: Scope) -> str | None:
    bearer = header(scope, b"authorization")
    if bearer and bearer.lower().startswith("bearer "):
        return bearer[7:].strip()
    key = header(scope, b"x-goog-api-key") or header(scope, b"x-api-key")  # Google's, Anthropic's
    if key:
        return key
    query: bytes = scope.get("query_string", b"")
    for pair in query.decode("latin-1").split("&"):
        if pair.startswith("key="):
            return pair[4:]
    return None


TIMEOUT_HEADER = b"x-gemgate-timeout"
"""A request's deadline in seconds: upstream calls and their retries stop there (504)."""


def _incoming_id(scope: Scope) -> str | None:
    return (header(scope, b"x-request-id") or "")[:128] or None


def create_app(
    client: AsyncGemini | None = None,
    *,
    config: str | None = None,
    max_body: int | None = None,
    own_process: bool = False,
) -> Gateway:
    """The gateway app over ``client`` (default: one built from the environment/config).

    ``max_body`` caps request bodies (default: the ``max_body_bytes`` setting).
    ``own_process`` says the process serves only this app, as under ``gemgate serve``.
    With no key configured and no ``upstream_url``, the built-in emulator answers (``gemgate
    serve`` says so loudly when it starts).
    """
    return Gateway(client or _default_client(config), max_body=max_body, own_process=own_process)


def _default_client(config: str | None) -> AsyncGemini:
    """The client from the environment/config; with no key and no upstream, the emulator."""
    settings = Settings.load(config=config)
    if not settings.projects and settings.upstream_url is None:
        settings = settings.model_copy(update={"upstream": "emulator"})
    return AsyncGemini(settings=settings)


def serve_app() -> Gateway:
    """The app ``gemgate serve`` runs (one per worker process)."""
    return create_app(own_process=True)
