"""``gemgate usage``: a running gateway's request log summed by project, key or model."""

from __future__ import annotations

import json
from typing import Annotated, Any
from urllib.parse import urlencode

import typer
from rich.console import Console
from rich.table import Table

from gemgate.console._http import (
    DEFAULT_URL,
    GatewayClient,
    GatewayError,
    JsonOption,
    KeyOption,
    UrlOption,
    fail,
)

__all__ = ["render_usage", "usage"]

USAGE_PATH = "/api/v1/usage"

GroupOption = Annotated[
    str | None,
    typer.Option("--group-by", "-g", help="Sum per project, key or model (default: one total)."),
]
SinceOption = Annotated[
    str | None,
    typer.Option("--from", help="Start: Unix seconds or ISO 8601 (default: 24 hours ago)."),
]
UntilOption = Annotated[
    str | None, typer.Option("--to", help="End: Unix seconds or ISO 8601 (default: now).")
]


def usage(
    url: UrlOption = DEFAULT_URL,
    key: KeyOption = None,
    group_by: GroupOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show a running gateway's requests, tokens and cost (by project, key or model)."""
    query = {k: v for k, v in (("from", since), ("to", until), ("group_by", group_by)) if v}
    path = USAGE_PATH + (f"?{urlencode(query)}" if query else "")
    base = url.rstrip("/")
    try:
        with GatewayClient(base, key, timeout=30.0) as gateway:
            data = gateway.get_json(path)
    except GatewayError as exc:
        fail(str(exc))
    if as_json:
        typer.echo(json.dumps(data, indent=2))
        return
    render_usage(data, Console())


def render_usage(data: dict[str, Any], console: Console) -> None:
    """A table: a row per group, then the total."""
    group = data.get("group_by")
    table = Table(title="usage", title_justify="left")
    table.add_column(group or "", no_wrap=True)
    for name in ("requests", "errors", "prompt", "output", "cached", "thinking", "cost $"):
        table.add_column(name, justify="right", no_wrap=True)

    def row(label: str, values: dict[str, Any]) -> None:
        table.add_row(
            label,
            str(values["requests"]),
            str(values["errors"]),
            f"{values['prompt_tokens']:,}",
            f"{values['completion_tokens']:,}",
            f"{values['cached_tokens']:,}",
            f"{values['thoughts_tokens']:,}",
            f"{values['cost_usd']:.6f}",
        )

    if group:
        for values in data.get("rows", []):
            row(str(values["group"] if values["group"] is not None else "-"), values)
    total = data.get("total")
    if total:
        row("total", total)
    if not table.rows:
        console.print("no requests in this period")
        return
    console.print(table, markup=False)
