"""What a batch is made of: keyed requests, their wire envelope, and the JSONL input file.

Requests come as a mapping ``key → request``, as ``(key, request)`` pairs, or as plain
requests (keys ``"0"``, ``"1"`` … in order). A request is a prompt (text), Gemini
``contents`` (a list of turns) or a whole ``GenerateContentRequest`` dict; for an
embedding batch it is a text or an ``EmbedContentRequest`` dict. Sans-I/O: nothing here
talks to the network.

Batch JSONL lines read by :func:`parse_line` are Gemini's (``{"key": …, "request": …}``)
or OpenAI's batch lines (``{"custom_id": …, "method": "POST", "url":
"/v1/chat/completions", "body": {…}}``), translated to Gemini requests by
:mod:`gemgate.wire.openai`.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import IO, Any, Literal

from gemgate.errors import UsageError
from gemgate.wire import openai

__all__ = [
    "FILE_LIMIT",
    "INLINE_LIMIT",
    "Kind",
    "Prepared",
    "RequestsLike",
    "file_body",
    "fits_inline",
    "inline_body",
    "keyed_requests",
    "parse_line",
    "prepare",
]

INLINE_LIMIT = 20 * 1024 * 1024
"""The largest inline batch request the API takes, in bytes (20 MB)."""
FILE_LIMIT = 2 * 1024 * 1024 * 1024
"""The largest input file the Files API takes, in bytes (2 GB)."""
_ENVELOPE = 256
"""Bytes of the inline body beyond its requests (``{"batch":{"displayName":…}}``)."""

Kind = Literal["generate", "embed"]
RequestsLike = (
    Mapping[str, Any]
    | Iterable[tuple[str, Any]]
    | Iterable[str | Sequence[Mapping[str, Any]] | Mapping[str, Any]]
)
"""A mapping ``key → request``, ``(key, request)`` pairs, or plain requests."""

_SPOOL_MEMORY = 8 * 1024 * 1024
"""A JSONL input kept in memory up to this size; beyond it, in a temporary file."""


def keyed_requests(requests: RequestsLike, kind: Kind) -> Iterable[tuple[str, dict[str, Any]]]:
    """``(key, wire request)`` pairs, in order; keys must be unique strings.

    Raises:
        UsageError: A duplicate key, or a request that is none of the accepted shapes.
    """
    seen: set[str] = set()
    items: Iterable[Any] = requests.items() if isinstance(requests, Mapping) else requests
    for index, item in enumerate(items):
        if isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str):
            key, request = item
        else:
            key, request = str(index), item
        if key in seen:
            raise UsageError(f"batch key {key!r} is given twice")
        seen.add(key)
        yield key, _request(request, kind, key)


def _request(request: Any, kind: Kind, key: str) -> dict[str, Any]:
    """One request on the wire: a text or turns become a request of that content."""
    if kind == "embed":
        if isinstance(request, str):
            return {"content": {"parts": [{"text": request}]}}
        if isinstance(request, Mapping):
            return dict(request)
        raise UsageError(f"batch request {key!r}: an embedding request is a text or a dict")
    if isinstance(request, str):
        return {"contents": [{"role": "user", "parts": [{"text": request}]}]}
    if isinstance(request, Mapping):
        return dict(request)
    if isinstance(request, Sequence) and all(isinstance(c, Mapping) for c in request):
        return {"contents": [dict(c) for c in request]}
    raise UsageError(
        f"batch request {key!r}: give a prompt, a list of contents or a GenerateContentRequest"
    )


@dataclass
class Prepared:
    """A batch's requests encoded once: the JSONL lines (spooled) and their keys."""

    keys: list[str]
    lines: IO[bytes]
    """The input file's bytes: one ``{"key", "request"}`` line per request."""
    size: int

    def close(self) -> None:
        """Drop the spooled lines."""
        self.lines.close()

    def chunks(self, size: int) -> Iterable[bytes]:
        """The input file in pieces of ``size`` bytes."""
        self.lines.seek(0)
        while piece := self.lines.read(size):
            yield piece


