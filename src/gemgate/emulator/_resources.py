"""Resource endpoints: models, cachedContents and files (with resumable uploads)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from gemgate.emulator._catalog import Catalog
from gemgate.emulator._errors import invalid_argument, not_found
from gemgate.emulator._http import json_response, read_json
from gemgate.emulator._normalize import normalize
from gemgate.emulator._paging import page
from gemgate.emulator._state import EmulatorState
from gemgate.emulator._validate import check_contents

__all__ = [
    "create_cache",
    "delete_cache",
    "delete_file",
    "get_cache",
    "get_file",
    "get_model",
    "GRANULARITY",
    "list_caches",
    "list_files",
    "int_header",
    "list_models",
    "paged",
    "resumable_step",
    "update_cache",
    "upload_file",
]

GRANULARITY = str(8 * 1024 * 1024)


def paged(request: Request, items: list[Any], key: str, default: int, maximum: int) -> Response:
    chunk, token = page(
        items,
        request.query_params.get("pageSize"),
        request.query_params.get("pageToken"),
        default=default,
        maximum=maximum,
    )
    out: dict[str, Any] = {key: list(chunk)} if chunk else {}
    if token:
        out["nextPageToken"] = token
    return json_response(out)


async def list_models(state: EmulatorState, request: Request, version: str) -> Response:
    """``GET /{version}/models``."""
    state.authenticate(request)
    models = [Catalog.describe(spec) for spec in state.catalog]
    return paged(request, models, "models", 50, 1000)


async def get_model(state: EmulatorState, request: Request, version: str, name: str) -> Response:
    """``GET /{version}/models/{name}``."""
    state.authenticate(request)
    spec = state.catalog.find(name)
    if spec is None:
        raise not_found(f"models/{name} is not found for API version {version}.")
    return json_response(Catalog.describe(spec))


async def create_cache(state: EmulatorState, request: Request, version: str) -> Response:
    """``POST /{version}/cachedContents``."""
    project = state.authenticate(request)
    body = normalize(await read_json(request), "CachedContent")
    if not body.get("model"):
        raise invalid_argument("* CachedContent.model: model is not specified")
    model = state.catalog.find(body["model"])
    if model is None or model.kind != "generate":
        raise not_found(
            f"{body['model']} is not found for API version {version}, or is not supported for "
            "createCachedContent. Call ListModels to see the list of available models and "
            "their supported methods."
        )
    contents = body.get("contents", [])
    check_contents(contents)
    if "systemInstruction" in body:
        check_contents([body["systemInstruction"]], "system_instruction")
    state.files.resolve_parts(project, contents)  # the caller's, and ACTIVE, at creation
    entry = state.caches.create(project, model.name, body, model.cache_min_tokens)
    return json_response(entry.resource())


async def list_caches(state: EmulatorState, request: Request, version: str) -> Response:
    """``GET /{version}/cachedContents``."""
    project = state.authenticate(request)
    items = [e.resource() for e in state.caches.list(project)]
    return paged(request, items, "cachedContents", 50, 1000)


async def get_cache(state: EmulatorState, request: Request, version: str, cid: str) -> Response:
    """``GET /{version}/cachedContents/{id}``."""
    project = state.authenticate(request)
    return json_response(state.caches.get(project, f"cachedContents/{cid}").resource())


async def update_cache(state: EmulatorState, request: Request, version: str, cid: str) -> Response:
    """``PATCH /{version}/cachedContents/{id}?updateMask=ttl``."""
    project = state.authenticate(request)
    body = normalize(await read_json(request), "CachedContent")
    mask = request.query_params.get("updateMask") or request.query_params.get("update_mask", "")
    entry = state.caches.update(project, f"cachedContents/{cid}", body, mask)
    return json_response(entry.resource())


async def delete_cache(state: EmulatorState, request: Request, version: str, cid: str) -> Response:
    """``DELETE /{version}/cachedContents/{id}``."""
    project = state.authenticate(request)
    state.caches.delete(project, f"cachedContents/{cid}")
    return json_response({})


async def list_files(state: EmulatorState, request: Request, version: str) -> Response:
    """``GET /{version}/files``."""
    project = state.authenticate(request)
    now = state.files.now()
    items = [f.resource(now) for f in state.files.list(project)]
    return paged(request, items, "files", 10, 100)


async def get_file(state: EmulatorState, request: Request, version: str, fid: str) -> Response:
    """``GET /{version}/files/{id}``."""
    project = state.authenticate(request)
    return json_response(state.files.get(project, f"files/{fid}").resource(state.files.now()))


async def delete_file(state: EmulatorState, request: Request, version: str, fid: str) -> Response:
    """``DELETE /{version}/files/{id}``."""
    project = state.authenticate(request)
    state.files.delete(project, f"files/{fid}")
    return json_response({})


async def resumable_step(request: Request, received: bytearray) -> Response | None:
    """Apply one ``query`` / ``upload`` / ``finalize`` step; None when it finalizes."""
    command = request.headers.get("x-goog-upload-command", "").replace(" ", "").lower()
    steps = set(command.split(","))
    if "query" in steps:
        return Response(
            b"",
            headers={
                "x-goog-upload-status": "active",
                "x-goog-upload-size-received": str(len(received)),
            },
        )
    if not steps <= {"upload", "finalize"} or not steps:
        raise invalid_argument(f"Unsupported X-Goog-Upload-Command: {command!r}")
    offset = int_header(request, "x-goog-upload-offset")
    if "upload" in steps:
        if offset is not None and offset != len(received):
            raise invalid_argument(
                f"Upload offset {offset} does not match the {len(received)} bytes received so far."
            )
        received.extend(await request.body())
    if "finalize" not in steps:
        return Response(b"", headers={"x-goog-upload-status": "active"})
    return None


def int_header(request: Request, name: str) -> int | None:
    value = request.headers.get(name)
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        raise invalid_argument(f"Header {name} must be an integer.") from None


async def upload_file(state: EmulatorState, request: Request, version: str) -> Response:
    """``POST /upload/{version}/files``: the resumable upload protocol."""
    upload_id = request.query_params.get("upload_id")
    command = request.headers.get("x-goog-upload-command", "").replace(" ", "").lower()
    if upload_id is None:
        return await _start_upload(state, request, version, command)
    upload = state.files.upload(upload_id)
    early = await resumable_step(request, upload.received)
    if early is not None:
        return early
    base = str(request.base_url).rstrip("/")
    stored = state.files.finalize(upload, base, version)
    return json_response(
        {"file": stored.resource(state.files.now())}, headers={"x-goog-upload-status": "final"}
    )


async def _start_upload(
    state: EmulatorState, request: Request, version: str, command: str
) -> Response:
    project = state.authenticate(request)
    protocol = request.headers.get("x-goog-upload-protocol", "").lower()
    if protocol != "resumable" or command != "start":
        raise invalid_argument(
            "Uploads use the resumable protocol: X-Goog-Upload-Protocol: resumable and "
            "X-Goog-Upload-Command: start."
        )
    raw = await read_json(request)
    metadata = normalize(raw, "CreateFileRequest").get("file", {})
    upload = state.files.start(
        project,
        metadata,
        request.headers.get("x-goog-upload-header-content-type"),
        int_header(request, "x-goog-upload-header-content-length"),
    )
    base = str(request.base_url).rstrip("/")
    url = f"{base}/upload/{version}/files?upload_id={upload.upload_id}&upload_protocol=resumable"
    return Response(
        b"",
        headers={
            "x-goog-upload-url": url,
            "x-goog-upload-status": "active",
            "x-goog-upload-chunk-granularity": GRANULARITY,
        },
    )
