"""The web chat page (``GET /``) in headless Chromium, end to end, at two widths.

Every test runs twice: on a desktop window (1280 px) and on a phone-sized one (390 px),
where the chat list is a drawer. One Chromium serves each size; its cookies and console
log are reset for every test, and each test's gateway is a new origin, so stored data
starts empty. Each run saves a screenshot (into ``$GEMGATE_ARTIFACTS``, else
``artifacts/browser/``) and fails on any error in the browser's console that the test did
not expect. Chromium's fake camera/microphone stands in for the user's.

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
import re
import shutil
import ssl
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any, Literal

import httpx2
import pytest
from anyio.from_thread import start_blocking_portal
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.select import Select
from selenium.webdriver.support.wait import WebDriverWait
from starlette.types import ASGIApp

from gemgate import AsyncGemini
from gemgate.config import RetrySettings
from gemgate.emulator import EmulatorConfig
from gemgate.emulator import create_app as create_emulator
from gemgate.emulator._config import EmulatorSettings, Rule
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
    "--use-fake-ui-for-media-stream",  # the microphone: allowed, and a fake device
    "--use-fake-device-for-media-stream",
    "--autoplay-policy=no-user-gesture-required",
)
SIZES = {"desktop": (1280, 900), "phone": (390, 844)}
ARTIFACTS = Path(os.environ.get("GEMGATE_ARTIFACTS") or Path(__file__).parents[2] / "artifacts")
"""Where screenshots go (``artifacts/`` is ignored by git)."""
WAIT = 30.0
"""Seconds any wait on the page may take (generous: nothing here is a timing check)."""
CHUNK_DELAY = 0.1
"""Seconds the emulator waits before each streamed chunk, so chunks arrive one by one."""
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)
"""A 1x1 PNG image."""
KEY_SECRET = "alice-secret"
MARKDOWN_REPLY = """Here is **bold** text and `inline code`.

```python
def greet(name):
    return f"Hello, {name}"
```

