"""File Search endpoints: stores, uploads and imports, documents and their operations."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from gemgate.emulator._errors import invalid_argument, not_found
from gemgate.emulator._http import json_response, read_json
from gemgate.emulator._normalize import normalize
from gemgate.emulator._resources import GRANULARITY, int_header, paged, resumable_step
from gemgate.emulator._state import EmulatorState

__all__ = [
    "create_store",
    "delete_document",
    "delete_store",
    "get_document",
    "get_operation",
    "get_store",
    "list_documents",
    "list_stores",
    "store_action",
    "upload_to_store",
]

_UPLOAD = ":uploadToFileSearchStore"


def _force(request: Request) -> bool:
    value = request.query_params.get("force", "false").lower()
    if value not in ("true", "false", "1", "0"):
        raise invalid_argument(f"Invalid value for force: {value!r}")
    return value in ("true", "1")


async def create_store(state: EmulatorState, request: Request, version: str) -> Response:
    """``POST /{version}/fileSearchStores``."""
    project = state.authenticate(request)
    body = normalize(await read_json(request), "CreateFileSearchStoreRequest")
    model = body.get("embeddingModel", "")
    if model:
        spec = state.catalog.find(model)
        if spec is None or spec.kind != "embed":
            raise invalid_argument(f"embedding_model {model} is not an embedding model.")
        model = f"models/{spec.name}"
    store = state.file_search.create(project, body.get("displayName", ""), model)
    return json_response(store.resource(state.file_search.now()))


async def list_stores(state: EmulatorState, request: Request, version: str) -> Response:
    """``GET /{version}/fileSearchStores``."""
    project = state.authenticate(request)
    now = state.file_search.now()
    items = [s.resource(now) for s in state.file_search.list(project)]
    return paged(request, items, "fileSearchStores", 10, 20)


async def get_store(state: EmulatorState, request: Request, version: str, sid: str) -> Response:
    """``GET /{version}/fileSearchStores/{id}``."""
    project = state.authenticate(request)
    store = state.file_search.get(project, f"fileSearchStores/{sid}")
    return json_response(store.resource(state.file_search.now()))


async def delete_store(state: EmulatorState, request: Request, version: str, sid: str) -> Response:
    """``DELETE /{version}/fileSearchStores/{id}?force=``."""
    project = state.authenticate(request)
    state.file_search.delete(project, f"fileSearchStores/{sid}", _force(request))
    return json_response({})


async def store_action(state: EmulatorState, request: Request, version: str, sid: str) -> Response:
    """``POST /{version}/fileSearchStores/{id}:importFile``."""
    project = state.authenticate(request)
    store_id, _, action = sid.partition(":")
    if action != "importFile":
        raise not_found(f"Method not found: {request.url.path}.")
    store = state.file_search.get(project, f"fileSearchStores/{store_id}")
    body = normalize(await read_json(request), "ImportFileRequest")
    file_name = body.get("fileName", "")
    if not file_name:
        raise invalid_argument("* ImportFileRequest.file_name: file_name is required.")
    stored = state.files.get(project, file_name)
    settings = state.file_search.settings({**body, "mimeType": stored.mime_type})
    settings.display_name = stored.display_name or stored.name.removeprefix("files/")
    operation = state.file_search.ingest(
        project, store.name, "ImportFile", settings, stored.data, settings.display_name
    )
    return json_response(operation.resource(state.file_search.now()))


async def get_operation(
    state: EmulatorState, request: Request, version: str, sid: str, op: str, upload: bool = False
) -> Response:
    """``GET /{version}/fileSearchStores/{id}[/upload]/operations/{op}``."""
    project = state.authenticate(request)
    middle = "/upload" if upload else ""
    name = f"fileSearchStores/{sid}{middle}/operations/{op}"
    operation = state.file_search.operation(project, name)
    return json_response(operation.resource(state.file_search.now()))


async def get_upload_operation(
    state: EmulatorState, request: Request, version: str, sid: str, op: str
) -> Response:
    """``GET /{version}/fileSearchStores/{id}/upload/operations/{op}``."""
    return await get_operation(state, request, version, sid, op, upload=True)


async def list_documents(
    state: EmulatorState, request: Request, version: str, sid: str
) -> Response:
    """``GET /{version}/fileSearchStores/{id}/documents``."""
    project = state.authenticate(request)
    store = state.file_search.get(project, f"fileSearchStores/{sid}")
    now = state.file_search.now()
    items = [d.resource(now) for d in store.documents.values()]
    return paged(request, items, "documents", 10, 20)


async def get_document(
    state: EmulatorState, request: Request, version: str, sid: str, did: str
) -> Response:
    """``GET /{version}/fileSearchStores/{id}/documents/{doc}``."""
    project = state.authenticate(request)
    store = f"fileSearchStores/{sid}"
    document = state.file_search.document(project, store, f"{store}/documents/{did}")
    return json_response(document.resource(state.file_search.now()))


async def delete_document(
    state: EmulatorState, request: Request, version: str, sid: str, did: str
) -> Response:
    """``DELETE /{version}/fileSearchStores/{id}/documents/{doc}?force=``."""
    project = state.authenticate(request)
    store = f"fileSearchStores/{sid}"
    state.file_search.delete_document(project, store, f"{store}/documents/{did}", _force(request))
    return json_response({})


async def upload_to_store(
    state: EmulatorState, request: Request, version: str, sid: str
) -> Response:
    """``POST /upload/{version}/fileSearchStores/{id}:uploadToFileSearchStore`` (resumable)."""
    if not sid.endswith(_UPLOAD):
        raise not_found(f"Method not found: {request.url.path}.")
    upload_id = request.query_params.get("upload_id")
    if upload_id is None:
        return await _start(state, request, version, sid.removesuffix(_UPLOAD))
    upload = state.file_search.upload(upload_id)
    early = await resumable_step(request, upload.received)
    if early is not None:
        return early
    state.file_search.finish_upload(upload_id)
    if upload.declared_size is not None and upload.declared_size != len(upload.received):
        raise invalid_argument(
            f"Upload finished with {len(upload.received)} bytes but "
            f"{upload.declared_size} were declared."
        )
    operation = state.file_search.ingest(
        upload.project,
        upload.store,
        "UploadToFileSearchStore",
        upload.settings,
        bytes(upload.received),
        upload.settings.display_name or "document",
    )
    return json_response(
        operation.resource(state.file_search.now()), headers={"x-goog-upload-status": "final"}
    )


async def _start(state: EmulatorState, request: Request, version: str, store_id: str) -> Response:
    project = state.authenticate(request)
    command = request.headers.get("x-goog-upload-command", "").replace(" ", "").lower()
    protocol = request.headers.get("x-goog-upload-protocol", "").lower()
    if protocol != "resumable" or command != "start":
        raise invalid_argument(
            "Uploads use the resumable protocol: X-Goog-Upload-Protocol: resumable and "
            "X-Goog-Upload-Command: start."
        )
    store = state.file_search.get(project, f"fileSearchStores/{store_id}")
    body = normalize(await read_json(request), "UploadToFileSearchStoreRequest")
    header_mime = request.headers.get("x-goog-upload-header-content-type")
    settings = state.file_search.settings(body)
    if settings.mime_type is None and header_mime:
        settings = state.file_search.settings({**body, "mimeType": header_mime})
    size = int_header(request, "x-goog-upload-header-content-length")
    upload_id = state.file_search.start_upload(project, store.name, settings, size).upload_id
    base = str(request.base_url).rstrip("/")
    url = (
        f"{base}/upload/{version}/{store.name}{_UPLOAD}"
        f"?upload_id={upload_id}&upload_protocol=resumable"
    )
    return Response(
        b"",
        headers={
            "x-goog-upload-url": url,
            "x-goog-upload-status": "active",
            "x-goog-upload-chunk-granularity": GRANULARITY,
        },
    )
