"""Retrieval stores and grounded answers on the web chat page, in headless Chromium.

The page's stores panel (create a store, upload documents by picker and by drop, delete
them), the stores a chat searches (``store_ids``) and a grounded answer's sources (the
chunk each one quotes, its ``[n]`` markers, the cited sentence) are driven at both window
sizes against the real gateway: its store API keeps the documents (in the test's SQLite),
it searches them for each question, and the emulated model answers from the chunks it is
given, citing them as ``[n]``; the gateway attaches the ``grounding_metadata``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.wait import WebDriverWait

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
SENTENCE = "The office opens at nine o'clock and closes at five."
DOCUMENT = (
    "Welcome to the café handbook.\n"
    f"{SENTENCE}\n"
    '<img src="x" onerror="window.pwned = 1"> is not an image.\n'
)
ANSWER = f"{SENTENCE} [1]"
"""The emulated model's answer to ``QUESTION``: the document's best sentence, cited."""
MARKUP_NAME = "<img src=x onerror=window.pwned=1>.txt"

# Records the JSON bodies the page posts (the requests themselves go through unchanged).
RECORD_POSTS = """
window.posted = [];
const realFetch = window.fetch;
window.fetch = (url, init) => {
  if (init && typeof init.body === "string") {
    window.posted.push([String(url), JSON.parse(init.body)]);
  }
  return realFetch(url, init);
};
"""

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


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[Servers]:
    """The gateway (no keys) over the emulator; its stores live in the test's SQLite."""
    yield from _run(tmp_path, [])


def _api(servers: Servers, path: str) -> Any:
    response = httpx2.get(f"{servers.url}{path}", headers=servers.headers, timeout=WAIT)
    response.raise_for_status()
    return response.json()


def _posted(driver: WebDriver, suffix: str) -> list[dict[str, Any]]:
    """The JSON bodies the page posted to URLs ending with ``suffix`` (``RECORD_POSTS``)."""
    posted: list[list[Any]] = driver.execute_script("return window.posted;")
    return [body for url, body in posted if url.endswith(suffix)]


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


def _expand(store: WebElement) -> None:
    toggle = store.find_element(By.CSS_SELECTOR, ".store-toggle")
    if toggle.get_attribute("aria-expanded") != "true":
        toggle.click()


