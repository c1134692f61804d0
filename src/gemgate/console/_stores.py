"""``gemgate ingest``, ``search`` and ``stores``: retrieval stores from the command line.

They use the library, not a running gateway: ``AsyncGemini`` from the configuration
(``--config`` or ``GEMGATE_CONFIG``), so the stores live in its ``stores_url`` and the
embeddings come from its upstream; with no key and no ``upstream_url``, from the built-in
emulator, as under ``gemgate serve``. RetrievalStores made here belong to the library's owner ("").
Everything printed is plain text, never parsed as markup.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.text import Text

from gemgate.errors import ConfigError, GemgateError, UsageError

if TYPE_CHECKING:
    from gemgate.client import AsyncGemini
    from gemgate.rag import Hit, IngestReport, RetrievalStore, StoreInfo

__all__ = ["hits_json", "ingest", "search", "snippet", "stores"]

T = TypeVar("T")

StoreOption = Annotated[
    str, typer.Option("--store", "-s", help="The store's name (or id).", show_default=False)
]
ConfigOption = Annotated[
    Path | None,
    typer.Option(help="TOML configuration (default GEMGATE_CONFIG).", show_default=False),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]

SNIPPET_CHARS = 100


def ingest(
    paths: Annotated[
        list[str],
        typer.Argument(help="Files, directories (every file under them) or http(s) URLs."),
    ],
    store: StoreOption,
    config: ConfigOption = None,
    max_tokens: Annotated[
        int | None, typer.Option(help="Tokens a chunk holds at most (default 400).")
    ] = None,
    overlap: Annotated[
        int | None, typer.Option(help="Tokens shared by neighbouring chunks (default 80).")
    ] = None,
    metadata: Annotated[
        list[str] | None,
        typer.Option(
            "--metadata", "-m", help="key=value set on every document (repeatable).", metavar="K=V"
        ),
    ] = None,
) -> None:
    """Add documents to a store (created if it does not exist): parse, chunk, embed."""
    missing = [p for p in paths if not _is_url(p) and not Path(p).exists()]
    if missing:
        _fail(f"{missing[0]}: no such file or directory", code=2)
    attributes = _pairs(metadata or [], "--metadata")
    report, info = _run(config, lambda g: _ingest(g, store, paths, max_tokens, overlap, attributes))
    _print_report(report, info, Console(highlight=False, soft_wrap=True))
    if not report.added and not report.unchanged:
        raise typer.Exit(1)


async def _ingest(
    g: AsyncGemini,
    name: str,
    paths: Sequence[str],
    max_tokens: int | None,
    overlap: int | None,
    metadata: dict[str, str],
) -> tuple[IngestReport, StoreInfo]:
    from gemgate.rag import Chunking

    chunking = None
    if max_tokens is not None or overlap is not None:
        given = {"max_tokens": max_tokens, "overlap": overlap}
        chunking = Chunking(**{k: v for k, v in given.items() if v is not None})
    if g.engine.emulated:
        _say(
            "No Gemini API key configured: the built-in emulator makes the embeddings "
            "(fine for trying things out; search quality is not a real model's)."
        )
    store = await g.stores.open(name)
    report = await store.add(*paths, chunking=chunking, metadata=metadata or None, progress=True)
    return report, store.info


def _print_report(report: IngestReport, info: StoreInfo, console: Console) -> None:
    seconds = report.seconds
    rate = f"{report.chunks / seconds:,.1f}" if seconds > 0 else "-"
    lines = [
        f"store {info.name} ({info.id}): {info.document_count} documents, "
        f"{info.chunk_count} chunks",
        f"added      {len(report.added)} ({report.chunks} chunks)",
        f"unchanged  {len(report.unchanged)}",
        f"failed     {len(report.failed)}",
        *(f"  {_failure(source, reason)}" for source, reason in report.failed),
        f"{report.chunks} chunks in {seconds:.2f} s ({rate} chunks/s)",
    ]
    for line in lines:
        console.print(Text(line))


def _failure(source: str, reason: str) -> str:
    """``source: reason``, once: reasons start with the file's name, replaced by its path."""
    name = Path(source).name + ": "
    return source + ": " + (reason[len(name) :] if reason.startswith(name) else reason)


