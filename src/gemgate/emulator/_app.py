"""The emulator's ASGI application."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from functools import partial

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket

from gemgate.emulator import _batches_api as batches
from gemgate.emulator import _control as control_api
from gemgate.emulator import _file_search_api as file_search
from gemgate.emulator import _generation as generation
from gemgate.emulator import _resources as resources
from gemgate.emulator._config import EmulatorConfig
from gemgate.emulator._errors import ApiError, not_found
from gemgate.emulator._http import TRANSPORT_KEY, error_response
from gemgate.emulator._state import VERSIONS, EmulatorState
from gemgate.emulator.live._endpoint import live_endpoint
from gemgate.emulator.live._tokens_api import create_auth_token

__all__ = ["Emulator", "create_app"]

logger = logging.getLogger("gemgate.emulator")
ModelAction = Callable[[EmulatorState, Request, str, str], Awaitable[Response]]
_ACTIONS: dict[str, ModelAction] = {
    "generateContent": partial(generation.generate, stream=False),
    "streamGenerateContent": partial(generation.generate, stream=True),
    "countTokens": generation.count_tokens,
    "embedContent": partial(generation.embed, batch=False),
    "batchEmbedContents": partial(generation.embed, batch=True),
    "batchGenerateContent": batches.create_generate_batch,
    "asyncBatchEmbedContent": batches.create_embed_batch,
}


def _version(request: Request) -> str:
    version: str = request.path_params["version"]
    if version not in VERSIONS:
        raise not_found(f"API version {version} is not supported.")
    return version


class Emulator:
    """A local Gemini API: an ASGI app over one :class:`EmulatorState`.

    Example::

        emulator = Emulator(EmulatorConfig(), control=True)
        transport = httpx2.ASGITransport(app=emulator)
    """

    def __init__(
        self,
        config: EmulatorConfig | None = None,
        *,
        clock: Callable[[], float] = time.time,
        control: bool = False,
    ) -> None:
        self.state = EmulatorState(config or EmulatorConfig(), clock)
        routes = self._routes(control)
        self._app = Starlette(
            routes=routes,
            exception_handlers={
                ApiError: self._api_error,
                HTTPException: self._http_error,
                Exception: self._internal,
            },
        )

    def _routes(self, control: bool) -> list[BaseRoute]:
        state = self.state

        def route(
            path: str, handler: Callable[..., Awaitable[Response]], methods: list[str]
        ) -> Route:
            async def endpoint(request: Request) -> Response:
                params = dict(request.path_params)
                if "version" in params:
                    params["version"] = _version(request)
                return await handler(state, request, **params)

            return Route(path, endpoint, methods=methods)

        async def live(websocket: WebSocket) -> None:
            await live_endpoint(state, websocket)

        routes: list[BaseRoute] = [
            WebSocketRoute("/ws/{rpc}", live),
            route("/v1alpha/auth_tokens", create_auth_token, ["POST"]),
            route("/{version}/models", resources.list_models, ["GET"]),
            route("/{version}/models/{name}", self._model, ["GET", "POST"]),
            route("/{version}/cachedContents", resources.list_caches, ["GET"]),
            route("/{version}/cachedContents", resources.create_cache, ["POST"]),
            route("/{version}/cachedContents/{cid}", resources.get_cache, ["GET"]),
            route("/{version}/cachedContents/{cid}", resources.update_cache, ["PATCH"]),
            route("/{version}/cachedContents/{cid}", resources.delete_cache, ["DELETE"]),
            route("/{version}/files", resources.list_files, ["GET"]),
            route("/{version}/files/{fid}", batches.get_file_or_download, ["GET"]),
            route("/{version}/files/{fid}", resources.delete_file, ["DELETE"]),
            route("/upload/{version}/files", resources.upload_file, ["POST"]),
            route("/{version}/batches", batches.list_batches, ["GET"]),
            route("/{version}/batches/{bid}", batches.get_batch, ["GET"]),
            route("/{version}/batches/{bid}", batches.batch_action, ["POST"]),
            route("/{version}/batches/{bid}", batches.delete_batch, ["DELETE"]),
            *self._file_search_routes(route),
        ]
        if control:
            routes += [
                route("/_emulator/reset", control_api.reset, ["POST"]),
                route("/_emulator/faults", control_api.set_faults, ["POST"]),
                route("/_emulator/faults", control_api.get_faults, ["GET"]),
                route("/_emulator/stats", control_api.stats, ["GET"]),
            ]
        return routes

    @staticmethod
    def _file_search_routes(route: Callable[..., Route]) -> list[Route]:
        stores = "/{version}/fileSearchStores"
        return [
            route(stores, file_search.list_stores, ["GET"]),
            route(stores, file_search.create_store, ["POST"]),
            route(stores + "/{sid}", file_search.get_store, ["GET"]),
            route(stores + "/{sid}", file_search.delete_store, ["DELETE"]),
            route(stores + "/{sid}", file_search.store_action, ["POST"]),
            route(stores + "/{sid}/operations/{op}", file_search.get_operation, ["GET"]),
            route(
                stores + "/{sid}/upload/operations/{op}",
                file_search.get_upload_operation,
                ["GET"],
            ),
            route(stores + "/{sid}/documents", file_search.list_documents, ["GET"]),
            route(stores + "/{sid}/documents/{did}", file_search.get_document, ["GET"]),
            route(stores + "/{sid}/documents/{did}", file_search.delete_document, ["DELETE"]),
            route(
                "/upload/{version}/fileSearchStores/{sid}", file_search.upload_to_store, ["POST"]
            ),
        ]

    @staticmethod
    async def _model(state: EmulatorState, request: Request, version: str, name: str) -> Response:
        if request.method == "GET":
            return await resources.get_model(state, request, version, name)
        model, _, action = name.partition(":")
        handler = _ACTIONS.get(action)
        if handler is None:
            return await generation.unknown_method(state, request, version, model, action)
        return await handler(state, request, version, model)

    @staticmethod
    async def _api_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        return error_response(exc)

    @staticmethod
    async def _http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if exc.status_code == 405:
            error = ApiError(
                405,
                f"Method {request.method} is not allowed on {request.url.path}.",
                status="UNIMPLEMENTED",
            )
        else:
            error = ApiError(exc.status_code, f"Method not found: {request.url.path}.")
        return error_response(error)

    @staticmethod
    async def _internal(request: Request, exc: Exception) -> Response:
        if isinstance(exc, ConnectionResetError):  # an injected drop, in-process
            raise exc
        logger.exception("emulator bug while serving %s", request.url.path)
        return error_response(ApiError(500, "An internal error has occurred.", status="INTERNAL"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one ASGI connection."""
        if scope["type"] in ("http", "websocket"):
            transport = getattr(getattr(send, "__self__", None), "transport", None)
            if transport is not None:
                scope[TRANSPORT_KEY] = transport
        await self._app(scope, receive, send)


def create_app(
    config: EmulatorConfig | None = None,
    *,
    clock: Callable[[], float] = time.time,
    control: bool = False,
) -> Emulator:
    """Build an emulator; see :class:`Emulator`."""
    return Emulator(config, clock=clock, control=control)