def test_a_store_is_filled_searched_and_its_sources_open_the_quoted_chunks(
    servers: Servers, browser: WebDriver, size: str, tmp_path: Path
) -> None:
    notes = tmp_path / "hours.txt"
    notes.write_text(DOCUMENT)
    binary = tmp_path / "blob.bin"
    binary.write_bytes(b"\x00\x01\x02\xff")
    _load(browser, servers.url + "/")
    browser.execute_script(RECORD_POSTS)
    assert not browser.find_element(By.ID, "store-chips").is_displayed()
    _open_stores(browser)
    assert _texts(browser, "#stores li") == [
        "No stores yet: name one above, then upload documents into it."
    ]

    store = _create_store(browser, "Handbook")
    assert _text(store.find_element(By.CSS_SELECTOR, ".store-counts")) == "0 docs · 0 chunks"
    (made,) = _api(servers, "/api/v1/stores")["stores"]
    store_id = made["id"]
    assert made["name"] == "Handbook"
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
    added, failed = _texts(browser, "#stores .upload-report li")
    assert added == "Added: hours.txt"
    assert failed.startswith("Failed: blob.bin: ") and len(failed) > len("Failed: blob.bin: ")
    _wait_for(browser, "#stores .store-counts", "1 doc · 1 chunk")
    assert _texts(browser, "#stores .document-name") == ["hours.txt"]
    assert _texts(browser, "#stores .document-meta") == [f"{len(DOCUMENT.encode())} B · 1 chunk"]

    # Files dropped onto the store go into it: the same text again is the same document.
    browser.execute_script(DROP, _store(browser, "Handbook"), {"copy.txt": DOCUMENT})
    _wait_for(browser, "#stores .upload-report .unchanged", "Unchanged: hours.txt")
    assert _texts(browser, "#stores .report-summary") == ["0 added, 1 unchanged · 0 chunks"]
    assert _texts(browser, "#stores .document-name") == ["hours.txt"]
    (document,) = _api(servers, f"/api/v1/stores/{store_id}/documents")["documents"]

    # Checked, the store is searched by this chat: a chip in the composer says so.
    _store(browser, "Handbook").find_element(By.CSS_SELECTOR, ".store-check").click()
    _screenshot(browser, f"stores-panel-{size}")
    _close_drawer(browser, size)
    chip = _wait_for(browser, "#store-chips .store-chip", "Handbook")
    assert chip.is_displayed()
    browser.find_element(By.ID, "input").send_keys(QUESTION + Keys.ENTER)

    answer = _wait_for(browser, "#log .msg.model[data-done='true']")
    assert _text(answer).strip() == ANSWER
    assert [b.get("store_ids") for b in _posted(browser, "/api/v1/sessions")] == [[store_id]]
    assert [b.get("store_ids") for b in _posted(browser, "/messages")] == [[store_id]]
    (session,) = servers.sessions()
    assert session["metadata"]["store_ids"] == [store_id]
    stored = servers.messages(session["id"])[-1]["metadata"]["grounding_metadata"]
    context = stored["groundingChunks"][0]["retrievedContext"]
    assert context["documentName"] == f"stores/{store_id}/documents/{document['id']}"
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

    # Regenerated, the answer is grounded on the chat's stores again.
    browser.execute_script(RECORD_POSTS)
    answer.find_element(By.XPATH, "..").find_element(By.CSS_SELECTOR, ".regenerate").click()
    _until(browser, "window.posted.length > 0", "nothing regenerated")
    assert [b.get("store_ids") for b in _posted(browser, "/regenerate")] == [[store_id]]
    answer = _wait_for(browser, "#log .msg.model[data-done='true']")
    _check_sources(browser, answer)
    assert len(servers.messages(session["id"])) == 2

    # The document, then the store, are deleted (each with a second press).
    _open_stores(browser)
    store = _store(browser, "Handbook")
    _expand(store)
    delete = _wait_for(browser, "#stores .document-delete")
    assert delete.get_attribute("aria-label") == "Delete “hours.txt”"
    delete.click()
    assert _texts(browser, "#stores .document-name") == ["hours.txt"]  # armed only
    _wait_for(browser, "#stores .document-delete[data-confirm]").click()
    _wait_for(browser, "#stores .documents-empty", "No documents yet.")
    _wait_for(browser, "#stores .store-counts", "0 docs · 0 chunks")
    assert _api(servers, f"/api/v1/stores/{store_id}/documents")["documents"] == []

    _store(browser, "Handbook").find_element(By.CSS_SELECTOR, ".store-delete").click()
    assert len(_api(servers, "/api/v1/stores")["stores"]) == 1
    _wait_for(browser, "#stores .store-delete[data-confirm]").click()
    _wait_for(browser, "#stores .stores-empty")
    assert _api(servers, "/api/v1/stores")["stores"] == []
    assert not browser.find_element(By.ID, "store-chips").is_displayed()

    # The chat made with the store goes on without it: it asks for no store at all.
    _close_drawer(browser, size)
    browser.find_element(By.ID, "input").send_keys("Thanks" + Keys.ENTER)
    _until(
        browser,
        "document.querySelectorAll('#log .msg.model[data-done]').length === 2",
        "no second answer",
    )
    assert [b.get("store_ids") for b in _posted(browser, "/messages")] == [[]]
    (session,) = servers.sessions()
    assert session["metadata"]["store_ids"] == []  # kept on the session: a reload shows none
    assert not browser.find_elements(By.CSS_SELECTOR, "#log .msg.error")
    assert len(browser.find_elements(By.CSS_SELECTOR, "#log .sources")) == 1
    assert browser.execute_script("return window.pwned;") is None


