"""A hand-made stateful fuzz: sessions, stores, files, batches and responses, interleaved.

Hypothesis drives a `RuleBasedStateMachine` over the gateway's resources: it creates
them, reads, changes and deletes them in any order, names ids it made, ids it deleted and
ids it made up, and sends arbitrary text where text goes. Every answer is held to
`_fuzz_support.check_answer` (no 5xx; a 4xx in its face's shape).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, consumes, rule

from tests.adversarial._fuzz_support import call

FLASH = "gemini-2.5-flash"
TEXT = st.text(max_size=40)
MADE_UP = st.text(min_size=1, max_size=30)
JSON: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=10,
)


def _line(custom_id: str, content: str) -> bytes:
    body = {"model": FLASH, "messages": [{"role": "user", "content": content}]}
    line = {"custom_id": custom_id, "method": "POST", "url": "/v1/chat/completions", "body": body}
    return json.dumps(line).encode() + b"\n"


class Resources(RuleBasedStateMachine):
    """The gateway's stateful routes, called in any order."""

    sessions = Bundle("sessions")
    stores = Bundle("stores")
    documents = Bundle("documents")
    files = Bundle("files")
    batches = Bundle("batches")
    responses = Bundle("responses")

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        """One request; its answer checked; its JSON body when it succeeded, else None."""
        response = call(method, path, **kwargs)
        ok = response.status_code < 300 and response.headers.get("content-type", "").startswith(
            "application/json"
        )
        return response.json() if ok else None

    def made(self, answer: Any) -> str:
        return answer["id"] if isinstance(answer, dict) and "id" in answer else "missing"

    # Sessions

    @rule(target=sessions, title=TEXT, stores=st.lists(TEXT, max_size=2))
    def create_session(self, title: str, stores: list[str]) -> str:
        return self.made(
            self.call("POST", "/api/v1/sessions", json={"title": title, "store_ids": stores})
        )

    @rule(session=sessions | MADE_UP, content=TEXT, stream=st.booleans())
    def send_message(self, session: str, content: str, stream: bool) -> None:
        body = {"content": content, "stream": stream}
        self.call("POST", f"/api/v1/sessions/{quote(session, safe='')}/messages", json=body)

    @rule(session=sessions | MADE_UP)
    def regenerate(self, session: str) -> None:
        self.call("POST", f"/api/v1/sessions/{quote(session, safe='')}/regenerate", json={})

    @rule(session=sessions | MADE_UP, body=JSON)
    def patch_session(self, session: str, body: Any) -> None:
        self.call("PATCH", f"/api/v1/sessions/{quote(session, safe='')}", json=body)

    @rule(session=sessions | MADE_UP)
    def read_session(self, session: str) -> None:
        self.call("GET", f"/api/v1/sessions/{quote(session, safe='')}")

    @rule(session=consumes(sessions))
    def delete_session(self, session: str) -> None:
        self.call("DELETE", f"/api/v1/sessions/{quote(session, safe='')}")

    # Retrieval stores

    @rule(target=stores, name=st.text(min_size=1, max_size=20))
    def create_store(self, name: str) -> str:
        return self.made(self.call("POST", "/api/v1/stores", json={"name": name}))

    @rule(target=documents, store=stores | MADE_UP, text=TEXT)
    def add_document(self, store: str, text: str) -> tuple[str, str]:
        answer = self.call(
            "POST",
            f"/api/v1/stores/{quote(store, safe='')}/documents",
            json={"name": "d", "text": text},
        )
        added = answer.get("added") if isinstance(answer, dict) else None
        return store, added[0]["id"] if added else "missing"

    @rule(document=documents, text=TEXT)
    def replace_document(self, document: tuple[str, str], text: str) -> None:
        store, doc = (quote(part, safe="") for part in document)
        self.call("PUT", f"/api/v1/stores/{store}/documents/{doc}", json={"text": text})

    @rule(document=consumes(documents))
    def delete_document(self, document: tuple[str, str]) -> None:
        store, doc = (quote(part, safe="") for part in document)
        self.call("DELETE", f"/api/v1/stores/{store}/documents/{doc}")

    @rule(
        store=stores | MADE_UP,
        query=TEXT,
        body=st.dictionaries(st.sampled_from(["k", "mode", "filter"]), JSON),
    )
    def search(self, store: str, query: str, body: dict[str, Any]) -> None:
        self.call(
            "POST", f"/api/v1/stores/{quote(store, safe='')}/search", json={"query": query, **body}
        )

    @rule(store=consumes(stores))
    def delete_store(self, store: str) -> None:
        self.call("DELETE", f"/api/v1/stores/{quote(store, safe='')}")

    # Files and batches

    @rule(target=files, lines=st.lists(TEXT, min_size=1, max_size=3), junk=st.binary(max_size=30))
    def upload(self, lines: list[str], junk: bytes) -> str:
        content = b"".join(_line(f"r{i}", text) for i, text in enumerate(lines)) + junk
        upload = {"file": ("input.jsonl", content)}
        return self.made(self.call("POST", "/v1/files", files=upload, data={"purpose": "batch"}))

    @rule(file=files | MADE_UP)
    def read_file(self, file: str) -> None:
        self.call("GET", f"/v1/files/{quote(file, safe='')}")
        self.call("GET", f"/v1/files/{quote(file, safe='')}/content")

    @rule(file=consumes(files))
    def delete_file(self, file: str) -> None:
        self.call("DELETE", f"/v1/files/{quote(file, safe='')}")

    @rule(
        target=batches,
        file=files | MADE_UP,
        endpoint=st.sampled_from(["/v1/chat/completions", "/v1/embeddings"]),
    )
    def create_batch(self, file: str, endpoint: str) -> str:
        body = {"input_file_id": file, "endpoint": endpoint, "completion_window": "24h"}
        return self.made(self.call("POST", "/v1/batches", json=body))

    @rule(batch=batches | MADE_UP)
    def read_batch(self, batch: str) -> None:
        self.call("GET", f"/v1/batches/{quote(batch, safe='')}")

    @rule(batch=batches | MADE_UP)
    def cancel_batch(self, batch: str) -> None:
        self.call("POST", f"/v1/batches/{quote(batch, safe='')}/cancel")

    # Responses

    @rule(
        target=responses, text=TEXT, previous=st.none() | responses | MADE_UP, store=st.booleans()
    )
    def create_response(self, text: str, previous: str | None, store: bool) -> str:
        body: dict[str, Any] = {"model": FLASH, "input": text, "store": store}
        if previous is not None:
            body["previous_response_id"] = previous
        return self.made(self.call("POST", "/v1/responses", json=body))

    @rule(response=responses | MADE_UP)
    def read_response(self, response: str) -> None:
        self.call("GET", f"/v1/responses/{quote(response, safe='')}")
        self.call("GET", f"/v1/responses/{quote(response, safe='')}/input_items")

    @rule(response=consumes(responses))
    def delete_response(self, response: str) -> None:
        self.call("DELETE", f"/v1/responses/{quote(response, safe='')}")

    @rule()
    def list_everything(self) -> None:
        for path in ("/api/v1/sessions", "/api/v1/stores", "/v1/files", "/v1/batches"):
            self.call("GET", path)


_QUIET = list(HealthCheck)


class TestResources(Resources.TestCase):  # type: ignore[misc]
    settings = settings(
        max_examples=12,
        stateful_step_count=15,
        deadline=None,
        suppress_health_check=_QUIET,
        database=None,
    )


@pytest.mark.full
class TestResourcesFull(Resources.TestCase):  # type: ignore[misc]
    settings = settings(
        max_examples=200,
        stateful_step_count=40,
        deadline=None,
        suppress_health_check=_QUIET,
        database=None,
    )
