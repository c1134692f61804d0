"""The ``gemgate`` command line."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

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

    from gemgate.gateway import create_app

    if config:
        os.environ["GEMGATE_CONFIG"] = str(config)  # read by every worker
    gateway = create_app()
    if not _loopback(host) and not gateway.keyring.enabled:
        _err.print(
            "[red]Refusing to listen on a non-loopback address without [[gateway_keys]]:[/] "
            "the gateway would be open to anyone who can reach it."
        )
        raise typer.Exit(2)
    base = f"http://{host}:{port}"
    _err.print(f"[bold]gemgate gateway[/] listening on [cyan]{base}[/]", soft_wrap=True)
    native = f"genai.Client(api_key='any', http_options={{'base_url': '{base}/gemini'}})"
    _err.print(f"  google-genai: {native}", soft_wrap=True)
    _err.print(f"  openai:       OpenAI(api_key='any', base_url='{base}/v1')", soft_wrap=True)
    if workers > 1:
        uvicorn.run(
            "gemgate.gateway.app:create_app",
            factory=True,
            workers=workers,
            host=host,
            port=port,
            log_level=log_level,
            lifespan="on",
        )
        return
    uvicorn.run(gateway, host=host, port=port, log_level=log_level, lifespan="on")


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
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "warning",
) -> None:
    """Serve a local Gemini API (REST and SSE) for development and tests."""
    import uvicorn

    from gemgate.emulator import EmulatorConfig, create_app

    settings = EmulatorConfig.from_toml(config) if config else EmulatorConfig()
    emulator = create_app(settings, control=control)
    base = f"http://{host}:{port}"
    _err.print(f"[bold]gemgate emulator[/] listening on [cyan]{base}[/]")
    _err.print(
        "Talk to it with the official SDK:\n"
        "  from google import genai\n"
        f"  client = genai.Client(api_key='any-key', http_options={{'base_url': '{base}'}})\n"
        "  print(client.models.generate_content(model='gemini-2.5-flash', contents='Hi').text)\n"
        f"or with curl:\n  curl -s -H 'x-goog-api-key: any-key' {base}/v1beta/models",
        soft_wrap=True,
    )
    if not settings.projects:
        _err.print("No projects configured: any non-empty API key is accepted.")
    if control:
        _err.print(f"Control API on {base}/_emulator/ (reset, faults, stats).")
    uvicorn.run(emulator, host=host, port=port, log_level=log_level, lifespan="off")
