"""The ``gemgate`` command line: options, help, and everything it prints.

Help and messages run in process with typer's runner (the server itself replaced by a
stand-in that returns at once); binding a real port runs the real CLI as a subprocess.
"""

from __future__ import annotations

import ast
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
from rich.text import Text
from typer.testing import CliRunner

import gemgate
import gemgate.serving
from gemgate.cli import app
from gemgate.projects import hash_secret
from tests.conftest import free_port, stop_process

CLI = Path(gemgate.__file__).parent / "cli.py"
SRC = str(Path(gemgate.__file__).parent.parent)
SECRET = "fake-cli-test-secret-never-printed"  # a secret the output must never show
WIDE = {"COLUMNS": "400", "TERMINAL_WIDTH": "400"}


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    for name in list(os.environ):
        if name.startswith(("GEMGATE_", "GEMINI_API_KEY", "GOOGLE_API_KEY")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("GEMGATE_UPSTREAM", "emulator")
    monkeypatch.chdir(tmp_path)  # no stray .env; sessions in a fresh directory
    before = set(os.environ)
    yield tmp_path
    # `serve --config` exports GEMGATE_CONFIG for its workers: in-process, later tests
    # would read that config (and its gateway keys) too.
    for name in set(os.environ) - before:
        del os.environ[name]


@pytest.fixture
def not_serving(monkeypatch: pytest.MonkeyPatch) -> list[socket.socket]:
    """``run_on`` replaced: the CLI prints everything, binds, then returns at once."""
    bound: list[socket.socket] = []

    def run_on(config: Any, sock: socket.socket) -> bool:
        bound.append(sock)
        sock.close()
        return True

    monkeypatch.setattr(gemgate.serving, "run_on", run_on)
    return bound


def invoke(*args: str, env: dict[str, str] | None = None) -> Any:
    return CliRunner().invoke(app, list(args), env=env)


def commands() -> Iterator[tuple[list[str], Any]]:
    """Every command of the tree (the root included), with its path of names."""
    root = typer.main.get_command(app)

    def walk(path: list[str], command: Any) -> Iterator[tuple[list[str], Any]]:
        yield path, command
        for name, sub in getattr(command, "commands", {}).items():
            yield from walk([*path, name], sub)

    return walk([], root)


def written(tmp_path: Path, text: str, name: str = "gemgate.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def keys_toml(tmp_path: Path) -> Path:
    return written(
        tmp_path, f'[[gateway_keys]]\nname = "ci"\nsecret_sha256 = "{hash_secret("s3cret")}"\n'
    )


def assert_brackets_intact(text: str) -> None:
    assert "[]" not in text, text  # what rich makes of "[[gateway_keys]]" as markup
    assert "\\[" not in text, text  # an escape shown instead of applied


# --- --version and help -----------------------------------------------------------------------


def test_version_prints_the_package_version() -> None:
    result = invoke("--version")
    assert result.exit_code == 0
    assert result.stdout == f"gemgate {gemgate.__version__}\n"


def test_help_of_every_command_shows_no_type_for_flags() -> None:
    for path, _ in commands():
        result = invoke(*path, "--help", env=WIDE)
        assert result.exit_code == 0, path
        assert re.search(r"--help\s+Show this message", result.stdout), result.stdout
        assert "<bool>" not in result.stdout, path
    assert "--version" in invoke("--help", env=WIDE).stdout


def test_help_text_survives_rendering_brackets_included() -> None:
    """Each help string is literal text: markup would not change it, and all of it shows."""
    seen = 0
    for path, command in commands():
        shown = " ".join(invoke(*path, "--help", env=WIDE).stdout.split())
        assert_brackets_intact(shown)
        for param in command.params:
            if not param.help:
                continue
            plain = Text.from_markup(param.help).plain
            assert plain == param.help.replace("\\[", "["), param.help  # no tag to eat
            assert " ".join(plain.split()) in shown, (path, plain)
            seen += 1
    assert seen >= 10
    assert (
        "TOML file with [[projects]] and [emulator] settings."
        in invoke("emulate", "--help", env=WIDE).stdout
    )


def test_nothing_printed_is_parsed_as_markup() -> None:
    """The one call that prints takes rich Text, built from plain strings."""
    tree = ast.parse(CLI.read_text())
    prints = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in ("print", "log", "rule")
    ]
    assert len(prints) == 1
    (only,) = prints
    assert isinstance(only.args[0], ast.Call)
    assert ast.unparse(only.args[0].func) == "Text.assemble"


# --- ports ------------------------------------------------------------------------------------


def port_options() -> list[tuple[list[str], Any]]:
    return [
        (path, param)
        for path, command in commands()
        for param in command.params
        if "port" in (param.name or "")
    ]


def test_every_port_option_takes_1_to_65535() -> None:
    found = port_options()
    assert {param.opts[0] for _, param in found} >= {"--port"}
    assert {tuple(path) for path, _ in found} >= {("serve",), ("emulate",)}
    for path, param in found:
        assert (param.min, param.max) == (1, 65535), (path, param.name)
        for bad in ("99999", "65536", "0", "-1"):
            result = invoke(*path, param.opts[0], bad)
            assert result.exit_code == 2, (path, bad)
            assert "listening" not in result.output
            assert "65535" in result.output or "greater than or equal to 1" in result.output


def test_serve_on_a_port_above_65535_fails_before_anything_else(tmp_path: Path) -> None:
    done = run_cli(tmp_path, "serve", "--port", "99999")
    assert done.returncode == 2
    assert "listening" not in done.stderr
    assert "Traceback" not in done.stderr


# --- messages ---------------------------------------------------------------------------------


def test_non_loopback_without_gateway_keys_names_the_table(not_serving: list[Any]) -> None:
    result = invoke("serve", "--host", "0.0.0.0", "--port", str(free_port()))
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("gemgate: refusing to listen on 0.0.0.0 without ")
    assert "[[gateway_keys]]" in result.stderr
    assert_brackets_intact(result.stderr)
    assert not_serving == []


def test_serve_banner_on_loopback_without_keys(not_serving: list[Any]) -> None:
    port = free_port()
    result = invoke("serve", "--port", str(port))
    assert result.exit_code == 0, result.output
    err = result.stderr
    assert "list [[projects]] in the config" in err  # no key: the emulator answers
    assert f"gemgate gateway listening on http://127.0.0.1:{port}\n" in err
    assert f"'base_url': 'http://127.0.0.1:{port}/gemini'" in err
    assert f"OpenAI(api_key='any', base_url='http://127.0.0.1:{port}/v1')" in err
    assert_brackets_intact(err)
    assert len(not_serving) == 1


@pytest.mark.parametrize("host", ["0.0.0.0", "::"])
def test_serve_banner_with_keys_on_every_interface(
    tmp_path: Path, not_serving: list[Any], host: str
) -> None:
    if host == "::" and not socket.has_ipv6:
        pytest.skip("no IPv6")
    port = free_port()
    result = invoke(
        "serve", "--host", host, "--port", str(port), "--config", str(keys_toml(tmp_path))
    )
    assert result.exit_code == 0, result.output
    err = result.stderr
    client = "127.0.0.1" if host == "0.0.0.0" else "[::1]"
    assert f"'base_url': 'http://{client}:{port}/gemini'" in err
    assert f"base_url='http://{client}:{port}/v1'" in err
    assert f"http://{socket.gethostname()}:{port}" in err  # for other machines
    assert "http://0.0.0.0" not in err and "http://[::]" not in err
    assert "api_key='any'" not in err
    assert "api_key='YOUR-GATEWAY-KEY'" in err
    assert "one of your [[gateway_keys]]" in err
    assert_brackets_intact(err)


@pytest.mark.parametrize("extra", [[], ["--control"], ["--tls"]])
def test_emulate_banners(tmp_path: Path, not_serving: list[Any], extra: list[str]) -> None:
    port = free_port()
    result = invoke("emulate", "--port", str(port), *extra)
    assert result.exit_code == 0, result.output
    err = result.stderr
    scheme = "https" if extra == ["--tls"] else "http"
    assert f"gemgate emulator listening on {scheme}://127.0.0.1:{port}\n" in err
    assert "api_key='any-key'" in err
    assert "No projects configured: any non-empty API key is accepted." in err
    if extra == ["--control"]:
        assert f"Control API on http://127.0.0.1:{port}/_emulator/" in err
    assert_brackets_intact(err)


def test_emulate_on_every_interface_gives_clients_a_usable_url(not_serving: list[Any]) -> None:
    port = free_port()
    result = invoke("emulate", "--host", "0.0.0.0", "--port", str(port))
    assert result.exit_code == 0, result.output
    assert f"listening on 0.0.0.0:{port} (every interface; from other machines: " in result.stderr
    assert f"'base_url': 'http://127.0.0.1:{port}'" in result.stderr
    assert "http://0.0.0.0" not in result.stderr


def test_emulate_with_projects_asks_for_one_of_their_keys(
    tmp_path: Path, not_serving: list[Any]
) -> None:
    config = written(tmp_path, f'[[projects]]\nname = "p"\nkeys = ["{SECRET}"]\n')
    result = invoke("emulate", "--port", str(free_port()), "--config", str(config))
    assert result.exit_code == 0, result.output
    assert "api_key='YOUR-KEY'" in result.stderr
    assert "one of the keys listed under [[projects]]" in result.stderr
    assert SECRET not in result.output
    assert_brackets_intact(result.stderr)


def test_cert_without_key_is_one_line(tmp_path: Path) -> None:
    cert = written(tmp_path, "", "cert.pem")
    result = invoke("emulate", "--port", str(free_port()), "--cert", str(cert))
    assert result.exit_code == 2
    assert result.stderr == "gemgate: --cert and --key go together\n"


# --- configuration errors: one line, exit code 2, no secret ----------------------------------


BAD_CONFIGS = {
    "unknown key": (
        "max_bodybytes = 1\n",
        "{path}: unknown key 'max_bodybytes' (did you mean 'max_body_bytes'?)",
    ),
    "unknown table": (
        '[model_route]\nfast = ["gemini-2.5-flash"]\n',
        "{path}: unknown key 'model_route' (did you mean 'model_routes'?)",
    ),
    "unknown nested key": (
        "[timeouts]\ngenrate = 5.0\n",
        "{path}: unknown key 'timeouts.genrate' (did you mean 'generate'?)",
    ),
    "syntax": (
        'default_model = "x"\nmax_body_bytes = \n',
        "{path}:2:18: invalid TOML: Invalid value",
    ),
    "wrong type": (
        'max_body_bytes = "huge"\n',
        "{path}: max_body_bytes: input should be a valid integer, "
        "unable to parse string as an integer",
    ),
    "a key where a list goes": (
        f'[[projects]]\nname = "p"\nkeys = "{SECRET}"\n',
        "{path}: projects[0].keys: input should be a valid list",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_CONFIGS))
@pytest.mark.parametrize("how", ["--config", "GEMGATE_CONFIG"])
def test_serve_reports_a_bad_config_in_one_line(
    tmp_path: Path, not_serving: list[Any], case: str, how: str
) -> None:
    text, expected = BAD_CONFIGS[case]
    path = written(tmp_path, text)
    if how == "--config":
        result = invoke("serve", "--port", "8080", "--config", str(path))
    else:
        result = invoke("serve", "--port", "8080", env={"GEMGATE_CONFIG": str(path)})
    assert result.exit_code == 2
    assert result.stderr == f"gemgate: {expected.format(path=path)}\n"
    assert result.stdout == ""
    assert SECRET not in result.output
    assert not_serving == []


def test_serve_names_the_missing_file_and_the_variable(not_serving: list[Any]) -> None:
    result = invoke("serve", env={"GEMGATE_CONFIG": "nope.toml"})
    assert result.exit_code == 2
    assert result.stderr == "gemgate: nope.toml: no such file (named by GEMGATE_CONFIG)\n"


@pytest.mark.parametrize("case", ["unknown key", "syntax", "a key where a list goes"])
def test_emulate_reports_a_bad_config_in_one_line(
    tmp_path: Path, not_serving: list[Any], case: str
) -> None:
    text, expected = BAD_CONFIGS[case]
    path = written(tmp_path, text)
    result = invoke("emulate", "--config", str(path))
    assert result.exit_code == 2
    assert result.stderr == f"gemgate: {expected.format(path=path)}\n"
    assert SECRET not in result.output


def test_emulate_accepts_the_gateway_settings_of_a_shared_file(
    tmp_path: Path, not_serving: list[Any]
) -> None:
    path = written(
        tmp_path, "max_body_bytes = 10\n[timeouts]\ngenerate = 5.0\n[emulator]\nseed = 3\n"
    )
    assert invoke("emulate", "--port", str(free_port()), "--config", str(path)).exit_code == 0


# --- the real CLI, binding real ports ----------------------------------------------------------


def run_cli(cwd: Path, *args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gemgate", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        env=cli_env(),
    )


def cli_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GEMGATE_")}
    env.update(PYTHONPATH=SRC, GEMGATE_UPSTREAM="emulator")
    return env


@pytest.fixture
def occupied() -> Iterator[int]:
    """A port on 127.0.0.1 that another socket listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


@pytest.mark.parametrize("command", ["serve", "emulate"])
def test_a_port_in_use_is_one_line_and_no_announcement(
    tmp_path: Path, occupied: int, command: str
) -> None:
    done = run_cli(tmp_path, command, "--host", "127.0.0.1", "--port", str(occupied))
    assert done.returncode == 1
    assert done.stderr == (
        f"gemgate: port {occupied} on 127.0.0.1 is in use: stop the other process or pass --port\n"
    )
    assert done.stdout == ""


def test_the_address_is_announced_once_it_accepts_connections(tmp_path: Path) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "gemgate", "serve", "--port", str(port)],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        cwd=tmp_path,
        env=cli_env(),
    )
    try:
        assert proc.stderr is not None
        deadline = time.monotonic() + 30
        line = b""
        while b"listening on" not in line:
            line = proc.stderr.readline()
            assert line and time.monotonic() < deadline, "no announcement"
        assert line.decode() == f"gemgate gateway listening on http://127.0.0.1:{port}\n"
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass  # bound and listening by the time it says so
    finally:
        proc.stderr and proc.stderr.close()
        stop_process(proc)


def test_warnings_are_shown_as_before_once_a_command_is_done(
    not_serving: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    import warnings

    monkeypatch.setenv("GEMGATE_MAX_BODYBYTES", "10")
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        before = warnings.showwarning
        result = invoke("serve", "--port", str(free_port()))
        assert warnings.showwarning is before
    assert result.exit_code == 0, result.output
    assert result.stderr.startswith("gemgate: warning: GEMGATE_MAX_BODYBYTES names no ")


def test_an_unknown_gemgate_variable_is_a_one_line_warning(tmp_path: Path) -> None:
    env = cli_env() | {"GEMGATE_MAX_BODYBYTES": "10"}
    done = subprocess.run(
        [sys.executable, "-m", "gemgate", "serve", "--host", "0.0.0.0", "--port", "8080"],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=tmp_path,
        env=env,
    )
    assert done.returncode == 2  # refused for want of keys, after the warning
    first, second = done.stderr.splitlines()
    assert first == (
        "gemgate: warning: GEMGATE_MAX_BODYBYTES names no gemgate setting and is ignored "
        "(did you mean GEMGATE_MAX_BODY_BYTES?)"
    )
    assert "[[gateway_keys]]" in second
