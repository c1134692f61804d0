"""Batch endpoints: ``:batchGenerateContent``, ``:asyncBatchEmbedContent`` and ``batches/*``.

Every request of a batch is answered when the batch is created, by the same responder as
``generateContent`` (or the same embedder as ``embedContent``); the batch then reveals
the answers as its clock runs. Batch requests are counted in the project's statistics
but not held to its interactive RPM, TPM and RPD limits: the service gives batches
limits of their own.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from gemgate.emulator._batches import Batch, Outcome
from gemgate.emulator._config import ModelSpec
from gemgate.emulator._errors import ApiError, invalid_argument, not_found
from gemgate.emulator._frames import Framing
from gemgate.emulator._generation import embedding_of, file_search_grounding, merged_prompt
from gemgate.emulator._http import json_response, read_json
from gemgate.emulator._normalize import normalize
from gemgate.emulator._resources import get_file, paged
from gemgate.emulator._state import EmulatorState
from gemgate.emulator._tokens import count_contents, count_media, count_request
from gemgate.emulator._validate import check_generate_request

__all__ = [
    "INLINE_LIMIT",
    "batch_action",
    "create_embed_batch",
    "create_generate_batch",
    "delete_batch",
    "get_batch",
    "get_file_or_download",
    "list_batches",
]

INLINE_LIMIT = 20 * 1024 * 1024
"""The largest inline batch request, in bytes (the service's 20 MB)."""
_RPC_CODES = {400: 3, 401: 16, 403: 7, 404: 5, 409: 6, 429: 8, 500: 13, 503: 14, 504: 4}
Answer = Callable[[Mapping[str, Any]], dict[str, Any]]


def _status(error: ApiError) -> dict[str, Any]:
    return {"code": _RPC_CODES.get(error.code, 2), "message": error.message}


def _answer_generate(state: EmulatorState, project: str, model: ModelSpec) -> Answer:
    def answer(raw: Mapping[str, Any]) -> dict[str, Any]:
        request = normalize(dict(raw), "GenerateContentRequest")
        named = request.pop("model", None)
        if named and state.catalog.find(named) is not model:
            raise invalid_argument(f"Request model {named} does not match the batch's model.")
        merged, cached = merged_prompt(state, project, model, request)
        check_generate_request(merged, model, state.signer)
        state.files.resolve_parts(project, merged["contents"])
        grounding = file_search_grounding(state, project, merged)
        reply = state.responder.reply(merged, model, grounding)
        tokens = count_request(merged)
        state.quota.admit(project, model.name, None, tokens, family="Generate")
        return Framing(
            model.name, secrets.token_urlsafe(16), tokens, cached, count_media(merged)
        ).response(reply)

    return answer


def _answer_embed(state: EmulatorState, project: str, model: ModelSpec) -> Answer:
    def answer(raw: Mapping[str, Any]) -> dict[str, Any]:
        item = normalize(dict(raw), "EmbedContentRequest")
        values = embedding_of(model, item, "")
        tokens = count_contents([item["content"]])
        state.quota.admit(project, model.name, None, tokens, family="EmbedContent")
        return {"embedding": {"values": values}}

    return answer


def _run(answer: Answer, raw: Any) -> Outcome:
    if not isinstance(raw, Mapping):
        return Outcome(error={"code": 3, "message": "A request must be a JSON object."})
    try:
        return Outcome(response=answer(raw))
    except ApiError as exc:
        return Outcome(error=_status(exc))


def _from_lines(answer: Answer, data: bytes) -> list[Outcome]:
    outcomes = []
    for number, line in enumerate(data.decode("utf-8", "replace").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            message = f"Invalid JSON on line {number}: {exc.msg}."
            outcomes.append(Outcome(error={"code": 3, "message": message}))
            continue
        if not isinstance(row, dict) or "request" not in row:
            message = f'Line {number} must be an object with a "request".'
            key = row.get("key") if isinstance(row, dict) else None
            outcomes.append(Outcome(error={"code": 3, "message": message}, key=key))
            continue
        outcome = _run(answer, row["request"])
        outcome.key = str(row["key"]) if "key" in row else None
        outcomes.append(outcome)
    return outcomes


async def _create(
    state: EmulatorState, request: Request, version: str, model_name: str, kind: str
) -> Response:
    project = state.authenticate(request)
    generate = kind == "GenerateContentBatch"
    method = "generateContent" if generate else "embedContent"
    action = "batchGenerateContent" if generate else "asyncBatchEmbedContent"
    spec = state.catalog.find(model_name)
    if spec is None or not state.catalog.supports(spec, method):
        raise state.model_not_found(model_name, action, version)
    raw = await request.body()
    body = normalize(await read_json(request), "CreateBatchRequest")
    batch = body.get("batch")
    if not isinstance(batch, dict):
        raise invalid_argument("* batch: batch is required.")
    config = batch.get("inputConfig") or batch.get("input_config") or {}
    file_name = config.get("fileName") or config.get("file_name")
    inline = config.get("requests")
    if (file_name is None) == (inline is None):
        raise invalid_argument("input_config must set exactly one of file_name and requests.")
    make = _answer_generate if generate else _answer_embed
    answer = make(state, project, spec)
    if inline is not None:
        if len(raw) > INLINE_LIMIT:
            raise invalid_argument(f"Request payload size exceeds the limit: {INLINE_LIMIT} bytes.")
        items = inline.get("requests", []) if isinstance(inline, dict) else []
        if not items:
            raise invalid_argument("* batch.input_config.requests.requests: requests is empty.")
        outcomes = []
        for item in items:
            outcome = _run(answer, item.get("request") if isinstance(item, dict) else None)
            if isinstance(item, dict) and "metadata" in item:
                outcome.metadata = item["metadata"]
            outcomes.append(outcome)
    else:
        stored = state.files.resolve(project, str(file_name))
        outcomes = _from_lines(answer, stored.data)
        if not outcomes:
            raise invalid_argument(f"The input file {file_name} holds no requests.")
    created = state.batches.create(
        project,
        kind,
        f"models/{spec.name}",
        str(batch.get("displayName", "")),
        outcomes,
        from_file=file_name is not None,
    )
    return json_response(_view(state, request, version, created))


def _view(state: EmulatorState, request: Request, version: str, batch: Batch) -> dict[str, Any]:
    """The batch resource, writing its responses file the first time it is seen done."""
    now = state.batches.now()
    done = batch.state(now) == "BATCH_STATE_SUCCEEDED"
    if done and batch.from_file and batch.responses_file is None:
        upload = state.files.start(
            batch.project,
            {"displayName": f"{batch.name.removeprefix('batches/')}-responses"},
            "application/jsonl",
            None,
        )
        upload.received += batch.lines()
        base = str(request.base_url).rstrip("/")
        stored = state.files.finalize(upload, base, version)
        batch.responses_file = stored.name
        state.batches.outputs.add((batch.project, stored.name))
    return batch.resource(now)


async def create_generate_batch(
    state: EmulatorState, request: Request, version: str, model_name: str
) -> Response:
    """``POST /{version}/models/{model}:batchGenerateContent``."""
    return await _create(state, request, version, model_name, "GenerateContentBatch")


async def create_embed_batch(
    state: EmulatorState, request: Request, version: str, model_name: str
) -> Response:
    """``POST /{version}/models/{model}:asyncBatchEmbedContent``."""
    return await _create(state, request, version, model_name, "EmbedContentBatch")


async def get_batch(state: EmulatorState, request: Request, version: str, bid: str) -> Response:
    """``GET /{version}/batches/{id}``."""
    project = state.authenticate(request)
    batch = state.batches.get(project, f"batches/{bid}")
    return json_response(_view(state, request, version, batch))


async def list_batches(state: EmulatorState, request: Request, version: str) -> Response:
    """``GET /{version}/batches``: the project's batches as operations, newest first."""
    project = state.authenticate(request)
    items = [_view(state, request, version, b) for b in state.batches.list(project)]
    return paged(request, items, "operations", 10, 100)


async def batch_action(state: EmulatorState, request: Request, version: str, bid: str) -> Response:
    """``POST /{version}/batches/{id}:cancel``."""
    project = state.authenticate(request)
    name, _, action = bid.partition(":")
    if action != "cancel":
        raise not_found(f"Method not found: {request.url.path}.")
    state.batches.cancel(project, f"batches/{name}")
    return json_response({})


async def delete_batch(state: EmulatorState, request: Request, version: str, bid: str) -> Response:
    """``DELETE /{version}/batches/{id}``."""
    project = state.authenticate(request)
    state.batches.delete(project, f"batches/{bid}")
    return json_response({})


async def get_file_or_download(
    state: EmulatorState, request: Request, version: str, fid: str
) -> Response:
    """``GET /{version}/files/{id}``, or ``files/{id}:download?alt=media`` for batch output."""
    name, _, action = fid.partition(":")
    if not action:
        return await get_file(state, request, version, fid)
    project = state.authenticate(request)
    if action != "download":
        raise not_found(f"Method not found: {request.url.path}.")
    stored = state.files.get(project, f"files/{name}")
    if not state.batches.is_output(project, stored.name):
        raise invalid_argument("Only generated files can be downloaded.")
    return Response(stored.data, media_type=stored.mime_type)
