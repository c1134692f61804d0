"""Retrieval stores and grounded answers on the web chat page, in headless Chromium.

The page's stores panel (create a store, upload documents by picker and by drop, delete
them), the stores a chat searches (``store_ids``) and a grounded answer's sources (the
chunk each one quotes, its ``[n]`` markers, the cited sentence) are driven at both window
sizes, with the fixtures of ``test_browser``.

``StoresStandIn`` answers the gateway's store routes in memory, after the API's contract,
and grounds the answers of chats that search a store: it adds ``groundingMetadata`` to
the streamed ``final_answer`` event and, as ``metadata.grounding_metadata``, to the stored
answers the sessions API reads back. Everything else reaches the real gateway.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.wait import WebDriverWait
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gemgate.emulator._config import Rule

from . import test_browser
from .test_browser import (
    WAIT,
    Servers,
    _load,
    _open_chats,
    _pick,
    _ready,
    _run,
    _screenshot,
    _text,
    _texts,
    _until,
    _wait_for,
)

chromium = test_browser.chromium
browser = test_browser.browser
console = test_browser.console
size = test_browser.size

QUESTION = "What are the office hours?"
CITED = "the office opens at nine o’clock [1]."
REPLY = f"Café notes — {CITED} See the online handbook [2]."
"""The emulator's answer to ``QUESTION`` (non-ASCII first: offsets are UTF-8 bytes)."""
SENTENCE = "The office opens at nine o'clock and closes at five."
DOCUMENT = f'{SENTENCE}\n<img src="x" onerror="window.pwned = 1"> is not an image.\n'
HANDBOOK_URL = "https://example.org/handbook"


@dataclass
class StoreRecord:
    """One store of the stand-in, with its documents' texts by id."""

    info: dict[str, Any]
    documents: dict[str, dict[str, Any]] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)


