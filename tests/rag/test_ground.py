"""Citations read off answers, Gemini's grounding shape, and its OpenAI annotations."""

from __future__ import annotations

from gemgate.rag import Chunk, DocumentInfo, Hit, citations, grounded_request, grounding_metadata
from gemgate.wire.openai import ChunkStream, citation_annotations, completion


def hit(n: int, text: str, *, page: int = 0, source: str = "") -> Hit:
    document = DocumentInfo(
        id=f"doc{n}",
        store_id="store_x",
        name=f"file{n}.txt",
        content_hash="h",
        mime_type="text/plain",
        size_bytes=len(text),
        source=source,
    )
    chunk = Chunk(f"doc{n}-0", f"doc{n}", 0, text, 0, len(text), page)
    return Hit(chunk, document, 1.0 / n)


HITS = [
    hit(1, "The saguaro cactus stores water in its pleated stem.", page=3),
    hit(2, "Walruses haul themselves onto the ice with their tusks.", source="https://x.test/w"),
]


def test_markers_name_their_sources_and_unmarked_sentences_match_by_words() -> None:
    answer = (
        "Walruses use tusks on ice [2]. "
        "The saguaro cactus stores water in its pleated stem. "
        "Nothing here is known."
    )
    found = citations(answer, HITS)
    assert [(c.text, c.sources) for c in found] == [
        ("Walruses use tusks on ice [2].", (1,)),
        ("The saguaro cactus stores water in its pleated stem.", (0,)),
    ]
    for c in found:
        assert answer[c.start : c.end] == c.text
    assert found[0].score == 1.0 and 0.5 <= found[1].score <= 1.0


def test_markers_out_of_range_and_lists() -> None:
    found = citations("Both matter [1, 2]. Unknown [7].", HITS)
    assert [c.sources for c in found] == [(0, 1)]


def test_no_hits_no_citations() -> None:
    assert citations("Anything [1].", []) == []


def test_sources_go_into_the_system_instruction_only() -> None:
    request = {
        "contents": [{"role": "user", "parts": [{"text": "Q?"}]}],
        "systemInstruction": {"parts": [{"text": "Be brief."}]},
    }
    out = grounded_request(request, HITS)
    assert out["contents"] == request["contents"]
    parts = out["systemInstruction"]["parts"]
    assert parts[0] == {"text": "Be brief."}
    assert "[1] file1.txt, page 3: The saguaro" in parts[1]["text"]
    assert "[2] file2.txt: Walruses" in parts[1]["text"]
    assert grounded_request(request, []) == request


def test_grounding_metadata_uses_utf8_byte_offsets() -> None:
    answer = "Über alles: the saguaro cactus stores water in its pleated stem [1]."
    meta = grounding_metadata(answer, HITS)
    assert [c["retrievedContext"]["title"] for c in meta["groundingChunks"]] == [
        "file1.txt",
        "file2.txt",
    ]
    assert meta["groundingChunks"][0]["retrievedContext"]["pageNumber"] == 3
    assert meta["groundingChunks"][1]["retrievedContext"]["uri"] == "https://x.test/w"
    (support,) = meta["groundingSupports"]
    segment = support["segment"]
    assert answer.encode()[segment["startIndex"] : segment["endIndex"]].decode() == segment["text"]
    assert support["groundingChunkIndices"] == [0]


def test_openai_annotations_use_character_offsets() -> None:
    answer = "Ünïcode first. Walruses haul onto ice with tusks [2]."
    meta = grounding_metadata(answer, HITS)
    (note,) = citation_annotations(meta, answer)
    assert note["type"] == "url_citation"
    cited = note["url_citation"]
    assert answer[cited["start_index"] : cited["end_index"]].startswith("Walruses")
    assert cited["url"] == "https://x.test/w" and cited["title"] == "file2.txt"
    meta = grounding_metadata("Saguaro cactus stores water [1].", HITS)
    (note,) = citation_annotations(meta, "Saguaro cactus stores water [1].")
    assert note["type"] == "file_citation"
    assert note["file_citation"]["file_id"] == "stores/store_x/documents/doc1"


def test_completion_and_stream_carry_annotations() -> None:
    text = "Walruses haul onto ice [2]."
    response = {
        "candidates": [
            {
                "content": {"parts": [{"text": text}]},
                "finishReason": "STOP",
                "groundingMetadata": grounding_metadata(text, HITS),
            }
        ]
    }
    message = completion(response, "m", created=0)["choices"][0]["message"]
    assert message["annotations"][0]["url_citation"]["end_index"] == len(text)
    stream = ChunkStream("m", created=0)
    first = stream.convert({"candidates": [{"content": {"parts": [{"text": "Walruses "}]}}]})
    assert "annotations" not in first["choices"][0]["delta"]
    last = stream.convert(
        {
            "candidates": [
                {
                    "content": {"parts": [{"text": "haul onto ice [2]."}]},
                    "finishReason": "STOP",
                    "groundingMetadata": grounding_metadata(text, HITS),
                }
            ]
        }
    )
    (note,) = last["choices"][0]["delta"]["annotations"]
    assert note["url_citation"]["start_index"] == 0
    assert note["url_citation"]["end_index"] == len(text)
