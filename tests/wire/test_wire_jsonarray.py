from __future__ import annotations

import json
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gemgate.errors import WireDecodeError
from gemgate.wire import jsonarray
from gemgate.wire.errors import parse_error
from gemgate.wire.jsonarray import JSONArrayDecoder

GEMINI_ARRAY = b"""[{
  "candidates": [
    {
      "content": {
        "parts": [
          {
            "text": "Hello {world} [ok] \\"quoted\\" \\\\"
          }
        ],
        "role": "model"
      },
      "index": 0
    }
  ],
  "modelVersion": "gemini-2.5-flash"
}
,\r
{
  "candidates": [{"content": {"parts": [{"text": "caf\xc3\xa9 \xe2\x82\xac"}], "role": "model"},
                  "finishReason": "STOP", "index": 0}],
  "usageMetadata": {"promptTokenCount": 4, "totalTokenCount": 20}
}
]"""


def decode_all(*chunks: bytes) -> list[Any]:
    decoder = JSONArrayDecoder()
    elements: list[Any] = []
    for chunk in chunks:
        elements.extend(decoder.feed(chunk))
    decoder.close()
    return elements


def split_at(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({0, len(data), *(c % (len(data) + 1) for c in cuts)})
    return [data[a:b] for a, b in zip(points, points[1:], strict=False)]


def test_gemini_pretty_printed_array() -> None:
    elements = decode_all(GEMINI_ARRAY)
    assert elements == json.loads(GEMINI_ARRAY)
    assert elements[0]["candidates"][0]["content"]["parts"][0]["text"] == (
        'Hello {world} [ok] "quoted" \\'
    )
    assert elements[1]["candidates"][0]["content"]["parts"][0]["text"] == "café €"


def test_gemini_array_byte_by_byte() -> None:
    chunks = [GEMINI_ARRAY[i : i + 1] for i in range(len(GEMINI_ARRAY))]
    assert decode_all(*chunks) == json.loads(GEMINI_ARRAY)


def test_elements_are_returned_as_soon_as_complete() -> None:
    decoder = JSONArrayDecoder()
    assert decoder.feed(b'\r\n[{"a": 1}') == [{"a": 1}]
    assert decoder.feed(b'\r\n,\r\n{"b": [2') == []
    assert decoder.feed(b"]}") == [{"b": [2]}]
    assert decoder.feed(b"\r\n]\r\n") == []
    decoder.close()


def test_empty_array() -> None:
    assert decode_all(b"[]") == []
    assert decode_all(b" \n[ \r\n ] \n") == []


def test_any_json_value_as_element() -> None:
    raw = b'[1, -2.5e3, "s,]}", true, false, null, [], {}, [[1], {"a": []}], 0]'
    assert decode_all(raw) == json.loads(raw)


def test_scalars_split_across_chunks() -> None:
    assert decode_all(b"[12", b"34, tr", b"ue, nu", b"ll, -", b"0.5", b"]") == [
        1234,
        True,
        None,
        -0.5,
    ]


def test_escaped_quote_and_backslash_at_chunk_boundary() -> None:
    raw = b'["a\\"b", {"k": "\\\\"}, "\\\\\\"]"]'
    expected = json.loads(raw)
    for cut in range(len(raw) + 1):
        assert decode_all(raw[:cut], raw[cut:]) == expected


def test_multibyte_character_split_between_chunks() -> None:
    raw = '[{"t": "é€😀"}, "😀"]'.encode()
    for cut in range(len(raw) + 1):
        assert decode_all(raw[:cut], raw[cut:]) == [{"t": "é€😀"}, "😀"]


def test_error_element_is_parsed_by_parse_error() -> None:
    decoder = JSONArrayDecoder()
    body = (
        b'[{"error": {"code": 503, "message": "The model is overloaded.",'
        b' "status": "UNAVAILABLE"}}\n]'
    )
    (element,) = decoder.feed(body)
    decoder.close()
    error = parse_error(element, status_code=200)
    assert (error.code, error.status, error.message) == (
        503,
        "UNAVAILABLE",
        "The model is overloaded.",
    )


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"   \r\n",
        b"[",
        b'[{"a": 1}',
        b'[{"a": 1},',
        b'[{"a": 1}, {"b"',
        b'["abc',
        b"[12",
        b'[{"a": "\\',
    ],
)
def test_truncated_stream_fails_on_close(raw: bytes) -> None:
    decoder = JSONArrayDecoder()
    decoder.feed(raw)
    with pytest.raises(WireDecodeError, match="ended"):
        decoder.close()


