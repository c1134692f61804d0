"""Model methods: generateContent, streamGenerateContent, countTokens, embeddings."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Mapping
from typing import Any

import anyio
import anyio.lowlevel
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from gemgate.emulator._config import ModelSpec
from gemgate.emulator._embedding import embed_text
from gemgate.emulator._errors import ApiError, invalid_argument
from gemgate.emulator._faults import FaultRule
from gemgate.emulator._frames import Framing, usage_metadata
from gemgate.emulator._http import DropResponse, dumps, json_response, read_json
from gemgate.emulator._normalize import normalize
from gemgate.emulator._retrieval import Grounding, search
from gemgate.emulator._state import EmulatorState
from gemgate.emulator._tokens import count_contents, count_media, count_request
from gemgate.emulator._validate import check_contents, check_generate_request
from gemgate.wire.durations import parse_duration
from gemgate.wire.errors import help_links, quota_failure, retry_info
from gemgate.wire.sse import encode_sse

__all__ = [
    "count_tokens",
    "embed",
    "embedding_of",
    "file_search_grounding",
    "generate",
    "merged_prompt",
]

_BROKEN = b'{"candidates": [{"content": {"parts": [{"text": "'
_OVERLOADED = "The model is overloaded. Please try again later."
_CACHE_CONFLICT = (
    "CachedContent can not be used with GenerateContent request setting system_instruction, "
    "tools or tool_config.\n\nProposed fix: move those values to CachedContent from "
    "GenerateContent request."
)
_DEFAULT_MESSAGES = {
    429: "Resource has been exhausted (e.g. check quota).",
    500: "An internal error has occurred. Please retry or report in "
    "https://developers.generativeai.google/guide/troubleshooting",
    503: _OVERLOADED,
    504: "Deadline expired before operation could complete.",
}


def fault_error(rule: FaultRule) -> ApiError:
    """The error a ``status`` or ``midstream`` fault answers with."""
    message = rule.message or _DEFAULT_MESSAGES.get(rule.status, "Injected fault.")
    details = [retry_info(parse_duration(rule.retry_delay))] if rule.retry_delay else []
    return ApiError(rule.status, message, details=details)


def merged_prompt(
    state: EmulatorState, project: str, model: ModelSpec, request: dict[str, Any]
) -> tuple[dict[str, Any], int]:
    """Merge a referenced cache into the request; return it and the cached token count."""
    name = request.get("cachedContent")
    if not name:
        return request, 0
    if any(k in request for k in ("systemInstruction", "tools", "toolConfig")):
        raise invalid_argument(_CACHE_CONFLICT)
    entry = state.caches.get(project, name)
    if entry.model != model.name:
        raise invalid_argument(
            f"Model used by GenerateContent request (models/{model.name}) and CachedContent "
            f"(models/{entry.model}) has to be the same."
        )
    merged = dict(request)
    merged["contents"] = [*entry.contents, *request.get("contents", [])]
    if entry.system_instruction:
        merged["systemInstruction"] = entry.system_instruction
    if entry.tools:
        merged["tools"] = entry.tools
    if entry.tool_config:
        merged["toolConfig"] = entry.tool_config
    return merged, entry.tokens


def file_search_grounding(
    state: EmulatorState, project: str, request: Mapping[str, Any]
) -> Grounding | None:
    """What the request's ``fileSearch`` tools retrieve for its last turn, if it has any."""
    tools = [t["fileSearch"] for t in request.get("tools", []) if "fileSearch" in t]
    if not tools:
        return None
    contents = request.get("contents", [])
    last = contents[-1] if contents else {}
    question = " ".join(
        p["text"] for p in last.get("parts", []) if "text" in p and not p.get("thought")
    )
    now = state.file_search.now()
    hits = []
    for i, tool in enumerate(tools):
        names = tool.get("fileSearchStoreNames", [])
        if not names:
            raise invalid_argument(
                f"* GenerateContentRequest.tools[{i}].file_search.file_search_store_names: "
                "file_search_store_names is required."
            )
        stores = state.file_search.searchable(project, names)
        hits += search(stores, tool, question, now)
    hits.sort(key=lambda h: -h.score)
    return Grounding(hits, question) if hits else None


