"""``/v1/files``: OpenAI's Files API — upload, list, read, download, delete.

Files are kept per gateway key (`gemgate.gateway._files.Files`); another key's file is
OpenAI's 404. They are what ``/v1/vector_stores/{id}/files`` ingests.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import Receive, Scope, Send

from gemgate.gateway._asgi import send_bytes, send_json
from gemgate.gateway._faces import Problem
from gemgate.gateway._files import FileRecord, Files
from gemgate.gateway._multipart import read_form
from gemgate.gateway._sessions_api import owner_of

__all__ = ["PURPOSES", "FilesRoute", "file_json", "limit_of", "missing_file", "page"]

PURPOSES = frozenset({"assistants", "batch", "fine-tune", "vision", "user_data", "evals"})
"""The purposes OpenAI accepts on upload."""


def file_json(record: FileRecord) -> dict[str, Any]:
    """OpenAI's file object."""
    return {
        "id": record.id,
        "object": "file",
        "bytes": record.bytes,
        "created_at": record.created_at,
        "filename": record.filename,
        "purpose": record.purpose,
        "status": "processed",
        "expires_at": None,
        "status_details": None,
    }


def missing_file(file_id: str) -> Problem:
    """OpenAI's 404 for a file that is not there (or is another key's)."""
    return Problem(404, f"No such File object: {file_id}", "file_id", code="file_not_found")


class FilesRoute:
    """Serves ``/v1/files``.

    ``reader`` says which unfinished batch, if any, reads a file (owner, file id): such a
    file is not deleted, since the batch's price is worked out from it when it ends.
    """

    def __init__(
        self,
        files: Files,
        max_body: int,
        reader: Callable[[str, str], Awaitable[str | None]],
    ) -> None:
        self.files = files
        self._max_body = max_body
        self.reader = reader

    async def create(self, scope: Scope, receive: Receive, send: Send) -> None:
        """``POST /v1/files``: multipart ``file`` and ``purpose``."""
        form = await read_form(scope, receive, self._max_body)
        uploads = [f for f in form.files if f.field == "file"]
        if len(uploads) != 1:
            raise Problem(400, "send exactly one 'file' field", "file")
        purpose = form.fields.get("purpose")
        if purpose not in PURPOSES:
            raise Problem(400, f"'purpose' must be one of {sorted(PURPOSES)}", "purpose")
        upload = uploads[0]
        name = upload.filename or "file"
        record = await self.files.add(owner_of(scope) or "", name, purpose, upload.data)
        await send_json(send, 200, file_json(record))

    async def list_all(self, scope: Scope, receive: Receive, send: Send) -> None:
        """``GET /v1/files?purpose=&limit=&after=``."""
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
        limit = limit_of(query.get("limit", "10000"))
        records = await self.files.list_files(
            owner_of(scope) or "",
            limit=limit + 1,
            after=query.get("after") or None,
            purpose=query.get("purpose") or None,
        )
        await send_json(send, 200, page([file_json(r) for r in records], limit))

    async def read(self, scope: Scope, receive: Receive, send: Send) -> None:
        """``GET /v1/files/{file_id}``."""
        await send_json(send, 200, file_json(await self._record(scope)))

    async def content(self, scope: Scope, receive: Receive, send: Send) -> None:
        """``GET /v1/files/{file_id}/content``: the bytes."""
        file_id = scope["path_params"]["file_id"]
        data = await self.files.content(owner_of(scope) or "", file_id)
        if data is None:
            raise missing_file(file_id)
        await send_bytes(send, 200, data, [("content-type", "application/octet-stream")])

    async def delete(self, scope: Scope, receive: Receive, send: Send) -> None:
        """``DELETE /v1/files/{file_id}``."""
        file_id = scope["path_params"]["file_id"]
        owner = owner_of(scope) or ""
        if (batch := await self.reader(owner, file_id)) is not None:
            raise Problem(
                409, f"File {file_id} is the input of {batch}, which has not finished.", "file_id"
            )
        if not await self.files.delete(owner, file_id):
            raise missing_file(file_id)
        await send_json(send, 200, {"id": file_id, "object": "file", "deleted": True})

    async def _record(self, scope: Scope) -> FileRecord:
        file_id = scope["path_params"]["file_id"]
        record = await self.files.get(owner_of(scope) or "", file_id)
        if record is None:
            raise missing_file(file_id)
        return record


def page(data: list[dict[str, Any]], limit: int) -> dict[str, Any]:
    """OpenAI's cursor page of ``data`` (one more than ``limit`` was read: ``has_more``)."""
    shown = data[:limit]
    return {
        "object": "list",
        "data": shown,
        "first_id": shown[0]["id"] if shown else None,
        "last_id": shown[-1]["id"] if shown else None,
        "has_more": len(data) > limit,
    }


def limit_of(value: str, *, most: int = 10_000) -> int:
    """A list's ``?limit=``: an integer from 1 to ``most`` (OpenAI's range), else a 400."""
    if not value.isdigit() or not 1 <= int(value) <= most:
        raise Problem(400, f"'limit' must be an integer from 1 to {most}", "limit")
    return int(value)
