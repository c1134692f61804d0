"""The ``gemgate`` command line."""

from __future__ import annotations

import tempfile
from contextlib import ExitStack
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

__all__ = ["app"]

app = typer.Typer(
    name="gemgate",
    help="Run Google's Gemini API from Python in production.",
    no_args_is_help=True,
    add_completion=False,
)
_err = Console(stderr=True)


@app.callback()
def _main() -> None:
    """Gemgate: library, gateway and a faithful local Gemini API emulator."""


def _loopback(host: str) -> bool:
    return host in ("127.0.0.1", "localhost", "::1") or host.startswith("127.")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8080,
    config: Annotated[
        Path | None, typer.Option(help="TOML configuration (default GEMGATE_CONFIG).", exists=True)
    ] = None,
    workers: Annotated[int, typer.Option(help="Worker processes (state is per process).")] = 1,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "warning",
) -> None:
    """Serve the gateway: native Gemini API under /gemini, OpenAI's under /v1."""
    import os

    import uvicorn

    from gemgate.gateway._app import serve_app
    from gemgate.serving import OneWriteProtocol

    if config:
        os.environ["GEMGATE_CONFIG"] = str(config)  # read by every worker
    gateway = serve_app()
    if not _loopback(host) and not gateway.keyring.enabled:
        _err.print(
            "[red]Refusing to listen on a non-loopback address without [[gateway_keys]]:[/] "
            "the gateway would be open to anyone who can reach it."
        )
        raise typer.Exit(2)
    if gateway.client.engine.emulated:
        _err.print(
            "[bold yellow]No Gemini API key configured: the built-in emulator answers every "
            "request.[/] Set GEMINI_API_KEY or list \\[[projects]] in the config to reach Google.",
            soft_wrap=True,
        )
    base = f"http://{host}:{port}"
    _err.print(f"[bold]gemgate gateway[/] listening on [cyan]{base}[/]", soft_wrap=True)
    native = f"genai.Client(api_key='any', http_options={{'base_url': '{base}/gemini'}})"
    _err.print(f"  google-genai: {native}", soft_wrap=True)
    _err.print(f"  openai:       OpenAI(api_key='any', base_url='{base}/v1')", soft_wrap=True)
    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "log_level": log_level,
        "lifespan": "on",
        "server_header": False,  # no software banner; the access log is gemgate's own
        "access_log": False,
        "http": OneWriteProtocol,
    }
    if workers > 1:
        uvicorn.run("gemgate.gateway._app:serve_app", factory=True, workers=workers, **options)
        return
    uvicorn.run(gateway, **options)


def _tls_files(
    tls: bool, cert: Path | None, key: Path | None, tls_dir: Path | None, stack: ExitStack
) -> tuple[Path, Path, Path | None] | None:
    """The certificate and key to serve with, and the CA clients must trust (if known)."""
    if (cert is None) != (key is None):
        _err.print("[red]--cert and --key go together.[/]")
        raise typer.Exit(2)
    if cert is not None and key is not None:
        return cert, key, None
    if not tls and tls_dir is None:
        return None
    from gemgate.emulator._tls import self_signed

    directory = tls_dir or Path(
        stack.enter_context(tempfile.TemporaryDirectory(prefix="gemgate-tls-"))
    )
    files = self_signed(directory)
    return files.cert, files.key, files.ca


def _print_http_help(base: str) -> None:
    _err.print(
        "Talk to it with the official SDK:\n"
        "  from google import genai\n"
        f"  client = genai.Client(api_key='any-key', http_options={{'base_url': '{base}'}})\n"
        "  print(client.models.generate_content(model='gemini-2.5-flash', contents='Hi').text)\n"
        f"or with curl:\n  curl -s -H 'x-goog-api-key: any-key' {base}/v1beta/models\n"
        "Live needs TLS (the SDK always connects with wss://): add --tls.",
        soft_wrap=True,
    )