<img src="x" onerror="window.pwned = 1"><script>window.pwned = 2</script>
[a bad link](javascript:window.pwned=3) and [a good one](https://example.org/docs)
"""
"""The emulator's scripted answer to any prompt containing ``markdown please``."""

# Records every distinct text of the newest answer bubble, one entry per DOM update.
WATCH_ANSWER = """
window.answerTexts = [];
new MutationObserver(() => {
  const answers = document.querySelectorAll("#log .msg.model");
  const text = answers.length ? answers[answers.length - 1].textContent.trim() : "";
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
async def _serving(
    tmp_path: Path,
    keys: list[GatewayKey],
    rules: Sequence[Rule] = (),
    wrap: Callable[[ASGIApp], ASGIApp] = lambda app: app,
) -> AsyncIterator[Servers]:
    tls = self_signed(tmp_path / "tls")
    rules = [Rule(match="markdown please", reply=MARKDOWN_REPLY), *rules]
    config = EmulatorConfig(emulator=EmulatorSettings(live_chunk_seconds=CHUNK_DELAY, rules=rules))
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
        gateway = await serve_in_loop(wrap(create_gateway(client)), lifespan="on")
        headers = {"authorization": f"Bearer {KEY_SECRET}"} if keys else {}
        try:
            yield Servers(
                gateway.base_url, emulator.base_url, client_context(tls.ca), slow, headers
            )
        finally:
            await gateway.stop()  # its shutdown closes the client
    finally:
        await emulator.stop()


def _run(
    tmp_path: Path,
    keys: list[GatewayKey],
    rules: Sequence[Rule] = (),
    wrap: Callable[[ASGIApp], ASGIApp] = lambda app: app,
) -> Iterator[Servers]:
    """The gateway (``wrap`` may put a middleware around it) with extra emulator ``rules``."""
    with (
        start_blocking_portal() as portal,
        portal.wrap_async_context_manager(_serving(tmp_path, keys, rules, wrap)) as running,
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


@pytest.fixture(scope="module", params=list(SIZES))
def size(request: pytest.FixtureRequest) -> str:
    """The window: ``desktop`` (1280 px wide) or ``phone`` (390 px)."""
    name: str = request.param
    return name


@pytest.fixture
def console() -> list[str]:
    """Console errors the test expects (substrings); any other one fails it."""
    return []


@pytest.fixture(scope="module")
def chromium(tmp_path_factory: pytest.TempPathFactory, size: str) -> Iterator[WebDriver]:
    """One Chromium per window size (each test starts it afresh: see ``browser``)."""
    _need_chromium()
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    profile = tmp_path_factory.mktemp("chromium-profile")
    for arg in (*CHROMIUM_ARGS, f"--user-data-dir={profile}"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    try:
        driver.set_window_size(*SIZES[size])
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def browser(
    chromium: WebDriver, request: pytest.FixtureRequest, console: list[str]
) -> Iterator[WebDriver]:
    """The browser on a blank page: no cookies, no stored data, an empty console log.

    Each test's gateway listens on a new port, so its page is a new origin too.
    """
    driver = chromium
    driver.get("about:blank")
    driver.execute_cdp_cmd("Network.clearBrowserCookies", {})
    # No drawer animation: a click never lands on a moving target.
    driver.execute_cdp_cmd(
        "Emulation.setEmulatedMedia",
        {"features": [{"name": "prefers-reduced-motion", "value": "reduce"}]},
    )
    driver.get_log("browser")  # what earlier tests left
    yield driver
    _screenshot(driver, request.node.name)
    errors = [
        entry["message"]
        for entry in driver.get_log("browser")
        if entry["level"] == "SEVERE" and not any(e in entry["message"] for e in console)
    ]
    driver.get("about:blank")  # closes the page's connections before its gateway stops
    assert not errors, f"errors in the browser console: {errors}"


def _screenshot(driver: WebDriver, name: str) -> None:
    folder = ARTIFACTS / "browser"
    folder.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(folder / (re.sub(r"[^\w.-]+", "_", name) + ".png")))


def _wait_for(driver: WebDriver, css: str, text: str | None = None) -> WebElement:
    """The first element matching ``css`` (whose ``textContent`` has ``text``, if given)."""

    def found(driver: WebDriver) -> WebElement | Literal[False]:
        for element in driver.find_elements(By.CSS_SELECTOR, css):
            if text is None or text in _text(element):
                return element
        return False

    waiting = WebDriverWait(driver, WAIT, ignored_exceptions=[StaleElementReferenceException])
    return waiting.until(found, f"no {css!r} showing {text!r}")  # a list re-rendered: look again


def _text(element: WebElement) -> str:
    """The element's ``textContent``, exactly as the page set it."""
    text = element.get_property("textContent")
    assert isinstance(text, str)
    return text


def _texts(driver: WebDriver, css: str) -> list[str]:
    """Every match's ``textContent``, read at one instant (no element can go stale)."""
    script = "return [...document.querySelectorAll(arguments[0])].map(e => e.textContent);"
    texts: list[str] = driver.execute_script(script, css)
    return texts


def _send(driver: WebDriver, message: str) -> None:
    driver.find_element(By.ID, "input").send_keys(message + Keys.ENTER)


def _go_live(driver: WebDriver) -> None:
    driver.find_element(By.ID, "mode-live").click()
    _wait_for(driver, "#mode-live[aria-selected='true']")


def _answer(driver: WebDriver) -> str:
    """The newest answer, once whole, after checking it was streamed in (``WATCH_ANSWER``)."""
    answer = _newest_answer(driver)
    seen: list[str] = driver.execute_script("return window.answerTexts;")
    assert seen[-1] == answer
    assert len(seen) >= 2, f"the answer reached the page in one piece: {seen!r}"
    assert all(later.startswith(earlier) for earlier, later in pairwise(seen))
    return answer


def _newest_answer(driver: WebDriver) -> str:
    """The text of the newest answer, once it is whole."""
    text: str = _until(
        driver,
        "[...document.querySelectorAll('#log .msg.model')].pop()?.dataset.done"
        " && [...document.querySelectorAll('#log .msg.model')].pop().textContent.trim()",
        "the answer never finished",
    )
    return text


def _load(driver: WebDriver, url: str) -> None:
    """Opens the page at ``url`` and waits until it is usable."""
    driver.get(url)
    _ready(driver)


def _ready(driver: WebDriver) -> None:
    _until(driver, "document.body.dataset.ready === 'true'", "the page never got ready")


def _until(driver: WebDriver, condition: str, why: str) -> Any:
    """Waits until the JavaScript expression ``condition`` is truthy; its value."""
    return WebDriverWait(driver, WAIT).until(
        lambda d: d.execute_script(f"return ({condition});"), why
    )


def _shown(driver: WebDriver, element_id: str) -> bool:
    return driver.find_element(By.ID, element_id).is_displayed()


def _open_chats(driver: WebDriver) -> None:
    """Shows the chat list (on a phone it is a drawer, opened from the menu button)."""
    if _shown(driver, "menu") and not _shown(driver, "sessions"):
        driver.find_element(By.ID, "menu").click()
        WebDriverWait(driver, WAIT).until(lambda d: _shown(d, "sessions"), "no chat list")


def _item(driver: WebDriver, title: str) -> WebElement:
    """The chat list's entry for ``title`` (the list shown)."""
    _open_chats(driver)
    found = _wait_for(driver, "#sessions .session", title)
    return found.find_element(By.XPATH, "..")


def _pick(driver: WebDriver, title: str) -> None:
    """Opens the chat titled ``title`` from the list."""
    _item(driver, title).find_element(By.CSS_SELECTOR, ".session").click()
    _wait_for(driver, "#sessions .session.active", title)


def _press(driver: WebDriver, item: WebElement, css: str) -> None:
    """Presses one of a chat's buttons (shown when the pointer is over the chat)."""
    ActionChains(driver).move_to_element(item).perform()
    item.find_element(By.CSS_SELECTOR, css).click()


def _grant_clipboard(driver: WebDriver, url: str) -> None:
    driver.execute_cdp_cmd(
        "Browser.grantPermissions",
        {"origin": url, "permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"]},
    )


