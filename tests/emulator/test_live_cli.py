"""``gemgate emulate --tls``: the official SDK over https/wss with the emulator's CA trusted."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import aclosing, contextmanager
from pathlib import Path

import httpx2
import pytest
from google import genai
from google.genai import types
from typer.testing import CliRunner

from gemgate.cli import app
from gemgate.emulator._tls import client_context, self_signed
from tests.conftest import EMULATOR_CONFIG, free_port, stop_process

from .conftest import user_turn
from .live_support import MODEL, receiving, resume_config

WEATHER = types.Tool(
    function_declarations=[
        types.FunctionDeclaration(
            name="get_weather",
            parameters_json_schema={"type": "object", "properties": {"city": {"type": "string"}}},
        )
    ]
)


@contextmanager
def _serve(args: list[str], ca: Path) -> Iterator[str]:
    """Run ``gemgate emulate ARGS`` until it answers over https; yield its base URL."""
    port = free_port()
    cmd = [sys.executable, "-m", "gemgate", "emulate", "--port", str(port), *args]
    cmd += ["--config", str(EMULATOR_CONFIG)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"https://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    try:
        while True:
            try:
                if ca.exists():
                    httpx2.get(f"{base}/v1beta/models?key=test-key", verify=client_context(ca))
                    break
            except httpx2.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                out = proc.stdout.read().decode() if proc.stdout else ""
                raise RuntimeError(f"emulator did not start:\n{out}")
            time.sleep(0.05)  # noqa: TID251 - waiting for a subprocess, outside any event loop
        yield base
    finally:
        stop_process(proc)


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """``gemgate emulate --tls --tls-dir DIR``: the base URL and the CA file to trust."""
    directory = tmp_path_factory.mktemp("tls")
    with _serve(["--tls", "--tls-dir", str(directory)], directory / "ca.pem") as base:
        yield base, directory / "ca.pem"


@pytest.fixture(scope="module")
def own_cert_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """``gemgate emulate --cert C --key K`` with a certificate made beforehand."""
    files = self_signed(tmp_path_factory.mktemp("mine"))
    with _serve(["--cert", str(files.cert), "--key", str(files.key)], files.ca) as base:
        yield base, files.ca


@pytest.mark.anyio
async def test_sdk_over_tls_with_ssl_cert_file(
    tls_server: tuple[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    base, ca = tls_server
    monkeypatch.setenv("SSL_CERT_FILE", str(ca))
    client = genai.Client(api_key="test-key", http_options={"base_url": base})
    config = types.LiveConnectConfig(
        response_modalities=[types.Modality.TEXT],
        tools=[WEATHER],
        session_resumption=types.SessionResumptionConfig(),
    )
    handle = None
    async with client.aio.live.connect(model=MODEL, config=config) as session:
        await session.send_client_content(turns=user_turn("My name is Ada."))
        first = "".join([m.text or "" async for m in session.receive()])
        await session.send_client_content(turns=user_turn("Weather in Paris?"))
        calls = []
        async for message in session.receive():
            update = message.session_resumption_update
            if update and update.new_handle:
                handle = update.new_handle
            if message.tool_call:
                calls += message.tool_call.function_calls or []
                answer = types.FunctionResponse(id=calls[-1].id, name="get_weather", response={})
                await session.send_tool_response(function_responses=[answer])
    assert first.startswith('You asked: "My name is Ada.".')
    assert [(c.name, c.args) for c in calls] == [("get_weather", {"city": "Paris"})]
    assert handle
    resumed = resume_config(handle)
    async with client.aio.live.connect(model=MODEL, config=resumed) as session:
        await session.send_client_content(turns=user_turn("Who am I?"))
        async with aclosing(receiving(session)) as stream:
            replies = [m async for m in stream]
    assert replies[-1].server_content and replies[-1].server_content.turn_complete
    # REST works over the same https origin.
    rest = await client.aio.models.generate_content(model="gemini-2.5-flash", contents="Hi")
    assert rest.text
    await client.aio.aclose()
    client.close()


@pytest.mark.anyio
async def test_own_certificate_with_cert_and_key(own_cert_server: tuple[str, Path]) -> None:
    base, ca = own_cert_server
    options = types.HttpOptions(base_url=base, async_client_args={"ssl": client_context(ca)})
    client = genai.Client(api_key="test-key", http_options=options)
    config = types.LiveConnectConfig(response_modalities=[types.Modality.TEXT])
    async with client.aio.live.connect(model=MODEL, config=config) as session:
        await session.send_realtime_input(text="Over my own certificate")
        text = "".join([m.text or "" async for m in session.receive()])
    assert text.startswith('You asked: "Over my own certificate".')
    await client.aio.aclose()
    client.close()


def test_cert_needs_key(tmp_path: Path) -> None:
    cert = tmp_path / "cert.pem"
    cert.write_text("x")
    result = CliRunner().invoke(app, ["emulate", "--cert", str(cert)])
    assert result.exit_code == 2
