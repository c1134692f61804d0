from __future__ import annotations

import json
from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from gemgate.wire.sse import SSEDecoder, SSEEvent, encode_sse

GEMINI_STREAM = (
    b'data: {"candidates":[{"content":{"parts":[{"text":"Okay, let\'s"}],"role":"model"},'
    b'"index":0}],"usageMetadata":{"promptTokenCount":4,"totalTokenCount":2095},'
    b'"modelVersion":"gemini-2.5-flash","responseId":"IZI2acSKMoWl0-kPmYj2yQc"}\r\n\r\n'
    b'data: {"candidates":[{"content":{"parts":[{"text":" etc."}],"role":"model"},'
    b'"finishReason":"STOP","index":0}],"modelVersion":"gemini-2.5-flash",'
    b'"responseId":"IZI2acSKMoWl0-kPmYj2yQc"}\r\n\r\n'
)


def decode_all(*chunks: bytes) -> list[SSEEvent]:
    decoder = SSEDecoder()
    events: list[SSEEvent] = []
    for chunk in chunks:
        events.extend(decoder.feed(chunk))
    return events + decoder.flush()


def split_at(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({0, len(data), *(c % (len(data) + 1) for c in cuts)})
    return [data[a:b] for a, b in zip(points, points[1:], strict=False)]


def test_gemini_framing() -> None:
    events = decode_all(GEMINI_STREAM)
    assert len(events) == 2
    first, second = (json.loads(event.data) for event in events)
    assert first["candidates"][0]["content"]["parts"][0]["text"] == "Okay, let's"
    assert second["candidates"][0]["finishReason"] == "STOP"
    assert all(event.event is None and event.id is None for event in events)


def test_a_crlf_split_across_chunks_keeps_the_next_blank_line() -> None:
    # "\r" | "\n" | "\n": the second LF ends the event, it is not the CRLF's rest.
    assert decode_all(b"data: a\r", b"\n", b"\ndata: b\n\n") == [
        SSEEvent("a"),
        SSEEvent("b"),
    ]


def test_gemini_framing_byte_by_byte() -> None:
    chunks = [GEMINI_STREAM[i : i + 1] for i in range(len(GEMINI_STREAM))]
    assert decode_all(*chunks) == decode_all(GEMINI_STREAM)


def test_events_are_returned_as_soon_as_complete() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\r\n") == []
    assert decoder.feed(b"\r\n") == [SSEEvent("a")]
    assert decoder.flush() == []


def test_multi_line_data_is_joined_with_newline() -> None:
    assert decode_all(b'data: {\ndata:  "a": 1\ndata: }\n\n') == [SSEEvent('{\n "a": 1\n}')]


def test_comment_lines_are_ignored() -> None:
    stream = b": keep-alive\r\ndata: x\r\n:another comment\r\n\r\n: trailing\r\n\r\n"
    assert decode_all(stream) == [SSEEvent("x")]


def test_cr_at_chunk_end_then_lf_is_one_line_break() -> None:
    # If the LF were read as a second (empty) line, "a" and "b" would be two events.
    assert decode_all(b"data: a\r", b"\ndata: b\r", b"\n\r", b"\n") == [SSEEvent("a\nb")]


def test_lone_cr_and_lf_line_endings() -> None:
    assert decode_all(b"data: a\rdata: b\r\rdata: c\n\n") == [SSEEvent("a\nb"), SSEEvent("c")]


def test_cr_then_empty_chunk_then_lf() -> None:
    assert decode_all(b"data: a\r", b"", b"\n", b"\r\n") == [SSEEvent("a")]


def test_block_without_data_is_not_dispatched() -> None:
    assert decode_all(b"event: ping\n\nid: 7\n\n\n\n") == []


def test_data_without_colon_is_empty_data() -> None:
    assert decode_all(b"data\n\n") == [SSEEvent("")]
    assert decode_all(b"data\ndata\n\n") == [SSEEvent("\n")]


def test_only_one_space_after_colon_is_stripped() -> None:
    assert decode_all(b"data:x\n\ndata:  x\n\ndata:\tx\n\n") == [
        SSEEvent("x"),
        SSEEvent(" x"),
        SSEEvent("\tx"),
    ]


def test_value_may_contain_colons() -> None:
    assert decode_all(b'data: {"a": "b:c"}\n\n') == [SSEEvent('{"a": "b:c"}')]


def test_event_id_and_retry_fields() -> None:
    stream = b"event: update\nid: 1\nretry: 1500\ndata: a\n\ndata: b\n\nid\ndata: c\n\n"
    assert decode_all(stream) == [
        SSEEvent("a", event="update", id="1", retry=1500),
        SSEEvent("b", event=None, id="1", retry=None),
        SSEEvent("c", event=None, id=None, retry=None),
    ]


def test_invalid_id_and_retry_are_ignored() -> None:
    stream = b"id: 1\n\nid: a\x00b\nretry: 10s\nretry: -5\ndata: x\n\n"
    assert decode_all(stream) == [SSEEvent("x", id="1", retry=None)]


def test_retry_carries_over_undispatched_blocks() -> None:
    assert decode_all(b"retry: 5\n\ndata: x\n\n") == [SSEEvent("x", retry=5)]


def test_unknown_fields_are_ignored() -> None:
    assert decode_all(b"foo: bar\ndata: x\nDATA: y\n\n") == [SSEEvent("x")]


def test_flush_dispatches_unterminated_event() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b'data: {"a": 1}') == []
    assert decoder.flush() == [SSEEvent('{"a": 1}')]
    assert decoder.flush() == []