def _check_sources(driver: WebDriver, answer: WebElement) -> None:
    """The answer's sources: listed, their chunks opened by the list and by the marker."""
    turn = answer.find_element(By.XPATH, "..")
    (source,) = turn.find_elements(By.CSS_SELECTOR, ".sources.cited .source")
    toggle = source.find_element(By.CSS_SELECTOR, ".source-toggle")
    assert _text(toggle) == "hours.txt"
    assert not source.find_elements(By.CSS_SELECTOR, "a")  # an uploaded file has no URL
    chunk = source.find_element(By.CSS_SELECTOR, ".chunk")
    assert not chunk.is_displayed()

    toggle.click()
    assert chunk.is_displayed() and toggle.get_attribute("aria-expanded") == "true"
    assert SENTENCE in _text(chunk)
    assert '<img src="x" onerror="window.pwned = 1">' in _text(chunk)  # shown as text
    assert not chunk.find_elements(By.CSS_SELECTOR, "*")
    # With its source focused, the sentence it supports is highlighted in the answer.
    highlighted = _until(
        driver,
        "CSS.highlights.get('cited') && [...CSS.highlights.get('cited')].map(r => r.toString())",
        "nothing highlighted",
    )
    assert highlighted == [ANSWER]
    toggle.click()
    assert not chunk.is_displayed()

    (marker,) = answer.find_elements(By.CSS_SELECTOR, "button.cite")
    assert _text(marker) == "[1]"
    assert marker.get_attribute("aria-label") == "Source 1: hours.txt"
    marker.click()
    assert chunk.is_displayed()
    assert driver.switch_to.active_element == toggle
    toggle.click()


def test_markup_in_names_stays_text_and_a_refused_upload_shows_the_reason(
    servers: Servers, browser: WebDriver, console: list[str], tmp_path: Path, size: str
) -> None:
    console.append("status of 415")
    marked = tmp_path / MARKUP_NAME
    marked.write_text(DOCUMENT)
    binary = tmp_path / "blob.bin"
    binary.write_bytes(b"\x00\x01\x02\xff")
    _load(browser, servers.url + "/")
    store = _create_store(browser, "<b>Bold</b> store")
    assert not store.find_elements(By.CSS_SELECTOR, ".store-name b")

    store.find_element(By.CSS_SELECTOR, ".store-file").send_keys(str(marked))
    _wait_for(browser, "#stores .upload-report .added", "Added: ")
    assert _texts(browser, "#stores .document-name") == [MARKUP_NAME]
    assert _texts(browser, "#stores .upload-report li") == [f"Added: {MARKUP_NAME}"]
    assert not browser.find_elements(By.CSS_SELECTOR, "#stores img")

    # A file the gateway cannot read is refused; its reason is shown, and nothing is kept.
    _store(browser, "<b>Bold</b> store").find_element(By.CSS_SELECTOR, ".store-file").send_keys(
        str(binary)
    )
    report = _wait_for(browser, "#stores .upload-report.error", "Upload failed: ")
    reason = _text(report).removeprefix("Upload failed: ")
    assert reason and "HTTP" not in reason
    assert _texts(browser, "#stores .document-name") == [MARKUP_NAME]
    (store_info,) = _api(servers, "/api/v1/stores")["stores"]
    assert store_info["document_count"] == 1

    # Nothing dropped outside a store is uploaded when it is unclear where it belongs.
    _create_store(browser, "Second")  # two stores open: a drop beside them has no target
    browser.execute_script(DROP, browser.find_element(By.ID, "store-create"), {"a.txt": "A"})
    _wait_for(browser, "#stores-error", "Drop the files onto the store they belong to.")
    counts = [s["document_count"] for s in _api(servers, "/api/v1/stores")["stores"]]
    assert sorted(counts) == [0, 1]
    _screenshot(browser, f"stores-escaping-{size}")
    assert browser.execute_script("return window.pwned;") is None