def _clipboard(driver: WebDriver) -> str:
    text: str = driver.execute_async_script(
        "navigator.clipboard.readText().then(arguments[0], e => arguments[0]('failed: ' + e));"
    )
    return text


def test_a_message_gets_a_streamed_answer_and_the_session_survives_a_reload(
    servers: Servers, browser: WebDriver
) -> None:
    _load(browser, servers.url + "/")
    assert browser.title == "gemgate chat"
    # An open gateway asks for no key: no sign-in view, and no error before anything was done.
    assert not _shown(browser, "signin") and _shown(browser, "app")
    assert not browser.find_elements(By.CSS_SELECTOR, "#log .msg")
    browser.execute_script(WATCH_ANSWER)
    _send(browser, "Hello there")

    # Streamed: the page showed the answer growing, prefix by prefix, before it was whole.
    answer = _answer(browser)
    assert "Hello there" in answer  # the emulator's answer quotes the prompt
    assert _texts(browser, "#log .msg.user") == ["Hello there"]
    assert not browser.find_elements(By.CSS_SELECTOR, "#log .msg.error")
    assert servers.slow.streams and servers.slow.streams[-1].chunks >= 2
    # Each message shows when it was sent.
    assert len(browser.find_elements(By.CSS_SELECTOR, "#log .turn .meta time[datetime]")) == 2

    # The page created the session (titled after the message) and the API stored the turn.
    (session,) = servers.sessions()
    assert session["title"] == "Hello there" and session["message_count"] == 2
    _wait_for(browser, "#chat-title", "Hello there")

    browser.refresh()
    _ready(browser)
    _wait_for(browser, "#sessions .session", "Hello there")
    assert _texts(browser, "#sessions .session") == ["Hello there"]
    assert not browser.find_elements(By.CSS_SELECTOR, "#log .msg")  # nothing open yet
    _pick(browser, "Hello there")
    _wait_for(browser, "#log .msg.model")
    assert _texts(browser, "#log .msg.user") == ["Hello there"]
    assert [t.strip() for t in _texts(browser, "#log .msg.model")] == [answer]
    assert len(browser.find_elements(By.CSS_SELECTOR, "#log .turn .meta time[datetime]")) == 2


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
    servers: Servers,
    browser: WebDriver,
    console: list[str],
    fault: dict[str, Any],
    shown: str,
) -> None:
    console.append("status of 50")  # the failed request, as the browser logs it
    _load(browser, servers.url + "/")
    servers.faults(fault)
    _send(browser, "Hello there")

    error = _wait_for(browser, "#log .msg.error")
    assert error.text.startswith("Error: ") and shown in error.text
    assert not browser.find_elements(By.CSS_SELECTOR, "#log .msg.model")  # no (partial) answer
    assert _texts(browser, "#log .msg.user") == ["Hello there"]
    assert servers.slow.streams  # the failure came from the upstream call
    assert _shown(browser, "send") and not _shown(browser, "stop")
    # Nothing of the turn was stored: the message is back in the composer, to send again.
    assert browser.find_elements(By.CSS_SELECTOR, "#log .turn.user.failed")
    assert browser.find_element(By.ID, "input").get_property("value") == "Hello there"
    (session,) = servers.sessions()
    assert servers.messages(session["id"]) == []


