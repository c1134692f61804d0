"""Gemini answers → Anthropic stream events and messages; signatures back to their parts."""

from __future__ import annotations

import json
from typing import Any

import pytest

from gemgate.wire import anthropic

USAGE = {
    "promptTokenCount": 10,
    "candidatesTokenCount": 5,
    "thoughtsTokenCount": 7,
    "cachedContentTokenCount": 4,
    "totalTokenCount": 22,
}


def _chunk(*parts: dict[str, Any], finish: str | None = None, **extra: Any) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": list(parts)}}
    if finish:
        candidate["finishReason"] = finish
    return {"candidates": [candidate], **extra}


def _events(*chunks: dict[str, Any]) -> list[dict[str, Any]]:
    stream = anthropic.MessageStream("m", "msg_x")
    events = stream.start(chunks[0] if chunks else None)
    for chunk in chunks:
        events += stream.convert(chunk)
    return events + stream.finish()


def test_usage_counts_thoughts_as_output_and_cache_reads_apart() -> None:
    assert anthropic.usage(USAGE) == {
        "input_tokens": 6,
        "output_tokens": 12,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 4,
    }
    assert anthropic.usage(None)["input_tokens"] == 0


@pytest.mark.parametrize(
    ("finish", "tools", "reason"),
    [
        ("STOP", False, "end_turn"),
        ("STOP", True, "tool_use"),
        ("MAX_TOKENS", False, "max_tokens"),
        ("MAX_TOKENS", True, "max_tokens"),
        ("SAFETY", False, "refusal"),
        ("RECITATION", False, "refusal"),
        ("OTHER", False, "end_turn"),
        (None, False, "end_turn"),
    ],
)
def test_stop_reasons(finish: str | None, tools: bool, reason: str) -> None:
    assert anthropic.stop_reason(finish, tools) == reason


