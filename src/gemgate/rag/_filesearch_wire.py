"""File Search resources as gemgate's types, and gemgate's metadata as File Search's."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from gemgate.errors import (
    APIStatusError,
    UsageError,
    status_error,
)
from gemgate.rag._backend import Filter
from gemgate.rag._types import DocumentInfo, StoreInfo

__all__ = [
    "HASH_KEY",
    "OWN_KEYS",
    "SOURCE_KEY",
    "api_error",
    "count",
    "custom_metadata",
    "document_info",
    "is_missing",
    "literal",
    "metadata_of",
    "store_info",
    "store_name",
    "timestamp",
    "metadata_filter",
]

HASH_KEY = "gemgate_sha256"
"""The ``customMetadata`` key holding a document's SHA-256 (the dedup key)."""
SOURCE_KEY = "gemgate_source"
"""The ``customMetadata`` key holding where a document came from (path or URL)."""
OWN_KEYS = (HASH_KEY, SOURCE_KEY)


def metadata_filter(filter: Filter) -> str:
    """A File Search ``metadataFilter``: ``key = "value"`` each, lists as OR, all ANDed."""
    terms = []
    for key, value in filter.items():
        if not key.replace("_", "").isalnum():
            raise UsageError(f"filter key {key!r}: only letters, digits and '_'")
        values = list(value) if isinstance(value, (list, tuple, set, frozenset)) else [value]
        if not values:
            raise UsageError(f"filter key {key!r} has an empty list")
        alternatives = [f"{key} = {literal(v)}" for v in values]
        terms.append(alternatives[0] if len(values) == 1 else f"({' OR '.join(alternatives)})")
    return " AND ".join(terms)


def literal(value: Any) -> str:
    if isinstance(value, bool):
        return json.dumps(str(value).lower())
    if isinstance(value, (int, float)):
        return repr(value)
    return json.dumps(str(value))


def api_error(exc: Any) -> APIStatusError:
    """The gemgate error for one the SDK raised (``google.genai.errors.APIError``)."""
    return status_error(int(exc.code or 500), exc.status, str(exc.message or ""))


def is_missing(exc: APIStatusError) -> bool:
    """A 404, or the 403 Gemini answers for a store or document that is not there (or not ours)."""
    return exc.status_code == 404 or (exc.status_code == 403 and "may not exist" in exc.message)


def store_name(store_id: str) -> str:
    return store_id if store_id.startswith("fileSearchStores/") else f"fileSearchStores/{store_id}"


def timestamp(value: str | None) -> float:
    if not value:
        return 0.0
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0


def count(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def store_info(raw: Mapping[str, Any]) -> StoreInfo:
    display = str(raw.get("displayName", ""))
    owner, slash, name = display.partition("/")
    if not slash:
        owner, name = "", display
    return StoreInfo(
        id=str(raw.get("name", "")).removeprefix("fileSearchStores/"),
        name=name,
        owner=owner,
        embedding_model=str(raw.get("embeddingModel", "")).removeprefix("models/"),
        created_at=timestamp(raw.get("createTime")),
        document_count=count(raw.get("activeDocumentsCount")),
        metadata={
            "size_bytes": count(raw.get("sizeBytes")),
            "pending_documents": count(raw.get("pendingDocumentsCount")),
            "failed_documents": count(raw.get("failedDocumentsCount")),
        },
    )


def document_info(store_id: str, raw: Mapping[str, Any]) -> DocumentInfo:
    custom = metadata_of(raw.get("customMetadata", []))
    metadata = {k: v for k, v in custom.items() if k not in OWN_KEYS}
    state = raw.get("state", "")
    if state and state != "STATE_ACTIVE":
        metadata["state"] = state
    return DocumentInfo(
        id=str(raw.get("name", "")).rsplit("/", 1)[-1],
        store_id=store_id,
        name=str(raw.get("displayName", "")),
        content_hash=str(custom.get(HASH_KEY, "")),
        mime_type=str(raw.get("mimeType", "")),
        size_bytes=count(raw.get("sizeBytes")),
        created_at=timestamp(raw.get("createTime")),
        source=str(custom.get(SOURCE_KEY, "")),
        metadata=metadata,
    )


def metadata_of(items: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Wire ``customMetadata`` as a dict (whole numbers as ints)."""
    out: dict[str, Any] = {}
    for item in items:
        key = item.get("key", "")
        if "stringValue" in item:
            out[key] = item["stringValue"]
        elif "numericValue" in item:
            number = float(item["numericValue"])
            out[key] = int(number) if number.is_integer() else number
        elif "stringListValue" in item:
            out[key] = list(item["stringListValue"].get("values", []))
    return out


def custom_metadata(metadata: Mapping[str, Any]) -> list[Any]:
    from google.genai import types

    out = []
    for key, value in metadata.items():
        if key in OWN_KEYS:
            raise UsageError(f"metadata key {key!r} is gemgate's own")
        if isinstance(value, bool):
            out.append(types.CustomMetadata(key=key, string_value=str(value).lower()))
        elif isinstance(value, (int, float)):
            out.append(types.CustomMetadata(key=key, numeric_value=float(value)))
        elif isinstance(value, (list, tuple)):
            listed = types.StringList(values=[str(v) for v in value])
            out.append(types.CustomMetadata(key=key, string_list_value=listed))
        else:
            out.append(types.CustomMetadata(key=key, string_value=str(value)))
    return out
