"""With no key, the library refuses to start unless the built-in emulator is asked for."""

from __future__ import annotations

import os

import pytest

from gemgate import AsyncGemini, Gemini
from gemgate.errors import UsageError

pytestmark = pytest.mark.anyio


@pytest.fixture
def no_key(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith(("GEMINI_API_KEY", "GOOGLE_API_KEY", "GEMGATE_")):
            monkeypatch.delenv(name)


@pytest.mark.usefixtures("no_key")
@pytest.mark.parametrize("face", [AsyncGemini, Gemini])
def test_no_key_and_no_choice_is_a_clear_error(face: type[AsyncGemini] | type[Gemini]) -> None:
    with pytest.raises(UsageError) as caught:
        face()
    message = str(caught.value)
    for hint in ("GEMINI_API_KEY", "api_key=", ".emulated()", "GEMGATE_UPSTREAM=emulator"):
        assert hint in message


@pytest.mark.usefixtures("no_key")
async def test_emulated_is_the_explicit_opt_in(capsys: pytest.CaptureFixture[str]) -> None:
    async with AsyncGemini.emulated() as g:
        assert g.engine.emulated
        reply = await g.chat([{"role": "user", "content": "What is the capital of France?"}])
        assert "capital of France" in reply["choices"][0]["message"]["content"]
    assert capsys.readouterr().err == ""  # an explicit choice needs no notice


@pytest.mark.usefixtures("no_key")
def test_emulated_blocking_twin() -> None:
    with Gemini.emulated() as g:
        reply = g.chat([{"role": "user", "content": "What is the capital of France?"}])
        assert "capital of France" in reply["choices"][0]["message"]["content"]


@pytest.mark.usefixtures("no_key")
async def test_the_environment_can_opt_in(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GEMGATE_UPSTREAM", "emulator")
    async with AsyncGemini() as g:
        assert g.engine.emulated
        assert [p.name for p in g.settings.projects] == ["emulator"]


@pytest.mark.usefixtures("no_key")
async def test_a_key_wins_over_nothing_and_a_url_over_the_emulator(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GEMINI_API_KEY", "AIza-not-a-real-key")
    async with AsyncGemini() as g:
        assert not g.engine.emulated
    monkeypatch.setenv("GEMGATE_UPSTREAM", "emulator")
    async with AsyncGemini(base_url="http://127.0.0.1:9") as g:
        assert not g.engine.emulated and g.engine.driver.base_url == "http://127.0.0.1:9"
