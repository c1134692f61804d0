"""The Files API: resumable uploads, PROCESSING → ACTIVE, expiry, per-project files."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from gemgate.emulator._errors import ApiError, failed_precondition, invalid_argument, not_found
from gemgate.wire.durations import format_timestamp

__all__ = ["FileStore", "StoredFile", "Upload"]

FILE_LIFETIME = 48 * 3600.0
_FILE_ID = re.compile(r"^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$")
_FILE_URI = re.compile(r"files/([a-z0-9-]+)$")


def _exists(name: str) -> ApiError:
    return ApiError(409, f"File {name} already exists.", status="ALREADY_EXISTS")


@dataclass
class StoredFile:
    """A file resource and its bytes."""

    name: str
    project: str
    display_name: str
    mime_type: str
    data: bytes
    create_time: float
    ready_time: float
    uri: str
    sha256: str = field(init=False)
    """``sha256Hash`` as the API shows it; the bytes never change after the upload."""

    def __post_init__(self) -> None:
        digest = hashlib.sha256(self.data).hexdigest()
        self.sha256 = base64.b64encode(digest.encode()).decode()

    def state(self, now: float) -> str:
        """``PROCESSING`` until ready, then ``ACTIVE``."""
        return "ACTIVE" if now >= self.ready_time else "PROCESSING"

    def resource(self, now: float) -> dict[str, Any]:
        """The wire ``File`` (``sizeBytes`` is an int64 string)."""
        out: dict[str, Any] = {
            "name": self.name,
            "mimeType": self.mime_type,
            "sizeBytes": str(len(self.data)),
            "createTime": format_timestamp(self.create_time),
            "updateTime": format_timestamp(max(self.create_time, min(now, self.ready_time))),
            "expirationTime": format_timestamp(self.create_time + FILE_LIFETIME),
            "sha256Hash": self.sha256,
            "uri": self.uri,
            "state": self.state(now),
            "source": "UPLOADED",
        }
        if self.display_name:
            out["displayName"] = self.display_name
        return out


@dataclass
class Upload:
    """A resumable upload in progress."""

    upload_id: str
    project: str
    name: str
    display_name: str
    mime_type: str
    declared_size: int | None
    received: bytearray = field(default_factory=bytearray)


class FileStore:
    """In-memory files and uploads, with an injected clock."""

    def __init__(
        self,
        clock: Callable[[], float],
        processing: Mapping[str, float],
        *,
        max_bytes: int = 2 * 1024 * 1024 * 1024,
    ) -> None:
        self.max_bytes = max_bytes
        """The largest file accepted (the service: 2 GB)."""
        self._clock = clock
        self._processing = dict(processing)
        self._files: dict[str, StoredFile] = {}
        self._uploads: dict[str, Upload] = {}

    def reset(self) -> None:
        """Delete every file and upload."""
        self._files.clear()
        self._uploads.clear()

    def start(
        self, project: str, metadata: Mapping[str, Any], mime: str | None, size: int | None
    ) -> Upload:
        """Begin a resumable upload; metadata is the normalized ``file`` object."""
        file_id = metadata.get("name", "").removeprefix("files/") or secrets.token_hex(6)
        if not _FILE_ID.match(file_id):
            raise invalid_argument(
                f"Invalid file name files/{file_id}: ids are lowercase letters, digits and "
                "dashes, at most 40 characters, not starting or ending with a dash."
            )
        if f"files/{file_id}" in self._files:
            raise _exists(f"files/{file_id}")
        declared = size if size is not None else metadata.get("sizeBytes")
        if declared is not None and int(declared) > self.max_bytes:
            raise self.too_large(int(declared))
        mime_type = metadata.get("mimeType") or mime
        if not mime_type:
            raise invalid_argument("Missing MIME type for the uploaded file.")
        upload = Upload(
            upload_id=secrets.token_urlsafe(12),
            project=project,
            name=f"files/{file_id}",
            display_name=metadata.get("displayName", ""),
            mime_type=mime_type,
            declared_size=size if size is not None else metadata.get("sizeBytes"),
        )
        self._uploads[upload.upload_id] = upload
        return upload

    def too_large(self, size: int) -> ApiError:
        """The 400 for a file of ``size`` bytes over :attr:`max_bytes`."""
        return invalid_argument(
            f"File size {size} bytes exceeds the maximum allowed size of {self.max_bytes} bytes."
        )

    def upload(self, upload_id: str) -> Upload:
        """The upload with this id."""
        upload = self._uploads.get(upload_id)
        if upload is None:
            raise not_found("Upload session not found or already finished.")
        return upload

    def finalize(self, upload: Upload, base_url: str, version: str) -> StoredFile:
        """Turn a completed upload into a file."""
        if upload.declared_size is not None and upload.declared_size != len(upload.received):
            raise invalid_argument(
                f"Upload finished with {len(upload.received)} bytes but "
                f"{upload.declared_size} were declared."
            )
        del self._uploads[upload.upload_id]
        if len(upload.received) > self.max_bytes:
            raise self.too_large(len(upload.received))
        if upload.name in self._files:
            # Another upload that asked for the same name finished first.
            raise _exists(upload.name)
        now = self._clock()
        delay = max(
            (s for prefix, s in self._processing.items() if upload.mime_type.startswith(prefix)),
            default=0.0,
        )
        stored = StoredFile(
            name=upload.name,
            project=upload.project,
            display_name=upload.display_name,
            mime_type=upload.mime_type,
            data=bytes(upload.received),
            create_time=now,
            ready_time=now + delay,
            uri=f"{base_url}/{version}/{upload.name}",
        )
        self._files[stored.name] = stored
        return stored

    def get(self, project: str, name: str) -> StoredFile:
        """The file ``name`` if it exists, has not expired and belongs to ``project``."""
        stored = self._files.get(name)
        if stored is not None and self._clock() >= stored.create_time + FILE_LIFETIME:
            del self._files[name]
            stored = None
        if stored is None or stored.project != project:
            raise ApiError(
                403,
                f"You do not have permission to access the File {name.removeprefix('files/')} "
                "or it may not exist.",
                status="PERMISSION_DENIED",
            )
        return stored

    def list(self, project: str) -> list[StoredFile]:
        """The project's files, newest first (the later upload first on equal times)."""
        now = self._clock()
        live = [
            f
            for f in reversed(self._files.values())
            if f.project == project and now < f.create_time + FILE_LIFETIME
        ]
        return sorted(live, key=lambda f: f.create_time, reverse=True)

    def delete(self, project: str, name: str) -> None:
        """Delete a file."""
        self.get(project, name)
        del self._files[name]

    def resolve(self, project: str, uri: str) -> StoredFile:
        """The ACTIVE file a ``fileData.fileUri`` points at."""
        match = _FILE_URI.search(uri)
        if match is None:
            raise invalid_argument(f"Unsupported file uri: {uri}")
        stored = self.get(project, f"files/{match.group(1)}")
        if stored.state(self._clock()) != "ACTIVE":
            raise failed_precondition(
                f"The File {match.group(1)} is not in an ACTIVE state and usage is not allowed."
            )
        return stored

    def resolve_parts(self, project: str, contents: Iterable[Mapping[str, Any]]) -> None:
        """Check every ``fileData`` part: the file is ``project``'s and ACTIVE."""
        for content in contents:
            for part in content.get("parts", []):
                if "fileData" in part:
                    self.resolve(project, part["fileData"].get("fileUri", ""))

    def now(self) -> float:
        """The store's clock."""
        return self._clock()
