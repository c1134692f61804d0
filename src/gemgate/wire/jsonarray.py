r"""Incremental decoder for a JSON array streamed element by element.

Without ``alt=sse``, ``streamGenerateContent`` answers with one JSON array whose
elements (GenerateContentResponse objects) arrive over time:
``[{...}\r\n,\r\n{...}\r\n]``. `JSONArrayDecoder` yields each top-level
element as soon as its last byte arrives. It scans bytes (every JSON structural
character is ASCII, and UTF-8 continuation bytes never look like one), so a
multi-byte character split between chunks needs no special care. Each byte is
scanned once, so a large element arriving in many chunks costs O(n).

Example:
    >>> decoder = JSONArrayDecoder()
    >>> decoder.feed(b'[{"text": "a"},\r\n{"te')
    [{'text': 'a'}]
    >>> decoder.feed(b'xt": "b"}]')
    [{'text': 'b'}]
    >>> decoder.close()
"""

from __future__ import annotations

import json
import re
from enum import Enum, auto
from typing import Any

from gemgate.errors import WireDecodeError

__all__ = ["JSONArrayDecoder"]

_SCALAR_START = b"-0123456789tfn"
_NOT_WHITESPACE = re.compile(rb"[^ \t\r\n]")
_IN_CONTAINER = re.compile(rb'[\[\]{}"]')
_IN_STRING = re.compile(rb'["\\]')
_SCALAR_END = re.compile(rb'[ \t\r\n,\[\]{}"]')


class _State(Enum):
    START = auto()  # expecting "["
    FIRST = auto()  # after "[": an element or "]"
    NEXT = auto()  # after ",": an element
    ELEMENT = auto()  # inside an element
    AFTER = auto()  # after an element: "," or "]"
    DONE = auto()  # after "]": only whitespace


_WHERE = {
    _State.START: "at the start of the stream (expected '[')",
    _State.AFTER: "after an element (expected ',' or ']')",
    _State.DONE: "after the end of the array",
}


def _fail(message: str) -> WireDecodeError:
    return WireDecodeError(f"malformed JSON array stream: {message}")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


class JSONArrayDecoder:
    """Yield the elements of a streamed top-level JSON array as they complete.

    Elements may be any JSON value. Malformed input raises `WireDecodeError`,
    after which the decoder stays failed.

    Example:
        >>> decoder = JSONArrayDecoder()
        >>> decoder.feed(b"[1, ") + decoder.feed(b"[2], null]")
        [1, [2], None]
        >>> decoder.close()
    """

    def __init__(self) -> None:
        self._buf = bytearray()
        self._pos = 0  # next byte to scan in _buf
        self._state = _State.START
        self._depth = 0  # bracket depth inside the current element
        self._in_string = False
        self._scalar = False  # the current element is a bare number or literal
        self._error: str | None = None

    def feed(self, chunk: bytes) -> list[Any]:
        """Decode a chunk of the stream.

        Args:
            chunk: The next bytes of the body, split anywhere.

        Returns:
            The elements completed by this chunk, in order.

        Raises:
            WireDecodeError: If the data is not a well-formed JSON array.
        """
        if self._error is not None:
            raise WireDecodeError(self._error)
        self._buf += chunk
        elements: list[Any] = []
        try:
            while self._pos < len(self._buf):
                if self._state is _State.ELEMENT:
                    if not self._scan_element(elements):
                        break
                elif not self._scan_punctuation():
                    break
        except WireDecodeError as exc:
            self._error = str(exc)
            raise
        if self._state is not _State.ELEMENT:  # an element in progress stays at _buf[0]
            del self._buf[: self._pos]
            self._pos = 0
        return elements

    def close(self) -> None:
        """Signal the end of the body.

        Raises:
            WireDecodeError: If the array was never closed or an element is incomplete.
        """
        if self._error is not None:
            raise WireDecodeError(self._error)
        if self._state is not _State.DONE:
            where = "inside an element" if self._state is _State.ELEMENT else "before ']'"
            self._error = f"JSON array stream ended {where}"
            raise WireDecodeError(self._error)

    def _scan_punctuation(self) -> bool:
        """Handle the bytes between elements; return False when more input is needed."""
        match = _NOT_WHITESPACE.search(self._buf, self._pos)
        if match is None:
            self._pos = len(self._buf)
            return False
        index = match.start()
        byte = bytes(self._buf[index : index + 1])
        state = self._state
        if state is _State.START and byte == b"[":
            self._state = _State.FIRST
        elif byte == b"]" and state in (_State.FIRST, _State.AFTER):
            self._state = _State.DONE
        elif byte == b"," and state is _State.AFTER:
            self._state = _State.NEXT
        elif state in (_State.FIRST, _State.NEXT):
            self._start_element(index, byte)
            return True
        else:
            raise _fail(f"unexpected {byte!r} {_WHERE[state]}")
        self._pos = index + 1
        return True

    def _start_element(self, index: int, byte: bytes) -> None:
        if byte in (b"{", b"["):
            self._depth, self._in_string, self._scalar = 1, False, False
        elif byte == b'"':
            self._depth, self._in_string, self._scalar = 0, True, False
        elif byte in _SCALAR_START:
            self._depth, self._in_string, self._scalar = 0, False, True
        else:
            raise _fail(f"unexpected {byte!r} at the start of an element")
        del self._buf[:index]
        self._pos = 0 if self._scalar else 1
        self._state = _State.ELEMENT

    def _scan_element(self, elements: list[Any]) -> bool:
        """Advance through the current element; return False when more input is needed."""
        buf = self._buf
        if self._scalar:
            match = _SCALAR_END.search(buf, self._pos)
            if match is None:
                self._pos = len(buf)
                return False
            self._emit(match.start(), elements)
            return True
        pattern = _IN_STRING if self._in_string else _IN_CONTAINER
        match = pattern.search(buf, self._pos)
        if match is None:
            self._pos = len(buf)
            return False
        index = match.start()
        byte = buf[index]
        if byte == 0x5C:  # backslash: skip the escaped byte once it has arrived
            if index + 1 >= len(buf):
                self._pos = index
                return False
            self._pos = index + 2
        elif byte == 0x22:  # quote
            self._in_string = not self._in_string
            self._pos = index + 1
        else:
            self._depth += 1 if byte in b"[{" else -1
            self._pos = index + 1
        if self._depth == 0 and not self._in_string:
            self._emit(self._pos, elements)
        return True

    def _emit(self, end: int, elements: list[Any]) -> None:
        try:
            text = self._buf[:end].decode("utf-8")
            elements.append(json.loads(text, parse_constant=_reject_constant))
        except (ValueError, RecursionError) as exc:
            raise _fail(f"invalid element: {exc}") from exc
        self._pos = end
        self._state = _State.AFTER
