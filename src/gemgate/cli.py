"""The ``gemgate`` command line.

Everything it prints is plain text or :class:`rich.text.Text`, never parsed as markup, so
bracketed text (``[[gateway_keys]]``, ``[emulator]``, IPv6 addresses, paths) reaches the
user intact. It announces an address only once it holds the socket, and a bad
configuration is one line on stderr (exit code 2), not a traceback.
"""

from __future__ import annotations

import errno
import secrets
import socket
import tempfile
import warnings
from contextlib import ExitStack
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.text import Text
from typer.core import TyperGroup

from gemgate.errors import ConfigError, ConfigWarning, GemgateError

__all__ = ["app"]


class _Group(TyperGroup):
    """The root command. Flags take no value, so help shows no ``<bool>`` type for them.

    typer's rich help prints every option's type, flags (``--help``, ``--tls``) included;
    an empty metavar is what it shows instead. Done here, before any parsing, for every
    command of the tree, whoever registered it.
    """

    def get_params(self, ctx: Any) -> list[Any]:
        """The root's parameters, once every flag of the tree is untyped."""
        _untype_flags(self, ctx)
        return super().get_params(ctx)


def _untype_flags(command: Any, ctx: Any) -> None:
    for param in [*command.params, command.get_help_option(ctx)]:
        if param is not None and getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = ""
    for sub in getattr(command, "commands", {}).values():
        _untype_flags(sub, ctx)


app = typer.Typer(
    name="gemgate",
    help="Run Google's Gemini API from Python in production.",
    no_args_is_help=True,
    add_completion=False,
    cls=_Group,
)
_err = Console(stderr=True, highlight=False, soft_wrap=True)

_Port = Annotated[int, typer.Option(help="Port to listen on.", min=1, max=65535)]
"""Every port option: 1 to 65535 (beyond, the OS would silently take it modulo 65536)."""


def _say(*parts: str | tuple[str, str]) -> None:
    """Print one line to stderr, exactly: ``(text, style)`` parts are styled, not parsed."""
    _err.print(Text.assemble(*parts))


def _fail(message: str, code: int = 2) -> NoReturn:
    """``gemgate: MESSAGE`` on stderr, then exit with ``code``."""
    _say(("gemgate: " + message, "red"))
    raise typer.Exit(code)


class _ShowWarning:
    """``warnings.showwarning`` for a run: configuration warnings as one line of their own."""

    def __init__(self, python: Any) -> None:
        self.python = python

    def __call__(
        self,
        message: Warning | str,
        category: type[Warning],
        filename: str,
        lineno: int,
        file: Any = None,
        line: str | None = None,
    ) -> None:
        if issubclass(category, ConfigWarning):
            _say((f"gemgate: warning: {message}", "yellow"))
        else:
            self.python(message, category, filename, lineno, file, line)


def _print_version(value: bool) -> None:
    if value:
        from gemgate import __version__

        typer.echo(f"gemgate {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    ctx: typer.Context,
    version: Annotated[
        bool,
        typer.Option(
            "--version", help="Print the version and exit.", is_eager=True, callback=_print_version
        ),
    ] = False,
) -> None:
    """Gemgate: library, gateway and a faithful local Gemini API emulator."""
    ctx.with_resource(warnings.catch_warnings())  # restored when the command is done
    warnings.showwarning = _ShowWarning(warnings.showwarning)


def _loopback(host: str) -> bool:
    return host in ("127.0.0.1", "localhost", "::1") or host.startswith("127.")


