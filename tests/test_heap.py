"""A server process on glibc's malloc gives a burst's memory back (`gemgate._heap`).

Each case runs in a child interpreter: the allocator is chosen when one starts.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from gemgate._heap import start_trimming

pytestmark = pytest.mark.skipif(
    not os.path.exists("/proc/self/statm"), reason="needs Linux's /proc"
)

BURST = """
    import json, time
    from gemgate._heap import _rss, start_trimming

    trimmer = start_trimming(every=0.05)
    assert trimmer is not None
    before = _rss()
    burst = [{"n": str(i)} for i in range(1_000_000)]
    kept = burst[::1000]  # a few survivors among the garbage, as a request leaves
    time.sleep(0.5)
    held = (_rss(), trimmer.trims)  # a burst still alive is not trimmed
    del burst
    for _ in range(100):
        if trimmer.trims > held[1]:
            break
        time.sleep(0.05)
    time.sleep(0.1)
    print(json.dumps({"before": before, "peak": held[0], "during": held[1],
                      "trims": trimmer.trims, "after": _rss(), "kept": len(kept)}))
"""


def _child(code: str, **env: str) -> str:
    environ = {k: v for k, v in os.environ.items() if k != "PYTHONMALLOC"} | env
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_a_burst_that_ended_is_given_back_and_one_still_alive_is_not() -> None:
    seen = json.loads(_child(BURST, PYTHONMALLOC="malloc"))
    mib = 1024 * 1024
    assert seen["peak"] - seen["before"] > 100 * mib, seen  # the burst was resident
    assert seen["during"] == 0, seen
    assert seen["trims"] >= 1, seen
    assert seen["after"] - seen["before"] < 20 * mib, seen  # back, survivors and all


def test_no_trimming_under_cpythons_own_allocator() -> None:
    """Its arenas are out of a trim's reach: the thread would only cost."""
    if os.environ.get("PYTHONMALLOC") == "malloc":
        pytest.skip("this interpreter runs on malloc")
    assert start_trimming() is None


@pytest.mark.parametrize(("given", "runs_on"), [(None, "malloc"), ("pymalloc", "pymalloc")])
def test_run_on_malloc_restarts_once_unless_the_user_chose(given: str | None, runs_on: str) -> None:
    code = """
        import os
        from gemgate._heap import run_on_malloc

        print("started", flush=True)
        run_on_malloc()
        print(os.environ["PYTHONMALLOC"])
    """
    out = _child(code, **({"PYTHONMALLOC": given} if given else {})).splitlines()
    restarts = 2 if given is None else 1
    assert out == ["started"] * restarts + [runs_on]
