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