def test_text_chunks_make_one_text_block() -> None:
    events = _events(
        _chunk({"text": "Hel"}),
        _chunk({"text": "lo"}, finish="STOP", usageMetadata=USAGE),
    )
    assert [e["type"] for e in events] == [
        "message_start",
        "ping",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    assert events[2]["content_block"] == {"type": "text", "text": ""}
    assert [e["delta"] for e in events[3:5]] == [
        {"type": "text_delta", "text": "Hel"},
        {"type": "text_delta", "text": "lo"},
    ]
    assert {e["index"] for e in events[2:6]} == {0}
    assert events[-2]["usage"]["output_tokens"] == 12
    assert events[0]["message"]["usage"]["output_tokens"] == 0


def test_thoughts_calls_and_signatures() -> None:
    call = {"functionCall": {"name": "f", "args": {"a": 1}}, "thoughtSignature": "c2ln"}
    events = _events(
        _chunk({"text": "Let me ", "thought": True}),
        _chunk({"text": "think.", "thought": True, "thoughtSignature": "dGg="}),
        _chunk(call, finish="STOP"),
    )
    message = anthropic.accumulate(events)
    assert message["content"] == [
        {"type": "thinking", "thinking": "Let me think.", "signature": "dGg="},
        {"type": "thinking", "thinking": "", "signature": "c2ln"},
        {"type": "tool_use", "id": "toolu_x_0", "name": "f", "input": {"a": 1}},
    ]
    assert message["stop_reason"] == "tool_use"
    deltas = {e["delta"]["type"] for e in events if e["type"] == "content_block_delta"}
    assert deltas == {"thinking_delta", "signature_delta", "input_json_delta"}
    starts = [e["index"] for e in events if e["type"] == "content_block_start"]
    stops = [e["index"] for e in events if e["type"] == "content_block_stop"]
    assert starts == stops == [0, 1, 2]


def test_a_signed_text_gets_its_carrier_after_it() -> None:
    message = anthropic.accumulate(
        _events(_chunk({"text": "An"}), _chunk({"text": "swer", "thoughtSignature": "dA=="}))
    )
    assert message["content"] == [
        {"type": "text", "text": "Answer"},
        {"type": "thinking", "thinking": "", "signature": "dA=="},
    ]


def test_gemini_call_ids_are_kept() -> None:
    call = {"functionCall": {"id": "call-7", "name": "f", "args": {}}}
    message = anthropic.accumulate(_events(_chunk(call, call)))
    assert [b["id"] for b in message["content"]] == ["call-7", "call-7"]


def test_a_blocked_prompt_is_a_refusal() -> None:
    blocked = {"promptFeedback": {"blockReason": "SAFETY"}, "usageMetadata": USAGE}
    message = anthropic.message(blocked, "m", "msg_1")
    assert message["content"] == [] and message["stop_reason"] == "refusal"


def test_message_is_the_accumulated_stream() -> None:
    response = _chunk(
        {"text": "Thinking it over.", "thought": True},
        {"text": "Paris.", "thoughtSignature": "cA=="},
        finish="STOP",
        usageMetadata=USAGE,
    )
    whole = anthropic.message(response, "claude-x", "msg_1")
    assert whole == {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-x",
        "content": [
            {"type": "thinking", "thinking": "Thinking it over.", "signature": ""},
            {"type": "text", "text": "Paris."},
            {"type": "thinking", "thinking": "", "signature": "cA=="},
        ],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": anthropic.usage(USAGE),
    }


@pytest.mark.parametrize(
    "parts",
    [
        [{"functionCall": {"name": "f", "args": {"x": [1]}}, "thoughtSignature": "c2ln"}],
        [
            {"text": "Hmm.", "thought": True, "thoughtSignature": "b3du"},
            {"functionCall": {"name": "f", "args": {}}, "thoughtSignature": "c2ln"},
            {"functionCall": {"name": "g", "args": {}}},
        ],
        [{"text": "Hmm.", "thought": True}, {"text": "Answer.", "thoughtSignature": "dA=="}],
        [{"text": "Answer."}],
    ],
    ids=["call", "thought-and-calls", "signed-text", "plain"],
)
def test_blocks_sent_back_restore_the_parts(parts: list[dict[str, Any]]) -> None:
    message = anthropic.message(_chunk(*parts), "m", "msg_1")
    blocks = json.loads(json.dumps(message["content"]))  # as a client sends them back
    results = [
        {"type": "tool_result", "tool_use_id": b["id"], "content": "ok"}
        for b in blocks
        if b["type"] == "tool_use"
    ]
    messages = [
        {"role": "user", "content": "Go"},
        {"role": "assistant", "content": blocks},
        *([{"role": "user", "content": results}] if results else []),
    ]
    contents, _ = anthropic.messages_to_contents(messages)
    assert contents[1] == {"role": "model", "parts": parts}


def test_citations_from_web_grounding() -> None:
    grounding = {
        "groundingChunks": [
            {"web": {"uri": "https://example.org/a", "title": "A"}},
            {"retrievedContext": {"documentName": "d"}},
        ],
        "groundingSupports": [
            {"segment": {"startIndex": 0, "endIndex": 6}, "groundingChunkIndices": [0, 1, 5]}
        ],
    }
    response = _chunk({"text": "Paris is lovely."}, finish="STOP")
    response["candidates"][0]["groundingMetadata"] = grounding
    text = anthropic.message(response, "m", "msg_1")["content"][0]
    assert text["citations"] == [
        {
            "type": "web_search_result_location",
            "cited_text": "Paris ",
            "url": "https://example.org/a",
            "title": "A",
            "encrypted_index": "",
        }
    ]
    assert anthropic.citations(None, "x") == []


def test_streamed_citations_come_before_the_texts_signature() -> None:
    grounding = {
        "groundingChunks": [{"web": {"uri": "https://example.org/a", "title": "A"}}],
        "groundingSupports": [
            {"segment": {"startIndex": 6, "endIndex": 11}, "groundingChunkIndices": [0]}
        ],
    }
    last = _chunk({"text": "lovely", "thoughtSignature": "cA=="}, finish="STOP")
    last["candidates"][0]["groundingMetadata"] = grounding
    events = _events(_chunk({"text": "Paris "}), last)
    deltas = [e["delta"]["type"] for e in events if e["type"] == "content_block_delta"]
    assert deltas == ["text_delta", "text_delta", "citations_delta", "signature_delta"]
    message = anthropic.accumulate(events)
    assert message["content"][0]["citations"][0]["cited_text"] == "lovel"
    assert message["content"][1] == {"type": "thinking", "thinking": "", "signature": "cA=="}


def test_sse_event_framing() -> None:
    frame = anthropic.sse_event({"type": "ping"})
    assert frame == b'event: ping\ndata: {"type":"ping"}\n\n'
    unicode = anthropic.sse_event({"type": "content_block_delta", "delta": {"text": "é"}})
    assert "é".encode() in unicode