def search(
    query: Annotated[str, typer.Argument(help="What to look for.")],
    store: StoreOption,
    k: Annotated[int, typer.Option("-k", help="How many hits.", min=1)] = 5,
    mode: Annotated[
        str, typer.Option(help="hybrid (keyword and vectors fused), keyword or vector.")
    ] = "hybrid",
    where: Annotated[
        list[str] | None,
        typer.Option(
            "--filter",
            help="key=value the document's metadata must hold (repeatable).",
            metavar="K=V",
        ),
    ] = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Search a store: its best chunks for the query, best first."""
    if mode not in ("hybrid", "keyword", "vector"):
        _fail(f"--mode must be hybrid, keyword or vector, not {mode!r}", code=2)
    conditions = _pairs(where or [], "--filter")
    hits = _run(config, lambda g: _search(g, store, query, k, mode, conditions))
    if as_json:
        typer.echo(json.dumps(hits_json(hits), indent=2, ensure_ascii=False))
        return
    if not hits:
        typer.echo("no hits")
        return
    for rank, hit in enumerate(hits, 1):
        page = f"p.{hit.chunk.page}" if hit.chunk.page else "-"
        typer.echo(
            f"{rank:>2}. {hit.score:.4f}  {hit.document.name}  {page}  {snippet(hit.chunk.text)}"
        )


async def _search(
    g: AsyncGemini, name: str, query: str, k: int, mode: Any, where: dict[str, str]
) -> list[Hit]:
    store = await _existing(g, name)
    return await store.search(query, k, mode=mode, filter=where or None)


def stores(config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """List the retrieval stores with their documents and chunks."""
    listed = _run(config, lambda g: g.stores.list())
    if as_json:
        typer.echo(json.dumps([_store_json(info) for info in listed], indent=2))
        return
    if not listed:
        typer.echo("no stores")
        return
    for info in listed:
        model = info.embedding_model or "-"
        typer.echo(
            f"{info.name}  {info.id}  {info.document_count} documents  "
            f"{info.chunk_count} chunks  {model}"
        )


async def _existing(g: AsyncGemini, name: str) -> RetrievalStore:
    found = await g.stores.find(name)
    if found is None:
        _fail(f"no store called {name!r} (gemgate stores lists them)", code=1)
    return found


def snippet(text: str, width: int = SNIPPET_CHARS) -> str:
    """``text`` on one line, cut to ``width`` characters with an ellipsis."""
    line = " ".join(text.split())
    return line if len(line) <= width else line[: width - 1].rstrip() + "…"


def hits_json(hits: Sequence[Hit]) -> list[dict[str, Any]]:
    """The hits as JSON-ready dicts, best first."""
    return [
        {
            "rank": rank,
            "score": hit.score,
            "keyword_rank": hit.keyword_rank,
            "vector_rank": hit.vector_rank,
            "document": {
                "id": hit.document.id,
                "name": hit.document.name,
                "source": hit.document.source,
                "metadata": hit.document.metadata,
            },
            "chunk": {
                "id": hit.chunk.id,
                "page": hit.chunk.page,
                "start": hit.chunk.start,
                "end": hit.chunk.end,
                "text": hit.chunk.text,
            },
        }
        for rank, hit in enumerate(hits, 1)
    ]


def _store_json(info: StoreInfo) -> dict[str, Any]:
    return {
        "id": info.id,
        "name": info.name,
        "documents": info.document_count,
        "chunks": info.chunk_count,
        "embedding_model": info.embedding_model,
        "dimensions": info.dimensions,
        "created_at": info.created_at,
        "metadata": info.metadata,
    }


def _run(config: Path | None, work: Callable[[AsyncGemini], Awaitable[T]]) -> T:
    """``work`` with a client from the configuration; a gemgate error is one line."""

    async def main() -> T:
        async with _client(config) as g:
            return await work(g)

    try:
        return asyncio.run(main())
    except (ConfigError, UsageError) as exc:
        _fail(str(exc), code=2)
    except GemgateError as exc:
        _fail(str(exc), code=1)


def _client(config: Path | None) -> AsyncGemini:
    """The configured client; with no key and no ``upstream_url``, the built-in emulator."""
    from gemgate.client import AsyncGemini
    from gemgate.config import Settings

    if config is not None and not config.is_file():
        raise ConfigError(f"{config}: no such file")
    settings = Settings.load(config=config)
    if not settings.projects and settings.upstream_url is None:
        settings = settings.model_copy(update={"upstream": "emulator"})
    return AsyncGemini(settings=settings)


def _pairs(items: Sequence[str], option: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            _fail(f"{option} takes key=value, not {item!r}", code=2)
        out[key.strip()] = value
    return out


def _is_url(path: str) -> bool:
    return path.startswith(("http://", "https://"))


def _say(message: str) -> None:
    Console(stderr=True, highlight=False, soft_wrap=True).print(Text(message, style="yellow"))


def _fail(message: str, code: int) -> NoReturn:
    """``gemgate: MESSAGE`` on stderr, then exit with ``code``."""
    Console(stderr=True, highlight=False, soft_wrap=True).print(
        Text("gemgate: " + message, style="red")
    )
    raise typer.Exit(code)