# Makes the page's ``POST /api/v1/sessions`` (creating a session) fail with a 503.
FAIL_SESSION_CREATION = """
const realFetch = window.fetch;
window.fetch = (url, options) =>
  url === "/api/v1/sessions" && options && options.method === "POST"
    ? Promise.resolve(new Response('{"detail": "the store is down"}', {status: 503}))
    : realFetch(url, options);
"""


def test_a_failure_to_create_the_session_shows_an_error(
    servers: Servers, browser: WebDriver
) -> None:
    _load(browser, servers.url + "/")
    browser.execute_script(FAIL_SESSION_CREATION)
    _send(browser, "Hello there")

    error = _wait_for(browser, "#log .msg.error")
    assert error.text == "Error: could not start a chat: the store is down"
    assert not browser.find_elements(By.CSS_SELECTOR, "#log .msg.user, #log .msg.model")
    assert browser.find_element(By.ID, "input").get_property("value") == "Hello there"
    assert servers.sessions() == [] and not servers.slow.streams


def test_answers_render_safe_markdown_with_highlighted_code_and_a_copy_button(
    servers: Servers, browser: WebDriver
) -> None:
    _load(browser, servers.url + "/")
    _grant_clipboard(browser, servers.url)
    box = _wait_for(browser, "#input")
    # Shift+Enter adds a line; Enter sends the whole text as one turn.
    box.send_keys("markdown please", Keys.SHIFT, Keys.ENTER, Keys.SHIFT, "with code")
    assert box.get_property("value") == "markdown please\nwith code"
    assert not browser.find_elements(By.CSS_SELECTOR, "#log .msg.user")
    box.send_keys(Keys.ENTER)

    answer = _wait_for(browser, "#log .msg.model[data-done='true']")
    assert _texts(browser, "#log .msg.user") == ["markdown please\nwith code"]
    assert answer.find_element(By.TAG_NAME, "strong").text == "bold"
    assert answer.find_element(By.CSS_SELECTOR, "p code").text == "inline code"
    code = answer.find_element(By.CSS_SELECTOR, ".code-block pre code.hljs")
    assert "def greet(name):" in _text(code)
    assert code.find_elements(By.CSS_SELECTOR, ".hljs-keyword")  # highlighted
    # Model output is sanitised: no image, script or javascript: link got through.
    assert not answer.find_elements(By.CSS_SELECTOR, "img, script, [onerror]")
    hrefs = [a.get_attribute("href") for a in answer.find_elements(By.TAG_NAME, "a")]
    assert hrefs == [None, "https://example.org/docs"] or hrefs == ["https://example.org/docs"]
    assert browser.execute_script("return window.pwned;") is None

    copy = answer.find_element(By.CSS_SELECTOR, ".code-block .copy")
    assert copy.get_attribute("aria-label") == "Copy code"
    copy.click()
    _wait_for(browser, ".code-block .copy[data-copied='true']")
    assert _clipboard(browser) == 'def greet(name):\n    return f"Hello, {name}"\n'
    (stored,) = [m for m in servers.messages(servers.sessions()[0]["id"]) if m["role"] == "user"]
    assert stored["parts"][0]["text"] == "markdown please\nwith code"


def test_a_pasted_multi_line_text_is_one_turn_and_the_chosen_model_answers(
    servers: Servers, browser: WebDriver
) -> None:
    _load(browser, servers.url + "/")
    _grant_clipboard(browser, servers.url)
    # The model picker lists the emulator's chat models.
    _until(browser, "document.getElementById('model').options.length > 2", "no models")
    picker = Select(browser.find_element(By.ID, "model"))
    models = [o.get_attribute("value") for o in picker.options]
    assert models[0] == "" and "gemini-2.5-flash" in models and "gemini-2.5-pro" in models
    assert not [m for m in models if "embedding" in m]
    picker.select_by_value("gemini-2.5-pro")

    browser.execute_async_script(
        "navigator.clipboard.writeText(arguments[0]).then(arguments[1]);", "one\ntwo\nthree"
    )
    box = browser.find_element(By.ID, "input")
    box.send_keys(Keys.CONTROL, "v")
    assert box.get_property("value") == "one\ntwo\nthree"
    assert _until(browser, "document.getElementById('input').offsetHeight > 50", "no growth")
    box.send_keys(Keys.ENTER)

    _wait_for(browser, "#log .msg.model[data-done='true']")
    assert _texts(browser, "#log .msg.user") == ["one\ntwo\nthree"]
    assert box.get_property("value") == ""
    (session,) = servers.sessions()
    assert session["title"] == "one" and session["message_count"] == 2
    assert "/models/gemini-2.5-pro:streamGenerateContent" in servers.slow.streams[-1].path

    browser.refresh()  # the choice is remembered
    _until(browser, "document.getElementById('model').value === 'gemini-2.5-pro'", "forgot")


