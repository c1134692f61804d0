"""``multipart/form-data`` request bodies, parsed as they stream in, with a size cap.

A body that declares more than the cap (``Content-Length``) is refused before any of it
is read; one that sends more is refused as soon as it has, so an oversized upload never
sits in memory whole.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.types import Receive, Scope

from gemgate.gateway._asgi import BadBody, BodyTooLarge, body_chunks, header

if TYPE_CHECKING:
    from python_multipart.multipart import MultipartCallbacks

__all__ = ["Form", "Upload", "is_multipart", "read_form"]


@dataclass(frozen=True, slots=True)
class Upload:
    """One file field: its field name, file name, declared content type and bytes."""

    field: str
    filename: str
    content_type: str
    data: bytes


@dataclass(slots=True)
class Form:
    """A parsed form: its files, in order, and its text fields (the last of each name)."""

    files: list[Upload] = field(default_factory=list)
    fields: dict[str, str] = field(default_factory=dict)


def is_multipart(scope: Scope) -> bool:
    """Whether the request's body is ``multipart/form-data``."""
    return (header(scope, b"content-type") or "").lower().startswith("multipart/form-data")


async def read_form(scope: Scope, receive: Receive, limit: int) -> Form:
    """The request's ``multipart/form-data`` body.

    Raises:
        BodyTooLarge: More than ``limit`` bytes (declared or sent).
        BadBody: Not a well-formed multipart body.
    """
    kind, options = parse_options_header(header(scope, b"content-type") or "")
    boundary = options.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        raise BadBody("The request body must be multipart/form-data with a boundary.")
    declared = header(scope, b"content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(f"request body exceeds {limit} bytes")
    form = Form()
    try:
        parser = MultipartParser(boundary, _Parts(form).callbacks())
    except ValueError:  # a boundary the parser refuses (over 256 bytes)
        raise BadBody("The multipart boundary is malformed.") from None
    async for chunk in body_chunks(receive, limit):
        try:
            parser.write(chunk)
        except Exception:  # python-multipart raises its own errors on malformed input
            raise BadBody("The multipart body is malformed.") from None
    try:
        parser.finalize()
    except Exception:
        raise BadBody("The multipart body is malformed.") from None
    return form


class _Parts:
    """Collects the parts into a `Form` as the parser finds them."""

    def __init__(self, form: Form) -> None:
        self._form = form
        self._name = bytearray()
        self._value = bytearray()
        self._headers: dict[bytes, bytes] = {}
        self._data = bytearray()

    def callbacks(self) -> MultipartCallbacks:
        """The parser's callbacks."""
        return {
            "on_header_field": lambda data, start, end: self._name.extend(data[start:end]),
            "on_header_value": lambda data, start, end: self._value.extend(data[start:end]),
            "on_header_end": self._header_end,
            "on_part_data": lambda data, start, end: self._data.extend(data[start:end]),
            "on_part_end": self._part_end,
        }

    def _header_end(self) -> None:
        self._headers[bytes(self._name).lower()] = bytes(self._value)
        self._name.clear()
        self._value.clear()

    def _part_end(self) -> None:
        disposition, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        name = options.get(b"name", b"").decode("utf-8", "replace")
        if disposition == b"form-data" and name:
            if b"filename" in options:
                filename = options[b"filename"].decode("utf-8", "replace")
                content_type = self._headers.get(b"content-type", b"").decode("latin-1")
                self._form.files.append(Upload(name, filename, content_type, bytes(self._data)))
            else:
                self._form.fields[name] = self._data.decode("utf-8", "replace")
        self._headers = {}
        self._data = bytearray()
