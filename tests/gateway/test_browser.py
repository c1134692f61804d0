"""The web chat page (``GET /``) in headless Chromium, end to end.

Debian's ``chromium`` and ``chromium-driver`` drive the page through Selenium (``make test``
installs them when it runs as root). Without them a local run skips with a reason; under
``CI=true`` it fails instead.

The gateway and its emulator upstream (with the control API, for fault injection) run
with uvicorn in a portal thread's event loop, so the blocking WebDriver calls in the test
never stall them. The emulator is served over TLS (a throwaway CA the gateway's client
trusts), because Live sessions reach it only over ``wss://``. Its REST streams are slowed
down (``SlowStreams``) and so are its Live replies (``live_chunk_seconds``), so each chunk
reaches the page on its own; the page's answer bubble is then seen growing.
"""

from __future__ import annotations

import base64
import os
import shutil
import ssl
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any, Literal

import httpx2
import pytest
from anyio.from_thread import start_blocking_portal
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.wait import WebDriverWait

from gemgate import AsyncGemini
from gemgate.config import RetrySettings
from gemgate.emulator import EmulatorConfig
from gemgate.emulator import create_app as create_emulator
from gemgate.emulator._config import EmulatorSettings
from gemgate.emulator._tls import client_context, self_signed
from gemgate.gateway import create_app as create_gateway
from gemgate.projects import GatewayKey, hash_secret
from gemgate.serving import serve_in_loop

from .conftest import SlowStreams

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
# Without these, Chromium hangs on network lookups in a machine with no internet.
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
WAIT = 30.0
"""Seconds any wait on the page may take (generous: nothing here is a timing check)."""
CHUNK_DELAY = 0.1
"""Seconds the emulator waits before each streamed chunk, so chunks arrive one by one."""
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)
"""A 1x1 PNG image."""
KEY_SECRET = "alice-secret"

# Records every distinct text of the newest answer bubble, one entry per DOM update.
WATCH_ANSWER = """
window.answerTexts = [];
new MutationObserver(() => {
  const answers = document.querySelectorAll("#log .msg.model");
  const text = answers.length ? answers[answers.length - 1].textContent : "";
  if (text && window.answerTexts[window.answerTexts.length - 1] !== text) {
    window.answerTexts.push(text);
  }
}).observe(document.getElementById("log"), {childList: true, subtree: true, characterData: true});
"""


@dataclass
class Servers:
    """A gateway on loopback and the emulator (with control API, over TLS) it calls."""

    url: str
    emulator_url: str
    emulator_ssl: ssl.SSLContext
    slow: SlowStreams
    headers: dict[str, str]
    """What the gateway's API wants from this test (a gateway key, when it has keys)."""

    def faults(self, *rules: dict[str, Any]) -> None:
        """Replace the emulator's fault rules."""
        url = f"{self.emulator_url}/_emulator/faults"
        response = httpx2.post(
            url, json={"faults": list(rules)}, verify=self.emulator_ssl, timeout=WAIT
        )
        response.raise_for_status()

    def _get(self, path: str) -> Any:
        response = httpx2.get(f"{self.url}{path}", headers=self.headers, timeout=WAIT)
        response.raise_for_status()
        return response.json()

    def sessions(self) -> list[dict[str, Any]]:
        """The gateway's sessions, as its API lists them."""
        sessions: list[dict[str, Any]] = self._get("/api/v1/sessions")["sessions"]
        return sessions

    def messages(self, session_id: str) -> list[dict[str, Any]]:
        """One session's stored messages, as its API shows them."""
        messages: list[dict[str, Any]] = self._get(f"/api/v1/sessions/{session_id}")["messages"]
        return messages


