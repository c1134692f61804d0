"""``gemgate quota`` and ``gemgate keys``: a running gateway's ``/api/v1/quota``, as tables.

``quota`` shows per project and model each window's use against its limit with a bar,
and the active cooldowns; ``keys`` shows each key's name, fingerprint and state. Keys are
only ever shown by fingerprint: the gateway never sends a secret.
"""

from __future__ import annotations

import json
import time

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from gemgate.console._http import (
    DEFAULT_URL,
    GatewayClient,
    GatewayError,
    JsonOption,
    KeyOption,
    UrlOption,
    fail,
)
from gemgate.policy import QuotaReport, WindowUsage

__all__ = ["keys", "quota", "render_keys", "render_quota"]

QUOTA_PATH = "/api/v1/quota"
BAR = 10
"""Cells of a usage bar."""


def quota(url: UrlOption = DEFAULT_URL, key: KeyOption = None, as_json: JsonOption = False) -> None:
    """Show a running gateway's quota windows (RPM, TPM, RPD) per project and model."""
    report, raw = _fetch(url, key)
    if as_json:
        typer.echo(raw)
        return
    render_quota(report, Console())


def keys(url: UrlOption = DEFAULT_URL, key: KeyOption = None, as_json: JsonOption = False) -> None:
    """Show a running gateway's API keys per project: name, fingerprint and state."""
    report, raw = _fetch(url, key)
    if as_json:
        typer.echo(raw)
        return
    render_keys(report, Console())


def _fetch(url: str, key: str | None) -> tuple[QuotaReport, str]:
    """The report and its JSON text, or a one-line error and exit code 1."""
    base = url.rstrip("/")
    try:
        with GatewayClient(base, key, timeout=30.0) as gateway:
            data = gateway.get_json(QUOTA_PATH)
        report = QuotaReport.from_dict(data)
    except GatewayError as exc:
        fail(str(exc))
    except (KeyError, TypeError, ValueError) as exc:
        fail(f"{base}{QUOTA_PATH}: not a quota report ({type(exc).__name__}: {exc})")
    return report, json.dumps(data, indent=2)


def _bar(window: WindowUsage) -> Text:
    """``███░░░░░░░`` coloured by how full the window is; empty without a limit."""
    if window.limit is None:
        return Text("no limit", style="dim")
    share = min(window.used / window.limit, 1.0)
    filled = round(share * BAR)
    style = "red" if share >= 1.0 else "yellow" if share >= 0.8 else "green"
    return Text.assemble(("█" * filled, style), ("░" * (BAR - filled), "dim"))


def _duration(seconds: float) -> str:
    """``42s``, ``5m12s``, ``7h03m``."""
    s = max(int(round(seconds)), 0)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


def render_quota(report: QuotaReport, console: Console) -> None:
    """One table per project: a row per model and window; then the project's cooldowns."""
    if not report.projects:
        console.print("no projects")
    for project in report.projects:
        table = Table(title=f"project {project.name}", title_justify="left")
        table.add_column("model", no_wrap=True)
        table.add_column("window", no_wrap=True)
        table.add_column("used/limit", justify="right", no_wrap=True)
        table.add_column("usage", no_wrap=True)
        table.add_column("resets in", justify="right", no_wrap=True)
        for quota_ in project.models:
            windows = (("RPM", quota_.rpm), ("TPM", quota_.tpm), ("RPD", quota_.rpd))
            for index, (name, window) in enumerate(windows):
                limit = "" if window.limit is None else f"/{window.limit}"
                resets = window.resets_in
                table.add_row(
                    quota_.model if index == 0 else "",
                    name,
                    f"{window.used}{limit}",
                    _bar(window),
                    _duration(resets) if resets is not None and window.used else "",
                    end_section=index == len(windows) - 1,
                )
        if not project.models:
            table.add_row(Text("no limits configured", style="dim"), "", "", "", "")
        console.print(table)
        for cooling in project.cooldowns:
            until = time.strftime("%H:%M:%S", time.localtime(cooling.until))
            console.print(
                Text.assemble(
                    ("  cooling ", "yellow"),
                    f"{cooling.model} until {until} (in {_duration(cooling.ends_in)}): ",
                    cooling.reason,
                ),
                soft_wrap=True,
            )


_STATE_STYLE = {"ok": "green", "cooling": "yellow", "disabled": "red"}


def render_keys(report: QuotaReport, console: Console) -> None:
    """One table of every project's keys (a key's name starts with its project's)."""
    table = Table(title="keys", title_justify="left")
    table.add_column("key", no_wrap=True)
    table.add_column("fingerprint", no_wrap=True)
    table.add_column("state", no_wrap=True)
    table.add_column("requests", justify="right", no_wrap=True)
    table.add_column("errors", justify="right", no_wrap=True)
    table.add_column("reason")
    for project in report.projects:
        for item in project.keys:
            table.add_row(
                item.name,
                item.fingerprint,
                Text(item.state, style=_STATE_STYLE.get(item.state, "")),
                str(item.requests),
                str(item.errors),
                item.reason or "",
            )
    console.print(table)
