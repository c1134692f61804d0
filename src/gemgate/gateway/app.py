"""The gateway's ASGI application: routing and the per-request envelope.

Every response carries ``x-request-id`` and ``x-gemgate-overhead-ms`` (time spent in the
gateway, upstream waits excluded); unexpected failures become a 500 in the route's shape
and are logged without request bodies or keys.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import time
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from starlette.types import Message, Receive, Scope, Send

from gemgate.client.async_client import AsyncGemini
from gemgate.config import Settings
from gemgate.errors import GemgateError, QuotaExhausted, UpstreamTimeout
from gemgate.gateway.asgi import BodyTooLarge, header, read_json, send_bytes, send_json
from gemgate.gateway.backends import BackendError, Registry
from gemgate.gateway.keys import GatewayKey, KeyCheck, Keyring
from gemgate.gateway.live_api import COOKIE, LiveRoute, Logins
from gemgate.gateway.metrics import CONTENT_TYPE as METRICS_TYPE
from gemgate.gateway.metrics import Metrics
from gemgate.gateway.native import PREFIX, NativeRoute
from gemgate.gateway.openai_api import OpenAIRoute, openai_error
from gemgate.gateway.openapi import spec
from gemgate.gateway.sessions_api import PREFIX as SESSIONS
from gemgate.gateway.sessions_api import SessionsRoute
from gemgate.gateway.sockets import refuse
from gemgate.gateway.ws_chat import ChatSocket
from gemgate.gateway.ws_live import Charge, LiveSocket
from gemgate.serving import settle_gc
from gemgate.upstream.calls import model_method
from gemgate.upstream.pipeline import UPSTREAM_WAIT
from gemgate.wire.errors import error_body

__all__ = ["Gateway", "create_app"]

logger = logging.getLogger("gemgate.gateway")
access = logging.getLogger("gemgate.access")
"""One ``key=value`` line per response; paths only (a ``?key=`` query is never logged)."""
_PAGE = Path(__file__).parent / "static" / "index.html"


@functools.cache
def _page() -> bytes:
    """The web chat page (read once)."""
    return _PAGE.read_bytes()


@functools.cache
def _spec() -> bytes:
    """``/openapi.json``'s body (built once)."""
    return json.dumps(spec(), separators=(",", ":"), ensure_ascii=False).encode()