async def _pre_admission_fault(
    state: EmulatorState, project: str, method: str, model: ModelSpec
) -> tuple[Response | None, FaultRule | None]:
    """Apply a fault that answers before admission; return a late one for later."""
    rule = state.faults.pick(method, model.name, project)
    if rule is None:
        return None, None
    if rule.kind == "delay":
        state.quota.record_fault(project, before_admission=False)
        await anyio.sleep(rule.delay_ms / 1000)
        return None, None
    if rule.kind == "status":
        state.quota.record_fault(project, before_admission=True)
        raise fault_error(rule)
    if rule.kind == "drop":
        state.quota.record_fault(project, before_admission=True)
        return DropResponse(), None
    return None, rule


async def _admit(
    state: EmulatorState, project: str, model: ModelSpec, tokens: int, family: str
) -> None:
    refusal = state.quota.admit(
        project, model.name, state.limits(project, model), tokens, family=family
    )
    if refusal is not None:
        raise ApiError(
            429,
            "You exceeded your current quota, please check your plan and billing details. For "
            "more information on this error, head to: "
            "https://ai.google.dev/gemini-api/docs/rate-limits.",
            details=[
                quota_failure([refusal.violation]),
                help_links(
                    "https://ai.google.dev/gemini-api/docs/rate-limits",
                    "Learn more about Gemini API quotas",
                ),
                retry_info(max(refusal.retry_after, 0.0)),
            ],
        )


async def generate(
    state: EmulatorState, request: Request, version: str, model_name: str, stream: bool
) -> Response:
    """``:generateContent`` and ``:streamGenerateContent``."""
    method = "streamGenerateContent" if stream else "generateContent"
    project = state.authenticate(request)
    model = state.model(model_name, method, version)
    body = normalize(await read_json(request), "GenerateContentRequest")
    merged, cached = merged_prompt(state, project, model, body)
    check_generate_request(merged, model, state.signer)
    state.files.resolve_parts(project, merged["contents"])
    grounding = file_search_grounding(state, project, merged)
    early, late = await _pre_admission_fault(state, project, method, model)
    if early is not None:
        return early
    tokens = count_request(merged)
    await _admit(state, project, model, tokens, "Generate")
    if late is not None:
        state.quota.record_fault(project, before_admission=False)
    reply = state.responder.reply(merged, model, grounding)
    framing = Framing(model.name, secrets.token_urlsafe(16), tokens, cached, count_media(merged))
    if not stream:
        if late is not None and late.kind == "malformed":
            return Response(_BROKEN, media_type="application/json")
        return json_response(framing.response(reply))
    sse = request.query_params.get("alt") == "sse"
    chunks = framing.chunks(reply)
    return StreamingResponse(
        _stream_body(chunks, sse, late),
        media_type="text/event-stream" if sse else "application/json",
    )


async def _stream_body(
    chunks: list[dict[str, Any]], sse: bool, fault: FaultRule | None
) -> AsyncIterator[bytes]:
    cut = len(chunks)
    if fault is not None:
        cut = min(fault.after_chunks, len(chunks))
    for i, chunk in enumerate(chunks[:cut]):
        data = dumps(chunk)
        yield encode_sse(data) if sse else (b"[" if i == 0 else b",\r\n") + data
        await anyio.lowlevel.checkpoint()
    if fault is None:
        if not sse:
            yield b"]" if chunks else b"[]"
        return
    if fault.kind == "malformed":
        yield encode_sse(_BROKEN) if sse else (b"[" if cut == 0 else b",\r\n") + _BROKEN
        return
    error = dumps(fault_error(fault).body())
    yield encode_sse(error) if sse else (b"[" if cut == 0 else b",\r\n") + error + b"]"


