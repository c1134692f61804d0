"""File Search stores: documents parsed and chunked by long-running operations.

A document is parsed and chunked when its upload or import arrives, but it stays
``STATE_PENDING`` (and its operation not ``done``) until ``processing`` seconds have
passed on the emulator's clock; then it is ``STATE_ACTIVE``, or ``STATE_FAILED`` with the
operation's ``error`` when it could not be read. Stores belong to the project that
created them; another project gets the same 403 as for a store that does not exist.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from gemgate.documents import Chunk, Chunking, chunk_pages, parse
from gemgate.emulator._errors import ApiError, failed_precondition, invalid_argument
from gemgate.emulator._metadata_filter import Value
from gemgate.errors import DocumentError
from gemgate.wire.durations import format_timestamp

__all__ = [
    "FileSearchStores",
    "Operation",
    "Pending",
    "SearchStore",
    "StoreUpload",
    "StoredDocument",
]

DEFAULT_CHUNKING = Chunking(max_tokens=256, overlap=32)
MAX_CUSTOM_METADATA = 20
_MAX_DISPLAY = 512
_MIME = re.compile(r"^[\w.+-]+/[\w.+-]+$")
_RPC_CODES = {400: 3, 413: 3, 415: 3, 422: 3}
_RESPONSE_TYPE = "type.googleapis.com/google.ai.generativelanguage.v1main.{}"


def _resource_id(display_name: str) -> str:
    """``display-name-<12 random>``: at most 40 lowercase letters, digits and dashes."""
    slug = re.sub(r"[^a-z0-9]+", "-", display_name.lower()).strip("-")[:27].rstrip("-")
    suffix = "".join(secrets.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(12))
    return f"{slug}-{suffix}" if slug else suffix


def _missing_store(name: str) -> ApiError:
    return ApiError(
        403,
        f"You do not have permission to access the FileSearchStore {name} or it may not exist.",
        status="PERMISSION_DENIED",
    )


def _missing_document(name: str) -> ApiError:
    return ApiError(
        403,
        f"You do not have permission to access the Document {name} or it may not exist.",
        status="PERMISSION_DENIED",
    )


def _metadata_values(items: list[Mapping[str, Any]]) -> dict[str, Value]:
    """``customMetadata`` as ``{key: value}``; each entry needs a key and one value."""
    if len(items) > MAX_CUSTOM_METADATA:
        raise invalid_argument(
            f"A Document can have at most {MAX_CUSTOM_METADATA} custom_metadata entries."
        )
    values: dict[str, Value] = {}
    for i, item in enumerate(items):
        key = item.get("key")
        if not key:
            raise invalid_argument(f"custom_metadata[{i}].key is required.")
        kinds = [k for k in ("stringValue", "numericValue", "stringListValue") if k in item]
        if len(kinds) != 1:
            raise invalid_argument(
                f"custom_metadata[{i}] must set exactly one of string_value, numeric_value "
                "and string_list_value."
            )
        value = item[kinds[0]]
        values[key] = list(value.get("values", [])) if kinds[0] == "stringListValue" else value
    return values


def _chunking(config: Mapping[str, Any]) -> Chunking:
    spaces = config.get("whiteSpaceConfig")
    if not spaces:
        return DEFAULT_CHUNKING
    size = spaces.get("maxTokensPerChunk", DEFAULT_CHUNKING.max_tokens)
    overlap = spaces.get("maxOverlapTokens", 0)
    if not 1 <= size <= 2048:
        raise invalid_argument("max_tokens_per_chunk must be between 1 and 2048.")
    if not 0 <= overlap < size:
        raise invalid_argument(
            "max_overlap_tokens must be at least 0 and less than max_tokens_per_chunk."
        )
    return Chunking(max_tokens=size, overlap=overlap)


@dataclass
class StoredDocument:
    """A document of a store: its resource fields, chunks and processing outcome."""

    name: str
    display_name: str
    custom_metadata: list[dict[str, Any]]
    metadata: dict[str, Value]
    mime_type: str
    size: int
    create_time: float
    ready_time: float
    chunks: list[Chunk] = field(default_factory=list)
    error: DocumentError | None = None

    def state(self, now: float) -> str:
        """``STATE_PENDING`` until processed, then ``STATE_ACTIVE`` or ``STATE_FAILED``."""
        if now < self.ready_time:
            return "STATE_PENDING"
        return "STATE_FAILED" if self.error is not None else "STATE_ACTIVE"

    def resource(self, now: float) -> dict[str, Any]:
        """The wire ``Document`` (``sizeBytes`` is an int64 string)."""
        out: dict[str, Any] = {"name": self.name}
        if self.display_name:
            out["displayName"] = self.display_name
        if self.custom_metadata:
            out["customMetadata"] = self.custom_metadata
        out.update(
            {
                "updateTime": format_timestamp(max(self.create_time, min(now, self.ready_time))),
                "createTime": format_timestamp(self.create_time),
                "state": self.state(now),
                "sizeBytes": str(self.size),
                "mimeType": self.mime_type,
            }
        )
        return out


@dataclass
class SearchStore:
    """A store and its documents (in creation order)."""

    name: str
    project: str
    display_name: str
    create_time: float
    update_time: float
    embedding_model: str = ""
    documents: dict[str, StoredDocument] = field(default_factory=dict)

    def resource(self, now: float) -> dict[str, Any]:
        """The wire ``FileSearchStore``; counts and size are int64 strings, zeros omitted."""
        states = [d.state(now) for d in self.documents.values()]
        out: dict[str, Any] = {"name": self.name}
        if self.display_name:
            out["displayName"] = self.display_name
        out["createTime"] = format_timestamp(self.create_time)
        out["updateTime"] = format_timestamp(self.update_time)
        counts = {
            "activeDocumentsCount": states.count("STATE_ACTIVE"),
            "pendingDocumentsCount": states.count("STATE_PENDING"),
            "failedDocumentsCount": states.count("STATE_FAILED"),
            "sizeBytes": sum(
                d.size for d in self.documents.values() if d.state(now) == "STATE_ACTIVE"
            ),
        }
        out.update({key: str(value) for key, value in counts.items() if value})
        if self.embedding_model:
            out["embeddingModel"] = self.embedding_model
        return out


@dataclass
class Operation:
    """A long-running import or upload; done once its document is processed."""

    name: str
    project: str
    kind: str
    """``UploadToFileSearchStore`` or ``ImportFile``."""
    store: str
    document: StoredDocument

    def resource(self, now: float) -> dict[str, Any]:
        """The wire ``Operation``: ``done`` and ``response`` or ``error`` once finished."""
        out: dict[str, Any] = {"name": self.name}
        if now < self.document.ready_time:
            return out
        out["done"] = True
        error = self.document.error
        if error is not None:
            out["error"] = {"code": _RPC_CODES.get(error.status_code, 3), "message": str(error)}
        else:
            out["response"] = {
                "@type": _RESPONSE_TYPE.format(f"{self.kind}Response"),
                "parent": self.store,
                "documentName": self.document.name,
            }
        return out


@dataclass
class Pending:
    """Document settings sent before the bytes of an upload."""

    display_name: str
    custom_metadata: list[dict[str, Any]]
    metadata: dict[str, Value]
    chunking: Chunking
    mime_type: str | None


@dataclass
class StoreUpload:
    """A resumable upload into a store, in progress."""

    upload_id: str
    project: str
    store: str
    settings: Pending
    declared_size: int | None
    received: bytearray = field(default_factory=bytearray)


class FileSearchStores:
    """In-memory File Search stores, documents and operations, with an injected clock."""

    def __init__(self, clock: Callable[[], float], processing: float) -> None:
        self._clock = clock
        self._processing = processing
        self._stores: dict[str, SearchStore] = {}
        self._operations: dict[str, Operation] = {}
        self._uploads: dict[str, StoreUpload] = {}

    def reset(self) -> None:
        """Delete every store, operation and upload."""
        self._stores.clear()
        self._operations.clear()
        self._uploads.clear()

    def start_upload(
        self, project: str, store: str, settings: Pending, size: int | None
    ) -> StoreUpload:
        """Begin a resumable upload into ``store``."""
        upload = StoreUpload(secrets.token_urlsafe(12), project, store, settings, size)
        self._uploads[upload.upload_id] = upload
        return upload

    def upload(self, upload_id: str) -> StoreUpload:
        """The upload with this id."""
        upload = self._uploads.get(upload_id)
        if upload is None:
            raise ApiError(404, "Upload session not found or already finished.", status="NOT_FOUND")
        return upload

    def finish_upload(self, upload_id: str) -> None:
        """Forget a finalized upload."""
        self._uploads.pop(upload_id, None)

    def now(self) -> float:
        """The stores' clock."""
        return self._clock()

    def create(self, project: str, display_name: str, embedding_model: str = "") -> SearchStore:
        """Create a store named after its display name."""
        if len(display_name) > _MAX_DISPLAY:
            raise invalid_argument(f"display_name must be at most {_MAX_DISPLAY} characters.")
        now = self._clock()
        store = SearchStore(
            name=f"fileSearchStores/{_resource_id(display_name)}",
            project=project,
            display_name=display_name,
            create_time=now,
            update_time=now,
            embedding_model=embedding_model,
        )
        self._stores[store.name] = store
        return store

    def get(self, project: str, name: str) -> SearchStore:
        """The store ``name`` if it exists and belongs to ``project``."""
        store = self._stores.get(name)
        if store is None or store.project != project:
            raise _missing_store(name)
        return store

    def list(self, project: str) -> list[SearchStore]:
        """The project's stores, oldest first (ascending ``createTime``, as the API sorts)."""
        return [s for s in self._stores.values() if s.project == project]

    def delete(self, project: str, name: str, force: bool) -> None:
        """Delete a store; one with documents only with ``force``."""
        store = self.get(project, name)
        if store.documents and not force:
            raise failed_precondition(
                f"Cannot delete non-empty FileSearchStore {name} without force=true."
            )
        del self._stores[name]
        for op in [o for o in self._operations.values() if o.store == name]:
            del self._operations[op.name]

    def document(self, project: str, store_name: str, name: str) -> StoredDocument:
        """The document ``name`` of the caller's store ``store_name``."""
        store = self.get(project, store_name)
        document = store.documents.get(name)
        if document is None:
            raise _missing_document(name)
        return document

    def delete_document(self, project: str, store_name: str, name: str, force: bool) -> None:
        """Delete a document; one with chunks only with ``force``."""
        document = self.document(project, store_name, name)
        if document.chunks and not force:
            raise failed_precondition(
                f"Cannot delete Document {name} that contains Chunks without force=true."
            )
        store = self.get(project, store_name)
        del store.documents[name]
        store.update_time = self._clock()

    @staticmethod
    def settings(body: Mapping[str, Any]) -> Pending:
        """Check a normalized upload or import body's document settings."""
        mime = body.get("mimeType")
        if mime is not None and not _MIME.match(mime):
            raise invalid_argument(
                "* UploadToFileSearchStoreRequest.mime_type: When provided, MIME type must be "
                "in a valid type/subtype format (e.g., 'text/plain', 'application/pdf').\n"
            )
        display = body.get("displayName", "")
        if len(display) > _MAX_DISPLAY:
            raise invalid_argument(f"display_name must be at most {_MAX_DISPLAY} characters.")
        items = body.get("customMetadata", [])
        return Pending(
            display_name=display,
            custom_metadata=items,
            metadata=_metadata_values(items),
            chunking=_chunking(body.get("chunkingConfig", {})),
            mime_type=mime,
        )

    def ingest(
        self, project: str, store_name: str, kind: str, pending: Pending, data: bytes, name: str
    ) -> Operation:
        """Add a document from ``data``; return the operation that reports on it.

        ``name`` is the file name used to guess the type when no MIME type is known.
        """
        store = self.get(project, store_name)
        now = self._clock()
        display = pending.display_name
        document = StoredDocument(
            name=f"{store.name}/documents/{_resource_id(display)}",
            display_name=display,
            custom_metadata=pending.custom_metadata,
            metadata=pending.metadata,
            mime_type=pending.mime_type or "application/octet-stream",
            size=len(data),
            create_time=now,
            ready_time=now + self._processing,
        )
        try:
            mime, pages = parse(data, name=display or name, mime_type=pending.mime_type)
            document.mime_type = mime
            document.chunks = chunk_pages(pages, pending.chunking)
        except DocumentError as exc:
            document.error = exc
        store.documents[document.name] = document
        store.update_time = now
        middle = "/upload" if kind == "UploadToFileSearchStore" else ""
        operation = Operation(
            name=f"{store.name}{middle}/operations/{_resource_id(display)}",
            project=project,
            kind=kind,
            store=store.name,
            document=document,
        )
        self._operations[operation.name] = operation
        return operation

    def operation(self, project: str, name: str) -> Operation:
        """The operation ``name`` of one of the caller's stores."""
        operation = self._operations.get(name)
        if operation is None or operation.project != project:
            raise ApiError(404, f"Operation {name} not found.", status="NOT_FOUND")
        return operation

    def searchable(self, project: str, names: Sequence[str]) -> Sequence[SearchStore]:
        """The stores a ``fileSearch`` tool names, each checked like a GET."""
        return [self.get(project, name) for name in names]
