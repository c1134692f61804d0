"""Clients on one Redis (``state_url``) share quota windows, disabled keys and the report."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from gemgate import AsyncGemini, QuotaExhausted
from gemgate.config import RetrySettings, Settings, Timeouts
from gemgate.emulator import EmulatorConfig, create_app
from gemgate.projects import ProjectConfig
from gemgate.state._shared import SharedQuotaState
from tests.conftest import serve_in_loop, stop_serving
from tests.servers import REDIS_URL, need_server

pytestmark = pytest.mark.anyio

MODEL = "gemini-2.5-flash"


@pytest.fixture
async def emulator() -> AsyncIterator[str]:
    config = EmulatorConfig.model_validate({"projects": [{"name": "p", "keys": ["k1", "k2"]}]})
    server, task, base = await serve_in_loop(create_app(config))
    yield base
    await stop_serving(server, task)


def _client(base: str, prefix: str, keys: list[str]) -> AsyncGemini:
    project = ProjectConfig(name="p", keys=keys, limits={MODEL: {"rpm": 3}})
    settings = Settings(
        projects=[project],
        upstream_url=base,
        state_url=REDIS_URL,
        state_prefix=prefix,
        retry=RetrySettings(max_retries=0),
        timeouts=Timeouts(total=2.0),
    )
    return AsyncGemini(settings=settings)


async def test_two_clients_share_one_rpm_and_see_the_same_report(emulator: str) -> None:
    need_server("Redis", 6379)
    prefix = f"gemgate-test-{uuid.uuid4().hex[:8]}:"
    async with (
        _client(emulator, prefix, ["k1"]) as first,
        _client(emulator, prefix, ["k1"]) as second,
    ):
        assert isinstance(first.engine.state, SharedQuotaState)
        await first.generate_content("one", model=MODEL)
        await first.generate_content("two", model=MODEL)
        await second.generate_content("three", model=MODEL)
        with pytest.raises(QuotaExhausted, match="rpm"):  # the window is the same for both
            await second.generate_content("four", model=MODEL)
        with pytest.raises(QuotaExhausted):
            await first.generate_content("five", model=MODEL)
        report = await second.quota_report()
        (quota,) = report.projects[0].models
        assert (quota.rpm.used, quota.rpm.limit) == (3, 3)
        await first.engine.state.shared.clear()  # type: ignore[attr-defined]


async def test_a_key_disabled_by_one_client_is_disabled_for_the_other(emulator: str) -> None:
    need_server("Redis", 6379)
    prefix = f"gemgate-test-{uuid.uuid4().hex[:8]}:"
    keys = ["not-a-key-of-the-emulator", "k2"]
    async with _client(emulator, prefix, keys) as first, _client(emulator, prefix, keys) as second:
        for question in ("a", "b"):  # one of the two lands on the rotten key and disables it
            await first.generate_content(question, model=MODEL)
        disabled = await second.engine.state.disabled_keys()
        assert len(disabled) == 1
        (key,) = [
            k for k in (await second.quota_report()).projects[0].keys if k.state == "disabled"
        ]
        assert key.fingerprint in disabled
        await first.engine.state.shared.clear()  # type: ignore[attr-defined]