@asynccontextmanager
async def _serving(tmp_path: Path, keys: list[GatewayKey]) -> AsyncIterator[Servers]:
    tls = self_signed(tmp_path / "tls")
    config = EmulatorConfig(emulator=EmulatorSettings(live_chunk_seconds=CHUNK_DELAY))
    slow = SlowStreams(create_emulator(config, control=True))
    slow.delay = CHUNK_DELAY
    emulator = await serve_in_loop(slow, certfile=str(tls.cert), keyfile=str(tls.key))
    try:
        client = AsyncGemini(  # no retries: an injected failure reaches the page at once
            api_key="k",
            base_url=emulator.base_url,
            tls_ca_file=str(tls.ca),
            retry=RetrySettings(max_retries=0),
            sessions_url=f"sqlite:///{tmp_path / 'sessions.db'}",
            gateway_keys=keys,
        )
        gateway = await serve_in_loop(create_gateway(client), lifespan="on")
        headers = {"authorization": f"Bearer {KEY_SECRET}"} if keys else {}
        try:
            yield Servers(
                gateway.base_url, emulator.base_url, client_context(tls.ca), slow, headers
            )
        finally:
            await gateway.stop()  # its shutdown closes the client
    finally:
        await emulator.stop()


def _run(tmp_path: Path, keys: list[GatewayKey]) -> Iterator[Servers]:
    with (
        start_blocking_portal() as portal,
        portal.wrap_async_context_manager(_serving(tmp_path, keys)) as running,
    ):
        yield running


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[Servers]:
    """The gateway with no keys (open on loopback)."""
    yield from _run(tmp_path, [])


@pytest.fixture
def keyed_servers(tmp_path: Path) -> Iterator[Servers]:
    """The gateway with one key, ``alice``."""
    yield from _run(tmp_path, [GatewayKey(name="alice", secret_sha256=hash_secret(KEY_SECRET))])


def _need_chromium() -> None:
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not os.access(path, os.X_OK)]
    if not missing:
        return
    message = f"{' and '.join(missing)} not found (apt-get install chromium chromium-driver)"
    if os.environ.get("CI") == "true":
        pytest.fail(message + " (CI must run the browser test)")
    pytest.skip(message)


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[WebDriver]:
    _need_chromium()
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (*CHROMIUM_ARGS, f"--user-data-dir={tmp_path / 'chromium-profile'}"):
        options.add_argument(arg)
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    try:
        yield driver
    finally:
        driver.quit()


def _wait_for(driver: WebDriver, css: str, text: str | None = None) -> WebElement:
    """The first element matching ``css`` (whose text contains ``text``, if given)."""

    def found(driver: WebDriver) -> WebElement | Literal[False]:
        for element in driver.find_elements(By.CSS_SELECTOR, css):
            if text is None or text in element.text:
                return element
        return False

    return WebDriverWait(driver, WAIT).until(found, f"no {css!r} showing {text!r}")


def _text(element: WebElement) -> str:
    """The element's ``textContent``, exactly as the page set it."""
    text = element.get_property("textContent")
    assert isinstance(text, str)
    return text


def _texts(driver: WebDriver, css: str) -> list[str]:
    return [_text(element) for element in driver.find_elements(By.CSS_SELECTOR, css)]


def _send(driver: WebDriver, message: str) -> None:
    driver.find_element(By.ID, "input").send_keys(message + Keys.ENTER)


def _go_live(driver: WebDriver) -> None:
    driver.find_element(By.ID, "mode-live").click()
    _wait_for(driver, "#mode-live[aria-selected='true']")


def _answer(driver: WebDriver) -> str:
    """The newest answer, once whole, after checking it was streamed in (``WATCH_ANSWER``)."""
    answer = _text(_wait_for(driver, "#log .msg.model[data-done='true']"))
    seen: list[str] = driver.execute_script("return window.answerTexts;")
    assert seen[-1] == answer
    assert len(seen) >= 2, f"the answer reached the page in one piece: {seen!r}"
    assert all(later.startswith(earlier) for earlier, later in pairwise(seen))
    return answer