class StoresStandIn:
    """The gateway's retrieval-store routes in memory, in front of the real gateway."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.stores: dict[str, StoreRecord] = {}
        self.session_stores: dict[str, list[str]] = {}
        self.sent: list[dict[str, Any]] = []
        """The bodies of ``POST /api/v1/sessions`` and of each message, as the page sent them."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        method: str = scope["method"]
        if path.startswith("/api/v1/stores"):
            response = await self._stores(Request(scope, receive), path.split("/")[4:])
            await response(scope, receive, send)
            return
        message = re.fullmatch(r"/api/v1/sessions/([^/]+)/messages", path)
        if method == "POST" and (path == "/api/v1/sessions" or message):
            body = await _read(receive)
            sent = json.loads(body or b"{}")
            self.sent.append(sent)
            stores = [s for s in sent.get("store_ids") or [] if s in self.stores]
            replay = _replaying(body, receive)
            if message is None:
                await self.app(scope, replay, self._created(send, stores))
            elif stores:
                await self.app(scope, replay, _grounding_events(send, self._grounding(stores)))
            else:
                await self.app(scope, replay, send)
            return
        read = re.fullmatch(r"/api/v1/sessions(?:/([^/]+))?", path)
        if method == "GET" and read:
            await self.app(scope, receive, _patching_json(send, self._read_back))
            return
        await self.app(scope, receive, send)

    def _created(self, send: Send, stores: list[str]) -> Send:
        def remember(body: Any) -> Any:
            self.session_stores[body["id"]] = stores
            return self._with_stores(body)

        return _patching_json(send, remember)

    def _with_stores(self, session: dict[str, Any]) -> dict[str, Any]:
        stores = self.session_stores.get(session["id"])
        if stores:
            session["metadata"] = {**session.get("metadata", {}), "store_ids": stores}
        return session

    def _read_back(self, body: Any) -> Any:
        if "sessions" in body:
            body["sessions"] = [self._with_stores(s) for s in body["sessions"]]
            return body
        stores = self.session_stores.get(body["id"])
        for message in body.get("messages", []):
            text = "".join(p.get("text", "") for p in message.get("parts", []))
            if stores and message["role"] == "model" and "[1]" in text:
                grounding = _with_offsets(self._grounding(stores), text)
                message["metadata"] = {
                    **message.get("metadata", {}),
                    "grounding_metadata": grounding,
                }
        return self._with_stores(body)

    def _grounding(self, stores: list[str]) -> dict[str, Any]:
        store = self.stores[stores[0]]
        doc_id, text = next(iter(store.texts.items()))
        name = store.documents[doc_id]["name"]
        return {
            "groundingChunks": [
                {
                    "retrievedContext": {
                        "title": name,
                        "text": text,
                        "documentName": f"stores/{store.info['id']}/documents/{doc_id}",
                        "pageNumber": 1,
                    }
                },
                {
                    "retrievedContext": {
                        "title": "Handbook online",
                        "text": "Online.",
                        "uri": HANDBOOK_URL,
                    }
                },
            ],
            "groundingSupports": [
                {
                    "segment": {"startIndex": 0, "endIndex": 0, "text": CITED},
                    "groundingChunkIndices": [0],
                    "confidenceScores": [0.9],
                }
            ],
        }

    async def _stores(self, request: Request, route: list[str]) -> Response:
        method = request.method
        if not route and method == "GET":
            return JSONResponse({"stores": [s.info for s in self.stores.values()]})
        if not route and method == "POST":
            name = (await request.json()).get("name")
            store_id = uuid.uuid4().hex[:12]
            info = {"id": store_id, "name": name, "document_count": 0, "chunk_count": 0}
            self.stores[store_id] = StoreRecord({**info, "created_at": 0.0})
            return JSONResponse(self.stores[store_id].info, status_code=201)
        store = self.stores.get(route[0])
        if store is None:
            return JSONResponse({"detail": "no such store"}, status_code=404)
        if len(route) == 1 and method == "DELETE":
            del self.stores[route[0]]
            return Response(status_code=204)
        if route[1:] == ["documents"] and method == "GET":
            return JSONResponse({"documents": list(store.documents.values())})
        if route[1:] == ["documents"] and method == "POST":
            return await self._upload(store, request)
        if len(route) == 3 and method == "DELETE" and route[2] in store.documents:
            del store.documents[route[2]], store.texts[route[2]]
            self._count(store)
            return Response(status_code=204)
        return JSONResponse({"detail": "not found"}, status_code=404)

    async def _upload(self, store: StoreRecord, request: Request) -> Response:
        uploads: list[tuple[str, bytes]] = []
        async with request.form() as form:
            for upload in form.getlist("file"):
                assert isinstance(upload, UploadFile)
                uploads.append((upload.filename or "file", await upload.read()))
        report: dict[str, Any] = {"added": [], "unchanged": [], "failed": [], "chunks": 0}
        for name, data in uploads:
            if name.startswith("huge"):
                return JSONResponse({"detail": f"<b>{name}</b> is too large"}, status_code=413)
            if not name.endswith(".txt"):
                report["failed"].append({"source": name, "reason": "<i>unsupported</i> type"})
                continue
            doc_id = hashlib.sha256(data).hexdigest()[:12]
            doc = {
                "id": doc_id,
                "name": name,
                "mime_type": "text/plain",
                "size_bytes": len(data),
                "chunk_count": 1,
                "created_at": 0.0,
            }
            if doc_id in store.documents:
                report["unchanged"].append(doc)
                continue
            store.documents[doc_id], store.texts[doc_id] = doc, data.decode()
            report["added"].append(doc)
            report["chunks"] += 1
        self._count(store)
        return JSONResponse(report, status_code=201)

    @staticmethod
    def _count(store: StoreRecord) -> None:
        store.info["document_count"] = len(store.documents)
        store.info["chunk_count"] = len(store.documents)


async def _read(receive: Receive) -> bytes:
    body = b""
    while True:
        message = await receive()
        body += bytes(message.get("body", b""))
        if not message.get("more_body"):
            return body


