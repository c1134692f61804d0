"""File Search pieces on their own: metadata filters, ranking and grounding offsets."""

from __future__ import annotations

from typing import Any

import pytest

from gemgate.emulator._errors import ApiError
from gemgate.emulator._file_search import FileSearchStores
from gemgate.emulator._metadata_filter import parse_filter
from gemgate.emulator._retrieval import Grounding, search

METADATA: dict[str, Any] = {"author": "Ann", "year": 2020.0, "tags": ["sea", "light"]}


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ('author = "Ann"', True),
        ('author != "Ann"', False),
        ("year = 2020", True),
        ("year >= 2021", False),
        ('year < 2021 AND author = "Ann"', True),
        ('author = "Bob" OR year <= 2020', True),
        ('author = "Bob" OR (year > 2000 AND tags = "sea")', True),
        ('NOT tags = "sea"', False),
        ('tags = "desert"', False),
        ('missing = "x"', False),
        ('year = "2020"', False),
        ('author = "A\\"nn"', False),
    ],
)
def test_filter_expressions(expression: str, expected: bool) -> None:
    assert parse_filter(expression)(METADATA) is expected


@pytest.mark.parametrize(
    "expression", ["", "author", 'author = "Ann" AND', "(year = 1", "year = 1)", "a = $", "= 3"]
)
def test_malformed_filters_are_400(expression: str) -> None:
    with pytest.raises(ApiError) as caught:
        parse_filter(expression)
    assert caught.value.code == 400 and caught.value.status == "INVALID_ARGUMENT"


def _stores(texts: dict[str, str]) -> FileSearchStores:
    stores = FileSearchStores(lambda: 100.0, 0.0)
    store = stores.create("p", "s")
    for name, text in texts.items():
        settings = stores.settings({"displayName": name, "mimeType": "text/plain"})
        stores.ingest("p", store.name, "ImportFile", settings, text.encode(), name)
    return stores


def test_ranking_prefers_the_chunk_that_shares_words() -> None:
    stores = _stores(
        {
            "a": "Olive oil is pressed in November.",
            "b": "Über die Brücke fährt der Zug um acht. The ferry leaves at nine.",
        }
    )
    [store] = stores.list("p")
    hits = search([store], {}, "When does the ferry leave?", 100.0)
    assert [h.document.display_name for h in hits] == ["b"]
    grounding = Grounding(hits, "When does the ferry leave?")
    assert grounding.answer == "The ferry leaves at nine."
    text = "Vorwort: Brücke. " + grounding.answer
    [support] = grounding.metadata(text)["groundingSupports"]
    segment = support["segment"]
    assert text.encode()[segment["startIndex"] : segment["endIndex"]].decode() == segment["text"]
    assert segment["startIndex"] != text.index(segment["text"])  # bytes, not characters


def test_first_segment_omits_a_zero_start_and_cut_supports_are_dropped() -> None:
    stores = _stores({"a": "Ferries leave at nine. Ferries return at noon."})
    [store] = stores.list("p")
    hits = search([store], {}, "ferries", 100.0)
    grounding = Grounding(hits, "ferries")
    [support] = grounding.metadata(grounding.answer)["groundingSupports"]
    assert "startIndex" not in support["segment"]
    assert grounding.metadata("Ferries lea")["groundingSupports"] == []


def test_pending_documents_are_not_searched() -> None:
    now = [0.0]
    stores = FileSearchStores(lambda: now[0], 1.0)
    store = stores.create("p", "s")
    settings = stores.settings({"mimeType": "text/plain"})
    operation = stores.ingest("p", store.name, "ImportFile", settings, b"ferry times", "f")
    assert search([store], {}, "ferry", now[0]) == []
    assert "done" not in operation.resource(now[0])
    now[0] = 1.0
    assert operation.resource(now[0])["done"] is True
    assert len(search([store], {}, "ferry", now[0])) == 1


def test_negative_top_k_is_refused() -> None:
    stores = _stores({"a": "ferry"})
    with pytest.raises(ApiError):
        search(stores.list("p"), {"topK": -1}, "ferry", 100.0)


def test_custom_metadata_needs_one_value() -> None:
    with pytest.raises(ApiError):
        FileSearchStores.settings({"customMetadata": [{"key": "a"}]})
    with pytest.raises(ApiError):
        FileSearchStores.settings(
            {"customMetadata": [{"key": "a", "stringValue": "x", "numericValue": 1}]}
        )
    with pytest.raises(ApiError):
        FileSearchStores.settings(
            {
                "chunkingConfig": {
                    "whiteSpaceConfig": {"maxTokensPerChunk": 5, "maxOverlapTokens": 5}
                }
            }
        )