def _address(host: str, port: int) -> str:
    """``host:port``, an IPv6 address in brackets."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _client_base(scheme: str, host: str, port: int) -> str:
    """The URL a client on this machine uses: a wildcard address is no place to connect to."""
    if host in ("0.0.0.0", ""):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    return f"{scheme}://{_address(host, port)}"


def _where(scheme: str, host: str, port: int) -> str:
    """What the banner says it listens on: a URL, or for a wildcard address what it means."""
    if host not in ("0.0.0.0", "::", ""):
        return _client_base(scheme, host, port)
    others = f"{scheme}://{socket.gethostname()}:{port}"
    return f"{_address(host, port)} (every interface; from other machines: {others})"


def _listen(host: str, port: int) -> socket.socket:
    """The socket, bound and listening; else one line saying why and what to do (exit 1)."""
    from gemgate.serving import listening_socket

    try:
        return listening_socket(host, port)
    except OSError as exc:
        _fail(_bind_problem(host, port, exc), code=1)


def _bind_problem(host: str, port: int, exc: OSError) -> str:
    if exc.errno == errno.EADDRINUSE:
        return f"port {port} on {host} is in use: stop the other process or pass --port"
    if exc.errno == errno.EACCES:
        return f"port {port} on {host} needs privileges: pass a --port above 1023"
    if isinstance(exc, socket.gaierror) or exc.errno == errno.EADDRNOTAVAIL:
        return f"cannot listen on {host}: not an address of this machine: pass another --host"
    return f"cannot listen on {_address(host, port)}: {exc.strerror or exc}"


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: _Port = 8080,
    config: Annotated[
        Path | None, typer.Option(help="TOML configuration (default GEMGATE_CONFIG).", exists=True)
    ] = None,
    workers: Annotated[
        int, typer.Option(help=escape("Worker processes (more than one needs [state] url)."), min=1)
    ] = 1,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "warning",
) -> None:
    """Serve the gateway: native Gemini API under /gemini, OpenAI's under /v1."""
    import os

    import uvicorn

    from gemgate.gateway._app import serve_app
    from gemgate.gateway._sockets import MAX_FRAME
    from gemgate.serving import OneWriteProtocol, run_on

    if config:
        os.environ["GEMGATE_CONFIG"] = str(config)  # read by every worker
    if workers > 1:  # the workers accept each other's login cookies
        os.environ.setdefault("GEMGATE_LOGIN_SECRET", secrets.token_hex(32))
    try:
        gateway = serve_app()
    except GemgateError as exc:
        _fail(str(exc), code=2 if isinstance(exc, ConfigError) else 1)
    if workers > 1 and gateway.client.settings.state_url is None:
        _fail(
            f'--workers {workers} needs shared state: set [state] url = "redis://…" in the '
            "config (or GEMGATE_STATE_URL); without it each worker would admit the full "
            "quota of every project and gateway key on its own"
        )
    if workers > 1 and gateway.client.settings.sessions_url.startswith("memory:"):
        _fail(f"--workers {workers} needs a shared sessions_url (sqlite:///…, postgresql://…)")
    keys = gateway.keyring.enabled
    if not _loopback(host) and not keys:
        _fail(
            f"refusing to listen on {host} without [[gateway_keys]]: the gateway would be "
            "open to anyone who can reach it (or pass --host 127.0.0.1)"
        )
    sock = _listen(host, port)
    if gateway.client.engine.emulated:
        _say(
            (
                "No Gemini API key configured: the built-in emulator answers every request.",
                "bold yellow",
            ),
            " Set GEMINI_API_KEY or list [[projects]] in the config to reach Google.",
        )
    base = _client_base("http", host, port)
    _say(("gemgate gateway", "bold"), " listening on ", (_where("http", host, port), "cyan"))
    key = "YOUR-GATEWAY-KEY" if keys else "any"
    native = f"genai.Client(api_key='{key}', http_options={{'base_url': '{base}/gemini'}})"
    _say(f"  google-genai: {native}")
    _say(f"  openai:       OpenAI(api_key='{key}', base_url='{base}/v1')")
    if keys:
        _say("  YOUR-GATEWAY-KEY: the secret of one of your [[gateway_keys]] entries")
    options: dict[str, Any] = {
        "log_level": log_level,
        "lifespan": "on",
        "server_header": False,  # no software banner; the access log is gemgate's own
        "access_log": False,
        "http": OneWriteProtocol,
        "ws_max_size": MAX_FRAME,  # a larger frame closes its socket with 1009, unread
        # No compression: a few compressed bytes could inflate to MAX_FRAME each, and
        # the refused frame's buffer would linger as garbage until a full collection.
        "ws_per_message_deflate": False,
        "workers": workers,
    }
    if workers > 1:
        served = uvicorn.Config("gemgate.gateway._app:serve_app", factory=True, **options)
    else:
        served = uvicorn.Config(gateway, **options)
    if not run_on(served, sock):
        raise typer.Exit(3)


