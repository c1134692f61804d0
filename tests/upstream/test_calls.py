"""Which project-owned resources a call names, so it goes to the owning project."""

from __future__ import annotations

import json

from gemgate.upstream._calls import referenced_resources


def test_paths_name_their_resource() -> None:
    assert referenced_resources("/v1beta/files/abc-1", None) == ["files/abc-1"]
    assert referenced_resources("/v1beta/cachedContents/xyz?key=k", None) == ["cachedContents/xyz"]
    assert referenced_resources("/v1beta/fileSearchStores/s-1/documents/d-2", None) == [
        "fileSearchStores/s-1"
    ]
    assert referenced_resources(
        "/upload/v1beta/fileSearchStores/s-1:uploadToFileSearchStore", None
    ) == ["fileSearchStores/s-1"]
    assert referenced_resources("/v1beta/fileSearchStores/s-1/upload/operations/o-3", None) == [
        "fileSearchStores/s-1"
    ]
    assert referenced_resources("/v1beta/fileSearchStores", None) == []


def test_a_file_search_tool_names_its_stores() -> None:
    body = json.dumps(
        {
            "contents": [{"parts": [{"text": "hi"}]}],
            "tools": [
                {
                    "file_search": {
                        "file_search_store_names": ["fileSearchStores/a", "fileSearchStores/b-2"]
                    }
                }
            ],
        }
    ).encode()
    found = referenced_resources("/v1beta/models/gemini-2.5-flash:generateContent", body)
    assert found == ["fileSearchStores/a", "fileSearchStores/b-2"]


def test_an_import_names_its_file_and_store() -> None:
    body = json.dumps({"fileName": "files/f-1"}).encode()
    assert referenced_resources("/v1beta/fileSearchStores/s:importFile", body) == [
        "fileSearchStores/s",
        "files/f-1",
    ]


def test_plain_bodies_name_nothing() -> None:
    body = b'{"contents": [{"parts": [{"text": "see files/abc"}]}]}'
    assert referenced_resources("/v1beta/models/m:generateContent", body) == []