def _print_tls_help(base: str, ca: Path | None, cert: Path) -> None:
    if ca is None:
        _err.print(f"TLS with {cert}: clients must trust the CA that signed it.", soft_wrap=True)
        return
    _err.print(
        f"TLS certificate authority: [cyan]{ca}[/] (self-signed, for localhost and 127.0.0.1).\n"
        "Trust it in the client, either for the whole process:\n"
        f"  SSL_CERT_FILE={ca}\n"
        "or for one SDK client:\n"
        "  import ssl\n"
        f"  ctx = ssl.create_default_context(cafile='{ca}')\n"
        f"  client = genai.Client(api_key='any-key', http_options={{'base_url': '{base}',\n"
        "      'client_args': {'verify': ctx}, 'async_client_args': {'ssl': ctx}})\n"
        "  (client_args for sync REST calls; async_client_args for async ones and Live)\n"
        "  print(client.models.generate_content(model='gemini-2.5-flash', contents='Hi').text)\n"
        f"or with curl:\n  curl -s --cacert {ca} -H 'x-goog-api-key: any-key' "
        f"{base}/v1beta/models\n"
        "Live (the SDK always uses wss://):\n"
        "  async with client.aio.live.connect(model='gemini-live-2.5-flash-preview',\n"
        "                                     config={'response_modalities': ['TEXT']}) as s: ...",
        soft_wrap=True,
    )


@app.command()
def emulate(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8090,
    config: Annotated[
        Path | None,
        typer.Option(help="TOML file with [[projects]] and [emulator] settings.", exists=True),
    ] = None,
    control: Annotated[
        bool, typer.Option(help="Serve the /_emulator control API (reset, faults, stats).")
    ] = False,
    tls: Annotated[
        bool,
        typer.Option(
            help="Serve HTTPS and WSS (needed for Live: the SDK always connects with wss://) "
            "with a self-signed certificate for localhost and 127.0.0.1."
        ),
    ] = False,
    tls_dir: Annotated[
        Path | None,
        typer.Option(
            help="Where --tls writes (or reuses) ca.pem, cert.pem and key.pem "
            "(default: a temporary directory); implies --tls."
        ),
    ] = None,
    cert: Annotated[
        Path | None, typer.Option(help="Serve TLS with this certificate (PEM).", exists=True)
    ] = None,
    key: Annotated[
        Path | None, typer.Option(help="The private key of --cert (PEM).", exists=True)
    ] = None,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "warning",
) -> None:
    """Serve a local Gemini API (REST, SSE and, over TLS, Live) for development and tests."""
    import uvicorn

    from gemgate.emulator import EmulatorConfig, create_app
    from gemgate.serving import OneWriteProtocol, settle_gc

    settings = EmulatorConfig.from_toml(config) if config else EmulatorConfig()
    emulator = create_app(settings, control=control)
    with ExitStack() as stack:
        served = _tls_files(tls, cert, key, tls_dir, stack)
        base = f"{'https' if served else 'http'}://{host}:{port}"
        _err.print(f"[bold]gemgate emulator[/] listening on [cyan]{base}[/]")
        if served:
            _print_tls_help(base, served[2], served[0])
        else:
            _print_http_help(base)
        if not settings.projects:
            _err.print("No projects configured: any non-empty API key is accepted.")
        if control:
            _err.print(f"Control API on {base}/_emulator/ (reset, faults, stats).")
        settle_gc()
        uvicorn.run(
            emulator,
            host=host,
            port=port,
            log_level=log_level,
            lifespan="off",
            access_log=False,
            http=OneWriteProtocol,
            ssl_certfile=str(served[0]) if served else None,
            ssl_keyfile=str(served[1]) if served else None,
        )


from gemgate.console import chat, keys, quota  # noqa: E402 - the operator's commands

app.command()(chat)
app.command()(quota)
app.command()(keys)