def prepare(requests: RequestsLike, kind: Kind) -> Prepared:
    """Encode the requests once, as JSONL, spooled to disk beyond a few megabytes.

    Raises:
        UsageError: No requests, a duplicate key or a request of no accepted shape.
    """
    spool = tempfile.SpooledTemporaryFile(max_size=_SPOOL_MEMORY)  # noqa: SIM115 - Prepared owns it
    keys: list[str] = []
    size = 0
    try:
        for key, request in keyed_requests(requests, kind):
            line = json.dumps({"key": key, "request": request}, separators=(",", ":")).encode()
            spool.write(line + b"\n")
            size += len(line) + 1
            keys.append(key)
    except BaseException:
        spool.close()
        raise
    if not keys:
        spool.close()
        raise UsageError("a batch needs at least one request")
    return Prepared(keys, spool, size)


def fits_inline(prepared: Prepared, limit: int) -> bool:
    """Whether the inline body (about the JSONL's size) stays under ``limit`` bytes."""
    return prepared.size + _ENVELOPE + 32 * len(prepared.keys) <= limit


def inline_body(prepared: Prepared, display_name: str | None) -> bytes:
    """The ``batch`` body with every request inline, built from the spooled lines."""
    parts: list[bytes] = []
    prepared.lines.seek(0)
    for raw in prepared.lines:
        row = json.loads(raw)
        item = {"request": row["request"], "metadata": {"key": row["key"]}}
        parts.append(json.dumps(item, separators=(",", ":")).encode())
    batch: dict[str, Any] = {}
    if display_name:
        batch["displayName"] = display_name
    head = json.dumps({"batch": batch}, separators=(",", ":")).encode()[:-2]  # '{"batch":{…'
    joiner = b"," if batch else b""
    items = b",".join(parts)
    return head + joiner + b'"inputConfig":{"requests":{"requests":[' + items + b"]}}}}"


def file_body(file_name: str, display_name: str | None) -> bytes:
    """The ``batch`` body of a batch whose requests are in the uploaded ``file_name``."""
    batch: dict[str, Any] = {"inputConfig": {"fileName": file_name}}
    if display_name:
        batch["displayName"] = display_name
    return json.dumps({"batch": batch}, separators=(",", ":")).encode()


def parse_line(line: str | bytes, number: int) -> tuple[str, dict[str, Any], str | None]:
    """A batch JSONL line: its key, its Gemini request and the model it names (if any).

    Gemini's lines are ``{"key", "request"}``; OpenAI's are ``{"custom_id", "method",
    "url", "body"}`` with a chat-completions body (its ``model`` is returned).

    Raises:
        UsageError: Not JSON, or neither shape (the message names line ``number``).
    """
    try:
        row = json.loads(line)
    except ValueError as exc:
        raise UsageError(f"line {number}: not JSON ({exc})") from None
    if not isinstance(row, dict):
        raise UsageError(f"line {number}: a line must be a JSON object")
    if "request" in row:
        request = row["request"]
        if not isinstance(request, dict):
            raise UsageError(f"line {number}: 'request' must be an object")
        return str(row.get("key", number)), request, None
    if "custom_id" in row and "body" in row:
        url = str(row.get("url", "/v1/chat/completions"))
        if not url.endswith("/chat/completions"):
            raise UsageError(f"line {number}: only /v1/chat/completions lines can be batched")
        try:
            chat = openai.chat_request(row["body"])
        except openai.InvalidRequest as exc:
            raise UsageError(f"line {number}: {exc}") from None
        return str(row["custom_id"]), chat.request, chat.model
    raise UsageError(
        f'line {number}: expected {{"key", "request"}} or an OpenAI batch line with '
        '"custom_id" and "body"'
    )