def _tls_files(
    tls: bool, cert: Path | None, key: Path | None, tls_dir: Path | None, stack: ExitStack
) -> tuple[Path, Path, Path | None] | None:
    """The certificate and key to serve with, and the CA clients must trust (if known)."""
    if (cert is None) != (key is None):
        _fail("--cert and --key go together")
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


def _print_http_help(base: str, key: str) -> None:
    for line in (
        "Talk to it with the official SDK:",
        "  from google import genai",
        f"  client = genai.Client(api_key='{key}', http_options={{'base_url': '{base}'}})",
        "  print(client.models.generate_content(model='gemini-2.5-flash', contents='Hi').text)",
        "or with curl:",
        f"  curl -s -H 'x-goog-api-key: {key}' {base}/v1beta/models",
        "Live needs TLS (the SDK always connects with wss://): add --tls.",
    ):
        _say(line)


def _print_tls_help(base: str, key: str, ca: Path | None, cert: Path) -> None:
    if ca is None:
        _say(f"TLS with {cert}: clients must trust the CA that signed it.")
        return
    _say(
        "TLS certificate authority: ",
        (str(ca), "cyan"),
        " (self-signed, for localhost and 127.0.0.1).",
    )
    for line in (
        "Trust it in the client, either for the whole process:",
        f"  SSL_CERT_FILE={ca}",
        "or for one SDK client:",
        "  import ssl",
        f"  ctx = ssl.create_default_context(cafile='{ca}')",
        f"  client = genai.Client(api_key='{key}', http_options={{'base_url': '{base}',",
        "      'client_args': {'verify': ctx}, 'async_client_args': {'ssl': ctx}})",
        "  (client_args for sync REST calls; async_client_args for async ones and Live)",
        "  print(client.models.generate_content(model='gemini-2.5-flash', contents='Hi').text)",
        "or with curl:",
        f"  curl -s --cacert {ca} -H 'x-goog-api-key: {key}' {base}/v1beta/models",
        "Live (the SDK always uses wss://):",
        "  async with client.aio.live.connect(model='gemini-live-2.5-flash-preview',",
        "                                     config={'response_modalities': ['TEXT']}) as s: ...",
    ):
        _say(line)


@app.command()
def emulate(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: _Port = 8090,
    config: Annotated[
        Path | None,
        typer.Option(
            help=escape("TOML file with [[projects]] and [emulator] settings."), exists=True
        ),
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

    from gemgate._heap import start_trimming
    from gemgate.emulator import EmulatorConfig, create_app
    from gemgate.serving import OneWriteProtocol, run_on, settle_gc

    try:
        settings = EmulatorConfig.from_toml(config) if config else EmulatorConfig()
    except ConfigError as exc:
        _fail(str(exc))
    emulator = create_app(settings, control=control)
    with ExitStack() as stack:
        served = _tls_files(tls, cert, key, tls_dir, stack)
        sock = _listen(host, port)
        scheme = "https" if served else "http"
        base = _client_base(scheme, host, port)
        _say(("gemgate emulator", "bold"), " listening on ", (_where(scheme, host, port), "cyan"))
        api_key = "YOUR-KEY" if settings.projects else "any-key"
        if served:
            _print_tls_help(base, api_key, served[2], served[0])
        else:
            _print_http_help(base, api_key)
        if settings.projects:
            _say("YOUR-KEY: one of the keys listed under [[projects]] in the config.")
        else:
            _say("No projects configured: any non-empty API key is accepted.")
        if control:
            _say(f"Control API on {base}/_emulator/ (reset, faults, stats).")
        settle_gc()
        start_trimming()
        options = uvicorn.Config(
            emulator,
            log_level=log_level,
            lifespan="off",
            access_log=False,
            http=OneWriteProtocol,
            ssl_certfile=str(served[0]) if served else None,
            ssl_keyfile=str(served[1]) if served else None,
        )
        if not run_on(options, sock):
            raise typer.Exit(3)


from gemgate.console import chat, keys, quota, usage  # noqa: E402 - the operator's commands
from gemgate.console._batch import batch_app  # noqa: E402 - batch jobs
from gemgate.console._stores import ingest, search, stores  # noqa: E402 - retrieval stores

app.command()(chat)
app.command()(quota)
app.command()(keys)
app.command()(usage)
app.command()(ingest)
app.command()(search)
app.command()(stores)
app.add_typer(batch_app, name="batch")