def test_stop_ends_a_slow_answer(servers: Servers, browser: WebDriver) -> None:
    servers.slow.delay = 0.5
    _load(browser, servers.url + "/")
    _send(browser, "Take your time")
    _until(browser, "document.querySelector('#log .msg.model')?.textContent.length > 0", "mute")
    assert _shown(browser, "stop") and not _shown(browser, "send")
    browser.find_element(By.ID, "stop").click()

    stopped = _wait_for(browser, "#log .msg.model[data-stopped='true'][data-done='true']")
    assert "(Reply" not in _text(stopped)  # the answer's last words never came
    assert _shown(browser, "send") and not _shown(browser, "stop")
    assert not browser.find_elements(By.CSS_SELECTOR, "#log .msg.error")

    # Regenerate after a stop asks again, and the turn is then stored whole, once.
    servers.slow.delay = CHUNK_DELAY
    browser.find_element(By.CSS_SELECTOR, "#log .turn.model .regenerate").click()
    _until(browser, "!document.querySelector('#log .msg.model').dataset.stopped", "still stopped")
    answer = _newest_answer(browser)
    assert "(Reply" in answer
    (session,) = servers.sessions()
    stored = servers.messages(session["id"])
    assert [(m["role"], m["parts"][0]["text"].strip()) for m in stored] == [
        ("user", "Take your time"),
        ("model", answer),
    ]


CITED_STREAM = """
const realFetch = window.fetch;
window.fetch = (url, options) => {
  if (!String(url).endsWith("/messages")) return realFetch(url, options);
  const events = [
    {type: "text_delta", text: "According to the docs, yes.", iteration: 0},
    {type: "final_answer", text: "According to the docs, yes.", iterations: 1,
     groundingMetadata: {groundingChunks: [{web: {uri: "https://example.org/a", title: "Doc A"}}]},
     citations: [{url: "https://example.org/b"}, {url: "javascript:alert(1)", title: "bad"}]},
  ];
  const body = events.map(e => "data: " + JSON.stringify(e) + "\\n\\n").join("");
  return Promise.resolve(new Response(body, {headers: {"content-type": "text/event-stream"}}));
};
"""


def test_an_answer_with_sources_lists_them_and_without_none(
    servers: Servers, browser: WebDriver
) -> None:
    _load(browser, servers.url + "/")
    _send(browser, "Plain question")
    _wait_for(browser, "#log .msg.model[data-done='true']")
    assert not browser.find_elements(By.CSS_SELECTOR, "#log .sources")

    browser.execute_script(CITED_STREAM)
    _send(browser, "Cited question")
    _wait_for(browser, "#log .sources")
    links = browser.find_elements(By.CSS_SELECTOR, "#log .sources a")
    assert [(a.get_attribute("href"), _text(a)) for a in links] == [
        ("https://example.org/a", "Doc A"),
        ("https://example.org/b", "example.org"),
    ]


def test_sessions_are_renamed_and_deleted_from_the_list(
    servers: Servers, browser: WebDriver
) -> None:
    _load(browser, servers.url + "/")
    for prompt in ("First chat", "Second chat"):
        _wait_for(browser, "#input")
        _send(browser, prompt)
        _wait_for(browser, "#log .msg.model[data-done='true']")
        _open_chats(browser)
        browser.find_element(By.ID, "new").click()
    _wait_for(browser, "#log .empty")

    item = _item(browser, "First chat")
    _press(browser, item, ".rename")
    field = _wait_for(browser, "#sessions .rename-input")
    field.send_keys(Keys.CONTROL, "a")
    field.send_keys("Renamed chat" + Keys.ENTER)
    _wait_for(browser, "#sessions .session", "Renamed chat")
    assert sorted(s["title"] for s in servers.sessions()) == ["Renamed chat", "Second chat"]

    item = _item(browser, "Second chat")
    _press(browser, item, ".delete")
    assert _item(browser, "Second chat")  # one press only arms the button
    _press(browser, _item(browser, "Second chat"), ".delete[data-confirm]")
    _until(
        browser,
        "[...document.querySelectorAll('#sessions .session')].length === 1",
        "still listed",
    )
    assert _texts(browser, "#sessions .session") == ["Renamed chat"]
    assert [s["title"] for s in servers.sessions()] == ["Renamed chat"]