def _replaying(body: bytes, receive: Receive) -> Receive:
    """``receive`` that hands out ``body`` (already read) first, then what ``receive`` does."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


def _patching_json(send: Send, patch: Any) -> Send:
    """A ``send`` that hands a 2xx JSON body to ``patch`` and sends what it returns."""
    start: Message = {}
    body = b""

    async def patched(message: Message) -> None:
        nonlocal start, body
        if message["type"] == "http.response.start":
            start = message
            return
        body += message.get("body", b"")
        if message.get("more_body"):
            return
        if 200 <= start["status"] < 300 and body:
            body = json.dumps(patch(json.loads(body))).encode()
        headers = [(k, v) for k, v in start["headers"] if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(body)).encode()))
        await send({**start, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return patched


def _with_offsets(grounding: dict[str, Any], text: str) -> dict[str, Any]:
    """``grounding`` with its segments' UTF-8 byte offsets in ``text``."""
    data = text.encode()
    for support in grounding["groundingSupports"]:
        segment = support["segment"]
        start = data.find(segment["text"].encode())
        segment["startIndex"], segment["endIndex"] = start, start + len(segment["text"].encode())
    return grounding


def _grounding_events(send: Send, grounding: dict[str, Any]) -> Send:
    """A ``send`` that adds ``grounding`` to the event stream's ``final_answer``."""
    buffer = b""

    async def grounded(message: Message) -> None:
        nonlocal buffer
        if message["type"] != "http.response.body":
            await send(message)
            return
        buffer += message.get("body", b"")
        events, _, buffer = buffer.rpartition(b"\n\n")
        out = b""
        for block in events.split(b"\n\n") if events else []:
            if block.startswith(b"data: "):
                event = json.loads(block[6:])
                if event.get("type") == "final_answer":
                    event["groundingMetadata"] = _with_offsets(grounding, event.get("text", ""))
                block = b"data: " + json.dumps(event).encode()
            out += block + b"\n\n"
        more = bool(message.get("more_body"))
        if not more:
            out, buffer = out + buffer, b""
        await send({"type": "http.response.body", "body": out, "more_body": more})

    return grounded


@dataclass
class StoreServers:
    """The gateway behind the stand-in, and the stand-in's state."""

    servers: Servers
    stand_in: StoresStandIn


@pytest.fixture
def stores(tmp_path: Path) -> Iterator[StoreServers]:
    """The gateway (with the stand-in store routes) and an emulator that answers ``QUESTION``."""
    made: list[StoresStandIn] = []

    def wrap(app: ASGIApp) -> ASGIApp:
        made.append(StoresStandIn(app))
        return made[0]

    for running in _run(tmp_path, [], [Rule(match=QUESTION, reply=REPLY)], wrap):
        yield StoreServers(running, made[0])


def _open_stores(driver: WebDriver) -> None:
    """Shows the stores panel (in the drawer, on a phone)."""
    _open_chats(driver)
    panel = driver.find_element(By.ID, "stores-panel")
    if not panel.get_property("open"):
        panel.find_element(By.TAG_NAME, "summary").click()
    _until(driver, "document.getElementById('stores').children.length > 0", "no stores listed")


def _close_drawer(driver: WebDriver, size: str) -> None:
    if size == "phone" and driver.find_element(By.ID, "sidebar").is_displayed():
        driver.find_element(By.ID, "close-drawer").click()
        WebDriverWait(driver, WAIT).until(
            lambda d: not d.find_element(By.ID, "sidebar").is_displayed(), "drawer stays"
        )


def _store(driver: WebDriver, name: str) -> WebElement:
    found = _wait_for(driver, "#stores .store .store-name", name)
    return found.find_element(By.XPATH, "ancestor::li[contains(@class, 'store')]")


def _create_store(driver: WebDriver, name: str) -> WebElement:
    _open_stores(driver)
    driver.find_element(By.ID, "store-name").send_keys(name + Keys.ENTER)
    return _store(driver, name)


# Drops ``files`` (name -> text) onto ``element``, as a drag from the desktop would.
DROP = """
const [target, files] = arguments;
const data = new DataTransfer();
for (const [name, text] of Object.entries(files)) {
  data.items.add(new File([text], name, {type: "text/plain"}));
}
for (const type of ["dragover", "drop"]) {
  target.dispatchEvent(new DragEvent(type, {dataTransfer: data, bubbles: true, cancelable: true}));
}
"""