def test_flush_dispatches_event_missing_only_blank_line() -> None:
    assert decode_all(b"data: a\r\ndata: b\r\n") == [SSEEvent("a\nb")]


def test_flush_resets_for_a_new_stream() -> None:
    decoder = SSEDecoder()
    decoder.feed(b"event: e\nid: 9\ndata: partial")
    decoder.flush()
    assert decoder.feed(b"\xef\xbb\xbfdata: fresh\n\n") == [SSEEvent("fresh")]


def test_leading_bom_is_stripped() -> None:
    assert decode_all(b"\xef\xbb\xbfdata: x\n\n") == [SSEEvent("x")]


def test_leading_bom_split_across_chunks() -> None:
    assert decode_all(b"\xef", b"\xbb", b"\xbfdata: x\n\n") == [SSEEvent("x")]


def test_bom_later_in_stream_is_not_stripped() -> None:
    # Only the first BOM is dropped; a second one makes the field name unknown.
    assert decode_all(b"\xef\xbb\xbf\xef\xbb\xbfdata: x\n\ndata: y\n\n") == [SSEEvent("y")]
    assert decode_all(b"data: \xef\xbb\xbfx\n\n") == [SSEEvent("\ufeffx")]


def test_multibyte_character_split_between_chunks() -> None:
    raw = "data: héllo €😀\n\n".encode()
    for cut in range(len(raw) + 1):
        assert decode_all(raw[:cut], raw[cut:]) == [SSEEvent("héllo €😀")]


def test_invalid_utf8_is_replaced() -> None:
    assert decode_all(b"data: a\xffb\n\n") == [SSEEvent("a\ufffdb")]
    assert decode_all(b"data: a\xe2\x82") == [SSEEvent("a\ufffd")]


def test_done_sentinel_is_plain_data() -> None:
    assert decode_all(b"data: [DONE]\n\n") == [SSEEvent("[DONE]")]


def test_long_line_in_many_chunks() -> None:
    payload = json.dumps({"text": "x" * 200_000})
    raw = encode_sse(payload)
    chunks = [raw[i : i + 100] for i in range(0, len(raw), 100)]
    assert decode_all(*chunks) == [SSEEvent(payload)]