async def count_tokens(
    state: EmulatorState, request: Request, version: str, model_name: str
) -> Response:
    """``:countTokens`` with either ``contents`` or ``generateContentRequest``."""
    project = state.authenticate(request)
    model = state.model(model_name, "countTokens", version)
    body = normalize(await read_json(request), "CountTokensRequest")
    if "contents" in body and "generateContentRequest" in body:
        raise invalid_argument("contents and generate_content_request are mutually exclusive.")
    inner = body.get("generateContentRequest") or {"contents": body.get("contents", [])}
    if not inner.get("contents") and "cachedContent" not in inner:
        raise invalid_argument("* CountTokensRequest.contents: contents is not specified")
    check_contents(inner.get("contents", []))
    merged, cached = merged_prompt(state, project, model, inner)
    total = count_request(merged)
    result: dict[str, Any] = {"totalTokens": total}
    if cached:
        result["cachedContentTokenCount"] = cached
    split = usage_metadata(total, 0, 0, 0, prompt_media=count_media(merged))
    result["promptTokensDetails"] = split["promptTokensDetails"]
    if cached:
        result["cacheTokensDetails"] = [{"modality": "TEXT", "tokenCount": cached}]
    return json_response(result)


def embedding_of(model: ModelSpec, item: Mapping[str, Any], path: str) -> list[float]:
    """The embedding of one ``EmbedContentRequest`` (``path`` prefixes its field errors)."""
    content = item.get("content")
    if not content or not content.get("parts"):
        raise invalid_argument(f"* {path}content: content is not specified")
    check_contents([content], f"{path}content")
    size = item.get("outputDimensionality", model.embedding_dimensions)
    if not 1 <= size <= model.embedding_dimensions:
        raise invalid_argument(
            f"output_dimensionality must be between 1 and {model.embedding_dimensions}, got {size}."
        )
    text = " ".join(p.get("text", "") for p in content["parts"])
    return embed_text(text, size)


async def embed(
    state: EmulatorState, request: Request, version: str, model_name: str, batch: bool
) -> Response:
    """``:embedContent`` and ``:batchEmbedContents``."""
    method = "batchEmbedContents" if batch else "embedContent"
    project = state.authenticate(request)
    model = state.model(model_name, method, version)
    raw = await read_json(request)
    if batch:
        items = normalize(raw, "BatchEmbedContentsRequest").get("requests", [])
        if not 1 <= len(items) <= 100:
            raise invalid_argument("A batch must hold between 1 and 100 requests.")
    else:
        items = [normalize(raw, "EmbedContentRequest")]
    for i, item in enumerate(items):
        named = item.get("model")
        if named and state.catalog.find(named) is not model:
            raise invalid_argument(
                f"requests[{i}].model {named} does not match the model in the URL "
                f"(models/{model.name})."
            )
    prefix = "requests[{}]." if batch else ""
    vectors = [embedding_of(model, item, prefix.format(i)) for i, item in enumerate(items)]
    early, late = await _pre_admission_fault(state, project, method, model)
    if early is not None:
        return early
    tokens = sum(count_contents([item["content"]]) for item in items)
    await _admit(state, project, model, tokens, "EmbedContent")
    if late is not None:
        state.quota.record_fault(project, before_admission=False)
        return Response(_BROKEN, media_type="application/json")
    if batch:
        return json_response({"embeddings": [{"values": v} for v in vectors]})
    return json_response({"embedding": {"values": vectors[0]}})


async def unknown_method(
    state: EmulatorState, request: Request, version: str, model_name: str, method: str
) -> Response:
    """A model URL with a method the API does not have: Google's 404."""
    state.authenticate(request)
    raise state.model_not_found(model_name, method or "generateContent", version)
