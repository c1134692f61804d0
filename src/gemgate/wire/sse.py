r"""Server-sent events: an incremental decoder and Gemini's encoder.

The decoder follows the WHATWG ``text/event-stream`` parsing rules: UTF-8
(decoded incrementally, so a character may be split between chunks), a leading
BOM is dropped, lines end with CRLF, LF or CR, ``:`` starts a comment, several
``data:`` lines are joined with ``\n``, and a block without ``data:`` lines is
not dispatched. Gemini frames every event as ``data: <json>\r\n\r\n`` and
sends no ``[DONE]`` sentinel; the decoder treats any such payload as plain data.

Example:
    >>> decoder = SSEDecoder()
    >>> decoder.feed(b'data: {"a": 1}\r\n\r\ndata: {"b"')
    [SSEEvent(data='{"a": 1}', event=None, id=None, retry=None)]
    >>> decoder.feed(b": 2}\r\n")
    []
    >>> decoder.flush()
    [SSEEvent(data='{"b": 2}', event=None, id=None, retry=None)]
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

__all__ = ["SSEDecoder", "SSEEvent", "encode_sse"]

_LINE_END = re.compile(r"\r\n|\r|\n")
_LINE_END_BYTES = re.compile(rb"\r\n|\r|\n")


@dataclass(frozen=True, slots=True)
class SSEEvent:
    r"""One dispatched server-sent event.

    Attributes:
        data: The ``data:`` lines of the event, joined with ``\n``.
        event: The ``event:`` field, or None when absent or empty.
        id: The last event id seen on the stream so far (ids persist across events).
        retry: A ``retry:`` value in milliseconds received since the previous event.

    Example:
        >>> SSEEvent(data="hello").data
        'hello'
    """

    data: str
    event: str | None = None
    id: str | None = None
    retry: int | None = None


class SSEDecoder:
    r"""Incremental ``text/event-stream`` decoder; feed it bytes as they arrive.

    Example:
        >>> decoder = SSEDecoder()
        >>> decoder.feed(b"data: one\ndata: two\n")
        []
        >>> [event.data for event in decoder.feed(b"\n")]
        ['one\ntwo']
    """

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8-sig")(errors="replace")
        self._partial: list[str] = []
        self._skip_lf = False
        self._data: list[str] = []
        self._event = ""
        self._last_id = ""
        self._retry: int | None = None

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        """Decode a chunk of the stream.

        Args:
            chunk: The next bytes of the stream, split anywhere.

        Returns:
            The events completed by this chunk, in order.
        """
        return self._process_text(self._decoder.decode(chunk))

    def flush(self) -> list[SSEEvent]:
        """Finish the stream, dispatching an event that lacked its blank line.

        After `flush` the decoder is reset and can decode a new stream.

        Returns:
            The final event, if the stream ended inside one; otherwise an empty list.
        """
        events = self._process_text(self._decoder.decode(b"", final=True))
        if self._partial:  # a last line without its line break (never empty)
            self._process_line("".join(self._partial))
        final = self._dispatch()
        if final is not None:
            events.append(final)
        self._reset()
        return events

    def _process_text(self, text: str) -> list[SSEEvent]:
        if self._skip_lf and text:
            self._skip_lf = False
            if text.startswith("\n"):  # the rest of a CRLF split between two chunks
                text = text[1:]
        if not text:
            return []
        self._skip_lf = text.endswith("\r")
        lines = _LINE_END.split(text)
        tail = lines.pop()
        if lines:
            lines[0] = "".join(self._partial) + lines[0]
            self._partial.clear()
        if tail:
            self._partial.append(tail)
        events: list[SSEEvent] = []
        for line in lines:
            event = self._process_line(line)
            if event is not None:
                events.append(event)
        return events

    def _process_line(self, line: str) -> SSEEvent | None:
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id":
            if "\0" not in value:
                self._last_id = value
        elif name == "retry" and value.isascii() and value.isdigit():
            self._retry = int(value)
        return None

    def _dispatch(self) -> SSEEvent | None:
        data, event_type = self._data, self._event
        self._data, self._event = [], ""
        if not data:
            return None
        event = SSEEvent(
            data="\n".join(data),
            event=event_type or None,
            id=self._last_id or None,
            retry=self._retry,
        )
        self._retry = None
        return event


def encode_sse(data: str | bytes) -> bytes:
    r"""Frame a payload as one server-sent event, the way Gemini does.

    A payload containing line breaks becomes one ``data:`` line per line, which
    a decoder joins back with ``\n``.

    Args:
        data: The event payload; text is encoded as UTF-8.

    Returns:
        ``b"data: <payload>\r\n\r\n"``.

    Example:
        >>> encode_sse('{"candidates": []}')
        b'data: {"candidates": []}\r\n\r\n'
    """
    raw = data.encode("utf-8") if isinstance(data, str) else data
    lines = _LINE_END_BYTES.split(raw)
    return b"".join(b"data: " + line + b"\r\n" for line in lines) + b"\r\n"
