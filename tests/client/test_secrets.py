"""No API key appears in logs, exceptions, history, metrics or reprs."""

from __future__ import annotations

import logging
import pickle

import pytest

from gemgate.errors import GemgateError

from .conftest import MODEL, Start

pytestmark = pytest.mark.anyio
KEYS = ["SECRET-first-0123456789", "SECRET-second-0123456789"]
REVOKED = "SECRET-revoked-0123456789"


def _leaks(text: str) -> list[str]:
    return [k for k in [*KEYS, REVOKED] if k in text or k[8:] in text]


async def test_keys_never_leak(live: Start, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    emu = await live([{"name": "p", "keys": KEYS, "limits": {MODEL: {"rpd": 6}}}])
    config = [{"name": "p", "keys": [REVOKED, *KEYS]}]
    seen: list[str] = []
    async with emu.client(config) as g:
        endpoint = g.create_endpoint(MODEL, keys=KEYS, endpoint_name="dedicated")
        await g.generate_content("hello", model=MODEL)
        await g.chat([{"role": "user", "content": "hi"}], model=MODEL, endpoint_id=endpoint)
        await emu.faults({"kind": "status", "status": 503, "times": 1})
        await g.generate_content("retry me", model=MODEL)
        await emu.faults({"kind": "midstream", "after_chunks": 1, "status": 500})
        failures: list[BaseException] = []
        try:
            async for _ in g.stream_generate_content("story", model=MODEL):
                pass
        except GemgateError as exc:
            failures.append(exc)
        await emu.faults()
        for bad in ({"temperature": 5}, {"model": "gemini-missing"}):
            try:
                await g.generate_content("bad", **{"model": MODEL, **bad})
            except GemgateError as exc:
                failures.append(exc)
        for _ in range(6):  # run into the daily quota: 429s, then parking
            try:
                await g.generate_content("daily", model=MODEL)
            except GemgateError as exc:
                failures.append(exc)
        assert len(failures) >= 4
        for exc in failures:
            seen += [str(exc), repr(exc), repr(exc.args), repr(vars(exc))]
            seen.append(repr(pickle.loads(pickle.dumps(exc)).__dict__))
        seen.append(repr(g.get_request_history()))
        seen.append(repr(g.get_active_requests()))
        seen.append(repr(g.get_endpoint_metrics()))
        seen.append(repr(g.get_endpoint_metrics(endpoint)))
        seen.append(repr(g.list_endpoints()))
        seen.append(repr(g.get_token_usage()))
        seen.append(repr(g.settings))
        seen.append(str(g.settings))
        history = g.get_request_history()
    seen += [record.getMessage() for record in caplog.records]
    seen += [repr(record.args) for record in caplog.records]
    assert any(h["key"] for h in history.values())  # fingerprints are there …
    leaks = {k for text in seen for k in _leaks(text)}
    assert not leaks  # … keys are not