def test_a_message_gets_a_streamed_answer_and_the_session_survives_a_reload(
    browser: WebDriver, servers: Servers
) -> None:
    browser.get(servers.url + "/")
    assert browser.title == "gemgate chat"
    browser.execute_script(WATCH_ANSWER)
    _send(browser, "Hello there")

    # Streamed: the page showed the answer growing, prefix by prefix, before it was whole.
    answer = _answer(browser)
    assert "Hello there" in answer  # the emulator's answer quotes the prompt
    assert _texts(browser, "#log .msg.user") == ["Hello there"]
    assert not browser.find_elements(By.CSS_SELECTOR, "#log .msg.error")
    assert servers.slow.streams and servers.slow.streams[-1].chunks >= 2

    # The page created the session (titled after the message) and the API stored the turn.
    (session,) = servers.sessions()
    assert session["title"] == "Hello there" and session["message_count"] == 2

    browser.refresh()
    listed = _wait_for(browser, "#sessions .session", "Hello there")
    assert _texts(browser, "#sessions .session") == ["Hello there"]
    assert not browser.find_elements(By.CSS_SELECTOR, "#log .msg")  # nothing open yet
    listed.click()
    _wait_for(browser, "#sessions .session.active", "Hello there")
    _wait_for(browser, "#log .msg.model")
    assert _texts(browser, "#log .msg.user") == ["Hello there"]
    assert _texts(browser, "#log .msg.model") == [answer]


@pytest.mark.parametrize(
    ("fault", "shown"),
    [
        pytest.param({"kind": "status", "status": 503}, "The model is overloaded", id="status"),
        pytest.param(
            {"kind": "midstream", "after_chunks": 2, "status": 500},
            "500 INTERNAL",
            id="midstream",
        ),
    ],
)
def test_an_upstream_failure_shows_an_error_on_the_page(
    browser: WebDriver, servers: Servers, fault: dict[str, Any], shown: str
) -> None:
    browser.get(servers.url + "/")
    browser.find_element(By.ID, "new").click()
    _wait_for(browser, "#sessions .session.active", "New chat")
    servers.faults(fault)
    _send(browser, "Hello there")

    error = _wait_for(browser, "#log .msg.error")
    assert error.text.startswith("Error: ") and shown in error.text
    assert not browser.find_elements(By.CSS_SELECTOR, "#log .msg.model")  # no (partial) answer
    assert _texts(browser, "#log .msg.user") == ["Hello there"]
    assert servers.slow.streams  # the failure came from the upstream call


# Makes the page's ``POST /api/v1/sessions`` (creating a session) fail with a 503.
FAIL_SESSION_CREATION = """
const realFetch = window.fetch;
window.fetch = (url, options) =>
  url === "/api/v1/sessions" && options && options.method === "POST"
    ? Promise.resolve(new Response('{"detail": "the store is down"}', {status: 503}))
    : realFetch(url, options);
"""


def test_a_failure_to_create_the_session_shows_an_error(
    browser: WebDriver, servers: Servers
) -> None:
    browser.get(servers.url + "/")
    _wait_for(browser, "#sessions")
    browser.execute_script(FAIL_SESSION_CREATION)
    _send(browser, "Hello there")

    error = _wait_for(browser, "#log .msg.error")
    assert error.text == "Error: could not start a chat: the store is down"
    assert not browser.find_elements(By.CSS_SELECTOR, "#log .msg.user, #log .msg.model")
    assert browser.find_element(By.ID, "input").get_property("value") == "Hello there"
    assert servers.sessions() == [] and not servers.slow.streams


def test_live_mode_streams_answers_over_the_websocket_and_stores_the_turns(
    browser: WebDriver, servers: Servers
) -> None:
    browser.get(servers.url + "/")
    assert not browser.find_element(By.ID, "image").is_displayed()  # Live mode only
    _go_live(browser)
    assert browser.find_element(By.ID, "image").is_displayed()
    browser.execute_script(WATCH_ANSWER)
    _send(browser, "Hello live")

    answer = _answer(browser)
    assert "Hello live" in answer
    assert _texts(browser, "#log .msg.user") == ["Hello live"]
    assert not browser.find_elements(By.CSS_SELECTOR, "#log .msg.error")
    assert not servers.slow.streams  # not the REST stream: the turn went over Live
    # The gateway started a "Live conversation" session and stored both messages.
    _wait_for(browser, "#sessions .session.active", "Live conversation")
    (session,) = servers.sessions()
    assert session["title"] == "Live conversation"
    stored = servers.messages(session["id"])
    assert [(m["role"], m["message_type"]) for m in stored] == [("user", "text"), ("model", "text")]
    assert [m["parts"][0]["text"] for m in stored] == ["Hello live", answer]

    # A fresh page in Live mode: opening the session shows its history and continues it.
    browser.get(servers.url + "/?mode=live")
    _wait_for(browser, "#sessions .session", "Live conversation").click()
    _wait_for(browser, "#live-status", "connected")
    assert _texts(browser, "#log .msg.user") == ["Hello live"]
    assert _texts(browser, "#log .msg.model") == [answer]
    browser.execute_script(WATCH_ANSWER)
    _send(browser, "And again")
    second = _answer(browser)
    assert "And again" in second
    assert _texts(browser, "#log .msg.user") == ["Hello live", "And again"]
    assert [s["id"] for s in servers.sessions()] == [session["id"]]
    stored = servers.messages(session["id"])
    assert [m["parts"][0]["text"] for m in stored] == ["Hello live", answer, "And again", second]