def test_a_store_is_filled_searched_and_its_sources_open_the_quoted_chunks(
    stores: StoreServers, browser: WebDriver, size: str, tmp_path: Path
) -> None:
    servers, stand_in = stores.servers, stores.stand_in
    notes = tmp_path / "hours.txt"
    notes.write_text(DOCUMENT)
    binary = tmp_path / "blob.bin"
    binary.write_bytes(b"\x00\x01")
    _load(browser, servers.url + "/")
    assert not browser.find_element(By.ID, "store-chips").is_displayed()
    _open_stores(browser)
    assert _texts(browser, "#stores li") == [
        "No stores yet: name one above, then upload documents into it."
    ]

    store = _create_store(browser, "Handbook")
    assert _text(store.find_element(By.CSS_SELECTOR, ".store-counts")) == "0 docs · 0 chunks"
    (store_id,) = stand_in.stores
    # A new store opens, ready for documents.
    assert (
        store.find_element(By.CSS_SELECTOR, ".store-toggle").get_attribute("aria-expanded")
        == "true"
    )
    assert browser.switch_to.active_element.get_attribute("aria-label") == (
        "Upload documents into “Handbook”"
    )
    picker = store.find_element(By.CSS_SELECTOR, ".store-file")
    picker.send_keys(f"{notes}\n{binary}")
    _wait_for(browser, "#stores .upload-report[data-busy='false'] .report-summary", "added")
    assert _texts(browser, "#stores .report-summary") == [
        "1 added, 0 unchanged, 1 failed · 1 chunk"
    ]
    assert _texts(browser, "#stores .upload-report li") == [
        "Added: hours.txt",
        "Failed: blob.bin: <i>unsupported</i> type",  # a reason is text, never markup
    ]
    assert not browser.find_elements(By.CSS_SELECTOR, "#stores .upload-report i")
    _wait_for(browser, "#stores .store-counts", "1 doc · 1 chunk")
    assert _texts(browser, "#stores .document-name") == ["hours.txt"]

    # Files dropped onto the store go into it: the same text again is left unchanged.
    browser.execute_script(DROP, _store(browser, "Handbook"), {"copy.txt": DOCUMENT})
    _wait_for(browser, "#stores .upload-report .unchanged", "Unchanged: copy.txt")
    assert _texts(browser, "#stores .document-name") == ["hours.txt"]

    # Checked, the store is searched by this chat: a chip in the composer says so.
    _store(browser, "Handbook").find_element(By.CSS_SELECTOR, ".store-check").click()
    _screenshot(browser, f"stores-panel-{size}")
    _close_drawer(browser, size)
    chip = _wait_for(browser, "#store-chips .store-chip", "Handbook")
    assert chip.is_displayed()
    browser.find_element(By.ID, "input").send_keys(QUESTION + Keys.ENTER)

    answer = _wait_for(browser, "#log .msg.model[data-done='true']")
    assert [s.get("store_ids") for s in stand_in.sent] == [[store_id], [store_id]]
    assert "Café notes" in _text(answer)
    _check_sources(browser, answer)
    _screenshot(browser, f"stores-answer-{size}")

    # The stored answer shows the same sources; the chat still searches the store.
    browser.refresh()
    _ready(browser)
    _pick(browser, QUESTION)
    _close_drawer(browser, size)
    answer = _wait_for(browser, "#log .msg.model[data-done='true']")
    _check_sources(browser, answer)
    _wait_for(browser, "#store-chips .store-chip", "Handbook")

    # The document, then the store, are deleted (each with a second press).
    _open_stores(browser)
    store = _store(browser, "Handbook")
    if (
        store.find_element(By.CSS_SELECTOR, ".store-toggle").get_attribute("aria-expanded")
        != "true"
    ):
        store.find_element(By.CSS_SELECTOR, ".store-toggle").click()
    delete = _wait_for(browser, "#stores .document-delete")
    assert delete.get_attribute("aria-label") == "Delete “hours.txt”"
    delete.click()
    assert _texts(browser, "#stores .document-name") == ["hours.txt"]  # armed only
    _wait_for(browser, "#stores .document-delete[data-confirm]").click()
    _wait_for(browser, "#stores .documents-empty", "No documents yet.")
    _wait_for(browser, "#stores .store-counts", "0 docs · 0 chunks")
    assert stand_in.stores[store_id].documents == {}

    _store(browser, "Handbook").find_element(By.CSS_SELECTOR, ".store-delete").click()
    assert store_id in stand_in.stores
    _wait_for(browser, "#stores .store-delete[data-confirm]").click()
    _wait_for(browser, "#stores .stores-empty")
    assert stand_in.stores == {}
    assert not browser.find_element(By.ID, "store-chips").is_displayed()
    assert browser.execute_script("return window.pwned;") is None


