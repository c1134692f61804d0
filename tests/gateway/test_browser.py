"""The web chat page (``GET /``) in headless Chromium, end to end.

Debian's ``chromium`` and ``chromium-driver`` drive the page through Selenium (``make test``
installs them when it runs as root). Without them a local run skips with a reason; under
``CI=true`` it fails instead.

The gateway and its emulator upstream (with the control API, for fault injection) run
with uvicorn in a portal thread's event loop, so the blocking WebDriver calls in the test
never stall them. The emulator's stream is slowed down (``SlowStreams``) so each chunk
reaches the page on its own; the page's answer bubble is then seen growing.
"""

from __future__ import annotations

import os
import shutil
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
from gemgate.gateway import create_app as create_gateway
from tests.conftest import serve_in_loop, stop_serving

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
    """A gateway on loopback and the emulator (with control API) it calls."""

    url: str
    emulator_url: str
    slow: SlowStreams

    def faults(self, *rules: dict[str, Any]) -> None:
        """Replace the emulator's fault rules."""
        url = f"{self.emulator_url}/_emulator/faults"
        httpx2.post(url, json={"faults": list(rules)}, timeout=WAIT).raise_for_status()

    def sessions(self) -> list[dict[str, Any]]:
        """The gateway's sessions, as its API lists them."""
        response = httpx2.get(f"{self.url}/api/v1/sessions", timeout=WAIT)
        response.raise_for_status()
        sessions: list[dict[str, Any]] = response.json()["sessions"]
        return sessions


@asynccontextmanager
async def _serving(tmp_path: Path) -> AsyncIterator[Servers]:
    slow = SlowStreams(create_emulator(EmulatorConfig(), control=True))
    slow.delay = CHUNK_DELAY
    emu_server, emu_task, emulator_url = await serve_in_loop(slow)
    try:
        client = AsyncGemini(  # no retries: an injected failure reaches the page at once
            api_key="k",
            base_url=emulator_url,
            retry=RetrySettings(max_retries=0),
            sessions_url=f"sqlite:///{tmp_path / 'sessions.db'}",
        )
        gw_server, gw_task, url = await serve_in_loop(create_gateway(client), lifespan="on")
        try:
            yield Servers(url, emulator_url, slow)
        finally:
            await stop_serving(gw_server, gw_task)  # its shutdown closes the client
    finally:
        await stop_serving(emu_server, emu_task)


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[Servers]:
    with (
        start_blocking_portal() as portal,
        portal.wrap_async_context_manager(_serving(tmp_path)) as running,
    ):
        yield running


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


def test_a_message_gets_a_streamed_answer_and_the_session_survives_a_reload(
    browser: WebDriver, servers: Servers
) -> None:
    browser.get(servers.url + "/")
    assert browser.title == "gemgate chat"
    browser.execute_script(WATCH_ANSWER)
    _send(browser, "Hello there")

    done = _wait_for(browser, "#log .msg.model[data-done='true']")
    answer = _text(done)
    assert "Hello there" in answer  # the emulator's answer quotes the prompt
    assert _texts(browser, "#log .msg.user") == ["Hello there"]
    assert not browser.find_elements(By.CSS_SELECTOR, "#log .msg.error")
    # Streamed: the page showed the answer growing, prefix by prefix, before it was whole.
    seen: list[str] = browser.execute_script("return window.answerTexts;")
    assert seen[-1] == answer
    assert len(seen) >= 2, f"the answer reached the page in one piece: {seen!r}"
    assert all(later.startswith(earlier) for earlier, later in pairwise(seen))
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
        pytest.param({"kind": "status", "status": 503}, "503 UNAVAILABLE", id="status"),
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