class Gateway:
    """``gemgate serve``'s app: ``/gemini`` (native), ``/v1`` (OpenAI), ``/healthz``.

    Example::

        app = create_app()                      # no key: the built-in emulator upstream
        uvicorn.run(app, host="127.0.0.1", port=8080)
    """

    def __init__(
        self, client: AsyncGemini, *, max_body: int | None = None, own_process: bool = False
    ) -> None:
        max_body = max_body or client.settings.max_body_bytes
        self.own_process = own_process
        """The process serves only this app (``gemgate serve``): it may tune the GC."""
        self.client = client
        self.backends = Registry(client)
        self._native = NativeRoute(client.engine, max_body)
        self._openai = OpenAIRoute(client, max_body, self.backends)
        self.sessions = SessionsRoute(client, client.settings.sessions_url)
        self.keyring = Keyring(client.settings.gateway_keys, client.engine.clock)
        self.metrics = Metrics(client)
        self.chat_socket = ChatSocket(client, self.sessions.manager)
        self.live_socket = LiveSocket(client, self.sessions.manager)
        self.logins = Logins(client.engine.clock)
        self._live = LiveRoute(client)

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

        shape = _shape(path)
        try:
            if path not in _OPEN and not await self._authorize(scope, shape, send_with_headers):
                return
            await self._route(path, scope, receive, send_with_headers)
        except BodyTooLarge as exc:
            await self._fail(send_with_headers, shape, 413, str(exc))
        except ConnectionResetError:
            return
        except QuotaExhausted as exc:
            await self._fail(send_with_headers, shape, 429, str(exc))
        except GemgateError as exc:  # the upstream failed after retries: not our 500
            status = 504 if isinstance(exc, UpstreamTimeout) else 502
            await self._fail(send_with_headers, shape, status, f"upstream failure: {exc}")
        except Exception:
            logger.exception(
                "gateway error on %s %s (request %s)", scope["method"], path, request_id
            )
            await self._fail(send_with_headers, shape, 500, "internal gateway error")

    async def _route(self, path: str, scope: Scope, receive: Receive, send: Send) -> None:
        if path.startswith(PREFIX + "/"):
            await self._native(scope, receive, send)
        elif path.startswith("/v1/"):
            await self._openai(scope, receive, send)
        elif path == SESSIONS or path.startswith(SESSIONS + "/"):
            await self.sessions(scope, receive, send)
        elif path.startswith("/api/v1/models/"):
            await self._models_api(path, scope, receive, send)
        elif path == "/api/v1/live/tokens" and scope["method"] == "POST":
            await self._live.tokens(receive, send, scope.get("gemgate.key"))
        elif path == "/api/v1/login" and scope["method"] == "POST":
            await self._login(scope, send)
        elif path == "/" and scope["method"] == "GET":
            await send_bytes(send, 200, _page(), [("content-type", "text/html; charset=utf-8")])
        elif path == "/healthz":
            await send_json(send, 200, {"status": "ok"})
        elif path == "/readyz":
            checks = await self._readiness()
            ready = all(v == "ok" for v in checks.values())
            await send_json(send, 200 if ready else 503, {"ready": ready, "checks": checks})
        elif path == "/openapi.json":
            await send_bytes(send, 200, _spec(), [("content-type", "application/json")])
        elif path == "/metrics":
            await send_bytes(send, 200, self.metrics.render(), [("content-type", METRICS_TYPE)])
        else:
            await send_json(send, 404, {"error": {"message": f"no route for {path}", "code": 404}})

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
        path = scope["path"]
        user: str | KeyCheck = "-"
        key: GatewayKey | None = None
        if path not in ("/ws/chat", "/ws/live"):
            refusal = "no such endpoint"
        else:
            user = self._socket_user(scope)
            refusal = user.message if isinstance(user, KeyCheck) else self._foreign_origin(scope)
            key = self.keyring.named(user) if isinstance(user, str) else None
            model = self.client.settings.live_model
            if path == "/ws/live" and key is not None and not key.allows(model):
                refusal = f"this gateway key may not use {model}"
        if refusal or isinstance(user, KeyCheck):
            await refuse(send, refusal)
            return
        owner = user if self.keyring.enabled else None
        if path == "/ws/chat":
            await self.chat_socket(scope, receive, send, user, owner)
        else:
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

    def _socket_user(self, scope: Scope) -> str | KeyCheck:
        """Who opens this WebSocket: a gateway key (header, ``?key=``) or login cookie.

        Without gateway keys the gateway is open (loopback only) and ``?user=`` names
        the user. A refusal comes back as the failed :class:`KeyCheck`.
        """
        if not self.keyring.enabled:
            query = scope.get("query_string", b"").decode("latin-1")
            named = [p[5:] for p in query.split("&") if p.startswith("user=")]
            return named[0][:64] if named and named[0] else "local"
        check = self._check(scope, 0)
        if check.status == 200 and check.key is not None:
            return check.key.name
        return check

    def _check(self, scope: Scope, tokens: int) -> KeyCheck:
        """The request's key (a secret it sends, else its login cookie), charged."""
        secret = _secret(scope)
        logged_in = self.logins.user(scope) if secret is None else None
        key = self.keyring.named(logged_in) if logged_in is not None else None
        if key is not None:
            return self.keyring.charge(key, tokens)
        return self.keyring.check(secret, tokens)

    async def _login(self, scope: Scope, send: Send) -> None:
        """Trade a gateway key for an HttpOnly session cookie (for the web page)."""
        key = scope.get("gemgate.key")
        if key is None:
            await send_json(send, 400, {"detail": "no gateway keys are configured"})
            return
        token = self.logins.start(key.name)
        cookie = f"{COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/"
        if scope.get("scheme") == "https":
            cookie += "; Secure"
        await send_json(send, 200, {"user": key.name}, [("set-cookie", cookie)])

    async def _authorize(self, scope: Scope, shape: _Shape, send: Send) -> bool:
        """Check the gateway key (when keys are configured); answer 401/403/429 if refused."""
        if not self.keyring.enabled:
            return True
        size = int(header(scope, b"content-length") or 0)
        check = self._check(scope, size // 4)
        if check.status == 200 and shape == "google":
            model, _ = model_method(scope["path"][len(PREFIX) :])
            if check.key is not None and not check.key.allows(model):
                check = KeyCheck(status=403, message=f"this gateway key may not use {model}")
        if check.status == 200:
            scope["gemgate.key"] = check.key
            return True
        await self._fail(send, shape, check.status, check.message)
        return False

    async def _models_api(self, path: str, scope: Scope, receive: Receive, send: Send) -> None:
        """The seed's ``/api/v1/models/status`` and ``/api/v1/models/load``."""
        if path == "/api/v1/models/status" and scope["method"] == "GET":
            await send_json(send, 200, self.backends.status())
            return
        if path != "/api/v1/models/load" or scope["method"] != "POST":
            await send_json(send, 404, {"detail": f"no route for {scope['method']} {path}"})
            return
        try:
            body = await read_json(receive, 65536)
            kind = body["backend_type"]
            model = body.get("model_name_or_path")
            options: dict[str, Any] = {k: body[k] for k in ("base_url", "api_key") if k in body}
        except (ValueError, KeyError, TypeError):
            await send_json(
                send, 400, {"detail": 'expected {"backend_type": ..., "model_name_or_path": ...}'}
            )
            return
        try:
            await send_json(send, 200, await self.backends.load(str(kind), model, options))
        except BackendError as exc:
            await send_json(
                send, exc.status, {"detail": exc.reason, "status": self.backends.status()}
            )

    @staticmethod
    async def _fail(send: Send, shape: _Shape, status: int, message: str) -> None:
        body: dict[str, Any]
        if shape == "google":
            body = error_body(status, message, status=_GATEWAY_STATUS.get(status))
        elif shape == "openai":
            body = openai_error(status, message)
        else:
            body = {"detail": message}
        with contextlib.suppress(RuntimeError):  # the response had already started
            await send_json(send, status, body)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await self.backends.startup()
                if self.own_process:
                    settle_gc()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.backends.aclose()
                await self.sessions.manager.close()
                await self.client.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return


_GATEWAY_STATUS = {502: "UNAVAILABLE"}

_Shape = Literal["google", "openai", "detail"]


def _shape(path: str) -> _Shape:
    """The error shape of the route ``path`` belongs to: Google's, OpenAI's or ``detail``."""
    if path.startswith(PREFIX + "/"):
        return "google"
    if path.startswith("/v1/"):
        return "openai"
    return "detail"  # /api/v1/... and the rest: the seed's FastAPI-style {"detail": ...}


"""google.rpc statuses for HTTP codes only a gateway answers with."""
_OPEN = frozenset({"/", "/healthz", "/readyz", "/metrics", "/openapi.json"})


def _secret(scope: Scope) -> str | None:
    bearer = header(scope, b"authorization")
    if bearer and bearer.lower().startswith("bearer "):
        return bearer[7:].strip()
    key = header(scope, b"x-goog-api-key")
    if key:
        return key
    query: bytes = scope.get("query_string", b"")
    for pair in query.decode("latin-1").split("&"):
        if pair.startswith("key="):
            return pair[4:]
    return None


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
