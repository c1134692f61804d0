"""The library installs and runs without the gateway's, databases' or emulator's packages."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest

PYPROJECT = Path(__file__).parent.parent / "pyproject.toml"
SERVER_PACKAGES = {
    "aiohttp",
    "aiosqlite",
    "asyncpg",
    "cryptography",
    "prometheus_client",
    "redis",
    "rich",
    "sqlalchemy",
    "starlette",
    "typer",
    "uvicorn",
}


def _name(requirement: str) -> str:
    for stop in "[<>=!~; ":
        requirement = requirement.split(stop, 1)[0]
    return requirement.strip().lower().replace("-", "_")


def test_the_library_depends_on_no_server_database_or_emulator_package() -> None:
    project = tomllib.loads(PYPROJECT.read_text())["project"]
    core = {_name(r) for r in project["dependencies"]}
    assert core & SERVER_PACKAGES == set()
    extras = project["optional-dependencies"]
    assert {"emulator", "gateway", "redis", "postgres", "sqlite", "all", "test"} <= set(extras)
    brought = {
        _name(r) for name in ("gateway", "emulator", "redis", "postgres") for r in extras[name]
    }
    assert brought | {"gemgate"} >= SERVER_PACKAGES


# Runs in a child interpreter where every server/database package fails to import.
CHILD = textwrap.dedent(
    """
    import asyncio, importlib.abc, subprocess, sys

    BLOCKED = set(sys.argv[2].split(","))

    class Block(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None

    sys.meta_path.insert(0, Block())

    import gemgate.caching, gemgate.live, gemgate.sessions, gemgate.tools
    from gemgate import AsyncGemini, Gemini
    from gemgate.errors import UsageError

    async def main():
        async with AsyncGemini(api_key="k", base_url=sys.argv[1]) as g:
            reply = await g.chat([{"role": "user", "content": "What is the capital of France?"}])
            print("async:", reply["choices"][0]["message"]["content"])

    asyncio.run(main())
    with Gemini(api_key="k", base_url=sys.argv[1]) as g:
        print("sync:", g.chat([{"role": "user", "content": "Hi"}])["object"])
    for attempt in (AsyncGemini.emulated, lambda: gemgate.sessions.ChatStorage.from_url("redis://")):
        try:
            attempt()
        except UsageError as exc:
            print("refused:", exc)
    loaded = sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED)
    print("loaded:", loaded)
    """
)


def test_the_library_runs_without_them(plain_emulator_server: str, tmp_path: Path) -> None:
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GEMGATE_", "GEMINI_API"))}
    done = subprocess.run(
        [sys.executable, str(script), plain_emulator_server, ",".join(sorted(SERVER_PACKAGES))],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("async: ") and "capital of France" in lines[0]
    assert lines[1] == "sync: chat.completion"
    assert "pip install 'gemgate[emulator]'" in lines[2]
    assert "pip install 'gemgate[redis]'" in lines[3]
    assert lines[4] == "loaded: []"


@pytest.mark.parametrize("missing", ["typer", "rich"])
def test_the_command_line_names_its_extra_when_missing(missing: str, tmp_path: Path) -> None:
    code = (
        "import importlib.abc, sys\n"
        "class Block(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        f"        if name.split('.')[0] == {missing!r}:\n"
        "            raise ModuleNotFoundError(name, name=name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "sys.argv = ['gemgate', '--help']\n"
        "from gemgate.__main__ import main\n"
        "main()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=60
    )
    assert done.returncode == 2
    assert f"needs {missing!r}" in done.stderr and "gemgate[" in done.stderr
    assert "Traceback" not in done.stderr