def test_live_mode_sends_an_attached_image_with_the_prompt(
    browser: WebDriver, servers: Servers, tmp_path: Path
) -> None:
    image = tmp_path / "dot.png"
    image.write_bytes(PNG)
    encoded = base64.b64encode(PNG).decode()
    browser.get(servers.url + "/?mode=live")
    _wait_for(browser, "#mode-live[aria-selected='true']")
    browser.find_element(By.ID, "image").send_keys(str(image))
    _wait_for(browser, "#preview")  # the attachment shows before it is sent
    _send(browser, "What is in this picture?")

    _wait_for(browser, "#log .msg.model[data-done='true']")
    (user,) = browser.find_elements(By.CSS_SELECTOR, "#log .msg.user")
    assert _text(user) == "What is in this picture?"
    thumbnail = f"data:image/png;base64,{encoded}"
    assert user.find_element(By.TAG_NAME, "img").get_attribute("src") == thumbnail
    assert not browser.find_element(By.ID, "preview").is_displayed()  # sent: detached
    assert not browser.find_elements(By.CSS_SELECTOR, "#log .msg.error")

    (session,) = servers.sessions()
    question, reply = servers.messages(session["id"])
    assert (question["role"], question["message_type"]) == ("user", "image")
    assert question["parts"] == [
        {"inlineData": {"mimeType": "image/png", "data": encoded}},
        {"text": "What is in this picture?"},
    ]
    assert reply["role"] == "model" and reply["parts"][0]["text"]

    # The stored conversation shows the image again.
    browser.refresh()
    _wait_for(browser, "#sessions .session", "Live conversation").click()
    shown = _wait_for(browser, "#log .msg.user", "What is in this picture?")
    assert shown.find_element(By.TAG_NAME, "img").get_attribute("src") == thumbnail


def test_live_mode_shows_why_the_gateway_closed_the_connection(
    browser: WebDriver, servers: Servers
) -> None:
    browser.get(servers.url + "/?mode=live&session=no-such-session")

    error = _wait_for(browser, "#log .msg.error")
    assert error.text == "Error: the Live connection closed (1008): no such chat session"
    _wait_for(browser, "#live-status", "disconnected")
    assert servers.sessions() == []

    # The refused id is dropped: the next message starts a new Live conversation.
    _send(browser, "Start over")
    _wait_for(browser, "#log .msg.model[data-done='true']")
    assert [s["title"] for s in servers.sessions()] == ["Live conversation"]


def test_with_gateway_keys_the_page_asks_for_one_and_live_mode_uses_the_login(
    browser: WebDriver, keyed_servers: Servers
) -> None:
    browser.get(keyed_servers.url + "/")
    key = _wait_for(browser, "#login #key")
    assert browser.find_element(By.ID, "login").is_displayed()
    key.send_keys("wrong-secret" + Keys.ENTER)
    _wait_for(browser, "#log .msg.error", "the gateway refused this key")
    key.clear()
    key.send_keys(KEY_SECRET + Keys.ENTER)
    WebDriverWait(browser, WAIT).until(
        lambda driver: not driver.find_element(By.ID, "login").is_displayed(), "still asking"
    )

    _go_live(browser)
    _send(browser, "Hello from alice")
    _wait_for(browser, "#log .msg.model[data-done='true']")
    _wait_for(browser, "#sessions .session.active", "Live conversation")
    (session,) = keyed_servers.sessions()
    assert session["user"] == "alice"  # the socket was opened with alice's login cookie