def _check_sources(driver: WebDriver, answer: WebElement) -> None:
    """The answer's sources: listed, their chunks opened by the list and by the markers."""
    turn = answer.find_element(By.XPATH, "..")
    sources = turn.find_elements(By.CSS_SELECTOR, ".sources.cited .source")
    assert [_text(s.find_element(By.CSS_SELECTOR, ".source-toggle")) for s in sources] == [
        "hours.txtp. 1",
        "Handbook online",
    ]
    assert _text(turn.find_element(By.CSS_SELECTOR, ".source-page")) == "p. 1"
    (link,) = turn.find_elements(By.CSS_SELECTOR, ".sources a")
    assert link.get_attribute("href") == HANDBOOK_URL
    chunk = sources[0].find_element(By.CSS_SELECTOR, ".chunk")
    assert not chunk.is_displayed()

    toggle = sources[0].find_element(By.CSS_SELECTOR, ".source-toggle")
    toggle.click()
    assert chunk.is_displayed() and toggle.get_attribute("aria-expanded") == "true"
    assert SENTENCE in chunk.text
    assert _text(chunk) == DOCUMENT  # the chunk's markup is shown as text
    assert not chunk.find_elements(By.CSS_SELECTOR, "*")
    # With its source focused, the sentence it supports is highlighted in the answer.
    highlighted = _until(
        driver,
        "CSS.highlights.get('cited') && [...CSS.highlights.get('cited')].map(r => r.toString())",
        "nothing highlighted",
    )
    assert highlighted == [CITED]
    toggle.click()
    assert not chunk.is_displayed()

    markers = answer.find_elements(By.CSS_SELECTOR, "button.cite")
    assert [_text(m) for m in markers] == ["[1]", "[2]"]
    assert markers[0].get_attribute("aria-label") == "Source 1: hours.txt"
    markers[0].click()
    assert chunk.is_displayed()
    assert driver.switch_to.active_element == toggle
    markers[1].click()
    assert sources[1].find_element(By.CSS_SELECTOR, ".chunk").is_displayed()
    assert _text(sources[1].find_element(By.CSS_SELECTOR, ".chunk")) == "Online."


def test_a_refused_upload_shows_the_gateway_s_reason_as_text(
    stores: StoreServers, browser: WebDriver, console: list[str], tmp_path: Path
) -> None:
    console.append("status of 413")
    huge = tmp_path / "huge.txt"
    huge.write_text("too much")
    _load(browser, stores.servers.url + "/")
    _create_store(browser, "<b>Bold</b> store")
    store = _store(browser, "<b>Bold</b> store")
    assert not store.find_elements(By.CSS_SELECTOR, ".store-name b")
    store.find_element(By.CSS_SELECTOR, ".store-file").send_keys(str(huge))

    _wait_for(browser, "#stores .upload-report.error", "Upload failed")
    assert _texts(browser, "#stores .upload-report") == [
        "Upload failed: <b>huge.txt</b> is too large"
    ]
    assert not browser.find_elements(By.CSS_SELECTOR, "#stores .upload-report b")
    assert _texts(browser, "#stores .document-name") == []
    # Nothing dropped outside a store is uploaded when it is unclear where it belongs.
    _create_store(browser, "Second")  # two stores open: a drop beside them has no target
    browser.execute_script(DROP, browser.find_element(By.ID, "store-create"), {"a.txt": "A"})
    _wait_for(browser, "#stores-error", "Drop the files onto the store they belong to.")
    assert all(not s.documents for s in stores.stand_in.stores.values())