def test_live_mode_streams_answers_over_the_websocket_and_stores_the_turns(
    servers: Servers, browser: WebDriver
) -> None:
    _load(browser, servers.url + "/")
    assert not _shown(browser, "mic")  # Live mode only
    _go_live(browser)
    assert _shown(browser, "mic") and _shown(browser, "attach")
    browser.execute_script(WATCH_ANSWER)
    _send(browser, "Hello live")

    answer = _answer(browser)
    assert "Hello live" in answer
    assert _texts(browser, "#log .msg.user") == ["Hello live"]
    assert not browser.find_elements(By.CSS_SELECTOR, "#log .msg.error")
    assert not servers.slow.streams  # not the REST stream: the turn went over Live
    # The gateway started a Live session and stored both messages.
    (session,) = servers.sessions()
    stored = servers.messages(session["id"])
    assert [(m["role"], m["message_type"]) for m in stored] == [("user", "text"), ("model", "text")]
    assert [m["parts"][0]["text"].strip() for m in stored] == ["Hello live", answer]
    # The gateway named it "Live conversation"; the page titles it after its first turn.
    _wait_for(browser, "#sessions .session.active", "Hello live")
    assert [s["title"] for s in servers.sessions()] == ["Hello live"]
    title = "Hello live"

    # A fresh page in Live mode: opening the session shows its history and continues it.
    _load(browser, servers.url + "/?mode=live")
    _pick(browser, title)
    _wait_for(browser, "#live-status", "Live: connected")
    assert _texts(browser, "#log .msg.user") == ["Hello live"]
    assert [t.strip() for t in _texts(browser, "#log .msg.model")] == [answer]
    browser.execute_script(WATCH_ANSWER)
    _send(browser, "And again")
    second = _answer(browser)
    assert "And again" in second
    assert _texts(browser, "#log .msg.user") == ["Hello live", "And again"]
    assert [s["id"] for s in servers.sessions()] == [session["id"]]
    stored = servers.messages(session["id"])
    texts = [m["parts"][0]["text"].strip() for m in stored]
    assert texts == ["Hello live", answer, "And again", second]


def test_live_mode_sends_an_attached_image_with_the_prompt(
    servers: Servers, browser: WebDriver, tmp_path: Path
) -> None:
    image = tmp_path / "dot.png"
    image.write_bytes(PNG)
    encoded = base64.b64encode(PNG).decode()
    _load(browser, servers.url + "/?mode=live")
    _wait_for(browser, "#mode-live[aria-selected='true']")
    browser.find_element(By.ID, "image").send_keys(str(image))
    preview = _wait_for(browser, "#attachments .attachment img")  # shown before it is sent
    assert preview.is_displayed() and preview.get_attribute("alt") == "dot.png"
    _send(browser, "What is in this picture?")

    _wait_for(browser, "#log .msg.model[data-done='true']")
    (user,) = browser.find_elements(By.CSS_SELECTOR, "#log .msg.user")
    assert _text(user) == "What is in this picture?"
    thumbnail = f"data:image/png;base64,{encoded}"
    assert user.find_element(By.TAG_NAME, "img").get_attribute("src") == thumbnail
    assert not browser.find_elements(By.CSS_SELECTOR, "#attachments img")  # sent: detached
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
    _wait_for(browser, "#sessions .session.active", "What is in this picture?")
    browser.refresh()
    _ready(browser)
    _pick(browser, "What is in this picture?")
    shown = _wait_for(browser, "#log .msg.user", "What is in this picture?")
    assert shown.find_element(By.TAG_NAME, "img").get_attribute("src") == thumbnail


def test_live_mode_shows_why_the_gateway_closed_the_connection(
    servers: Servers, browser: WebDriver
) -> None:
    _load(browser, servers.url + "/?mode=live&session=no-such-session")

    error = _wait_for(browser, "#log .msg.error")
    assert error.text == "Error: the Live connection closed (1008): no such chat session"
    _wait_for(browser, "#live-status", "disconnected")
    assert servers.sessions() == []

    # The refused id is dropped: the next message starts a new Live conversation.
    _send(browser, "Start over")
    _wait_for(browser, "#log .msg.model[data-done='true']")
    _until(browser, "document.querySelector('#sessions .session.active')", "no session")
    assert len(servers.sessions()) == 1


