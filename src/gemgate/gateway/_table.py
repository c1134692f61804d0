"""The gateway's HTTP routes, one line each: method, path, handler and documentation.

``/openapi.json`` is made from this table, so a route added here is documented with it.
WebSockets (``/ws/chat``, ``/ws/live``) are not HTTP routes; the app opens them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gemgate.gateway._assets import serve_asset
from gemgate.gateway._batches_api import BatchesRoute
from gemgate.gateway._files_api import FilesRoute
from gemgate.gateway._media_api import MediaRoute
from gemgate.gateway._messages_api import MessagesRoute
from gemgate.gateway._native import PREFIX, NativeRoute
from gemgate.gateway._openai_api import OpenAIRoute
from gemgate.gateway._openapi import (
    CHAT,
    CREATE_BATCH,
    EMBEDDINGS,
    FILE_UPLOAD,
    IMAGE_EDIT,
    IMAGE_GENERATION,
    LIVE_TOKEN,
    LOAD_BACKEND,
    MESSAGES,
    MESSAGES_COUNT,
    NATIVE,
    NEW_DOCUMENT,
    NEW_SESSION,
    NEW_STORE,
    NEW_VECTOR_STORE,
    NEW_VECTOR_STORE_FILE,
    REGENERATE,
    RENAME_SESSION,
    RESPONSE,
    SEARCH_STORE,
    SESSION_MESSAGE,
    SPEECH,
    VECTOR_STORE_SEARCH,
)
from gemgate.gateway._quota_api import PATH as QUOTA
from gemgate.gateway._quota_api import quota_route
from gemgate.gateway._responses_api import ResponsesRoute
from gemgate.gateway._routing import Doc, Mount, Route
from gemgate.gateway._sessions_api import PREFIX as SESSIONS
from gemgate.gateway._sessions_api import SessionsRoute
from gemgate.gateway._stores_api import PREFIX as STORES
from gemgate.gateway._stores_api import StoresRoute
from gemgate.gateway._vector_stores_api import VectorStoresRoute

if TYPE_CHECKING:
    from gemgate.gateway._app import Gateway

__all__ = ["routes"]


def routes(gateway: Gateway) -> list[Route | Mount]:
    """Every HTTP route of ``gateway``.

    ``/metrics`` and ``/openapi.json`` need a gateway key (when keys are configured) unless
    the ``public_metrics`` setting opens them.
    """
    open_docs = gateway.client.settings.public_metrics
    return [
        _native(gateway.native),
        *_openai(gateway.openai),
        *_messages(gateway.messages),
        *_media(gateway.media),
        *_responses(gateway.responses),
        *_files(gateway.files),
        *_batches(gateway.batches),
        *_vector_stores(gateway.vector_stores),
        *_sessions(gateway.sessions),
        *_stores(gateway.stores),
        Route("GET", QUOTA, quota_route(gateway.client.engine), Doc("Quota windows and keys")),
        Route(
            "GET",
            "/api/v1/models/status",
            gateway.backends_api.status,
            Doc("The active /v1 backend"),
        ),
        Route(
            "POST",
            "/api/v1/models/load",
            gateway.backends_api.load,
            Doc("Switch the active /v1 backend", LOAD_BACKEND),
        ),
        Route(
            "POST",
            "/api/v1/live/tokens",
            gateway.live.tokens,
            Doc("Mint an ephemeral Live API token", LIVE_TOKEN),
        ),
        Route(
            "POST",
            "/api/v1/login",
            gateway.logins.login,
            Doc("Trade a gateway key for a session cookie"),
        ),
        Route(
            "GET",
            "/api/v1/usage",
            gateway.usage.usage,
            Doc("Sums of the request log by project, key or model (?from=&to=&group_by=)"),
        ),
        Route("GET", "/", gateway.page, Doc("The web chat page"), public=True),
        Route("GET", "/static/{name}", serve_asset, Doc("The web page's assets"), public=True),
        Route("GET", "/static/vendor/{name}", serve_asset, Doc("Vendored web assets"), public=True),
        Route("GET", "/healthz", gateway.health, Doc("Liveness"), public=True),
        Route("GET", "/readyz", gateway.ready, Doc("Readiness: upstream and store"), public=True),
        Route(
            "GET", "/metrics", gateway.export_metrics, Doc("Prometheus metrics"), public=open_docs
        ),
        Route("GET", "/openapi.json", gateway.describe, Doc("This document"), public=open_docs),
    ]


def _native(native: NativeRoute) -> Mount:
    """Everything under ``/gemini/`` is relayed; the document names the main operations."""

    def relayed(method: str, path: str, summary: str, body: bool = False) -> Route:
        doc = Doc(f"{summary} (native Gemini API, relayed)", NATIVE if body else None)
        return Route(method, f"{PREFIX}/{{version}}/{path}", native, doc)

    return Mount(
        PREFIX + "/",
        native,
        (
            relayed("GET", "models", "List models"),
            relayed("GET", "models/{model}", "Get a model"),
            relayed("POST", "models/{model}:generateContent", "Generate content", body=True),
            relayed("POST", "models/{model}:streamGenerateContent", "Stream content", body=True),
            relayed("POST", "models/{model}:countTokens", "Count tokens", body=True),
            relayed("POST", "models/{model}:embedContent", "Embed content", body=True),
        ),
    )


def _openai(openai: OpenAIRoute) -> list[Route]:
    return [
        Route(
            "POST",
            "/v1/chat/completions",
            openai.chat,
            Doc("OpenAI chat completions over Gemini (server-sent events with stream)", CHAT),
        ),
        Route(
            "POST",
            "/v1/embeddings",
            openai.embeddings,
            Doc("OpenAI embeddings over Gemini", EMBEDDINGS),
        ),
        Route("GET", "/v1/models", openai.list_models, Doc("List models")),
        Route("GET", "/v1/models/{model}", openai.get_model, Doc("Get a model")),
    ]


def _messages(messages: MessagesRoute) -> list[Route]:
    return [
        Route(
            "POST",
            "/v1/messages",
            messages.create,
            Doc("Anthropic messages over Gemini (server-sent events with stream)", MESSAGES),
        ),
        Route(
            "POST",
            "/v1/messages/count_tokens",
            messages.count_tokens,
            Doc("Count a message's input tokens (Anthropic)", MESSAGES_COUNT),
        ),
    ]


def _media(media: MediaRoute) -> list[Route]:
    return [
        Route(
            "POST",
            "/v1/images/generations",
            media.generations,
            Doc(
                "OpenAI image generation over Gemini (b64_json, or url as a data URL)",
                IMAGE_GENERATION,
            ),
        ),
        Route(
            "POST",
            "/v1/images/edits",
            media.edits,
            Doc("OpenAI image edits over Gemini (multipart image files and a prompt)", IMAGE_EDIT),
        ),
        Route(
            "POST",
            "/v1/audio/speech",
            media.speech,
            Doc("OpenAI text-to-speech over Gemini TTS (wav or pcm)", SPEECH),
        ),
    ]


def _responses(responses: ResponsesRoute) -> list[Route]:
    one = "/v1/responses/{response_id}"
    return [
        Route(
            "POST",
            "/v1/responses",
            responses.create,
            Doc("OpenAI Responses over Gemini (server-sent events with stream)", RESPONSE),
        ),
        Route("GET", one, responses.retrieve, Doc("A stored response (OpenAI)")),
        Route("DELETE", one, responses.delete, Doc("Delete a stored response (OpenAI)")),
        Route("GET", one + "/input_items", responses.input_items, Doc("A response's input")),
    ]


def _sessions(sessions: SessionsRoute) -> list[Route]:
    one = SESSIONS + "/{session_id}"
    return [
        Route("GET", SESSIONS, sessions.list_all, Doc("List chat sessions")),
        Route(
            "POST",
            SESSIONS,
            sessions.create,
            Doc("Create a chat session", NEW_SESSION, ok=201),
        ),
        Route("GET", one, sessions.read, Doc("A session with its messages")),
        Route(
            "PATCH",
            one,
            sessions.rename,
            Doc("Rename a session, or change its stores", RENAME_SESSION),
        ),
        Route("DELETE", one, sessions.delete, Doc("Delete a session", ok=204)),
        Route(
            "POST",
            one + "/messages",
            sessions.message,
            Doc("Send a message (server-sent events with stream)", SESSION_MESSAGE),
        ),
        Route(
            "POST",
            one + "/regenerate",
            sessions.regenerate,
            Doc("Answer the last question again, in place of its answer", REGENERATE),
        ),
    ]


def _stores(stores: StoresRoute) -> list[Route]:
    one = STORES + "/{store_id}"
    document = one + "/documents/{document_id}"
    return [
        Route("GET", STORES, stores.list_all, Doc("List retrieval stores")),
        Route("POST", STORES, stores.create, Doc("Create a retrieval store", NEW_STORE, ok=201)),
        Route("GET", one, stores.read, Doc("A retrieval store")),
        Route("DELETE", one, stores.delete, Doc("Delete a store with its documents", ok=204)),
        Route(
            "POST",
            one + "/documents",
            stores.add,
            Doc("Add documents (multipart files, or JSON text/data/url)", NEW_DOCUMENT, ok=201),
        ),
        Route("GET", one + "/documents", stores.documents, Doc("List a store's documents")),
        Route("GET", document, stores.document, Doc("A document (?chunks=true: its chunks)")),
        Route("PUT", document, stores.replace, Doc("Replace a document's content", NEW_DOCUMENT)),
        Route("DELETE", document, stores.delete_document, Doc("Delete a document", ok=204)),
        Route("POST", one + "/search", stores.search, Doc("Search a store", SEARCH_STORE)),
    ]


def _files(files: FilesRoute) -> list[Route]:
    one = "/v1/files/{file_id}"
    return [
        Route("POST", "/v1/files", files.create, Doc("Upload a file (OpenAI)", FILE_UPLOAD)),
        Route("GET", "/v1/files", files.list_all, Doc("List files (OpenAI)")),
        Route("GET", one, files.read, Doc("A file (OpenAI)")),
        Route("GET", one + "/content", files.content, Doc("A file's bytes (OpenAI)")),
        Route("DELETE", one, files.delete, Doc("Delete a file (OpenAI)")),
    ]


def _batches(batches: BatchesRoute) -> list[Route]:
    one = "/v1/batches/{batch_id}"
    return [
        Route(
            "POST",
            "/v1/batches",
            batches.create,
            Doc("Create a batch over an uploaded JSONL file (OpenAI)", CREATE_BATCH),
        ),
        Route("GET", "/v1/batches", batches.list_all, Doc("List batches (OpenAI)")),
        Route("GET", one, batches.read, Doc("A batch, with its results once done (OpenAI)")),
        Route("POST", one + "/cancel", batches.cancel, Doc("Cancel a batch (OpenAI)")),
    ]


def _vector_stores(stores: VectorStoresRoute) -> list[Route]:
    base = "/v1/vector_stores"
    one = base + "/{store_id}"
    file = one + "/files/{file_id}"
    return [
        Route("POST", base, stores.create, Doc("Create a vector store (OpenAI)", NEW_VECTOR_STORE)),
        Route("GET", base, stores.list_all, Doc("List vector stores (OpenAI)")),
        Route("GET", one, stores.read, Doc("A vector store (OpenAI)")),
        Route("DELETE", one, stores.delete, Doc("Delete a vector store (OpenAI)")),
        Route(
            "POST",
            one + "/files",
            stores.add_file,
            Doc("Attach and ingest a file (OpenAI)", NEW_VECTOR_STORE_FILE),
        ),
        Route("GET", one + "/files", stores.list_files, Doc("List a vector store's files")),
        Route("GET", file, stores.read_file, Doc("A vector store file (OpenAI)")),
        Route("DELETE", file, stores.delete_file, Doc("Detach a file, deleting its chunks")),
        Route(
            "POST",
            one + "/search",
            stores.search,
            Doc("Search a vector store (OpenAI)", VECTOR_STORE_SEARCH),
        ),
    ]
