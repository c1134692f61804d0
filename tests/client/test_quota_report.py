"""``AsyncGemini.quota_report()`` against an emulator on 127.0.0.1: windows, cooldowns, keys."""

from __future__ import annotations

import json

import pytest

from gemgate import Gemini, QuotaReport
from gemgate.policy import build_report
from gemgate.policy._windows import WindowCounts
from gemgate.projects import Limits, ProjectConfig, fingerprint

from .conftest import MODEL, Start

pytestmark = pytest.mark.anyio

ROTTEN = "rotten-secret-0123"


async def test_windows_count_requests_and_tokens_against_limits(live: Start) -> None:
    config = [{"name": "p", "keys": ["k1"], "limits": {MODEL: {"rpm": 10, "tpm": 5000, "rpd": 99}}}]
    emu = await live(config)
    async with emu.client(config) as g:
        for i in range(3):
            await g.generate_content(f"question number {i}", model=MODEL)
        report = await g.quota_report()
    (project,) = report.projects
    (quota,) = project.models
    assert (quota.model, quota.rpm.used, quota.rpm.limit) == (MODEL, 3, 10)
    assert quota.rpd.used == 3 and quota.rpd.limit == 99
    assert 0 < quota.tpm.used <= 5000 and quota.tpm.limit == 5000
    assert quota.rpm.resets_in is not None and 0 < quota.rpm.resets_in <= 60
    assert quota.rpd.resets_in is not None and 0 < quota.rpd.resets_in <= 86_400
    assert project.cooldowns == ()
    (key,) = project.keys
    assert (key.name, key.fingerprint, key.state, key.requests, key.errors) == (
        "p/1",
        fingerprint("k1"),
        "ok",
        3,
        0,
    )


async def test_a_rejected_key_is_disabled_and_a_429_cools_the_project(live: Start) -> None:
    emu = await live(
        [
            {"name": "a", "keys": ["good-a"]},
            {"name": "b", "keys": ["good-b"], "limits": {MODEL: {"rpm": 1}}},
        ]
    )
    mine = [  # the client holds a key the emulator does not know, and not b's real limit
        {"name": "a", "keys": ["good-a", ROTTEN], "limits": {MODEL: {"rpm": 50}}},
        {"name": "b", "keys": ["good-b"], "limits": {MODEL: {"rpm": 50}}},
    ]
    async with emu.client(mine) as g:
        for i in range(6):
            await g.generate_content(f"hello {i}", model=MODEL)
        report = await g.quota_report()
    a, b = report.projects
    states = {k.name: (k.state, k.reason) for k in a.keys}
    assert states["a/1"] == ("ok", None)
    assert states["a/2"] == ("disabled", "400 INVALID_ARGUMENT")
    assert a.keys[1].errors == 1 and a.keys[1].requests == 1
    (cooling,) = b.cooldowns
    assert cooling.model == MODEL and cooling.reason == "per-minute quota"
    assert 0 < cooling.ends_in <= 60 and cooling.until == pytest.approx(report.at + cooling.ends_in)
    assert b.keys[0].state == "cooling" and b.keys[0].reason == f"per-minute quota on {MODEL}"
    text = json.dumps(report.as_dict())
    assert ROTTEN not in text and "good-a" not in text
    assert QuotaReport.from_dict(json.loads(text)) == report


def test_the_blocking_twin_answers_the_same(emulator_opt_in: None) -> None:
    with Gemini() as g:
        g.generate_content("hi")
        report = g.quota_report()
    (project,) = report.projects
    assert project.name == "emulator" and project.keys[0].requests == 1
    assert project.models == ()  # no limits configured, nothing counted


def test_listed_limits_show_before_use_and_star_stands_for_every_model() -> None:
    projects = [
        ProjectConfig(name="x", keys=["k"], limits={"m1": Limits(rpm=5), "*": Limits(rpd=7)}),
        ProjectConfig(name="y", keys=["j"], limits={"*": Limits(rpm=2)}),
        ProjectConfig(name="x", keys=["other"]),  # a repeated name is reported once
    ]
    usage = {("y", "m2"): WindowCounts(2, 40, 100.0, 2, 500.0)}
    cooling = {("y", "*"): (130.0, "per-day quota"), ("x", "m1"): (50.0, "gone")}
    report = build_report(120.0, projects, usage, cooling, {}, {}, {})
    x, y = report.projects
    assert [m.model for m in x.models] == ["m1"] and x.models[0].rpm.limit == 5
    assert x.models[0].rpd.limit is None and x.cooldowns == ()
    (m2,) = y.models
    assert (m2.model, m2.rpm.used, m2.rpm.limit, m2.rpm.resets_in) == ("m2", 2, 2, 40.0)
    assert (m2.tpm.used, m2.rpd.used, m2.rpd.resets_in) == (40, 2, 380.0)
    assert y.keys[0].state == "cooling" and y.keys[0].reason == "per-day quota"
    empty = build_report(
        0.0, [ProjectConfig(name="z", keys=["k"], limits={"*": Limits(rpm=1)})], {}, {}, {}, {}, {}
    )
    assert [m.model for m in empty.projects[0].models] == ["*"]