# Records what the page reads aloud instead of speaking it.
RECORD_SPEECH = """
window.spoken = [];
window.speechSynthesis.speak = (utterance) => window.spoken.push(utterance.text);
"""


def test_live_mode_takes_a_spoken_turn_from_the_microphone_and_reads_the_reply(
    servers: Servers, browser: WebDriver
) -> None:
    _load(browser, servers.url + "/?mode=live")
    _wait_for(browser, "#mode-live[aria-selected='true']")
    browser.execute_script(RECORD_SPEECH)
    mic = browser.find_element(By.ID, "mic")
    assert mic.get_attribute("aria-label") == "Talk: start recording"
    mic.click()
    _wait_for(browser, "#mic[aria-pressed='true']")
    _wait_for(browser, "#log .msg.user.voice", "Listening")
    # A second of Chromium's fake microphone (a beep), waited for in the page.
    browser.execute_async_script("setTimeout(arguments[0], 1000);")
    mic.click()

    answer = _text(_wait_for(browser, "#log .msg.model[data-done='true']")).strip()
    assert browser.find_element(By.ID, "mic").get_attribute("aria-pressed") == "false"
    assert not browser.find_elements(By.CSS_SELECTOR, "#log .msg.error")
    (session,) = servers.sessions()
    question, reply = servers.messages(session["id"])
    assert (question["role"], question["message_type"]) == ("user", "audio")
    assert question["metadata"]["duration_ms"] >= 500
    assert reply["role"] == "model" and reply["parts"][0]["text"].strip() == answer
    spoken = _until(browser, "window.spoken.length && window.spoken", "nothing read aloud")
    assert spoken == [answer.replace("*", "")] or len(spoken) == 1


def test_with_gateway_keys_the_page_asks_for_one_and_live_mode_uses_the_login(
    keyed_servers: Servers, browser: WebDriver, console: list[str], size: str
) -> None:
    console.append("status of 401")  # the first request, refused until the user signs in
    browser.get(keyed_servers.url + "/")
    key = _wait_for(browser, "#signin #key")
    _until(browser, "!document.getElementById('signin').hidden", "no sign-in view")
    assert _shown(browser, "signin") and not _shown(browser, "app")
    assert _text(browser.find_element(By.ID, "login-error")) == ""  # nothing went wrong yet
    assert browser.switch_to.active_element == key
    key.send_keys("wrong-secret" + Keys.ENTER)
    _wait_for(browser, "#login-error", "The gateway refused this key.")
    _screenshot(browser, f"signin-{size}")
    assert _shown(browser, "signin")
    key.clear()
    key.send_keys(KEY_SECRET + Keys.ENTER)
    WebDriverWait(browser, WAIT).until(lambda d: _shown(d, "app"), "still asking")
    assert not _shown(browser, "signin")

    _go_live(browser)
    _send(browser, "Hello from alice")
    _wait_for(browser, "#log .msg.model[data-done='true']")
    _until(browser, "document.querySelector('#sessions .session.active')", "no session")
    (session,) = keyed_servers.sessions()
    assert session["user"] == "alice"  # the socket was opened with alice's login cookie

    browser.refresh()  # the login cookie lasts: no key asked again
    WebDriverWait(browser, WAIT).until(lambda d: _shown(d, "app"), "asked again")
    assert not _shown(browser, "signin")


def _background(driver: WebDriver) -> str:
    colour: str = driver.execute_script("return getComputedStyle(document.body).backgroundColor;")
    return colour