def test_encode_sse_gemini_framing() -> None:
    assert encode_sse('{"a":1}') == b'data: {"a":1}\r\n\r\n'
    assert encode_sse(b'{"a":1}') == b'data: {"a":1}\r\n\r\n'
    assert encode_sse("") == b"data: \r\n\r\n"
    assert encode_sse("é") == "data: é\r\n\r\n".encode()


def test_encode_sse_splits_lines() -> None:
    assert encode_sse("a\nb\r\nc\rd") == b"data: a\r\ndata: b\r\ndata: c\r\ndata: d\r\n\r\n"
    assert encode_sse(b"a\n") == b"data: a\r\ndata: \r\n\r\n"


@settings(max_examples=200, deadline=None)
@given(st.text(), st.lists(st.integers(min_value=0, max_value=10_000), max_size=8))
def test_encode_sse_round_trip(data: str, cuts: list[int]) -> None:
    raw = encode_sse(data)
    normalized = data.replace("\r\n", "\n").replace("\r", "\n")
    assert decode_all(*split_at(raw, cuts)) == [SSEEvent(normalized)]


# --- property test over whole event streams ------------------------------------------

no_newline = st.text(st.characters(exclude_characters="\r\n", codec="utf-8"), max_size=12)
tricky = st.text(st.sampled_from(" :é€😀\x00\ufeffab"), max_size=8)
line_value = st.one_of(no_newline, tricky)


@dataclass(frozen=True)
class Spec:
    data: list[str]
    event: str | None
    id: str | None
    retry: int | None
    comment: str | None
    compact: bool  # write "data:x" instead of "data: x" where that is unambiguous


specs = st.builds(
    Spec,
    data=st.lists(line_value, min_size=1, max_size=4),
    event=st.none() | line_value,
    id=st.none() | line_value.filter(lambda value: "\x00" not in value),
    retry=st.none() | st.integers(min_value=0, max_value=10**9),
    comment=st.none() | line_value,
    compact=st.booleans(),
)


def spec_lines(spec: Spec) -> list[str]:
    lines = [] if spec.comment is None else [":" + spec.comment]
    if spec.event is not None:
        lines.append("event: " + spec.event)
    if spec.id is not None:
        lines.append("id: " + spec.id)
    if spec.retry is not None:
        lines.append(f"retry: {spec.retry}")
    for value in spec.data:
        compact = spec.compact and not value.startswith(" ")
        lines.append(("data:" if compact else "data: ") + value)
    return [*lines, ""]


def expected_events(items: list[Spec]) -> list[SSEEvent]:
    events, last_id = [], ""
    for spec in items:
        last_id = last_id if spec.id is None else spec.id
        events.append(
            SSEEvent("\n".join(spec.data), spec.event or None, last_id or None, spec.retry)
        )
    return events


@settings(max_examples=200, deadline=None)
@given(
    items=st.lists(specs, max_size=6),
    bom=st.booleans(),
    data=st.data(),
)
def test_event_stream_property(items: list[Spec], bom: bool, data: st.DataObject) -> None:
    lines = [line for spec in items for line in spec_lines(spec)]
    endings = data.draw(
        st.lists(st.sampled_from(["\r\n", "\n", "\r"]), min_size=len(lines), max_size=len(lines))
    )
    text = "\ufeff" if bom else ""
    previous = ""
    for line, ending in zip(lines, endings, strict=True):
        if previous == "\r" and not line and ending == "\n":
            ending = "\r\n"  # "\r" + "\n" would read as a single CRLF line break
        text += line + ending
        previous = ending
    raw = text.encode()
    cuts = data.draw(st.lists(st.integers(min_value=0, max_value=len(raw)), max_size=12))

    whole = decode_all(raw)
    assert whole == expected_events(items)
    assert decode_all(*split_at(raw, cuts)) == whole