@pytest.mark.parametrize(
    "raw",
    [
        b"{}",
        b'"a"',
        b"[1,]",
        b"[,1]",
        b"[1 2]",
        b"[1,,2]",
        b'["a" "b"]',
        b"[{]}",
        b'[{"a":}]',
        b"[NaN]",
        b"[-Infinity]",
        b"[Infinity]",
        b"[tru]",
        b"[1]x",
        b"[1]]",
        b"[1][2]",
        b'["\xff"]',
        b"[-]",
        b"[01]",
    ],
)
def test_malformed_stream_raises(raw: bytes) -> None:
    decoder = JSONArrayDecoder()
    with pytest.raises(WireDecodeError, match="malformed JSON array stream"):
        decoder.feed(raw)
        decoder.close()


def test_decoder_stays_failed_after_an_error() -> None:
    decoder = JSONArrayDecoder()
    with pytest.raises(WireDecodeError):
        decoder.feed(b"[1,]")
    with pytest.raises(WireDecodeError):
        decoder.feed(b"")
    with pytest.raises(WireDecodeError):
        decoder.close()


def test_close_failure_is_sticky() -> None:
    decoder = JSONArrayDecoder()
    decoder.feed(b"[1")
    for _ in range(2):
        with pytest.raises(WireDecodeError):
            decoder.close()


class CountingPattern:
    """Wraps a compiled pattern and counts how many bytes its searches examine."""

    def __init__(self, pattern: re.Pattern[bytes], counter: list[int]) -> None:
        self.pattern = pattern
        self.counter = counter

    def search(self, buf: bytes | bytearray, pos: int = 0) -> re.Match[bytes] | None:
        match = self.pattern.search(buf, pos)
        self.counter[0] += (match.end() if match else len(buf)) - pos
        return match


def test_large_element_in_many_chunks_is_scanned_once(monkeypatch: pytest.MonkeyPatch) -> None:
    counter = [0]
    for name in ("_NOT_WHITESPACE", "_IN_CONTAINER", "_IN_STRING", "_SCALAR_END"):
        monkeypatch.setattr(jsonarray, name, CountingPattern(getattr(jsonarray, name), counter))
    text = 'x{[",]}\\"' * 50_000
    raw = json.dumps([{"text": text}, {"n": list(range(20_000))}, 7]).encode()
    chunks = [raw[i : i + 512] for i in range(0, len(raw), 512)]
    assert decode_all(*chunks) == [{"text": text}, {"n": list(range(20_000))}, 7]
    assert counter[0] <= len(raw) + len(chunks)


# --- property tests --------------------------------------------------------------------

tricky_text = st.text(st.sampled_from('{}[]",:\\ \t\n\ré€😀a0'), max_size=10)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
    | tricky_text,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text() | tricky_text, children, max_size=4)
    ),
    max_leaves=15,
)
whitespace = st.text(st.sampled_from(" \t\r\n"), max_size=3)


@settings(max_examples=200, deadline=None)
@given(elements=st.lists(json_values, max_size=5), data=st.data())
def test_streamed_array_property(elements: list[Any], data: st.DataObject) -> None:
    parts = [data.draw(whitespace), "["]
    for index, element in enumerate(elements):
        if index:
            parts += [data.draw(whitespace), ","]
        indent = data.draw(st.sampled_from([None, 0, 2]))
        ensure_ascii = data.draw(st.booleans())
        parts += [
            data.draw(whitespace),
            json.dumps(element, indent=indent, ensure_ascii=ensure_ascii),
        ]
    parts += [data.draw(whitespace), "]", data.draw(whitespace)]
    raw = "".join(parts).encode()
    cuts = data.draw(st.lists(st.integers(min_value=0, max_value=len(raw)), max_size=12))

    whole = decode_all(raw)
    assert whole == elements
    assert decode_all(*split_at(raw, cuts)) == whole


@settings(max_examples=200, deadline=None)
@given(elements=st.lists(json_values, max_size=4), data=st.data())
def test_truncation_is_always_detected(elements: list[Any], data: st.DataObject) -> None:
    raw = json.dumps(elements, ensure_ascii=False).encode()
    cut = data.draw(st.integers(min_value=0, max_value=len(raw) - 1))
    decoder = JSONArrayDecoder()
    with pytest.raises(WireDecodeError):
        decoder.feed(raw[:cut])
        decoder.close()


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(max_size=16) | st.sampled_from([b"[", b"]", b",", b'"', b"{", b"}"])))
def test_arbitrary_bytes_only_raise_wire_decode_error(chunks: list[bytes]) -> None:
    decoder = JSONArrayDecoder()
    try:
        for chunk in chunks:
            assert isinstance(decoder.feed(chunk), list)
        decoder.close()
    except WireDecodeError:
        pass