def test_the_layout_fits_the_window_and_the_theme_follows_the_system_or_the_toggle(
    servers: Servers, browser: WebDriver, size: str
) -> None:
    _load(browser, servers.url + "/")
    width = browser.execute_script("return window.innerWidth;")
    log_width = browser.execute_script("return document.getElementById('log').clientWidth;")
    if size == "phone":
        assert width == 390
        # The chat list is a drawer: closed, the conversation has the whole width.
        assert not _shown(browser, "sidebar") and _shown(browser, "menu")
        assert log_width >= 350
        menu = browser.find_element(By.ID, "menu")
        assert menu.get_attribute("aria-expanded") == "false"
        menu.click()
        WebDriverWait(browser, WAIT).until(lambda d: _shown(d, "sidebar"), "no drawer")
        assert menu.get_attribute("aria-expanded") == "true"
        _screenshot(browser, "drawer-open")
        browser.switch_to.active_element.send_keys(Keys.ESCAPE)
        WebDriverWait(browser, WAIT).until(lambda d: not _shown(d, "sidebar"), "drawer stays")
        assert browser.switch_to.active_element == menu
    else:
        assert width == 1280
        assert _shown(browser, "sidebar") and not _shown(browser, "menu")
        assert log_width >= 900

    # The system's scheme (light here) sets the theme until the user picks one.
    assert browser.execute_script("return document.documentElement.dataset.theme;") == "light"
    light = _background(browser)
    toggle = browser.find_element(By.ID, "theme") if size == "desktop" else None
    if toggle is None:
        _open_chats(browser)
        toggle = browser.find_element(By.ID, "theme")
    assert toggle.get_attribute("aria-label") == "Switch to the dark theme"
    toggle.click()
    assert browser.execute_script("return document.documentElement.dataset.theme;") == "dark"
    assert _background(browser) != light
    _screenshot(browser, f"dark-{size}")
    browser.refresh()  # the choice is kept
    _until(browser, "document.documentElement.dataset.theme === 'dark'", "forgot the theme")

    browser.execute_script("localStorage.clear();")
    browser.execute_cdp_cmd(
        "Emulation.setEmulatedMedia",
        {"features": [{"name": "prefers-color-scheme", "value": "dark"}]},
    )
    browser.refresh()
    _until(browser, "document.documentElement.dataset.theme === 'dark'", "not the system's")


def test_regenerate_replaces_the_newest_answer(servers: Servers, browser: WebDriver) -> None:
    _load(browser, servers.url + "/")
    _send(browser, "Tell me something")
    first = _newest_answer(browser)
    (session,) = servers.sessions()
    stored = servers.messages(session["id"])
    assert [m["role"] for m in stored] == ["user", "model"]

    again = browser.find_element(By.CSS_SELECTOR, "#log .turn.model .regenerate")
    assert again.get_attribute("aria-label") == "Regenerate the answer"
    servers.slow.streams.clear()
    again.click()
    _until(browser, "!document.querySelector('#log .msg.model').dataset.done", "not restarted")
    second = _newest_answer(browser)

    # One answer, in place of the old one, on the page and on the server.
    assert len(browser.find_elements(By.CSS_SELECTOR, "#log .msg.model")) == 1
    assert _texts(browser, "#log .msg.user") == ["Tell me something"]
    assert servers.slow.streams  # the model was asked again
    stored = servers.messages(session["id"])
    assert [m["role"] for m in stored] == ["user", "model"]
    assert stored[1]["parts"][0]["text"].strip() == second
    assert "Tell me something" in first and "Tell me something" in second


def test_a_chat_message_carries_attached_images_to_the_server(
    servers: Servers, browser: WebDriver, tmp_path: Path
) -> None:
    image = tmp_path / "dot.png"
    image.write_bytes(PNG)
    encoded = base64.b64encode(PNG).decode()
    _load(browser, servers.url + "/")
    assert _shown(browser, "attach")
    browser.find_element(By.ID, "image").send_keys(str(image))
    preview = _wait_for(browser, "#attachments .attachment img")
    assert preview.is_displayed()
    remove = browser.find_element(By.CSS_SELECTOR, "#attachments .attachment button")
    assert remove.get_attribute("aria-label") == "Remove dot.png"
    _send(browser, "What is this?")

    _newest_answer(browser)
    assert not browser.find_elements(By.CSS_SELECTOR, "#attachments img")  # sent: detached
    thumbnail = f"data:image/png;base64,{encoded}"
    (user,) = browser.find_elements(By.CSS_SELECTOR, "#log .msg.user")
    assert _text(user) == "What is this?"
    assert user.find_element(By.TAG_NAME, "img").get_attribute("src") == thumbnail
    (session,) = servers.sessions()
    question = servers.messages(session["id"])[0]
    blobs = [p.get("inlineData") or p.get("inline_data") for p in question["parts"]]
    (blob,) = [b for b in blobs if b]
    assert (
        blob["data"] == encoded and (blob.get("mimeType") or blob.get("mime_type")) == "image/png"
    )

    browser.refresh()  # the history shows the image again
    _ready(browser)
    _pick(browser, "What is this?")
    shown = _wait_for(browser, "#log .msg.user", "What is this?")
    assert shown.find_element(By.TAG_NAME, "img").get_attribute("src") == thumbnail
