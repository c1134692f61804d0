"""Streamed answers: ChunkStream's state across chunks, and OpenAI's SSE framing."""

from __future__ import annotations

import json
from typing import Any

from gemgate.wire.openai import SSE_DONE, ChunkStream, sse_frame
from gemgate.wire.sse import SSEDecoder

USAGE_1 = {"promptTokenCount": 4, "candidatesTokenCount": 1, "totalTokenCount": 5}
USAGE_2 = {"promptTokenCount": 4, "candidatesTokenCount": 3, "totalTokenCount": 7}


def gemini_chunk(text: str, usage: dict[str, Any], reason: str | None = None) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": [{"text": text}]}}
    if reason is not None:
        candidate["finishReason"] = reason
    return {"candidates": [candidate], "usageMetadata": usage, "responseId": "resp-9"}


def test_the_library_way_keeps_usage_on_the_chunks() -> None:
    chunks = ChunkStream("m", created=42)
    first = chunks.convert(gemini_chunk("Hel", USAGE_1))
    last = chunks.convert(gemini_chunk("lo", USAGE_2, "STOP"))
    assert first["choices"][0]["delta"] == {"role": "assistant", "content": "Hel"}
    assert last["choices"][0] == {"index": 0, "delta": {"content": "lo"}, "finish_reason": "stop"}
    assert first["usage"]["total_tokens"] == 5 and last["usage"]["total_tokens"] == 7
    assert {first["created"], last["created"]} == {42}
    assert chunks.id == "resp-9"


def test_the_gateway_way_moves_the_latest_usage_to_a_closing_chunk() -> None:
    chunks = ChunkStream("m", created=42, usage_on_chunks=False)
    assert chunks.usage_chunk() is None
    converted = [
        chunks.convert(gemini_chunk("Hel", USAGE_1)),
        chunks.convert(gemini_chunk("lo", USAGE_2, "STOP")),
    ]
    assert all("usage" not in c for c in converted)
    assert chunks.usage_chunk() == {
        "id": "resp-9",
        "object": "chat.completion.chunk",
        "created": 42,
        "model": "m",
        "choices": [],
        "usage": {"prompt_tokens": 4, "completion_tokens": 3, "total_tokens": 7},
    }


def test_sse_frames_decode_back() -> None:
    value = {"a": "ü", "b": [1, 2]}
    frame = sse_frame(value)
    assert frame.startswith(b"data: {") and frame.endswith(b"\n\n") and b" " not in frame[6:]
    decoder = SSEDecoder()
    events = decoder.feed(frame + SSE_DONE)
    assert [e.data for e in events] == [json.dumps(value, separators=(",", ":")), "[DONE]"]
